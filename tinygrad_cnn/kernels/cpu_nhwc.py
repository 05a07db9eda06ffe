"""@njit kernels for the channels-last (NHWC) conv path the CPU backend uses internally.

Channels-last puts a pixel's C values side by side, so im2col copies runs of C floats
instead of single elements and pooling's inner loop runs over contiguous channels. The
public layout stays NCHW: the backend hands these kernels ``x.transpose(0, 2, 3, 1)``
views and returns NCHW views of their outputs. Rows of the patch matrix are (n, oy, ox),
its columns (i, j, c). Argmax indices are h*W+w per (n, c) plane, as in the NCHW kernels.
"""
import numpy as np
from numba import prange

from tinygrad_cnn.kernels.geometry import avg_pool_divisor
from tinygrad_cnn.kernels.jit import fill as _fill, njit_parallel


@njit_parallel
def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, kh*kw*C) from x (N, H, W, C)."""
    N, H, W, C = x.shape
    zero = x.dtype.type(0)
    for n in prange(N):
        for oy in range(oh):
            for ox in range(ow):
                row = (n * oh + oy) * ow + ox
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        base = (i * kw + j) * C
                        if 0 <= y < H and 0 <= xx < W:
                            for c in range(C):
                                cols[row, base + c] = x[n, y, xx, c]
                        else:
                            for c in range(C):
                                cols[row, base + c] = zero


@njit_parallel
def col2im_nhwc(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col_nhwc: x (N, H, W, C) = sum of the patches in cols."""
    N, H, W, C = x.shape
    zero = x.dtype.type(0)
    for n in prange(N):
        _fill(x[n], zero)
        for oy in range(oh):
            for ox in range(ow):
                row = (n * oh + oy) * ow + ox
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        if xx < 0 or xx >= W:
                            continue
                        base = (i * kw + j) * C
                        for c in range(C):
                            x[n, y, xx, c] += cols[row, base + c]


@njit_parallel
def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out (N, OH, OW, C) = window max (greater or NaN replaces; ties keep the first)."""
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    ninf = x.dtype.type(-np.inf)
    for n in prange(N):
        for oy in range(oh):
            for ox in range(ow):
                for c in range(C):
                    out[n, oy, ox, c] = ninf
                    argmax[n, oy, ox, c] = -1
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        if xx < 0 or xx >= W:
                            continue
                        pos = y * W + xx
                        for c in range(C):
                            v = x[n, y, xx, c]
                            if v > out[n, oy, ox, c] or np.isnan(v) or argmax[n, oy, ox, c] < 0:
                                out[n, oy, ox, c] = v
                                argmax[n, oy, ox, c] = pos


@njit_parallel
def max_pool2d_backward_nhwc(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x (N, H, W, C) = each output gradient added where its window's max was."""
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    for n in prange(N):
        _fill(grad_x[n], zero)
        for oy in range(oh):
            for ox in range(ow):
                for c in range(C):
                    k = argmax[n, oy, ox, c]
                    if k >= 0:
                        grad_x[n, k // W, k % W, c] += grad_out[n, oy, ox, c]


@njit_parallel
def avg_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out (N, OH, OW, C) = window sum / divisor, PyTorch's divisor rules."""
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    zero = x.dtype.type(0)
    for n in prange(N):
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                scale = x.dtype.type(1) / x.dtype.type(div)
                for c in range(C):
                    out[n, oy, ox, c] = zero
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        for c in range(C):
                            out[n, oy, ox, c] += x[n, y, xx, c]
                for c in range(C):
                    out[n, oy, ox, c] *= scale


@njit_parallel
def avg_pool2d_backward_nhwc(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward_nhwc."""
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    for n in prange(N):
        _fill(grad_x[n], zero)
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                scale = grad_x.dtype.type(1) / grad_x.dtype.type(div)
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        for c in range(C):
                            grad_x[n, y, xx, c] += grad_out[n, oy, ox, c] * scale
