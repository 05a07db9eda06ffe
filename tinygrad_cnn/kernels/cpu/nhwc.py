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
def max_pool2d_forward_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, relu, out, argmax):
    """out (N, OH, OW, C) = window max (greater or NaN replaces; ties keep the first), and
    argmax its flat index y*W+x, unless argmax is (N, OH, OW, 0) (values only). With
    ``relu``, the max's ReLU (``0 if v < 0 else v``, the ReLU kernel's) and argmax -1 where
    the max is not above 0: the ReLU passes no gradient there, and the backward kernel
    sends nothing to index -1.

    A 2x2 or 3x3 window inside the image (no dilation) takes _max4 / _max9: each channel's
    max kept in registers over the taps and stored once, a loop that vectorises (4-6x
    faster than selects in place). Any other window takes _any_window_max. The helpers are
    inlined and index the whole arrays: a view per pixel handed to a called function costs
    two atomic reference counts, more than the pixel's work.
    """
    N, H, W, C = x.shape
    oh, ow = out.shape[1], out.shape[2]
    keep = argmax.shape[3] > 0
    small = dh == 1 and dw == 1 and kh == kw and (kh == 2 or kh == 3)
    for n in range(N):
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                if not (small and y0 >= 0 and x0 >= 0 and y0 + kh <= H and x0 + kw <= W):
                    _any_window_max(x, n, y0, x0, kh, kw, dh, dw, out, argmax, oy, ox, keep)
                elif kh == 2:
                    _max4(x, n, y0, x0, out, argmax, oy, ox, keep)
                else:
                    _max9(x, n, y0, x0, out, argmax, oy, ox, keep)
                if relu:
                    _relu_pixel(out, argmax, n, oy, ox, keep)


@njit
def _relu_pixel(out, argmax, n, oy, ox, keep):
    """The ReLU of out[n, oy, ox], argmax -1 (when keep) where the max is not above 0. Not
    inline="always" (as _take): compiled once, LLVM inlines it all the same."""
    zero = out.dtype.type(0)
    for c in range(out.shape[3]):
        v = out[n, oy, ox, c]
        if keep:
            argmax[n, oy, ox, c] = argmax[n, oy, ox, c] if v > zero else np.int32(-1)
        out[n, oy, ox, c] = zero if v < zero else v


@njit(inline="always")
def _max4(x, n, y0, x0, out, argmax, oy, ox, keep):
    """out[n, oy, ox] (and argmax's, when keep) = the max over the 2x2 window of image n at
    (y0, x0), inside the image; a later tap replaces when greater or NaN. Indices are int32
    throughout, so that the index lanes are as wide as the value lanes."""
    W = x.shape[2]
    p, p1, p2, p3 = (np.int32(y0 * W + x0), np.int32(y0 * W + x0 + 1),
                     np.int32((y0 + 1) * W + x0), np.int32((y0 + 1) * W + x0 + 1))
    y1, x1 = y0 + 1, x0 + 1
    if keep:
        for c in range(x.shape[3]):
            m, i = x[n, y0, x0, c], p
            m, i = _take(x[n, y0, x1, c], p1, m, i)
            m, i = _take(x[n, y1, x0, c], p2, m, i)
            out[n, oy, ox, c], argmax[n, oy, ox, c] = _take(x[n, y1, x1, c], p3, m, i)
    else:
        for c in range(x.shape[3]):
            m = x[n, y0, x0, c]
            m = _take(x[n, y0, x1, c], p, m, p)[0]
            m = _take(x[n, y1, x0, c], p, m, p)[0]
            out[n, oy, ox, c] = _take(x[n, y1, x1, c], p, m, p)[0]


