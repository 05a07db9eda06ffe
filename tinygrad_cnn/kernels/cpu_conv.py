"""@njit kernels of the CPU convolution path (backends/cpu.py), CPU-only by design.

Two ways to lay out patches, each where it is cheapest:
  channels-last patch rows (im2col_nhwc, and conv2d_forward_nhwc, which makes them a block
    at a time and multiplies them at once): columns (i, j, c), so a kernel row's kw*C
    values are one copy from an NHWC image;
  transposed patch columns (patch_columns) of a zero-padded NCHW input: row (c, i, j)
    holds what one tap sees at every output pixel, an NCHW im2col transposed, best for
    few channels (first layers), and NumPy's GEMM reads it as a transposed operand.
The weight gradient of stride-1 convolutions (conv2d_weight_grad) uses neither: it lays both
of its operands out along the pixels it sums over. The products are
kernels/cpu_gemm.matmul_nt_add, called inside each thread's share of the images.
"""
import numpy as np
from numba import prange

from tinygrad_cnn.kernels.cpu_gemm import add_row_sums, matmul_nt_add
from tinygrad_cnn.kernels.jit import fill as _fill, njit, njit_parallel


@njit_parallel
def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, kh*kw*C) from x (N, H, W, C): rows (n, oy, ox), columns (i, j, c)."""
    N = x.shape[0]
    for n in prange(N):
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, 0,
                    cols[n * oh * ow:(n + 1) * oh * ow])


@njit
def _patch_rows(img, kh, kw, sh, sw, ph, pw, dh, dw, ow, first, cols):
    """cols[r] = the (i, j, c) patch of output pixel first + r of one image img (H, W, C):
    per kernel tap a copy of the pixel's C channels, or C zeros where the tap is padding."""
    H, W, C = img.shape
    zero = img.dtype.type(0)
    for r in range(cols.shape[0]):
        oy, ox = (first + r) // ow, (first + r) % ow
        for i in range(kh):
            y = oy * sh - ph + i * dh
            for j in range(kw):
                xx = ox * sw - pw + j * dw
                dst = cols[r, (i * kw + j) * C:(i * kw + j + 1) * C]
                if 0 <= y < H and 0 <= xx < W:
                    src = img[y, xx]
                    for c in range(C):
                        dst[c] = src[c]
                else:
                    for c in range(C):
                        dst[c] = zero


_CONV_ROWS = 128
"""Output pixels per block in conv2d_forward_nhwc: their patches (128 x 288 floats for
SimpleCNN's conv2, 147 KB) stay in the core's L2 cache while they are multiplied."""


@njit_parallel
def conv2d_forward_nhwc(x, wmat, bias, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """out (N, OH, OW, O) = im2col_nhwc(x) @ wmat (O, kh*kw*C).T + bias (O,), fused.

    Each thread takes a block of one image's output pixels, makes their patch rows and
    multiplies them at once, so patches are never written to memory as a whole.
    """
    N = x.shape[0]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P, K = oh * ow, wmat.shape[1]
    blocks = (P + _CONV_ROWS - 1) // _CONV_ROWS
    step = ((P + blocks - 1) // blocks + 5) // 6 * 6        # even blocks, whole 6-row tiles
    blocks = (P + step - 1) // step                          # (rounding up may need fewer)
    for job in prange(N * blocks):
        n, first = job // blocks, (job % blocks) * step
        rows = min(step, P - first)
        cols = np.empty((step, K), dtype=x.dtype)
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, first, cols[:rows])
        dst = out[n].reshape(P, O)[first:first + rows]
        for r in range(rows):
            for o in range(O):
                dst[r, o] = bias[o]
        matmul_nt_add(cols[:rows], wmat, dst)


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
    output gradient. grad_w_parts[t] (O, C*kh*kw; columns (c, i, j), the OIHW weight's
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
