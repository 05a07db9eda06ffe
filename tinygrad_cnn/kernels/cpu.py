"""@njit CPU kernels: the fast twins of kernels/reference.py, same names and signatures.

Outputs are passed in. Outer loops are prange over images (im2col/col2im) or over
(n, c) planes (pooling), so no two threads ever write the same element. Accumulators
take the array's own dtype, so float32 stays float32.
"""
import numpy as np
from numba import prange

from tinygrad_cnn.kernels.cpu_gemm import add_row_sums, matmul_nt_add
from tinygrad_cnn.kernels.geometry import adaptive_bounds, avg_pool_divisor
from tinygrad_cnn.kernels.jit import fill as _fill, njit, njit_parallel


@njit_parallel
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, C*kh*kw): rows ordered (n, oy, ox), columns (c, i, j)."""
    N, C, H, W = x.shape
    zero = x.dtype.type(0)
    for n in prange(N):
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


@njit_parallel
def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col: x (N, C, H, W) = sum of every patch in cols at its place."""
    N, C, H, W = x.shape
    zero = x.dtype.type(0)
    for n in prange(N):
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


@njit_parallel
def patch_columns(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols_t):
    """cols_t (C*kh*kw, N*oh*ow) = im2col of an already padded xp (N, C, Hp, Wp), transposed.

    Row (c, i, j) holds what kernel tap (i, j) of channel c sees at every output pixel,
    pixels ordered (n, oy, ox). Each output row is one strided run of the padded input:
    no bounds checks, and a vector copy when the stride is 1. The backend pads (zeros), so
    the padding never reaches this loop.
    """
    N, C = xp.shape[0], xp.shape[1]
    P = oh * ow
    for n in prange(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    dst = cols_t[(c * kh + i) * kw + j, n * P:(n + 1) * P]
                    for oy in range(oh):
                        src = xp[n, c, oy * sh + i * dh, j * dw:]
                        run = dst[oy * ow:(oy + 1) * ow]
                        if sw == 1:
                            for k in range(ow):
                                run[k] = src[k]
                        else:
                            for k in range(ow):
                                run[k] = src[k * sw]


@njit_parallel
def patch_columns_add(cols_t, kh, kw, sh, sw, dh, dw, oh, ow, xp):
    """Adjoint of patch_columns: xp (N, C, Hp, Wp) = every column's values summed back at
    the padded positions they were read from."""
    N, C = xp.shape[0], xp.shape[1]
    P = oh * ow
    zero = xp.dtype.type(0)
    for n in prange(N):
        _fill(xp[n], zero)
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    src = cols_t[(c * kh + i) * kw + j, n * P:(n + 1) * P]
                    for oy in range(oh):
                        dst = xp[n, c, oy * sh + i * dh, j * dw:]
                        run = src[oy * ow:(oy + 1) * ow]
                        if sw == 1:
                            for k in range(ow):
                                dst[k] += run[k]
                        else:
                            for k in range(ow):
                                dst[k * sw] += run[k]


@njit_parallel
def conv2d_weight_grad(x, grad, kh, kw, ph, pw, dh, dw, grad_w_parts, grad_b_parts):
    """Weight and bias gradients of a stride-1 convolution, as T partial sums.

    x (N, H, W, C) is the channels-last input, padded by ph on top and pw on the left (and
    as much as the output needs below and right); grad (N, oh, ow, O) the channels-last
    output gradient. grad_w_parts[t] (O, C*kh*kw, columns (c, i, j): the OIHW weight's
    order) gets the weight gradient of images t*N//T .. (t+1)*N//T (T = len(grad_w_parts))
    and grad_b_parts[t] (O,) their summed output gradient; the caller adds the T parts.

    Per image both operands are laid out with the summed pixels along memory, as
    matmul_nt_add wants, over "extended" output rows of Wp = ow + (kw-1)*dw pixels: in the
    zero-padded channel planes, kernel tap (i, j) then sees one contiguous run starting at
    i*dh*Wp + j*dw. The Wp - ow extra pixels per row get zero gradient and zero patch
    values, so they add nothing (not even inf * 0).
    """
    N, H, W, C = x.shape
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    Hp, Wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    L, K, T = oh * Wp, C * kh * kw, grad_w_parts.shape[0]
    zero = grad_w_parts.dtype.type(0)
    for t in prange(T):
        _fill(grad_w_parts[t], zero)
        _fill(grad_b_parts[t], zero)
        planes = np.empty((C, Hp * Wp), dtype=x.dtype)
        cols_t = np.empty((K, L), dtype=x.dtype)
        g_t = np.empty((O, L), dtype=x.dtype)
        for n in range(t * N // T, (t + 1) * N // T):
            _padded_planes(x[n], ph, pw, Hp, Wp, planes)
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        row = cols_t[(c * kh + i) * kw + j]
                        src = planes[c, i * dh * Wp + j * dw:]
                        m = min(L, src.size)
                        for k in range(m):
                            row[k] = src[k]
                        for k in range(m, L):
                            row[k] = zero
                        _zero_extension(row, oh, ow, Wp)
            g = grad[n].reshape(oh * ow, O)
            for o in range(O):
                dst = g_t[o]
                for oy in range(oh):
                    for ox in range(ow):
                        dst[oy * Wp + ox] = g[oy * ow + ox, o]
                _zero_extension(dst, oh, ow, Wp)
            matmul_nt_add(g_t, cols_t, grad_w_parts[t])
            add_row_sums(g_t, grad_b_parts[t])


@njit
def _padded_planes(img, ph, pw, Hp, Wp, planes):
    """planes (C, Hp*Wp) = the channel planes of img (H, W, C), placed at (ph, pw) in zeros
    (cropped where the padded size is smaller)."""
    H, W, C = img.shape
    _fill(planes, planes.dtype.type(0))
    for y in range(max(0, -ph), min(H, Hp - ph)):
        for xx in range(max(0, -pw), min(W, Wp - pw)):
            at = (y + ph) * Wp + xx + pw
            for c in range(C):
                planes[c, at] = img[y, xx, c]


@njit
def _zero_extension(row, oh, ow, Wp):
    """Zero the Wp - ow extended pixels at the end of each of the oh rows of Wp in row."""
    zero = row.dtype.type(0)
    for oy in range(oh):
        ext = row[oy * Wp + ow:(oy + 1) * Wp]
        for k in range(Wp - ow):
            ext[k] = zero


@njit_parallel
def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, out, argmax):
    """out = window max (greater or NaN replaces, ties keep the first); argmax = h*W+w."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    ninf = x.dtype.type(-np.inf)
    for p in prange(N * C):
        n, c = p // C, p % C
        for oy in range(oh):
            for ox in range(ow):
                best = ninf
                best_idx = -1
                for i in range(kh):
                    y = oy * sh - ph + i * dh
                    if y < 0 or y >= H:
                        continue
                    for j in range(kw):
                        xx = ox * sw - pw + j * dw
                        if xx < 0 or xx >= W:
                            continue
                        v = x[n, c, y, xx]
                        if v > best or np.isnan(v) or best_idx < 0:
                            best = v
                            best_idx = y * W + xx
                out[n, c, oy, ox] = best
                argmax[n, c, oy, ox] = best_idx


@njit_parallel
def max_pool2d_backward(grad_out, argmax, kh, kw, sh, sw, ph, pw, dh, dw, grad_x):
    """grad_x = each output gradient added at the input position its window chose.

    Scattered plane by plane (one thread per plane, so no races); the geometry is unused
    here and serves the CUDA twin's gather.
    """
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0)
    for p in prange(N * C):
        n, c = p // C, p % C
        _fill(grad_x[n, c], zero)
        for oy in range(oh):
            for ox in range(ow):
                k = argmax[n, c, oy, ox]
                if k >= 0:
                    grad_x[n, c, k // W, k % W] += grad_out[n, c, oy, ox]


@njit_parallel
def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """out = window sum / divisor (padding counts as zeros)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for p in prange(N * C):
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


@njit_parallel
def avg_pool2d_backward(grad_out, kh, kw, sh, sw, ph, pw, count_include_pad, grad_x):
    """Adjoint of avg_pool2d_forward."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0)
    for p in prange(N * C):
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


@njit_parallel
def adaptive_avg_pool2d_forward(x, out):
    """out[.., a, b] = mean of x over rows [floor(aH/OH), ceil((a+1)H/OH)), same for cols."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for p in prange(N * C):
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


@njit_parallel
def adaptive_avg_pool2d_backward(grad_out, grad_x):
    """Adjoint of adaptive_avg_pool2d_forward."""
    N, C, H, W = grad_x.shape
    oh, ow = grad_out.shape[2], grad_out.shape[3]
    zero = grad_x.dtype.type(0)
    for p in prange(N * C):
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
