"""CPU backend, pooling: max, average and adaptive average pooling, forward and backward.

Channels-last input (what the conv returns) is pooled by kernels/cpu/nhwc.py, any other by
kernels/cpu/nchw.py, its twin for NCHW memory.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import layout, threads
from tinygrad_cnn.kernels.cpu import nchw as nchw_kernels
from tinygrad_cnn.kernels.cpu import nhwc as nhwc_kernels


def max_pool2d_forward(x, geometry, relu=False):
    """(out, argmax) of max pooling of ``geometry`` (kernels/geometry.PoolGeometry); argmax
    holds flat h*W+w per plane, as int32. With ``relu``, out's ReLU, and argmax -1 where the
    max is not above 0 (the ReLU passes no gradient there: max_pool2d_backward sends
    nothing to index -1).

    int32 halves the index traffic of the backward pass; planes hold far fewer than 2^31
    pixels. return_indices widens it to int64 as PyTorch returns.

    Channels-last input (what conv2d_forward returns) is pooled channels-last, the ReLU
    applied as each pixel is stored; both results then are NCHW views of channels-last
    memory.
    """
    g = geometry
    args = (*g.kernel_args(), g.dilation_h, g.dilation_w)
    if layout.is_channels_last(x):
        out = np.empty((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
        idx = np.empty((g.N, g.OH, g.OW, g.C), dtype=np.int32)
        xh = layout.channels_last(x)
        threads.over_images(lambda lo, hi: nhwc_kernels.max_pool2d_forward_nhwc(
            xh[lo:hi], *args, bool(relu), out[lo:hi], idx[lo:hi]), g.N,
            threads.per_image(x.shape))
        return layout.as_nchw(out), layout.as_nchw(idx)
    out = np.empty(g.out_shape, dtype=x.dtype)
    idx = np.empty(g.out_shape, dtype=np.int32)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.max_pool2d_forward(
        x[lo:hi], *args, out[lo:hi], idx[lo:hi]), g.N, threads.per_image(x.shape))
    if relu:
        idx[~(out > 0)] = -1
        out[out < 0] = 0
    return out, idx


def max_pool2d_values(x, geometry):
    """max_pool2d_forward's output alone, for a pass with no backward: channels-last input
    takes the forward kernel with no argmax channels."""
    g = geometry
    if not layout.is_channels_last(x):
        return max_pool2d_forward(x, g)[0]
    out = np.empty((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
    none = np.empty((g.N, g.OH, g.OW, 0), dtype=np.int32)
    xh = layout.channels_last(x)
    args = (*g.kernel_args(), g.dilation_h, g.dilation_w)
    threads.over_images(lambda lo, hi: nhwc_kernels.max_pool2d_forward_nhwc(
        xh[lo:hi], *args, False, out[lo:hi], none[lo:hi]), g.N, threads.per_image(x.shape))
    return layout.as_nchw(out)


def max_pool2d_backward(grad, argmax, geometry):
    """Gradient of max pooling, in the layout its forward used (channels-last also where the
    two coincide, a 1x1 output: one kernel fewer to compile)."""
    g = geometry
    args = (*g.kernel_args(), g.dilation_h, g.dilation_w)
    if layout.is_channels_last(argmax):
        gx = np.empty((g.N, g.H, g.W, g.C), dtype=grad.dtype)
        gh, ah = layout.channels_last(grad), layout.channels_last(argmax)
        threads.over_images(lambda lo, hi: nhwc_kernels.max_pool2d_backward_nhwc(
            gh[lo:hi], ah[lo:hi], *args, gx[lo:hi]), g.N, threads.per_image(gx.shape))
        return layout.as_nchw(gx)
    gx = np.empty(g.x_shape, dtype=grad.dtype)
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax)
    threads.over_images(lambda lo, hi: nchw_kernels.max_pool2d_backward(
        grad[lo:hi], argmax[lo:hi], *args, gx[lo:hi]), g.N, threads.per_image(gx.shape))
    return gx


def avg_pool2d_forward(x, geometry):
    """Average pooling of ``geometry`` (kernels/geometry.PoolGeometry); channels-last when
    x is."""
    g = geometry
    args = (*g.kernel_args(), g.count_include_pad)
    if layout.is_channels_last(x):
        out = np.empty((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
        xh = layout.channels_last(x)
        threads.over_images(lambda lo, hi: nhwc_kernels.avg_pool2d_forward_nhwc(
            xh[lo:hi], *args, out[lo:hi]), g.N, threads.per_image(x.shape))
        return layout.as_nchw(out)
    out = np.empty(g.out_shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.avg_pool2d_forward(
        x[lo:hi], *args, out[lo:hi]), g.N, threads.per_image(x.shape))
    return out


def avg_pool2d_backward(grad, geometry):
    """Gradient of average pooling, channels-last (as the convs around it work): an NCHW
    gradient, as a flatten hands back, is copied channels-last first, a copy of the pool's
    output, smaller than its input, so that a model compiles one backward kernel."""
    g = geometry
    args = (*g.kernel_args(), g.count_include_pad)
    gx = np.empty((g.N, g.H, g.W, g.C), dtype=grad.dtype)
    gh = layout.channels_last(grad)
    threads.over_images(lambda lo, hi: nhwc_kernels.avg_pool2d_backward_nhwc(
        gh[lo:hi], *args, gx[lo:hi]), g.N, threads.per_image(gx.shape))
    return layout.as_nchw(gx)


def adaptive_avg_pool2d_forward(x, output_size):
    """Adaptive average pooling to output_size. An output of the input's size is a copy;
    global pooling ((1, 1)) of channels-last input is NumPy's mean over each image's pixels,
    read in place (the NCHW kernel would first copy the activation into NCHW order);
    (N, C, 1, 1) is the same memory in either layout."""
    N, C, H, W = x.shape
    if tuple(output_size) == (H, W):                  # every bin one pixel: a copy
        return x.copy(order="K")
    if tuple(output_size) == (1, 1) and layout.is_channels_last(x):
        rows = layout.channels_last(x).reshape(N, H * W, C)
        return rows.mean(axis=1, dtype=x.dtype).reshape(N, C, 1, 1)
    out = np.empty((N, C) + tuple(output_size), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    threads.over_images(lambda lo, hi: nchw_kernels.adaptive_avg_pool2d_forward(
        x[lo:hi], out[lo:hi]), N, threads.per_image(x.shape))
    return out


def adaptive_avg_pool2d_backward(grad, x_shape):
    """Adjoint of adaptive_avg_pool2d_forward. Global pooling's gradient is each channel's
    share, grad / (H*W), at every pixel: written channels-last (as the convs around it
    work), an NCHW view of that memory."""
    N, C, H, W = x_shape
    if grad.shape[2:] == (H, W):
        return grad.copy(order="K")
    if grad.shape[2:] == (1, 1):
        share = grad.reshape(N, 1, C) / grad.dtype.type(H * W)
        gx = np.empty((N, H * W, C), dtype=grad.dtype)
        gx[...] = share
        return layout.as_nchw(gx.reshape(N, H, W, C))
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad = np.ascontiguousarray(grad)
    threads.over_images(lambda lo, hi: nchw_kernels.adaptive_avg_pool2d_backward(
        grad[lo:hi], gx[lo:hi]), N, threads.per_image(gx.shape))
    return gx
