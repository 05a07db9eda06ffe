"""@njit weight-gradient kernels of the CPU convolution path (backends/cpu/conv_grad.py), CPU-only.

Three ways (backends/cpu/plan.plan_conv chooses):
  conv2d_weight_grad_taps: first layers (at most TAPS kernel taps, output channels a
    multiple of 32, AVX-512): a 12 x 32 tile of sums stays in registers through every pixel
    of a thread's images, each pixel's tap values read straight from the zero-padded input;
  conv2d_weight_grad_rows: 16+ input channels, output channels a multiple of 32, AVX-512:
    patch rows times the output gradient as it lies, in matmul_into's outer-product tiles;
  conv2d_weight_grad: other stride-1 convs: both operands laid out along the pixels for
    matmul_nt_add's dot products.
Each sums over the images it is given; the backend calls one per thread and adds them.
"""
import numba
import numpy as np

from tinygrad_cnn.kernels.cpu.conv import _patch_rows
from tinygrad_cnn.kernels.cpu.gemm import add_row_sums, matmul_into, matmul_nt_add
from tinygrad_cnn.kernels.jit import fill as _fill, njit, njit_gemm, stack_tile

TAPS, TAP_COLUMNS = 12, 32
"""conv2d_weight_grad_taps' tile: up to 12 kernel taps (C*kh*kw: a 3x3 kernel on 1 input
channel) x 32 output channels, plus a row for the bias."""
_TAP_TILE = (TAPS + 1) * TAP_COLUMNS


@njit_gemm
def conv2d_weight_grad_taps(xp, grad, kh, kw, sh, sw, dh, dw, grad_w, grad_b):
    """Weight and bias gradients of a convolution of at most TAPS taps (C*kh*kw) and a
    multiple of 32 output channels, summed over the images given: grad_w (C*kh*kw, O),
    rows (c, i, j); grad_b (O,).

    xp (N, C, Hp, Wp) is the input zero-padded as the forward read it (the window of
    output pixel (oy, ox) starts at (oy*sh, ox*sw)); grad (N, oh, ow, O) the channels-last
    output gradient. For each 32 output channels one pass over the pixels, two at a time:
    each tap's value is broadcast and multiplied into that tap's row of sums, which never
    leave the registers. No patch matrix is made: the output gradient is read once, as it
    lies. Taps past C*kh*kw read the window's first value into sums that are dropped.
    """
    N, C, Hp, Wp = xp.shape
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    K = C * kh * kw
    if K > TAPS or O % TAP_COLUMNS:
        raise ValueError("conv2d_weight_grad_taps takes at most 12 taps and a multiple of 32 "
                         "output channels")
    where = np.zeros(TAPS, np.int64)                  # each tap's offset in the flat image
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                where[(c * kh + i) * kw + j] = c * Hp * Wp + i * dh * Wp + j * dw
    acc = numba.carray(stack_tile(_TAP_TILE, grad.dtype), (TAPS + 1, TAP_COLUMNS))
    zero = grad.dtype.type(0)
    pairs = ow - ow % 2
    _fill(grad_w, zero)
    _fill(grad_b, zero)
    for o0 in range(0, O, TAP_COLUMNS):
        for n in range(N):                 # one image's sums at a time, then added to memory:
            for r in range(TAPS + 1):     # float32 sums over a whole batch lose digits
                for q in range(TAP_COLUMNS):
                    acc[r, q] = zero
            image = xp[n].reshape(C * Hp * Wp)
            for oy in range(oh):
                g_row = grad[n, oy]                                        # (ow, O)
                for ox in range(0, pairs, 2):      # two pixels a step: see _narrow_tiles
                    at0 = oy * sh * Wp + ox * sw
                    at1 = at0 + sw
                    g0, g1 = g_row[ox, o0:o0 + TAP_COLUMNS], g_row[ox + 1, o0:o0 + TAP_COLUMNS]
                    for r in range(TAPS):
                        a0, a1 = image[at0 + where[r]], image[at1 + where[r]]
                        for q in range(TAP_COLUMNS):
                            acc[r, q] += a0 * g0[q]
                            acc[r, q] += a1 * g1[q]
                    for q in range(TAP_COLUMNS):
                        acc[TAPS, q] += g0[q]
                        acc[TAPS, q] += g1[q]
                for ox in range(pairs, ow):                                # an odd ow
                    at0 = oy * sh * Wp + ox * sw
                    g0 = g_row[ox, o0:o0 + TAP_COLUMNS]
                    for r in range(TAPS):
                        a0 = image[at0 + where[r]]
                        for q in range(TAP_COLUMNS):
                            acc[r, q] += a0 * g0[q]
                    for q in range(TAP_COLUMNS):
                        acc[TAPS, q] += g0[q]
            for r in range(K):
                for q in range(TAP_COLUMNS):
                    grad_w[r, o0 + q] += acc[r, q]
            for q in range(TAP_COLUMNS):
                grad_b[o0 + q] += acc[TAPS, q]


_WGRAD_ROWS = 256
"""Most output pixels per product in conv2d_weight_grad_rows: a block's patch rows (256 x 288
floats for SimpleCNN's conv2, 295 KB) and output-gradient rows stay in L2 while every
6-row tile of the weight gradient runs over them."""


@njit
def conv2d_weight_grad_rows(x, grad, kh, kw, sh, sw, ph, pw, dh, dw, grad_w, grad_b):
    """Weight and bias gradients of any convolution whose output channels fill matmul_into's
    tiles, summed over the images given: grad_w (kh*kw*C, O) = patches.T @ grad, rows
    (i, j, c) as the forward's weight rows; grad_b (O,) = grad summed over pixels.

    x (N, H, W, C) and grad (N, oh, ow, O) are channels-last. Nothing is transposed: each
    block of an image's pixels gets its patch rows made as the forward makes them, and
    matmul_into takes them transposed (a view) as the row side and the output gradient's
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
    part = np.empty((K, O), dtype=x.dtype)                          # one block's product
    for n in range(N):
        g = grad[n].reshape(P, O)
        blocks = (P + _WGRAD_ROWS - 1) // _WGRAD_ROWS
        step = (P + blocks - 1) // blocks if blocks else 1              # even blocks
        for at in range(0, P, step):
            rows = min(step, P - at)
            _patch_rows(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ow, at, cols[:rows])
            matmul_into(cols[:rows, :K].T, g[at:at + rows], part)     # an 'A' view
            for k in range(K):
                for o in range(O):
                    grad_w[k, o] += part[k, o]
        for p in range(P):
            for o in range(O):
                grad_b[o] += g[p, o]


_WGRAD_BLOCK_BYTES = 1 << 20
"""Operand bytes per product in conv2d_weight_grad (a core's L2 cache): as many whole images
as fit are multiplied at once, so each tile's sums run over more pixels before they are
added to memory. Each thread holds one block."""


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
    the faster side for the notes' conv shapes, bench/RESULTS.md).
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
            for o in range(O):                   # a row of g_t, as the patch rows above:
                _zero_extension(g_t[o, b * L:(b + 1) * L], oh, ow, Wp)   # one compiled layout
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
