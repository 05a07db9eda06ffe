"""@njit kernels of the CPU convolution path (backends/cpu/conv.py, conv_grad.py), CPU-only by design.

Two ways to lay out patches, each where it is cheapest:
  channels-last patch rows (im2col_nhwc; conv2d_forward_nhwc and conv2d_forward_tiles make
    them a block at a time and multiply them at once; conv2d_input_grad_nhwc adds a block
    of patch gradients back): columns (i, j, c), so a kernel row's kw*C values are one
    run of an NHWC image;
  transposed patch columns (patch_columns) of a zero-padded NCHW input: row (c, i, j)
    holds what one tap sees at every output pixel, an NCHW im2col transposed, best for
    few channels (first layers), and NumPy's GEMM reads it as a transposed operand.
The backend's gemm-nhwc route multiplies whole chunks of im2col_nhwc's rows in NumPy's GEMM
and sums patch-row gradients back with col2im_nhwc; conv2d_forward_planes is a first layer's
forward with no patches at all (each tap one long multiply-add over the padded plane).
The products are kernels/cpu/gemm.matmul_into (outer-product register tiles, for a multiple
of 32 columns on AVX-512) or matmul_nt_add (dot products), called inside each thread's
share of the images. The weight-gradient kernels are in kernels/cpu/conv_wgrad.py.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.gemm import matmul_into, matmul_nt_add
from tinygrad_cnn.kernels.jit import fill as _fill, njit


@njit
def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, kh*kw*C) from x (N, H, W, C): rows (n, oy, ox), columns (i, j, c)."""
    N = x.shape[0]
    for n in range(N):
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, 0,
                    cols[n * oh * ow:(n + 1) * oh * ow])


@njit
def col2im_nhwc(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x):
    """Adjoint of im2col_nhwc: x (N, H, W, C) = every row of cols (N*oh*ow, kh*kw*C) summed
    back at the pixels its patch was read from (padding taps dropped)."""
    zero = x.dtype.type(0)
    P = oh * ow
    for n in range(x.shape[0]):
        _fill(x[n], zero)
        _patch_rows_add(cols[n * P:(n + 1) * P], kh, kw, sh, sw, ph, pw, dh, dw, ow, 0, x[n])


@njit
def _patch_rows(img, kh, kw, sh, sw, ph, pw, dh, dw, ow, first, cols):
    """cols[r] = the (i, j, c) patch of output pixel first + r of one image img (H, W, C).

    Where a kernel row lies wholly inside the image and dw == 1, its kw*C values are one
    run of the channels-last row: one copy (a third of the time of three for SimpleCNN's
    conv2). Elsewhere per tap a copy of the pixel's C channels, or C zeros for padding.
    """
    H, W, C = img.shape
    lines = img.reshape(H, W * C)
    zero = img.dtype.type(0)
    run = kw * C
    for r in range(cols.shape[0]):
        oy, ox = (first + r) // ow, (first + r) % ow
        x0 = ox * sw - pw
        whole = dw == 1 and x0 >= 0 and x0 + kw <= W
        for i in range(kh):
            y = oy * sh - ph + i * dh
            dst = cols[r, i * run:(i + 1) * run]
            if y < 0 or y >= H:
                for k in range(run):
                    dst[k] = zero
            elif whole:
                src = lines[y, x0 * C:x0 * C + run]
                for k in range(run):
                    dst[k] = src[k]
            else:
                for j in range(kw):
                    xx = x0 + j * dw
                    tap = dst[j * C:(j + 1) * C]
                    if 0 <= xx < W:
                        src = lines[y, xx * C:(xx + 1) * C]
                        for c in range(C):
                            tap[c] = src[c]
                    else:
                        for c in range(C):
                            tap[c] = zero


@njit
def _patch_rows_add(cols, kh, kw, sh, sw, ph, pw, dh, dw, ow, first, img):
    """Adjoint of _patch_rows: each tap's C values of row r (output pixel first + r) are
    added to img (H, W, C) at the pixel that tap read (one run per kernel row where it
    lies inside the image); padding taps are dropped."""
    H, W, C = img.shape
    lines = img.reshape(H, W * C)
    run = kw * C
    for r in range(cols.shape[0]):
        oy, ox = (first + r) // ow, (first + r) % ow
        x0 = ox * sw - pw
        whole = dw == 1 and x0 >= 0 and x0 + kw <= W
        for i in range(kh):
            y = oy * sh - ph + i * dh
            if y < 0 or y >= H:
                continue
            src = cols[r, i * run:(i + 1) * run]
            if whole:
                dst = lines[y, x0 * C:x0 * C + run]
                for k in range(run):
                    dst[k] += src[k]
            else:
                for j in range(kw):
                    xx = x0 + j * dw
                    if 0 <= xx < W:
                        dst = lines[y, xx * C:(xx + 1) * C]
                        for c in range(C):
                            dst[c] += src[j * C + c]


