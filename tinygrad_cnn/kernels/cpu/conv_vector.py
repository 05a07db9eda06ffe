"""@njit convolution forward and weight gradient by vector tiles
(kernels/cpu/vector_tile.tile_sums): the ``vector-tiles`` routes of backends/cpu/plan.py.

Each image is copied once, zero-padded, into a small channels-last buffer; then every 6
output pixels times 16 output channels (8 for float64) are one tile, whose patches tile_sums
reads straight from that buffer (a kernel row of a pixel is one run of KW*C values), so no
patch matrix is made and no GEMM packs one. Output channels beyond the last whole tile, and
images of fewer than 6 output pixels, take plain loops (_plain_outputs). The weight gradient
tiles 6 patch columns x 16 output channels instead (conv2d_weight_grad_vector_tiles).
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.vector_tile import TILE_BYTES, TILE_ROWS, tile_sums
from tinygrad_cnn.kernels.jit import njit


@njit
def conv2d_forward_vector_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, out, first, stop):
    """Images first .. stop-1 of out (N, OH, OW, O) = the convolution of x (N, H, W, C) by
    the weight rows wt (KH*KW*C, O), rows (i, j, c), plus bias (O,): stride (sh, sw),
    padding top ph and left pw, dilation dh along H and none along W. out is C-contiguous.

    Tiles run over one output-channel block at a time (its weight rows stay in the L1 cache
    while every pixel of the image passes); an image's last tile is moved back to end at
    its last pixel, recomputing a few pixels rather than leaving a ragged edge.
    """
    C = x.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P = oh * ow
    cols = TILE_BYTES // x.itemsize
    tiled = O - O % cols if P >= TILE_ROWS else 0
    Hp, Wp = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + kw
    img = np.empty((Hp, Wp, C), dtype=x.dtype)
    flat_img = img.reshape(img.size)
    flat = out.reshape(out.size)
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    run, row_step = kw * C, dh * Wp * C
    for n in range(first, stop):
        _zero_padded(x[n], ph, pw, img)
        base = n * P * O
        for o0 in range(0, tiled, cols):
            for t in range(0, P, TILE_ROWS):
                q0 = min(t, P - TILE_ROWS)
                for r in range(TILE_ROWS):
                    q = q0 + r
                    offsets[r] = ((q // ow) * sh * Wp + (q % ow) * sw) * C
                tile_sums(flat_img, offsets, row_step, 1, kh, run, wt, o0, O, bias, o0, False,
                          flat, base + q0 * O + o0, O)
        _plain_outputs(flat_img, Wp, C, sh, sw, row_step, kh, run, ow, wt, bias, flat, base,
                       P, tiled, O)


@njit
def _zero_padded(src, ph, pw, img):
    """img (Hp, Wp, C) = src (H, W, C) placed at row ph, column pw, zeros elsewhere (rows
    and columns of src beyond img's extent are not needed by the conv and are left out)."""
    H, W, C = src.shape
    Hp, Wp = img.shape[0], img.shape[1]
    zero = img.dtype.type(0)
    width = max(0, min(W, Wp - pw))
    for y in range(Hp):
        line = img[y].reshape(Wp * C)
        yy = y - ph
        if yy < 0 or yy >= H:
            for k in range(Wp * C):
                line[k] = zero
            continue
        source = src[yy].reshape(W * C)
        for k in range(pw * C):
            line[k] = zero
        for k in range(width * C):
            line[pw * C + k] = source[k]
        for k in range((pw + width) * C, Wp * C):
            line[k] = zero


@njit
def _plain_outputs(img, Wp, C, sh, sw, row_step, kh, run, ow, wt, bias, flat, base, P, o_lo,
                   O):
    """Output channels o_lo .. O-1 of every pixel of one image, by plain sums (what the
    tiles leave: a remainder of fewer channels than a tile, or an image too small for one)."""
    for q in range(P):
        at = ((q // ow) * sh * Wp + (q % ow) * sw) * C
        for o in range(o_lo, O):
            acc = bias[o]
            for i in range(kh):
                for k in range(run):
                    acc += img[at + i * row_step + k] * wt[i * run + k, o]
            flat[base + q * O + o] = acc


@njit
def conv2d_weight_grad_vector_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop):
    """dwt (KH*KW*C, O), rows (i, j, c), += the weight gradient of images first .. stop-1:
    for each patch column k and output channel o, the sum over output pixels p of
    patch[p, k] * grad[p, o], for x (N, H, W, C) and the output gradient grad (N, OH, OW, O),
    both C-contiguous (stride, padding and dilation as conv2d_forward_vector_tiles).

    A tile is 6 patch columns x 16 output channels (8 for float64) summed over all of an
    image's pixels in one call: its patch values read along the pixels of the zero-padded
    image, the gradient's rows whole. Patch columns and channels beyond the tiles take plain
    sums (_plain_weight_grad).
    """
    C = x.shape[3]
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    K, run = kh * kw * C, kw * C
    cols = TILE_BYTES // x.itemsize
    tiled_o, tiled_k = O - O % cols, K - K % TILE_ROWS
    Hp, Wp = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + kw
    img = np.empty((Hp, Wp, C), dtype=x.dtype)
    flat_img, flat_grad, flat_dw = img.reshape(img.size), grad.reshape(grad.size), \
        dwt.reshape(dwt.size)
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    row_step, pixel_row, pixel = dh * Wp * C, sh * Wp * C, sw * C
    for n in range(first, stop):
        _zero_padded(x[n], ph, pw, img)
        g0 = n * oh * ow * O
        for o0 in range(0, tiled_o, cols):
            for k0 in range(0, tiled_k, TILE_ROWS):
                for r in range(TILE_ROWS):
                    offsets[r] = (k0 + r) // run * row_step + (k0 + r) % run
                tile_sums(flat_img, offsets, pixel_row, pixel, oh, ow, flat_grad, g0 + o0, O,
                          flat_dw, 0, True, flat_dw, k0 * O + o0, O)
        _plain_weight_grad(flat_img, flat_grad, g0, oh, ow, O, run, row_step, pixel_row, pixel,
                           tiled_k, tiled_o, dwt)


@njit
def _plain_weight_grad(img, grad, g0, oh, ow, O, run, row_step, pixel_row, pixel, tiled_k,
                       tiled_o, dwt):
    """What the tiles leave of one image's weight gradient, by plain sums: patch columns
    tiled_k.. for the tiled channels, every patch column for channels tiled_o.."""
    K = dwt.shape[0]
    for k in range(K):
        at = k // run * row_step + k % run
        for o in range(tiled_o if k < tiled_k else 0, O):
            acc = dwt.dtype.type(0)
            for oy in range(oh):
                for ox in range(ow):
                    acc += img[at + oy * pixel_row + ox * pixel] * grad[g0 + (oy * ow + ox) * O + o]
            dwt[k, o] += acc
