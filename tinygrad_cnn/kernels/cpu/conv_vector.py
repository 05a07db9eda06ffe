"""@njit convolution forward by vector tiles (kernels/cpu/vector_tile.tile_sums): the
``vector-tiles`` route of backends/cpu/plan.py.

Each image is copied once, zero-padded, into a small channels-last buffer; then every 6
output pixels times 16 output channels (8 for float64) are one tile, whose patches tile_sums
reads straight from that buffer (a kernel row of a pixel is one run of KW*C values), so no
patch matrix is made and no GEMM packs one. Output channels beyond the last whole tile, and
images of fewer than 6 output pixels, take plain loops (_plain_outputs).
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
                tile_sums(flat_img, offsets, row_step, kh, run, wt, o0, O, bias, flat,
                          base + q0 * O + o0, O)
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
