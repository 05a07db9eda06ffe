"""CPU backend, the Winograd routes of plan_conv (kernels/cpu/conv_winograd.py): a 3x3
stride-1 conv's forward (``winograd``) and its input gradient as the transposed convolution
by the flipped kernel (``transposed-winograd``). Each thread takes its own share of the
images.

The weights are transformed at every call (16 x C x O values, G g G^T for each kernel g),
not kept: an in-place update of a weight between calls could not be seen.
"""
import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv_winograd as winograd_kernels
from tinygrad_cnn.kernels.cpu.vector_tile import tile_columns


def winograd_conv(xh, w, b, g, relu=False, flipped=False, pool=False):
    """The (N, OH, OW, O) channels-last conv of geometry g (3x3, stride 1, ungrouped) of xh
    (N, H, W, C) by the OIHW weight w (+ b), with ``relu`` its ReLU; with ``flipped`` by w
    turned 180 degrees, its channels swapped (g is then the transposed geometry of w's conv:
    the input gradient of the output gradient xh); with ``pool`` its 2x2 stride-2 max pool
    instead, (N, OH // 2, OW // 2, O). None when a value came out NaN or inf: the caller
    then computes the conv by a direct route (kernels/cpu/conv_winograd.py)."""
    columns = tile_columns(xh.itemsize)
    padded = -(-g.O // columns) * columns
    u = np.empty((winograd_kernels.POSITIONS, g.C, padded), dtype=xh.dtype)
    winograd_kernels.winograd_weights(w, flipped, u)
    bias = np.zeros(padded, dtype=xh.dtype)
    if b is not None:
        bias[:g.O] = b
    xh = np.ascontiguousarray(xh)
    shape = (g.N, g.OH // 2, g.OW // 2, g.O) if pool else (g.N, g.OH, g.OW, g.O)
    out = np.empty(shape, dtype=xh.dtype)
    bad = []
    threads.run(lambda lo, hi: bad.append(winograd_kernels.conv2d_forward_winograd(
        xh, u, bias, g.pad_top, g.pad_left, relu, pool, out, lo, hi)), g.N,
        grain=-(-settings.part_macs // (g.OH * g.OW * g.C * g.O * 9)))
    return None if any(bad) else out
