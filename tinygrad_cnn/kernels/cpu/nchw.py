"""@njit CPU kernels: the fast twins of kernels/reference.py, same names and signatures.

Outputs are passed in. Each kernel is serial over the images it is given; the backend calls
one per core on different images (backends/cpu/threads.run), so no two threads ever write
the same element. Accumulators
take the array's own dtype, so float32 stays float32.
"""
import numpy as np

from tinygrad_cnn.kernels.geometry import adaptive_bounds, avg_pool_divisor
from tinygrad_cnn.kernels.jit import fill as _fill, njit


@njit
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, C*kh*kw): rows ordered (n, oy, ox), columns (c, i, j)."""
    N, C, H, W = x.shape
    zero = x.dtype.type(0)
    for n in range(N):
        for oy in range(oh):
            for ox in range(ow):
                row = (n * oh + oy) * ow + ox
                col = 0
                for c in range(C):
                    for i in range(kh):
                        y = oy * sh - ph + i * dh
                        for j in range(kw):
                            xx = ox * sw - pw + j * dw
                            if 0 <= y < H and 0 <= xx < W:
                                cols[row, col] = x[n, c, y, xx]
                            else:
                                cols[row, col] = zero
                            col += 1


@njit
def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col: x (N, C, H, W) = sum of every patch in cols at its place."""
    N, C, H, W = x.shape
    zero = x.dtype.type(0)
    for n in range(N):
        _fill(x[n], zero)
        for oy in range(oh):
            for ox in range(ow):
                row = (n * oh + oy) * ow + ox
                col = 0
                for c in range(C):
                    for i in range(kh):
                        y = oy * sh - ph + i * dh
                        for j in range(kw):
                            xx = ox * sw - pw + j * dw
                            if 0 <= y < H and 0 <= xx < W:
                                x[n, c, y, xx] += cols[row, col]
                            col += 1


@njit
def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out = window max (greater or NaN replaces, ties keep the first); argmax = h*W+w.

    A row of outputs at a time, one kernel tap after another: the tap's strided values are
    first copied into a contiguous row, which the select loop then reads with unit stride,
    so LLVM makes it branch-free vector code (with the stride only known at run time, a
    branch per value made the loop 2.4x slower on random data). A window with no tap in
    the image (ceil_mode, or padding with dilation) keeps -inf and index -1.
    """
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    ninf = x.dtype.type(-np.inf)
    tap = np.empty(ow, dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for oy in range(oh):
                best, at = out[n, c, oy], argmax[n, c, oy]
                for ox in range(ow):
                    best[ox] = ninf
                    at[ox] = -1
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    row = x[n, c, y]
                    for j in range(kw):
                        # the outputs whose tap j lands in the row: 0 <= ox*sw - pw + j*dw < W
                        first = max(0, (pw - j * dw + sw - 1) // sw)
                        stop = min(ow, (W - 1 + pw - j * dw) // sw + 1)
                        x0 = first * sw - pw + j * dw
                        for q in range(stop - first):
                            tap[q] = row[x0 + q * sw]
                        b, a = best[first:stop], at[first:stop]
                        for q in range(stop - first):
                            v = tap[q]
                            take = v > b[q] or v != v or a[q] < 0
                            b[q] = v if take else b[q]
                            a[q] = np.int32(y * W + x0 + q * sw) if take else a[q]


@njit
def max_pool2d_backward(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x = each output gradient added at the input position its window chose.

    Scattered plane by plane, at the flat index itself (a division per element to turn it
    back into (h, w) made this 4x slower than PyTorch); the geometry is unused here and
    serves the CUDA twin's gather.
    """
    N, C, H, W = grad_x.shape
    zero = grad_x.dtype.type(0)
    for n in range(N):
        for c in range(C):
            plane = grad_x[n, c].reshape(H * W)
            _fill(plane, zero)
            g, at = grad_out[n, c].ravel(), argmax[n, c].ravel()
            for q in range(g.size):
                k = at[q]
                if k >= 0:
                    plane[k] += g[q]


@njit
def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out = window sum / divisor (padding counts as zeros)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for p in range(N * C):
        n, c = p // C, p % C
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                acc = x.dtype.type(0)
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        acc += x[n, c, y, xx]
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                out[n, c, oy, ox] = acc / x.dtype.type(div)


@njit
def avg_pool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0)
    for p in range(N * C):
        n, c = p // C, p % C
        _fill(grad_x[n, c], zero)
        for oy in range(oh):
            y0 = oy * sh - ph
            for ox in range(ow):
                x0 = ox * sw - pw
                div = avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad)
                share = grad_out[n, c, oy, ox] / grad_x.dtype.type(div)
                for y in range(max(y0, 0), min(y0 + kh, H)):
                    for xx in range(max(x0, 0), min(x0 + kw, W)):
                        grad_x[n, c, y, xx] += share


@njit
def adaptive_avg_pool2d_forward(x, out):
    """out[.., a, b] = mean of x over rows [floor(aH/OH), ceil((a+1)H/OH)), same for cols."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for p in range(N * C):
        n, c = p // C, p % C
        for a in range(oh):
            y0, y1 = adaptive_bounds(a, H, oh)
            for b in range(ow):
                x0, x1 = adaptive_bounds(b, W, ow)
                acc = x.dtype.type(0)
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        acc += x[n, c, y, xx]
                out[n, c, a, b] = acc / x.dtype.type((y1 - y0) * (x1 - x0))


@njit
def adaptive_avg_pool2d_backward(grad_out, grad_x):
    """Adjoint of adaptive_avg_pool2d_forward."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0)
    for p in range(N * C):
        n, c = p // C, p % C
        _fill(grad_x[n, c], zero)
        for a in range(oh):
            y0, y1 = adaptive_bounds(a, H, oh)
            for b in range(ow):
                x0, x1 = adaptive_bounds(b, W, ow)
                share = grad_out[n, c, a, b] / grad_x.dtype.type((y1 - y0) * (x1 - x0))
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        grad_x[n, c, y, xx] += share
