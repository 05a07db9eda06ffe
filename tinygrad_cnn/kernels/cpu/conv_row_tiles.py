"""@njit convolution forward by row tiles (kernels/cpu/row_tile.row_sums): the ``row-tiles``
route of backends/cpu/plan.py, for a 3- or 5-wide kernel at stride 1 along the rows and one
or two tile units of output channels (16 or 32 float32, 8 or 16 float64), at any batch.

A tile is ROW_PIXELS neighbouring output pixels of one output row (8 with AVX-512, else 4)
times the units' output channels: row_sums reads the input pixels under them, kernel row
after kernel row (the rows inside the image only), from a zero-padded copy of the image,
and broadcasts each input value once for all of its taps.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.row_tile import ROW_LANES, ROW_PIXELS, row_sums
from tinygrad_cnn.kernels.cpu.vector_tile import TILE_BYTES
from tinygrad_cnn.kernels.geometry import taps_inside
from tinygrad_cnn.kernels.jit import njit


@njit
def conv2d_forward_row_tiles(x, wt, bias, kh, kw, sh, ph, pw, dh, relu, out, first, stop):
    """Output rows first .. stop-1 (row n*OH + i is image n's output row i) of out (N, OH, OW,
    O) = the convolution of x (N, H, W, C) by the weight rows wt (KH*C*KW, U), rows (i, c, j),
    plus bias (U,), and with ``relu`` its ReLU: U is one or two tile units (16 or 32
    float32, 8 or 16 float64) and O <= U, the weights and bias of the columns beyond O zero
    or anything; KW = kw, 3 or 5. Stride (sh, 1), padding top ph and left pw, dilation dh
    along H and none along W; x and out are C-contiguous.

    Each image is copied into a buffer of its rows, channels in blocks of 8 (row_tile's
    layout), padded with zero pixels on both sides (pw on the left, to whole tiles on the
    right). The tiles store the O real channels and, in a row's last tile, the real pixels
    only."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    unit = wt.shape[1]
    units = unit // (TILE_BYTES // x.itemsize)
    wide = max(W + pw, -(-ow // ROW_PIXELS) * ROW_PIXELS + kw - 1)
    blocks = -(-C // ROW_LANES)
    padded = np.zeros((H, blocks, wide, ROW_LANES), dtype=x.dtype)
    flat_padded, flat = padded.reshape(padded.size), out.reshape(out.size)
    row_weights = C * kw * unit
    zero = x.dtype.type(0)
    image = -1
    for item in range(first, stop):
        n, i = item // oh, item % oh
        if n != image:
            _copy_blocks(x, n, pw, padded)
            image = n
        top = i * sh - ph
        r0, r1 = taps_inside(top, dh, kh, H)
        at = item * ow * O
        if r0 >= r1:                            # every tap is padding: the bias
            for j in range(ow):
                for q in range(O):
                    v = bias[q]
                    flat[at + j * O + q] = zero if relu and v < zero else v
            continue
        a0, a_block = (top + r0 * dh) * blocks * wide * ROW_LANES, wide * ROW_LANES
        a_step = dh * blocks * a_block
        for j0 in range(0, ow, ROW_PIXELS):
            row_sums(flat_padded, a0 + j0 * ROW_LANES, a_block, r1 - r0, a_step, C, wt,
                     r0 * row_weights, row_weights, bias, 0, False, relu, flat, at + j0 * O, O,
                     min(ROW_PIXELS, ow - j0), O, kw, units)


@njit
def _copy_blocks(x, n, pw, padded):
    """padded (H, blocks, wide, ROW_LANES)[y, c // ROW_LANES, pw + j, c % ROW_LANES] =
    x[n, y, j, c] (the rest of padded is left as it is: zeros)."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    for y in range(H):
        for b in range(padded.shape[1]):
            lanes = min(ROW_LANES, C - b * ROW_LANES)
            for j in range(W):
                for q in range(lanes):
                    padded[y, b, pw + j, q] = x[n, y, j, b * ROW_LANES + q]
