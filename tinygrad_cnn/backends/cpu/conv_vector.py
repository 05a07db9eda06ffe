"""CPU backend, the vector-tiles conv routes of plan_conv (kernels/cpu/conv_vector.py): the
forward, the stride-1 input gradient as the transposed convolution through the same kernel,
and the weight gradient (also turned over: channel-rows); and by the image tiles
(kernels/cpu/conv_image_tiles.py) the same three for a batch. Each thread takes its own
share of the images.

The kernels compute whole tiles of output channels (16 float32, 8 float64). A conv with
others (DenseNet's 12, LeNet-5's 6; plan_conv bounds the waste by
settings.vector_max_padding) runs padded to whole tiles: zero weight columns in the forward,
whose kernel stores only the real outputs; a zero output gradient in the weight gradient,
its columns dropped.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv_image_tiles as image_kernels
from tinygrad_cnn.kernels.cpu import conv_pool as pool_kernels
from tinygrad_cnn.kernels.cpu import conv_vector as vector_kernels
from tinygrad_cnn.kernels.cpu.vector_tile import TILE_ROWS, tile_columns


def flipped_column_weights(w):
    """column_weights of the transposed convolution (the stride-1 input gradient): the kernel
    turned 180 degrees, input and output channels swapped; (KH*KW*O, C)."""
    C = w.shape[1]
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(-1, C)


def forward_vector_tiles(xh, wt, b, g, relu=False, images=False, max_pool=False):
    """(N, OH, OW, O) channels-last output of the conv of geometry g of xh (N, H, W, C) by
    the column weights wt (+ b), and with ``relu`` its ReLU, applied as the tiles store it:
    by the per-image vector tiles (g has at least a tile's 6 output pixels), or with
    ``images`` the image tiles (kernels/cpu/conv_image_tiles.py: one output pixel of 6
    images at a time, for a batch of 6 or more), each pass reading as many kernel rows of the
    weight panel as settings.vector_panel_bytes holds for 16 columns (plan_conv; a tile of
    32 or 48 reads 2 or 3 times that, which measured as fast as fewer rows), over blocks
    of as many images (in 6s) as settings.image_tiles_block_bytes holds, input and output.
    With ``max_pool`` (image tiles only), the 2x2 stride-2 max pool of that (N, OH//2,
    OW//2, O) instead, each block of images pooled from a buffer of the thread's own as the
    tiles finish it (kernels/cpu/conv_pool.py)."""
    O = wt.shape[1]
    bias = b if b is not None else np.zeros(O, dtype=xh.dtype)
    wt, bias = _padded_columns(wt), _padded_columns(bias[None])[0]
    conv_shape = (g.N, g.OH, g.OW, O)
    out = np.empty((g.N, g.OH // 2, g.OW // 2, O) if max_pool else conv_shape, dtype=xh.dtype)
    geometry = (g.KH, g.KW, g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.dilation_h)
    grain = -(-settings.part_macs // (g.OH * g.OW * wt.size))
    if not images:
        threads.run(lambda lo, hi: vector_kernels.conv2d_forward_vector_tiles(
            xh, wt, bias, *geometry, relu, out, lo, hi), g.N, grain=grain)
        return out
    xh = np.ascontiguousarray(xh)
    row_bytes = g.KW * g.C * tile_columns(xh.itemsize) * xh.itemsize   # per 16 columns
    rows_per_pass = max(1, min(g.KH, settings.vector_panel_bytes // row_bytes))
    image_bytes = (xh[0].size + g.OH * g.OW * O) * xh.itemsize
    images_per_block = TILE_ROWS * max(
        1, settings.image_tiles_block_bytes // (TILE_ROWS * image_bytes))
    if max_pool:
        block = (images_per_block, *conv_shape[1:])
        threads.run(lambda lo, hi: pool_kernels.conv2d_forward_image_tiles_max_pool(
            xh, wt, bias, *geometry, relu, rows_per_pass, images_per_block,
            np.empty(block, xh.dtype), out, lo, hi), g.N, grain=max(TILE_ROWS, grain))
        return out
    threads.run(lambda lo, hi: image_kernels.conv2d_forward_image_tiles(
        xh, wt, bias, *geometry, relu, rows_per_pass, images_per_block, out, lo, hi), g.N,
        grain=max(TILE_ROWS, grain))
    return out


def weight_grad_vector_tiles(gh, xh, g, route="vector-tiles"):
    """The OIHW weight gradient of the conv of geometry g, from its channels-last output
    gradient gh (N, OH, OW, O) and input xh (N, H, W, C), by plan WEIGHT_GRAD ``route``: the
    per-image vector tiles, the image tiles (each into (KH*KW*C, O) rows, the output
    gradient padded to whole tiles), or the per-image tiles turned over, "channel-rows"
    (into (O, KH*KW*C) rows; KW*C fills whole tiles); each thread sums its images' share
    into its own part."""
    xh, K = np.ascontiguousarray(xh), g.KH * g.KW * g.C
    geometry = (g.KH, g.KW, g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.dilation_h)
    parts = max(1, min(threads.thread_count(), g.N,
                       g.N * g.OH * g.OW * K * g.O // settings.part_macs))
    if route == "channel-rows":
        gh, shape = np.ascontiguousarray(gh), (g.O, K)
        kernel = vector_kernels.conv2d_weight_grad_channel_rows
    else:
        gh = _padded_columns(np.ascontiguousarray(gh))
        shape = (K, gh.shape[3])
        kernel = image_kernels.conv2d_weight_grad_image_tiles if route == "image-tiles" else \
            vector_kernels.conv2d_weight_grad_vector_tiles
    rows = threads.summed(lambda lo, hi, part: kernel(xh, gh, *geometry, part, lo, hi), g.N,
                          (shape,), gh.dtype, parts)[0]
    if route == "channel-rows":
        return np.ascontiguousarray(rows.reshape(g.O, g.KH, g.KW, g.C).transpose(0, 3, 1, 2))
    return np.ascontiguousarray(rows[:, :g.O].reshape(g.KH, g.KW, g.C, g.O).transpose(3, 2, 0, 1))


def _padded_columns(a):
    """a (..., n) with zero columns appended up to whole tiles; a itself when n fills them."""
    n = a.shape[-1]
    whole = -(-n // tile_columns(a.itemsize)) * tile_columns(a.itemsize)
    if whole == n:
        return a
    padded = np.zeros((*a.shape[:-1], whole), dtype=a.dtype)
    padded[..., :n] = a
    return padded