@njit(inline="always")
def _max9(x, n, y0, x0, out, argmax, oy, ox, keep):
    """_max4 for the 3x3 window at (y0, x0)."""
    W = x.shape[2]
    y1, y2, x1, x2 = y0 + 1, y0 + 2, x0 + 1, x0 + 2
    p0, p1, p2 = np.int32(y0 * W + x0), np.int32(y0 * W + x1), np.int32(y0 * W + x2)
    q0, q1, q2 = np.int32(y1 * W + x0), np.int32(y1 * W + x1), np.int32(y1 * W + x2)
    s0, s1, s2 = np.int32(y2 * W + x0), np.int32(y2 * W + x1), np.int32(y2 * W + x2)
    for c in range(x.shape[3]):
        m, i = x[n, y0, x0, c], p0
        m, i = _take(x[n, y0, x1, c], p1, m, i)
        m, i = _take(x[n, y0, x2, c], p2, m, i)
        m, i = _take(x[n, y1, x0, c], q0, m, i)
        m, i = _take(x[n, y1, x1, c], q1, m, i)
        m, i = _take(x[n, y1, x2, c], q2, m, i)
        m, i = _take(x[n, y2, x0, c], s0, m, i)
        m, i = _take(x[n, y2, x1, c], s1, m, i)
        m, i = _take(x[n, y2, x2, c], s2, m, i)
        out[n, oy, ox, c] = m
        if keep:
            argmax[n, oy, ox, c] = i


@njit
def _take(v, p, m, i):
    """(v, p) when v is greater than m or NaN, else (m, i): a later tap's select. Not
    inline="always": numba would copy and retype it at each of its 17 call sites (half the
    kernel's compile time); compiled once, LLVM inlines it just the same."""
    t = (v > m) | (v != v)
    return (v if t else m), (p if t else i)


@njit(inline="always")
def _any_window_max(x, n, y0, x0, kh, kw, dh, dw, out, argmax, oy, ox, keep):
    """out[n, oy, ox] (and argmax's, when keep) = the max over any window at (y0, x0): its
    first in-image tap copied, later taps replacing by a select in place (a conditional
    store, which LLVM leaves scalar). A window with no tap in the image (ceil_mode, or
    padding with dilation) gives -inf and index -1."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    first = True
    for i in range(kh):
        y = y0 + i * dh
        if y < 0 or y >= H:
            continue
        for j in range(kw):
            xx = x0 + j * dw
            if xx < 0 or xx >= W:
                continue
            pos = np.int32(y * W + xx)
            for c in range(C):
                v = x[n, y, xx, c]
                take = first or v > out[n, oy, ox, c] or v != v
                out[n, oy, ox, c] = v if take else out[n, oy, ox, c]
                if keep:
                    argmax[n, oy, ox, c] = pos if take else argmax[n, oy, ox, c]
            first = False
    if first:
        for c in range(C):
            out[n, oy, ox, c] = -np.inf
            if keep:
                argmax[n, oy, ox, c] = -1


@njit(inline="always")
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
                best, dst = pix[_max_of_rows(row, ox * sw - pw, dw, kw, pix)], out[n, oy, ox]
                for c in range(C):          # not dst[:] = best: numba's shape check for
                    dst[c] = best[c]        # that pulls in its string formatting (~3 s)


@njit(inline="always")
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
    """out (N, OH, OW, C) = window sum / divisor, PyTorch's divisor rules: each output pixel
    sums its window's pixels, a loop over the channels that vectorises (for few channels,
    avg_pool2d_forward_rows)."""
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
def avg_pool2d_forward_rows(x, H, W, C, kh, kw, sh, sw, starts, out, oh, ow, first, stop):
    """Images first .. stop-1 of avg_pool2d_forward_nhwc for windows inside the image
    (divisor kh*kw), x (N*H*W*C,) and out (N*oh*ow*C,) flat, by output rows: an output
    row's ow*C values are one run, each the sum of its taps, the tap (0, 0) of value q at
    x's row offset starts[q] (ox*sw*C + c). The loops run over ow*C values at a time, where
    a pixel's loops over a few channels (LeNet-5's 6) cost ~110 cycles a pixel."""
    zero = x.dtype.type(0)
    scale = x.dtype.type(1) / x.dtype.type(kh * kw)
    width = ow * C
    sums = np.empty(width, dtype=x.dtype)
    for n in range(first, stop):
        for oy in range(oh):
            for q in range(width):
                sums[q] = zero
            for i in range(kh):
                row = ((n * H) + oy * sh + i) * W * C
                for j in range(kw):
                    at = row + j * C
                    for q in range(width):
                        sums[q] += x[at + starts[q]]
            dst = (n * oh + oy) * width
            for q in range(width):
                out[dst + q] = sums[q] * scale


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
