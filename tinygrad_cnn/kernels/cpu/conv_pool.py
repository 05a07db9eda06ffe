"""@njit inference forward of a convolution and the 2x2 stride-2 max pool after it, in one
pass over the images: the image tiles (kernels/cpu/conv_image_tiles.py) compute a block of
images into a scratch buffer, and kernels/cpu/nhwc.py's max pool reads it from there, while
it is still in the cache, into the pooled output. The conv's full output is never written
to memory (SimpleCNN's first conv: 10 MB at batch 100) and never read back. Both kernels run
exactly as they do apart, so the values are the same bit for bit.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.conv_image_tiles import conv2d_forward_image_tiles
from tinygrad_cnn.kernels.cpu.nhwc import max_pool2d_forward_nhwc
from tinygrad_cnn.kernels.jit import njit

_0, _1, _2 = np.int64(0), np.int64(1), np.int64(2)
"""The pool's and the inner calls' constants as int64: literals would compile the conv and
pool kernels once more, for their literal types (a second or more each at a cold start)."""
_NO_RELU = np.bool_(False)


@njit
def conv2d_forward_image_tiles_max_pool(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu,
                                        rows_per_pass, images_per_block, conv_out, out, first,
                                        stop):
    """Images first .. stop-1 of out (N, OH//2, OW//2, O) = the 2x2 stride-2 max pool of
    conv2d_forward_image_tiles' output (its arguments), a block of images_per_block at a
    time made in conv_out (images_per_block, OH, OW, O), this thread's own."""
    none = np.empty((images_per_block, out.shape[1], out.shape[2], 0), dtype=np.int32)
    for b0 in range(first, stop, images_per_block):
        b1 = min(stop, b0 + images_per_block)
        block = conv_out[:b1 - b0]
        conv2d_forward_image_tiles(x[b0:b1], wt, bias, kh, kw, sh, sw, ph, pw, dh, relu,
                                   rows_per_pass, images_per_block, block, _0, b1 - b0)
        max_pool2d_forward_nhwc(block, _2, _2, _2, _2, _0, _0, _1, _1, _NO_RELU, out[b0:b1],
                                none[:b1 - b0])
