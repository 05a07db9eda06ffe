"""CUDA pooling: max, average and adaptive average, forward and backward, one launch each."""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.backends.cuda.arrays import astype
from tinygrad_cnn.backends.cuda.elementwise import greater, relu_in_place, where
from tinygrad_cnn.kernels.cuda import pool as kernels


def max_pool2d_forward(x, geometry, relu=False):
    """(out, argmax) of NCHW max pooling of ``geometry`` (kernels/geometry.PoolGeometry);
    argmax holds flat h*W+w per plane, as int32 (half the index traffic; F.max_pool2d
    converts returned indices to int64). With ``relu``, out's ReLU and argmax -1 where the
    max is not above 0 (elementwise kernels after the pool's)."""
    g = geometry
    out = rt.empty(g.out_shape, x.dtype)
    idx = rt.empty(g.out_shape, np.int32)
    rt.launch(kernels.max_pool2d_forward, out.size, x, *g.kernel_args(), g.dilation_h,
              g.dilation_w, out, idx)
    if relu:
        idx = astype(where(greater(out, 0), idx, -1), np.int32)
        relu_in_place(out)
    return out, idx


def max_pool2d_values(x, geometry):
    """max_pool2d_forward's output alone, for a pass with no backward (the same kernel: on
    the GPU the argmax costs a store per output, nothing more)."""
    return max_pool2d_forward(x, geometry)[0]


def max_pool2d_backward(grad, argmax, geometry):
    """Gradient of max pooling, a gather over the windows that chose each input."""
    g = geometry
    gx = rt.empty(g.x_shape, grad.dtype)
    rt.launch(kernels.max_pool2d_backward, gx.size, grad, argmax, *g.kernel_args(),
              g.dilation_h, g.dilation_w, gx)
    return gx


def avg_pool2d_forward(x, geometry):
    """NCHW average pooling of ``geometry`` (kernels/geometry.PoolGeometry)."""
    g = geometry
    out = rt.empty(g.out_shape, x.dtype)
    rt.launch(kernels.avg_pool2d_forward, out.size, x, *g.kernel_args(), g.count_include_pad,
              out)
    return out


def avg_pool2d_backward(grad, geometry):
    """Gradient of average pooling."""
    g = geometry
    gx = rt.empty(g.x_shape, grad.dtype)
    rt.launch(kernels.avg_pool2d_backward, gx.size, grad, *g.kernel_args(),
              g.count_include_pad, gx)
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
