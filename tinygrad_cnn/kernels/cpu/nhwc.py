"""@njit pooling kernels for channels-last (NHWC) activations, which the CPU conv path
produces.

Channels-last puts a pixel's C values side by side, so pooling's inner loop runs over
contiguous channels. The public layout stays NCHW: the backend hands these kernels
``x.transpose(0, 2, 3, 1)`` views and returns NCHW views of their outputs. Argmax indices
are h*W+w per (n, c) plane, as in the NCHW kernels.
"""
import numpy as np

from tinygrad_cnn.kernels.geometry import avg_pool_divisor
from tinygrad_cnn.kernels.jit import fill as _fill, njit


@njit
def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out (N, OH, OW, C) = window max (greater or NaN replaces; ties keep the first).

    The first in-image tap of a window is copied, later ones replace by a select, so the
    loop over contiguous channels has no branches and vectorises. A window with no tap in
    the image (ceil_mode, or padding with dilation) gives -inf and index -1.
    """
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    ninf = x.dtype.type(-np.inf)
    for n in range(N):
        for oy in range(oh):
            for ox in range(ow):
                best, at = out[n, oy, ox], argmax[n, oy, ox]
                first = True
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        if xx < 0 or xx >= W:
                            continue
                        src, pos = x[n, y, xx], np.int32(y * W + xx)
                        if first:
                            for c in range(C):
                                best[c] = src[c]
                                at[c] = pos
                            first = False
                            continue
                        for c in range(C):
                            v = src[c]
                            take = v > best[c] or v != v
                            best[c] = v if take else best[c]
                            at[c] = pos if take else at[c]
                if first:
                    for c in range(C):
                        best[c] = ninf
                        at[c] = -1


@njit
def _nan_max_into(a, b, out):
    """out = a where a > b or a is NaN, else b (elementwise).

    Written to a buffer other than b: ``b[k] = a[k] if ... else b[k]`` lets LLVM drop the
    store when the select keeps b, and the conditional store it is left with does not
    vectorise (a third of the speed, and a branch mispredicted on random data)."""
    for k in range(out.shape[0]):
        v, w = a[k], b[k]
        out[k] = v if (v > w) | (v != v) else w


@njit
def max_pool2d_values_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out (N, OH, OW, C) = window max, the values of max_pool2d_forward_nhwc without its
    argmax (for a pass that has no backward): NaN propagates, and a window with no tap in
    the image gives -inf.

    Separably, for each output row: the max over the window's rows for every input column,
    one long run over the W*C contiguous values of each input row (narrow channels would
    leave a per-pixel loop too short to vectorise), then the max over the window's columns;
    each step writes a buffer other than the one it reads (_nan_max_into).
    """
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    cols = np.empty((2, W * C), dtype=x.dtype)
    pix = np.empty((2, C), dtype=x.dtype)
    for n in range(N):
        lines = x[n].reshape(H, W * C)
        for oy in range(oh):
            row = cols[_max_of_rows(lines, oy * sh - ph, dh, kh, cols)].reshape(W, C)
            for ox in range(ow):
                out[n, oy, ox, :] = pix[_max_of_rows(row, ox * sw - pw, dw, kw, pix)]


@njit
def _max_of_rows(rows, first, step, count, bufs):
    """Which of bufs' two rows holds the max (_nan_max_into) over rows first + k*step,
    k < count, of those that lie in ``rows``; -inf where none does."""
    cur = 0
    bufs[0, :] = rows.dtype.type(-np.inf)
    for k in range(count):
        r = first + k * step
        if 0 <= r < rows.shape[0]:
            _nan_max_into(rows[r], bufs[cur], bufs[1 - cur])
            cur = 1 - cur
    return cur


@njit
def max_pool2d_backward_nhwc(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x (N, H, W, C) = each output gradient added where its window's max was.

    Windows that cannot overlap (stride >= kernel, no dilation) write each input pixel
    once, the gradient or zero by a select; others zero grad_x and add at the argmax.
    """
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    disjoint = sh >= kh and sw >= kw and dh == 1 and dw == 1
    tiled = sh == kh and sw == kw and ph == 0 and pw == 0 and oh * sh == H and ow * sw == W
    covered = disjoint and tiled                        # every input pixel in one window
    for n in range(N):
        if not covered:
            _fill(grad_x[n], zero)
        for oy in range(oh):
            for ox in range(ow):
                g, at = grad_out[n, oy, ox], argmax[n, oy, ox]
                if not disjoint:
                    for c in range(C):
                        k = at[c]
                        if k >= 0:
                            grad_x[n, k // W, k % W, c] += g[c]
                    continue
                for y in range(max(oy * sh - ph, 0), min(oy * sh - ph + kh, H)):
                    for xx in range(max(ox * sw - pw, 0), min(ox * sw - pw + kw, W)):
                        dst, pos = grad_x[n, y, xx], y * W + xx
                        for c in range(C):
                            dst[c] = g[c] if at[c] == pos else zero


@njit
def avg_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out (N, OH, OW, C) = window sum / divisor, PyTorch's divisor rules."""
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    zero = x.dtype.type(0)
    for n in range(N):
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


@njit
def avg_pool2d_backward_nhwc(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward_nhwc. Windows that cannot overlap (stride >= kernel)
    assign each input pixel once instead of zeroing grad_x and adding."""
    N, H, W, C = grad_x.shape
    oh, ow = grad_out.shape[1], grad_out.shape[2]
    zero = grad_x.dtype.type(0)
    disjoint = sh >= kh and sw >= kw
    covered = disjoint and sh == kh and sw == kw and ph == 0 and pw == 0 \
        and oh * sh == H and ow * sw == W
    for n in range(N):
        if not covered:
            _fill(grad_x[n], zero)
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                scale = grad_x.dtype.type(1) / grad_x.dtype.type(div)
                g = grad_out[n, oy, ox]
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        dst = grad_x[n, y, xx]
                        if disjoint:
                            for c in range(C):
                                dst[c] = g[c] * scale
                        else:
                            for c in range(C):
                                dst[c] += g[c] * scale
