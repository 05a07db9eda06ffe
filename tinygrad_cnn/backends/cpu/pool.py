"""CPU backend, pooling: max, average and adaptive average pooling, forward and backward.

Channels-last input (what the conv returns) is pooled by kernels/cpu/nhwc_kernels.py, any other by
kernels/cpu/nchw.py, its twin for NCHW memory.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import layout, threads
from tinygrad_cnn.kernels.cpu import nchw as nchw_kernels
from tinygrad_cnn.kernels.cpu import nhwc as nhwc_kernels
from tinygrad_cnn.kernels.geometry import pool_out_hw


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """(out, argmax) of max pooling; argmax holds flat h*W+w per plane, as int32.

    int32 halves the index traffic of the backward pass; planes hold far fewer than 2^31
    pixels. return_indices widens it to int64 as PyTorch returns.

    Channels-last input (what conv2d_forward returns) is pooled channels-last; both
    results then are NCHW views of channels-last memory.
    """
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode)
    if layout.is_channels_last(x):
        out = np.empty((N, OH, OW, C), dtype=x.dtype)
        idx = np.empty((N, OH, OW, C), dtype=np.int32)
        xh = layout.channels_last(x)
        threads.over_images(lambda lo, hi: nhwc_kernels.max_pool2d_forward_nhwc(
            xh[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, out[lo:hi], idx[lo:hi]), N, threads.per_image(x.shape))
        return layout.as_nchw(out), layout.as_nchw(idx)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    idx = np.empty((N, C, OH, OW), dtype=np.int32)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.max_pool2d_forward(
        x[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, out[lo:hi], idx[lo:hi]), N, threads.per_image(x.shape))
    return out, idx


def max_pool2d_backward(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """Gradient of max pooling, in the layout its forward used."""
    N, C, H, W = x_shape
    geometry = (*kernel, *stride, *padding, *dilation)
    if layout.is_channels_last(argmax) and not argmax.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        gh, ah = layout.channels_last(grad), layout.channels_last(argmax)
        threads.over_images(lambda lo, hi: nhwc_kernels.max_pool2d_backward_nhwc(
            gh[lo:hi], ah[lo:hi], *geometry, gx[lo:hi]), N, threads.per_image(gx.shape))
        return layout.as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax)
    threads.over_images(lambda lo, hi: nchw_kernels.max_pool2d_backward(
        grad[lo:hi], argmax[lo:hi], *geometry, gx[lo:hi]), N, threads.per_image(gx.shape))
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, (1, 1), ceil_mode)
    if layout.is_channels_last(x):
        out = np.empty((N, OH, OW, C), dtype=x.dtype)
        xh = layout.channels_last(x)
        threads.over_images(lambda lo, hi: nhwc_kernels.avg_pool2d_forward_nhwc(
            xh[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, out[lo:hi]), N, threads.per_image(x.shape))
        return layout.as_nchw(out)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.avg_pool2d_forward(
        x[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, out[lo:hi]), N, threads.per_image(x.shape))
    return out


def avg_pool2d_backward(grad, x_shape, kernel, stride, padding, count_include_pad):
    """Gradient of average pooling; channels-last when the incoming gradient is."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x_shape
    if layout.is_channels_last(grad) and not grad.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        gh = layout.channels_last(grad)
        threads.over_images(lambda lo, hi: nhwc_kernels.avg_pool2d_backward_nhwc(
            gh[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, gx[lo:hi]), N, threads.per_image(gx.shape))
        return layout.as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad = np.ascontiguousarray(grad)
    threads.over_images(lambda lo, hi: nchw_kernels.avg_pool2d_backward(
        grad[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, gx[lo:hi]), N, threads.per_image(gx.shape))
    return gx


def adaptive_avg_pool2d_forward(x, output_size):
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(output_size), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.adaptive_avg_pool2d_forward(x[lo:hi], out[lo:hi]), N,
                 threads.per_image(x.shape))
    return out


def adaptive_avg_pool2d_backward(grad, x_shape):
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad = np.ascontiguousarray(grad)
    threads.over_images(lambda lo, hi: nchw_kernels.adaptive_avg_pool2d_backward(grad[lo:hi], gx[lo:hi]),
                 x_shape[0], threads.per_image(gx.shape))
    return gx
