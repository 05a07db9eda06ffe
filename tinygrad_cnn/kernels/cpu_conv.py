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

from tinygrad_cnn.kernels.cpu_gemm import (_covered_by_tiles, add_row_sums, matmul_add,
                                           matmul_into, matmul_nt_add)
from tinygrad_cnn.kernels.jit import fill as _fill, njit


@njit
def im2col_nhwc(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """Fill cols (N*oh*ow, kh*kw*C) from x (N, H, W, C): rows (n, oy, ox), columns (i, j, c)."""
    N = x.shape[0]
    for n in range(N):
        _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, 0,
                    cols[n * oh * ow:(n + 1) * oh * ow])


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
"""Most output pixels per block in conv2d_forward_nhwc: their patches (128 x 288 floats for
SimpleCNN's conv2, 147 KB) stay in the core's L2 cache while they are multiplied."""


@njit
def conv2d_forward_nhwc(x, wmat, bias, kh, kw, sh, sw, ph, pw, dh, dw, out, first, stop):
    """Output pixels first .. stop-1 of out (N, OH, OW, O), counted (n, oy, ox) over the
    whole batch, = im2col_nhwc(x) @ wmat (O, kh*kw*C).T + bias (O,), fused.

    Each image's share of the range is cut into even blocks of about _CONV_ROWS pixels,
    rounded up to whole 6-row tiles (the last may be shorter): a block's patch rows are made
    and multiplied at once, so patches are never written to memory as a whole. The product
    is matmul_add's outer-product tiles (on the weights transposed) when they cover the O
    output channels, matmul_nt_add's dot products otherwise. The backend hands each thread
    its own range.
    """
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P, K = oh * ow, wmat.shape[1]
    outer = _covered_by_tiles(O)
    wmat_t = np.ascontiguousarray(wmat.T) if outer else wmat          # (K, O) for matmul_add
    cols = np.empty(((_CONV_ROWS + 5) // 6 * 6, K), dtype=x.dtype)     # the largest block
    flat = out.reshape(out.shape[0] * P, O)
    while first < stop:
        n = first // P
        seg = min(stop, (n + 1) * P) - first               # this image's part of the range
        blocks = (seg + _CONV_ROWS - 1) // _CONV_ROWS
        step = ((seg + blocks - 1) // blocks + 5) // 6 * 6   # even blocks, whole 6-row tiles
        for at in range(first, first + seg, step):
            rows = min(step, first + seg - at)
            _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, at - n * P, cols[:rows])
            dst = flat[at:at + rows]
            for r in range(rows):
                for o in range(O):
                    dst[r, o] = bias[o]
            if outer:
                matmul_add(cols[:rows], wmat_t, dst)
            else:
                matmul_nt_add(cols[:rows], wmat, dst)
        first += seg


@njit
def conv2d_input_grad_nhwc(grad, wmat, kh, kw, sh, sw, ph, pw, dh, dw, dx, first, stop):
    """Images first .. stop-1 of dx (N, H, W, C) = the input gradient of a convolution with
    weight rows wmat (O, kh*kw*C), columns (i, j, c), for its channels-last output
    gradient grad (N, oh, ow, O): col2im(grad @ wmat), any stride, padding and dilation.

    A block of _CONV_ROWS output pixels at a time, the patch gradient (rows x kh*kw*C) is
    one matmul_into, whose tiles cover kh*kw*C columns when C does (the backend checks),
    and is then added back at the positions its patches were read from.
    """
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    P, K = oh * ow, wmat.shape[1]
    zero = dx.dtype.type(0)
    dcols = np.empty((min(P, _CONV_ROWS), K), dtype=dx.dtype)
    for n in range(first, stop):
        _fill(dx[n], zero)
        g = grad[n].reshape(P, O)
        for at in range(0, P, _CONV_ROWS):
            rows = min(_CONV_ROWS, P - at)
            matmul_into(g[at:at + rows], wmat, dcols[:rows])
            _patch_rows_add(dcols[:rows], kh, kw, sh, sw, ph, pw, dh, dw, ow, at, dx[n])


_WGRAD_ROWS = 256
"""Most output pixels per product in conv2d_weight_grad_rows: a block's patch rows (256 x 288
floats for SimpleCNN's conv2, 295 KB) and output-gradient rows stay in L2 while every
6-row tile of the weight gradient runs over them."""


@njit
def conv2d_weight_grad_rows(x, grad, kh, kw, sh, sw, ph, pw, dh, dw, grad_w, grad_b):
    """Weight and bias gradients of any convolution whose output channels fill matmul_add's
    tiles, summed over the images given: grad_w (kh*kw*C, O) = patches.T @ grad, rows
    (i, j, c) as the forward's weight rows; grad_b (O,) = grad summed over pixels.

    x (N, H, W, C) and grad (N, oh, ow, O) are channels-last. Nothing is transposed: each
    block of an image's pixels gets its patch rows made as the forward makes them, and
    matmul_add takes them transposed (a view) as the row side and the output gradient's
    rows, as they lie, as the column side. The backend calls one per thread, on its
    share of the images, and adds the results.
    """
    N = x.shape[0]
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    P, K = oh * ow, grad_w.shape[0]
    zero = grad_w.dtype.type(0)
    _fill(grad_w, zero)
    _fill(grad_b, zero)
    cols = np.empty((min(P, _WGRAD_ROWS), K), dtype=x.dtype)
    for n in range(N):
        g = grad[n].reshape(P, O)
        blocks = (P + _WGRAD_ROWS - 1) // _WGRAD_ROWS
        step = (P + blocks - 1) // blocks if blocks else 1              # even blocks
        for at in range(0, P, step):
            rows = min(step, P - at)
            _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, at, cols[:rows])
            matmul_add(cols[:rows].T, g[at:at + rows], grad_w)
        for p in range(P):
            for o in range(O):
                grad_b[o] += g[p, o]


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


_WGRAD_BLOCK_BYTES = 1 << 20
"""Operand bytes per product in conv2d_weight_grad (a core's L2 cache): as many whole images
as fit are multiplied at once, so each tile's sums run over more pixels before they are
added to memory (SimpleCNN's conv2 on 2 threads: 6.4 ms one image at a time, 5.6 ms three,
5.5 ms four). Each thread holds one block."""


@njit
def conv2d_weight_grad(x, grad, kh, kw, ph, pw, dh, dw, grad_w, grad_b):
    """Weight and bias gradients of a stride-1 convolution, summed over the images given.

    x (N, H, W, C) is the channels-last input, padded by ph on top and pw on the left (and
    as much as the output needs below and right); grad (N, oh, ow, O) the channels-last
    output gradient. grad_w (C*kh*kw, O) gets the weight gradient with rows (c, i, j): the
    OIHW weight's, transposed. grad_b (O,) gets the summed output gradient. The backend
    calls one per thread, on its share of the images, and adds the results.

    A block of images at a time, both operands are laid out with the summed pixels along
    memory, as matmul_nt_add wants, over "extended" output rows of Wp = ow + (kw-1)*dw
    pixels: in the zero-padded channel planes, kernel tap (i, j) then sees one contiguous
    run starting at i*dh*Wp + j*dw. The Wp - ow extra pixels per row get zero gradient
    and zero patch values, so they add nothing (not even inf * 0). The patch operand is
    the product's row side (C*kh*kw rows, a multiple of the 6-row tile for 3x3 kernels;
    measured faster that way for SimpleCNN's conv2 and both LeNet-5 convs, even for its
    conv1's 25 rows, and the same for SimpleCNN's conv1).
    """
    N, H, W, C = x.shape
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    Hp, Wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    L, K = oh * Wp, C * kh * kw
    zero = grad_w.dtype.type(0)
    _fill(grad_w, zero)
    _fill(grad_b, zero)
    per_block = max(1, min(N, _WGRAD_BLOCK_BYTES // ((K + O) * L * x.itemsize)))
    planes = np.empty((C, Hp * Wp), dtype=x.dtype)
    cols_buf = np.empty(K * per_block * L, dtype=x.dtype)
    g_buf = np.empty(O * per_block * L, dtype=x.dtype)
    for n0 in range(0, N, per_block):
        nb = min(per_block, N - n0)
        cols_t = cols_buf[:K * nb * L].reshape(K, nb * L)
        g_t = g_buf[:O * nb * L].reshape(O, nb * L)
        for b in range(nb):
            _padded_planes(x[n0 + b], ph, pw, Hp, Wp, planes)
            for c in range(C):
                for i in range(kh):
                    for j in range(kw):
                        row = cols_t[(c * kh + i) * kw + j, b * L:(b + 1) * L]
                        src = planes[c, i * dh * Wp + j * dw:]
                        m = min(L, src.size)
                        for k in range(m):
                            row[k] = src[k]
                        for k in range(m, L):
                            row[k] = zero
                        _zero_extension(row, oh, ow, Wp)
            g = grad[n0 + b].reshape(oh * ow, O)
            dst = g_t[:, b * L:(b + 1) * L]
            for oy in range(oh):                 # transposed 16 pixels at a time, which
                for ox0 in range(0, ow, 16):     # stay in L1 while every channel is read
                    run = min(16, ow - ox0)
                    src = g[oy * ow + ox0:oy * ow + ox0 + run]
                    for o in range(O):
                        d = dst[o, oy * Wp + ox0:oy * Wp + ox0 + run]
                        for q in range(run):
                            d[q] = src[q, o]
            for o in range(O):
                _zero_extension(dst[o], oh, ow, Wp)
        matmul_nt_add(cols_t, g_t, grad_w)
        add_row_sums(g_t, grad_b)


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
