"""@njit convolution forward and weight gradient by image tiles: the ``image-tiles`` routes
of backends/cpu/plan.py, for a batch of 6 or more images.

A forward tile is one output pixel of 6 images times a block of output channels (16 float32,
8 float64; with AVX-512 32 or 48 too: vector_tile.tile_units), summed by
kernels/cpu/vector_tile.tile_sums. The 6 images share the pixel's position, so they share
which of its taps fall inside the image: the tile reads those taps' values straight from the
unpadded channels-last input (a kernel row's taps inside the image are one run of values)
and sums only them. The weight gradient's tile is 6 patch columns of one pixel, summed over
all the images. Nothing is padded or copied, no multiply-add is spent on a padding zero, and
no pixel is computed twice, which the per-image vector tiles (conv_vector.py) do at small
images: at VGG-11's 3x3 pixels with padding 1, 32 of a pixel's 81 taps on average are
padding, and an image's 9 pixels are two tiles of 6.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.vector_tile import (
    MAX_UNITS, TILE_BYTES, TILE_ROWS, tile_sums, tile_units)
from tinygrad_cnn.kernels.geometry import UNIT_STEP, taps_inside
from tinygrad_cnn.kernels.jit import njit


@njit
def conv2d_forward_image_tiles(x, wt, bias, kh, kw, sh, sw, ph, pw, dh, relu, rows_per_pass,
                               images_per_block, out, first, stop):
    """Images first .. stop-1 of out (N, OH, OW, O) = the convolution of x (N, H, W, C) by
    the weight rows wt (KH*KW*C, O'), rows (i, j, c), plus bias (O',), and with ``relu`` its
    ReLU: O' is O rounded up to whole tiles (16 float32, 8 float64), the weights and bias of
    the columns beyond O zero or anything. Stride (sh, sw), padding top ph and left pw,
    dilation dh along H and none along W; x and out are C-contiguous.

    The images run in blocks of ``images_per_block`` (a multiple of 6), whose input and
    output stay in the L2 cache while every output-channel block passes over them. Within
    an image block the loops run over one output-channel block at a time, and within it
    over passes of ``rows_per_pass`` kernel rows, so that the weight rows a pass reads stay
    in the L1 cache while every pixel of the block's images passes; a pass after a pixel's
    first adds to the sums its earlier passes stored, the last applies the ReLU. The channel
    blocks have vector_tile.tile_units' columns; a last block of fewer real channels than its
    columns stores only those (tile_sums' masked stores). A last tile of fewer than 6 images
    repeats the last image in its spare rows and is summed into a scratch tile, whose real
    rows and columns are copied out.
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    unit = TILE_BYTES // x.itemsize
    ldb = wt.shape[1]
    flat_x, flat = x.reshape(x.size), out.reshape(out.size)
    image_x, image_out = H * W * C, oh * ow * O
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    scratch = np.empty(TILE_ROWS * MAX_UNITS * unit, dtype=x.dtype)
    for b0 in range(first, stop, images_per_block):
        b1 = min(stop, b0 + images_per_block)
        o0 = 0
        while o0 < O:
            units = tile_units((ldb - o0) // unit)
            cols = units * unit
            width = min(cols, O - o0)
            for p0 in range(0, kh, rows_per_pass):
                for i in range(oh):
                    top = i * sh - ph
                    r0, r1 = taps_inside(top, dh, kh, H)
                    lo, hi = max(r0, p0), min(r1, p0 + rows_per_pass)
                    for j in range(ow):
                        left = j * sw - pw
                        c0, c1 = taps_inside(left, UNIT_STEP, kw, W)
                        at = (i * ow + j) * O + o0
                        if r0 >= r1 or c0 >= c1:        # every tap is padding: the bias
                            if p0 == 0:
                                _store_bias(bias, o0, width, relu, flat, at, image_out, b0, b1)
                            continue
                        if lo >= hi:
                            continue
                        x0 = ((top + lo * dh) * W + left + c0) * C
                        w0 = (lo * kw + c0) * C * ldb + o0
                        more, last = lo != r0, relu and hi == r1
                        run, b_step = (c1 - c0) * C, kw * C * ldb
                        for n0 in range(b0, b1, TILE_ROWS):
                            rows = min(TILE_ROWS, b1 - n0)
                            for r in range(TILE_ROWS):
                                offsets[r] = (n0 + min(r, rows - 1)) * image_x + x0
                            if rows == TILE_ROWS:
                                tile_sums(flat_x, offsets, dh * W * C, 1, hi - lo, run, wt, w0,
                                          ldb, b_step, bias, o0, more, last, flat,
                                          n0 * image_out + at, image_out, width, units)
                                continue
                            if more:
                                for r in range(rows):
                                    for q in range(width):
                                        scratch[r * cols + q] = \
                                            flat[(n0 + r) * image_out + at + q]
                            tile_sums(flat_x, offsets, dh * W * C, 1, hi - lo, run, wt, w0, ldb,
                                      b_step, bias, o0, more, last, scratch, 0, cols, cols,
                                      units)
                            for r in range(rows):
                                for q in range(width):
                                    flat[(n0 + r) * image_out + at + q] = scratch[r * cols + q]
            o0 += cols


@njit
def _store_bias(bias, o0, width, relu, flat, at, image_out, first, stop):
    """The output columns o0 .. o0+width-1 at ``at`` of images first .. stop-1 = the bias,
    and with ``relu`` its ReLU (a pixel whose window lies wholly in the padding)."""
    zero = flat.dtype.type(0)
    for n in range(first, stop):
        for q in range(width):
            v = bias[o0 + q]
            flat[n * image_out + at + q] = zero if relu and v < zero else v


@njit
def conv2d_weight_grad_image_tiles(x, grad, kh, kw, sh, sw, ph, pw, dh, dwt, first, stop):
    """dwt (KH*KW*C, O), rows (i, j, c), += the weight gradient of images first .. stop-1 in
    the output channels of whole tiles (O - O % 16 for float32), for x (N, H, W, C) and the
    output gradient grad (N, OH, OW, O), both C-contiguous (stride, padding and dilation as
    conv2d_forward_image_tiles).

    A tile is 6 patch columns x a block of output channels (16 float32, 8 float64, or
    vector_tile.tile_units' more) at one output pixel, summed over the images: the patch
    columns of a kernel row's taps inside the image are one run of the input's values, the
    same at that pixel for every image, and the tile reads them and the pixel's output
    gradient image after image. Padding taps are never summed. A run's last tile of fewer
    than 6 columns repeats its last column in the spare rows and sums into a scratch tile,
    whose real rows are added to dwt.
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    oh, ow, O = grad.shape[1], grad.shape[2], grad.shape[3]
    unit = TILE_BYTES // x.itemsize
    tiled_o = O - O % unit if stop > first else 0
    flat_x, flat_grad, flat_dw = x.reshape(x.size), grad.reshape(grad.size), \
        dwt.reshape(dwt.size)
    image_x, image_grad, images = H * W * C, oh * ow * O, stop - first
    offsets = np.empty(TILE_ROWS, dtype=np.int64)
    scratch = np.empty(TILE_ROWS * MAX_UNITS * unit, dtype=x.dtype)
    o0 = 0
    while o0 < tiled_o:
        units = tile_units((tiled_o - o0) // unit)
        cols = units * unit
        for i in range(oh):
            top = i * sh - ph
            r0, r1 = taps_inside(top, dh, kh, H)
            for j in range(ow):
                left = j * sw - pw
                c0, c1 = taps_inside(left, UNIT_STEP, kw, W)
                run = (c1 - c0) * C
                g0 = first * image_grad + (i * ow + j) * O + o0
                for a in range(r0, r1):
                    x0 = first * image_x + ((top + a * dh) * W + left + c0) * C
                    k0 = (a * kw + c0) * C
                    for t in range(0, run, TILE_ROWS):
                        rows = min(TILE_ROWS, run - t)
                        for r in range(TILE_ROWS):
                            offsets[r] = x0 + t + min(r, rows - 1)
                        if rows == TILE_ROWS:
                            tile_sums(flat_x, offsets, image_x, 1, images, 1, flat_grad, g0, O,
                                      image_grad, flat_dw, 0, True, False, flat_dw,
                                      (k0 + t) * O + o0, O, cols, units)
                            continue
                        scratch[:] = 0
                        tile_sums(flat_x, offsets, image_x, 1, images, 1, flat_grad, g0, O,
                                  image_grad, scratch, 0, True, False, scratch, 0, cols, cols,
                                  units)
                        for r in range(rows):
                            for q in range(cols):
                                dwt[k0 + t + r, o0 + q] += scratch[r * cols + q]
        o0 += cols
