"""CPU backend, the channels-last GEMM routes of plan_conv (``gemm-nhwc``): patch rows
(N*OH*OW, KH*KW*C), columns (i, j, c), made straight from the channels-last input by
kernels/cpu/conv.im2col_nhwc and multiplied by the weight rows in NumPy's BLAS.

A row's kernel line is one run of KW*C channels-last values, so these patches cost a few
memory copies per output pixel, where the transposed NCHW patches (patches.py) cost one
short copy per pixel and tap; the output comes out channels-last with no transpose. A 1x1
stride-1 unpadded conv makes no patches at all: the input's pixels are its rows.

Each thread takes its own share of the images, and makes and multiplies a chunk of about
settings.patch_chunk_bytes of rows at a time in its own cache, with BLAS on one thread per
call (patches.chunks_on_threads).
"""
import numpy as np

from tinygrad_cnn.backends.cpu import blas, layout, threads
from tinygrad_cnn.backends.cpu.patches import chunks_on_threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv as conv_kernels
from tinygrad_cnn.kernels.cpu import elementwise as elementwise_kernels


def pointwise_rows(xh, g):
    """xh's (N, H, W, C) pixels as (N*H*W, C) patch rows when the conv is 1x1, stride 1,
    unpadded (a view, no copy); else None."""
    one = (g.KH, g.KW, g.stride_h, g.stride_w) == (1, 1, 1, 1)
    if one and g.pad_top == g.pad_bottom == g.pad_left == g.pad_right == 0 \
            and xh.flags.c_contiguous:
        return xh.reshape(-1, g.C)
    return None


def _patch_rows(xh, g, direct, first, stop, buf):
    """Images first .. stop-1's patch rows: a view of ``direct`` (pointwise_rows) when there
    is one, else im2col_nhwc's rows written to the front of ``buf``."""
    P = g.OH * g.OW
    if direct is not None:
        return direct[first * P:stop * P]
    cols = buf[:(stop - first) * P]
    conv_kernels.im2col_nhwc(xh[first:stop], *g.kernel_args(), g.OH, g.OW, cols)
    return cols


def forward_rows(xh, wrows, b, g):
    """out (N*OH*OW, O) = patch rows of xh (N, H, W, C) @ wrows (O, KH*KW*C).T (+ b).

    Nothing is kept for the weight gradient: remaking the rows there costs less than the
    memory (LeNet-5's step needed 19 MiB with its conv2's rows kept, 13 without, at the same
    speed; bench/RESULTS.md)."""
    P, K = g.OH * g.OW, wrows.shape[1]
    out = np.empty((g.N * P, g.O), dtype=xh.dtype)
    wt = wrows.T                 # (K, O), a transposed view: BLAS reads it as it is, no copy
    direct = pointwise_rows(xh, g)

    def chunk(first, stop):
        r = slice(first * P, stop * P)
        buf = None if direct is not None else np.empty((r.stop - r.start, K), dtype=xh.dtype)
        np.matmul(_patch_rows(xh, g, direct, first, stop, buf), wt, out=out[r])
        if b is not None:
            joined, repeat = layout.joined_rows(out[r])
            elementwise_kernels.add_to_rows(joined, bias[repeat])
    bias = _tiled(b)
    chunks_on_threads(chunk, g.N, P, K * xh.itemsize)
    return out


def _tiled(b):
    """{r: b repeated r times} for the row joins (layout.joined_rows) a chunk of output rows
    can get: NumPy's ``out += b`` over 16-wide rows runs a 16-long inner loop per row, 5x
    slower than the kernel on rows of 256."""
    if b is None:
        return None
    joins = layout.most_joined(b.shape[0]).bit_length()
    return {1 << k: np.tile(b, 1 << k) for k in range(joins)}


def input_grad_rows(gm, wrows, g):
    """dx (N, H, W, C), channels-last: the patch-row gradient gm (N*OH*OW, O) @ wrows
    (O, KH*KW*C), summed back at the pixels each patch was read from (col2im_nhwc)."""
    P, K = g.OH * g.OW, wrows.shape[1]
    dx = np.empty((g.N, g.H, g.W, g.C), dtype=gm.dtype)
    direct = pointwise_rows(dx, g)

    def chunk(first, stop):
        r = slice(first * P, stop * P)
        if direct is not None:
            np.matmul(gm[r], wrows, out=direct[r])
            return
        dcols = np.matmul(gm[r], wrows)                                  # (rows, K)
        conv_kernels.col2im_nhwc(dcols, *g.kernel_args(), g.OH, g.OW, dx[first:stop])
    chunks_on_threads(chunk, g.N, P, K * gm.itemsize)
    return dx


def weight_grad_rows(gm, xh, g):
    """(O, KH*KW*C) = gm (N*OH*OW, O).T @ the patch rows of xh (N, H, W, C), remade a chunk
    of images at a time; summed over the threads' shares of the images."""
    P, K = g.OH * g.OW, g.KH * g.KW * g.C
    direct = pointwise_rows(xh, g)
    per = settings.patch_chunk_bytes // (K * gm.itemsize * P) or 1
    parts = max(1, min(threads.thread_count(), g.N, g.N * P * K * g.O // settings.part_macs))

    def share(lo, hi, part):
        buf = None if direct is not None else np.empty((min(per, hi - lo) * P, K), gm.dtype)
        for first in range(lo, hi, per):
            stop = min(first + per, hi)
            part += gm[first * P:stop * P].T @ _patch_rows(xh, g, direct, first, stop, buf)
    with blas.one_thread():
        return threads.summed(share, g.N, ((g.O, K),), gm.dtype, parts)[0]
