"""CUDA pooling: max, average and adaptive average, forward and backward, one launch each."""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.kernels.cuda import pool as kernels
from tinygrad_cnn.kernels.geometry import pool_out_hw


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """(out, argmax) of NCHW max pooling; argmax holds flat h*W+w per plane, as int32
    (half the index traffic; F.max_pool2d converts returned indices to int64)."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode)
    out = rt.empty((N, C, OH, OW), x.dtype)
    idx = rt.empty((N, C, OH, OW), np.int32)
    rt.launch(kernels.max_pool2d_forward, out.size, x, kh, kw, sh, sw, ph, pw, dh, dw, out, idx)
    return out, idx


def max_pool2d_backward(grad, argmax, x_shape, kernel, stride, padding, dilation):
    gx = rt.empty(x_shape, grad.dtype)
    rt.launch(kernels.max_pool2d_backward, gx.size, grad, argmax, *kernel, *stride, *padding,
              *dilation, gx)
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, (1, 1), ceil_mode)
    out = rt.empty((N, C, OH, OW), x.dtype)
    rt.launch(kernels.avg_pool2d_forward, out.size, x, kh, kw, sh, sw, ph, pw,
              bool(count_include_pad), out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel, stride, padding, count_include_pad):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    gx = rt.empty(x_shape, grad.dtype)
    rt.launch(kernels.avg_pool2d_backward, gx.size, grad, kh, kw, sh, sw, ph, pw,
              bool(count_include_pad), gx)
    return gx


def adaptive_avg_pool2d_forward(x, output_size):
    N, C = x.shape[:2]
    out = rt.empty((N, C) + tuple(output_size), x.dtype)
    rt.launch(kernels.adaptive_avg_pool2d_forward, out.size, x, out)
    return out


def adaptive_avg_pool2d_backward(grad, x_shape):
    gx = rt.empty(x_shape, grad.dtype)
    rt.launch(kernels.adaptive_avg_pool2d_backward, gx.size, grad, gx)
    return gx
