"""@njit convolution forward and weight gradient by vector tiles
(kernels/cpu/vector_tile.tile_sums): the ``vector-tiles`` routes of backends/cpu/plan.py.

Each image is copied once, zero-padded, into a small channels-last buffer; then every 6
output pixels times a block of output channels (16 float32, 8 float64; with AVX-512 32 or 48
too: vector_tile.tile_units) are one tile, whose patches tile_sums reads straight from that
buffer (a kernel row of a pixel is one run of KW*C values), so no patch matrix is made and
no GEMM packs one. The weight gradient tiles 6 patch columns x the output channels instead,
or, for few output channels, 6 of them x a kernel row's patch columns (the channel rows).

The forward takes its weights padded to whole tiles of output channels and stores only the
real ones; the weight gradient computes whole tiles only (the backend pads the output
gradient with zero channels); the forward computes images of 6 or more output pixels only
(plan_conv gives the tiles no smaller ones). There is no plain-loop remainder to compile
(about half a second each at a cold start).
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.vector_tile import (
    MAX_UNITS, TILE_BYTES, TILE_ROWS, tile_sums, tile_units)
from tinygrad_cnn.kernels.jit import njit


@njit
def conv2d_forward_vector_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu, out, first,
                                stop):
    """Images first .. stop-1 of out (N, OH, OW, O) = the convolution of x (N, H, W, C) by
    the weight rows wt (KH*KW*C, O'), rows (i, j, c), plus bias (O',), and with ``relu`` its
    ReLU, for images of 6 or more output pixels (others are left as they are): O' is O
    rounded up to whole tiles (16 float32, 8 float64), the weights and bias of the columns
    beyond O zero or anything. Stride (sh, sw), padding top ph and left pw, dilation dh
    along H and none along W; out is C-contiguous.

    Tiles run over one output-channel block at a time (its weight rows stay in the L1 cache
    while every pixel of the image passes), blocks of vector_tile.tile_units' columns; an
    image's last tile is moved back to end at its last
    pixel, recomputing a few pixels rather than leaving a ragged edge. A last block of
    fewer real channels than its columns stores only those (tile_sums' masked stores).
    """
    C = x.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    P = oh * ow
    unit = TILE_BYTES // x.itemsize
    ldb = wt.shape[1]
    img = _padded_buffer(x, oh, ow, kh, kw, sh, sw, dh)
    Wp = img.shape[1]
    flat_img, flat = img.reshape(img.size), out.reshape(out.size)
    tiles = -(-P // TILE_ROWS)
    offsets = np.empty(tiles * TILE_ROWS, dtype=np.int64)    # the same for every image
    for t in range(tiles):
        q0 = min(t * TILE_ROWS, P - TILE_ROWS)
        for r in range(TILE_ROWS):
            q = q0 + r
            offsets[t * TILE_ROWS + r] = ((q // ow) * sh * Wp + (q % ow) * sw) * C
    run, row_step = kw * C, dh * Wp * C
    for n in range(first, stop if P >= TILE_ROWS else first):
        _zero_padded(x[n], ph, pw, img)
        base = n * P * O
        o0 = 0
        while o0 < O:
            units = tile_units((ldb - o0) // unit)
            cols = units * unit
            width = min(cols, O - o0)
            for t in range(tiles):
                q0 = min(t * TILE_ROWS, P - TILE_ROWS)
                tile_sums(flat_img, offsets[t * TILE_ROWS:], row_step, 1, kh, run, wt, o0, ldb,
                          run * ldb, bias, o0, False, relu, flat, base + q0 * O + o0, O, width,
                          units)
            o0 += cols


@njit
def _padded_buffer(x, oh, ow, kh, kw, sh, sw, dh):
    """An uninitialised (Hp, Wp, C) buffer for one image of x, zero-padded: the rows and
    columns that an (oh, ow) output's windows read."""
    return np.empty(((oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + kw, x.shape[3]),
                    dtype=x.dtype)


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
def conv2d_weight_grad_vector_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop):
    """dwt (KH*KW*C, O), rows (i, j, c), += the weight gradient of images first .. stop-1 in
    the output channels of whole tiles (O - O % 16 for float32): for each patch column k and
    output channel o, the sum over output pixels p of patch[p, k] * grad[p, o], for x
    (N, H, W, C) and the output gradient grad (N, OH, OW, O), both C-contiguous (stride,
    padding and dilation as conv2d_forward_vector_tiles).

    A tile is 6 patch columns x a block of output channels (16 float32, 8 float64, or
    vector_tile.tile_units' more), summed over all of an image's pixels in one call: its
    patch values read along the pixels of the zero-padded image, the gradient's rows whole.
    The last tile of a K that is no multiple of 6 repeats the last patch column in its spare
    rows and sums into a scratch tile, whose real rows are then added to dwt.
    """
    C = x.shape[3]
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    K, run = kh * kw * C, kw * C
    unit = TILE_BYTES // x.itemsize
    tiled_o = O - O % unit
    img = _padded_buffer(x, oh, ow, kh, kw, sh, sw, dh)
    Wp = img.shape[1]
    flat_img, flat_grad, flat_dw = img.reshape(img.size), grad.reshape(grad.size), \
        dwt.reshape(dwt.size)
    scratch = np.empty(TILE_ROWS * MAX_UNITS * unit, dtype=x.dtype)
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    row_step, pixel_row, pixel = dh * Wp * C, sh * Wp * C, sw * C
    for n in range(first, stop if tiled_o else first):
        _zero_padded(x[n], ph, pw, img)
        g0 = n * oh * ow * O
        o0 = 0
        while o0 < tiled_o:
            units = tile_units((tiled_o - o0) // unit)
            cols = units * unit
            for k0 in range(0, K, TILE_ROWS):
                for r in range(TILE_ROWS):
                    k = min(k0 + r, K - 1)
                    offsets[r] = k // run * row_step + k % run
                whole = k0 + TILE_ROWS <= K
                if not whole:
                    scratch[:] = 0
                sums, at, step = (flat_dw, k0 * O + o0, O) if whole else (scratch, 0, cols)
                tile_sums(flat_img, offsets, pixel_row, pixel, oh, ow, flat_grad, g0 + o0, O,
                          ow * O, sums, 0, True, False, sums, at, step, cols, units)
                if not whole:
                    for r in range(K - k0):
                        for j in range(cols):
                            dwt[k0 + r, o0 + j] += scratch[r * cols + j]
            o0 += cols


@njit
def conv2d_weight_grad_channel_rows(x, grad, kh, kw, sh, sw, ph, pw, dh, dw_rows, first, stop):
    """dw_rows (O, KH*KW*C), columns (i, j, c), += the weight gradient of images first ..
    stop-1, for x (N, H, W, C) and the output gradient grad (N, OH, OW, O), both
    C-contiguous, KW*C a multiple of 16 (8 for float64; others are left as they are);
    stride, padding and dilation as conv2d_forward_vector_tiles.

    conv2d_weight_grad_vector_tiles with the tile turned over, for few output channels: a
    tile is 6 output channels (their gradient values broadcast) x a block of a kernel row's
    patch columns, which lie side by side in the zero-padded image (a kernel row of a pixel
    is one run of KW*C values), in blocks of vector_tile.tile_units' columns. A 16-channel
    conv's 3x3 kernel row is 48 columns, one tile of 3 units, where the other way its 16
    channels are a one-vector tile. A last tile of fewer than 6 channels repeats the last
    channel in its spare rows and sums into a scratch tile, whose real rows are added to
    dw_rows.
    """
    C = x.shape[3]
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    run = kw * C
    K = kh * run
    unit = TILE_BYTES // x.itemsize
    img = _padded_buffer(x, oh, ow, kh, kw, sh, sw, dh)
    Wp = img.shape[1]
    flat_img, flat_grad, flat_dw = img.reshape(img.size), grad.reshape(grad.size), \
        dw_rows.reshape(dw_rows.size)
    scratch = np.empty(TILE_ROWS * MAX_UNITS * unit, dtype=x.dtype)
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    for n in range(first, stop if run % unit == 0 else first):
        _zero_padded(x[n], ph, pw, img)
        g0 = n * oh * ow * O
        for o0 in range(0, O, TILE_ROWS):
            rows = min(TILE_ROWS, O - o0)
            for r in range(TILE_ROWS):
                offsets[r] = g0 + o0 + min(r, rows - 1)
            for i in range(kh):
                k0 = 0
                while k0 < run:
                    units = tile_units((run - k0) // unit)
                    cols = units * unit
                    b0, at = i * dh * Wp * C + k0, i * run + k0
                    if rows == TILE_ROWS:
                        tile_sums(flat_grad, offsets, ow * O, O, oh, ow, flat_img, b0, sw * C,
                                  sh * Wp * C, flat_dw, 0, True, False, flat_dw, o0 * K + at,
                                  K, cols, units)
                    else:
                        scratch[:] = 0
                        tile_sums(flat_grad, offsets, ow * O, O, oh, ow, flat_img, b0, sw * C,
                                  sh * Wp * C, scratch, 0, True, False, scratch, 0, cols, cols,
                                  units)
                        for r in range(rows):
                            for j in range(cols):
                                dw_rows[o0 + r, at + j] += scratch[r * cols + j]
                    k0 += cols