_CONV_ROWS = 128
"""Most output pixels per block in the fused kernels: their patches (128 x 288 floats for
SimpleCNN's conv2, 147 KB) stay in the core's L2 cache while they are multiplied."""
_BLOCK_ROUND = 24
_BLOCK_MAX = (_CONV_ROWS + _BLOCK_ROUND - 1) // _BLOCK_ROUND * _BLOCK_ROUND


@njit
def _pixel_blocks(first, stop, P):
    """(n, at, rows) of each block of output pixels first .. stop-1 (counted over the whole
    batch, P per image): each image's share of the range cut into even blocks of about
    _CONV_ROWS pixels, rounded up to a multiple of 24 rows (the last may be shorter), which
    both of matmul_into's tiles (6 and 8 rows) fill: rows left over go through its plain
    edge loop, several times slower (SimpleCNN's transposed conv: 12 of 196 rows with
    6-row rounding, 4 with 24)."""
    count, at = 0, first
    while at < stop:                                       # how many blocks, to size the list
        seg = min(stop, (at // P + 1) * P) - at
        count += (seg + _CONV_ROWS - 1) // _CONV_ROWS
        at += seg
    blocks = np.empty((count, 3), dtype=np.int64)
    k = 0
    while first < stop:
        n = first // P
        seg = min(stop, (n + 1) * P) - first               # this image's part of the range
        pieces = (seg + _CONV_ROWS - 1) // _CONV_ROWS
        step = ((seg + pieces - 1) // pieces + _BLOCK_ROUND - 1) // _BLOCK_ROUND * _BLOCK_ROUND
        for at in range(first, first + seg, step):
            blocks[k, 0], blocks[k, 1], blocks[k, 2] = n, at, min(step, first + seg - at)
            k += 1
        first += seg
    return blocks[:k]


@njit
def conv2d_forward_nhwc(x, wmat, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop):
    """Output pixels first .. stop-1 of out (N, OH, OW, O), counted (n, oy, ox) over the
    whole batch, = im2col_nhwc(x) @ wmat (O, kh*kw*C).T + bias (O,), fused.

    A block of pixels at a time (_pixel_blocks), patch rows are made and multiplied at once
    by matmul_nt_add's dot products, so patches are never written to memory as a whole.
    The backend hands each thread its own range; where O is a multiple of 32 and the
    register tiles are on (settings.register_tiles) it calls conv2d_forward_tiles instead.
    """
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P = oh * ow
    cols = np.empty((_BLOCK_MAX, wmat.shape[1]), dtype=x.dtype)
    flat = out.reshape(out.shape[0] * P, O)
    blocks = _pixel_blocks(first, stop, P)
    for b in range(blocks.shape[0]):
        n, at, rows = blocks[b, 0], blocks[b, 1], blocks[b, 2]
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, at - n * P, cols[:rows])
        dst = flat[at:at + rows]
        for r in range(rows):
            for o in range(O):
                dst[r, o] = bias[o]
        matmul_nt_add(cols[:rows], wmat, dst)


@njit
def conv2d_forward_tiles(x, wmat_t, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop):
    """conv2d_forward_nhwc with the weights transposed, wmat_t (kh*kw*C, O), multiplied in
    matmul_into's outer-product tiles: for O a multiple of 32 (the backend checks)."""
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P, K = oh * ow, wmat_t.shape[0]
    cols = np.empty((_BLOCK_MAX, K), dtype=x.dtype)
    flat = out.reshape(out.shape[0] * P, O)
    blocks = _pixel_blocks(first, stop, P)
    for b in range(blocks.shape[0]):
        n, at, rows = blocks[b, 0], blocks[b, 1], blocks[b, 2]
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, at - n * P, cols[:rows])
        dst = flat[at:at + rows]
        matmul_into(cols[:rows, :K], wmat_t, dst)       # a as an 'A' view: see matmul_into
        for r in range(rows):
            for o in range(O):
                dst[r, o] += bias[o]


@njit
def conv2d_input_grad_nhwc(grad, wmat, kh, kw, sh, sw, ph, pw, dh, dw, dx, first, stop):
    """Images first .. stop-1 of dx (N, H, W, C) = the input gradient of a convolution with
    weight rows wmat (O, kh*kw*C), columns (i, j, c), for its channels-last output
    gradient grad (N, oh, ow, O): col2im(grad @ wmat), any stride, padding and dilation.

    A block of output pixels at a time (the forward's _pixel_blocks, the same for every
    image), the patch gradient (rows x kh*kw*C) is one matmul_into, whose tiles cover its
    kh*kw*C columns when that is a multiple of 32 (the backend checks), and is then added
    back at the positions its patches were read from.
    """
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    P, K = oh * ow, wmat.shape[1]
    zero = dx.dtype.type(0)
    dcols = np.empty((_BLOCK_MAX, K), dtype=dx.dtype)
    blocks = _pixel_blocks(0, P, P)                                 # one image's blocks
    for n in range(first, stop):
        _fill(dx[n], zero)
        g = grad[n].reshape(P, O)
        for b in range(blocks.shape[0]):
            at, rows = blocks[b, 1], blocks[b, 2]
            matmul_into(g[at:at + rows, :O], wmat, dcols[:rows])      # an 'A' view
            _patch_rows_add(dcols[:rows], kh, kw, sh, sw, ph, pw, dh, dw, ow, at, dx[n])


_PLANE_CHANNELS = 8
"""Output channels whose flat sums conv2d_forward_planes keeps at once: 8 x 900 floats of a
28x28 plane stay in the L1 cache, from their first tap to their channels-last store."""


@njit
def conv2d_forward_planes(xp, w_taps, bias, kh, kw, dh, dw, out, first, stop):
    """Images first .. stop-1 of out (N, oh, ow, O) = the stride-1 convolution of the
    zero-padded NCHW xp (N, C, Hp, Wp) by the weight rows w_taps (C*kh*kw, O), rows
    (c, i, j), + bias (O,).

    For first layers, whose few input channels make the patch matrix a GEMM of 9 to 150
    products per output, bound by memory. Each output channel's sums are one run over the
    padded plane's flat pixels: output pixel (oy, ox) sits at oy*Wp + ox, and tap (i, j) reads
    the input at that position plus i*dh*Wp + j*dw, so every tap is a single long
    multiply-add over contiguous memory (the Wp - ow columns between rows are computed and
    dropped). _PLANE_CHANNELS channels at a time, the sums are then stored channels-last.
    """
    C, Hp, Wp = xp.shape[1], xp.shape[2], xp.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    span = (oh - 1) * Wp + ow if oh > 0 and ow > 0 else 0
    acc = np.empty((_PLANE_CHANNELS, span), dtype=out.dtype)
    for n in range(first, stop):
        dst = out[n]
        for o0 in range(0, O, _PLANE_CHANNELS):
            block = min(_PLANE_CHANNELS, O - o0)
            for ob in range(block):
                a = acc[ob]
                b = bias[o0 + ob]
                for p in range(span):
                    a[p] = b
                k = 0
                for c in range(C):
                    plane = xp[n, c].reshape(Hp * Wp)
                    for i in range(kh):
                        for j in range(kw):
                            w = w_taps[k, o0 + ob]
                            src = plane[i * dh * Wp + j * dw:]
                            for p in range(span):
                                a[p] += w * src[p]
                            k += 1
            for oy in range(oh):
                for ox in range(ow):
                    q = oy * Wp + ox
                    pixel = dst[oy, ox]
                    for ob in range(block):
                        pixel[o0 + ob] = acc[ob, q]


@njit
def patch_columns(xp, kh, kw, sh, sw, dh, dw, oh, ow, cols_t, first, stop):
    """cols_t (C*kh*kw, N*oh*ow) = im2col of an already padded xp (N, C, Hp, Wp), transposed,
    for images first .. stop-1 (their columns; the backend hands each thread its own).

    Row (c, i, j) holds what kernel tap (i, j) of channel c sees at every output pixel,
    pixels ordered (n, oy, ox). Each output row is one strided run of the padded input:
    no bounds checks, and a vector copy when the stride is 1. The backend pads (zeros), so
    the padding never reaches this loop.
    """
    C, P = xp.shape[1], oh * ow
    for n in range(first, stop):
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


@njit
def patch_columns_add(cols_t, kh, kw, sh, sw, dh, dw, oh, ow, xp, first, stop):
    """Adjoint of patch_columns: images first .. stop-1 of xp (N, C, Hp, Wp) = every column's
    values summed back at the padded positions they were read from."""
    C, P = xp.shape[1], oh * ow
    zero = xp.dtype.type(0)
    for n in range(first, stop):
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
