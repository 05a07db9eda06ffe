"""CPU backend, the row-tiles conv routes of plan_conv (kernels/cpu/conv_row_tiles.py): the
forward of a 3- or 5-wide kernel at stride 1 along the rows into few output channels, and the
stride-1 input gradient of a conv of few input channels as the transposed convolution
through the same kernel. Each thread takes its own share of the output rows (of all the
images), so a single image splits over the threads too.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu.conv_row_tiles import conv2d_forward_row_tiles
from tinygrad_cnn.kernels.cpu.vector_tile import tile_columns


def row_weights(w):
    """(KH*C*KW, U) weight rows (i, c, j) of the OIHW weight w, as the row tiles take them:
    the output channels padded with zero columns to whole tile units (16 float32, 8
    float64)."""
    O, C, KH, KW = w.shape
    unit = tile_columns(w.itemsize)
    rows = np.zeros((KH, C, KW, -(-O // unit) * unit), dtype=w.dtype)
    rows[..., :O] = w.transpose(2, 1, 3, 0)
    return rows.reshape(-1, rows.shape[-1])


def flipped_row_weights(w):
    """row_weights of the transposed convolution (the stride-1 input gradient): the kernel
    turned 180 degrees, input and output channels swapped."""
    return row_weights(np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)))


def forward_row_tiles(xh, wrows, b, g, relu=False):
    """(N, OH, OW, O) channels-last output of the conv of geometry g of xh (N, H, W, C) by
    the row weights wrows (+ b), and with ``relu`` its ReLU, applied as the tiles store it."""
    unit = wrows.shape[1]
    bias = np.zeros(unit, dtype=xh.dtype)
    if b is not None:
        bias[:g.O] = b
    xh = np.ascontiguousarray(xh)
    out = np.empty((g.N, g.OH, g.OW, g.O), dtype=xh.dtype)
    grain = -(-settings.part_macs // (g.OW * wrows.size))
    threads.run(lambda lo, hi: conv2d_forward_row_tiles(
        xh, wrows, bias, g.KH, g.KW, g.stride_h, g.pad_top, g.pad_left, g.dilation_h, relu, out,
        lo, hi), g.N * g.OH, grain=grain)
    return out
