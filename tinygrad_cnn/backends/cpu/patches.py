"""CPU backend, convolution patches: the transposed patch matrices of the GEMM routes, made
a chunk of images at a time from the zero-padded NCHW input, and the threads that share them."""
import numpy as np

from tinygrad_cnn.backends.cpu import blas, threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv as conv_kernels


def column_args(g):
    """patch_columns' scalar arguments for geometry g (no padding: its input is padded)."""
    return g.KH, g.KW, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.OH, g.OW


def zero_padded(x, g):
    """NCHW contiguous copy of x with g's zeros around it (no copy when x is NCHW, unpadded)."""
    pt, pb, pl, pr = g.pad_top, g.pad_bottom, g.pad_left, g.pad_right
    if pt == pb == pl == pr == 0:
        return np.ascontiguousarray(x)
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    return xp


def group_blocks(g):
    """[(output-channel slice, patch-row slice)] per group; empty when groups == 1.

    Patch rows are ordered (c, i, j), so a group's input channels are one block of rows."""
    if g.groups == 1:
        return []
    og, kg = g.O // g.groups, g.C // g.groups * g.KH * g.KW
    return [(slice(k * og, (k + 1) * og), slice(k * kg, (k + 1) * kg)) for k in range(g.groups)]


class PatchChunks:
    """Iterate (row slice, transposed patches (C*KH*KW [+1 row of ones], rows)) over chunks of
    images: the kept matrix when there is one, else made from the zero-padded input.

    keep=True (forward): make the whole matrix in one chunk when it is at most
    settings.keep_patch_bytes, so backward can reuse it; self.keep says whether that happened.
    """

    def __init__(self, x, g, ones, keep=False, kept=None):
        self.x, self.g, self.ones, self.kept = x, g, ones, kept
        self.rows_per_image = g.OH * g.OW
        self.k = g.C * g.KH * g.KW
        row_bytes = (self.k + ones) * x.itemsize
        self.keep = keep and g.N * self.rows_per_image * row_bytes <= settings.keep_patch_bytes
        self.chunks = [(0, g.N)] if self.keep or kept is not None else \
            image_chunks(g.N, self.rows_per_image, row_bytes)

    def __iter__(self):
        if self.kept is not None:
            yield slice(0, self.kept.shape[1]), self.kept[:self.k + self.ones]
            return
        xp = zero_padded(self.x, self.g)
        for first, stop in self.chunks:
            rows = slice(first * self.rows_per_image, stop * self.rows_per_image)
            cols_t = np.empty((self.k + self.ones, rows.stop - rows.start), dtype=self.x.dtype)
            images = xp[first:stop]
            threads.over_images(lambda lo, hi: conv_kernels.patch_columns(
                images, *column_args(self.g), cols_t[:self.k], lo, hi),
                stop - first, self.k * self.rows_per_image)
            if self.ones:
                cols_t[self.k] = 1
            yield rows, cols_t


def chunks_on_threads(work, N, rows_per_image, row_bytes):
    """work(first, stop) over images 0..N-1, a chunk of about settings.patch_chunk_bytes of patch
    rows at a time, each thread taking its own share of the images: its chunks' patches are
    made and multiplied in its own cache, with NumPy's BLAS on one thread per call (one
    hand-off to the threads per layer instead of two per chunk)."""
    per = settings.patch_chunk_bytes // (row_bytes * rows_per_image) or 1

    def share(lo, hi):
        for first in range(lo, hi, per):
            work(first, min(first + per, hi))
    with blas.one_thread():                                    # (float32 elements)
        threads.over_images(share, N, row_bytes * rows_per_image // 4)


def image_chunks(N, rows_per_image, row_bytes):
    """[(first, stop), ...] image ranges whose patch rows fill about settings.patch_chunk_bytes per
    thread."""
    chunk_bytes = settings.patch_chunk_bytes * threads.thread_count()
    per = chunk_bytes // (row_bytes * rows_per_image) or 1
    return [(s, min(s + per, N)) for s in range(0, N, per)]
