"""CPU backend, convolution: forward, input gradient and weight gradient, NCHW in and out."""
import numpy as np

from tinygrad_cnn.backends.cpu import blas, layout, threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv as conv_kernels
from tinygrad_cnn.kernels.cpu import conv_wgrad as wgrad_kernels
from tinygrad_cnn.kernels.geometry import conv_out_size


@blas.single_threaded_if_spinning
def conv2d_forward(x, w, b, stride, pad, dilation, groups):
    """Convolution; returns the NCHW output, a view of channels-last memory (which the next
    conv or pool reads without a copy), and what backward needs: (x, kept patches or None).

    pad = (top, bottom, left, right). Two paths, one result:
      fused (groups == 1, C >= settings.fused_min_channels): kernels/cpu_conv.conv2d_forward_tiles
        (O a multiple of 32: kernels/cpu_gemm.matmul_into) or conv2d_forward_nhwc
        (kernels/cpu_gemm.matmul_nt_add) makes patch rows a cache-sized block at a time and
        multiplies them at once, bias included;
      GEMM: transposed patches (kernels/cpu_conv.patch_columns) of the zero-padded input, a chunk
        of images at a time, times the weights in NumPy's GEMM, with a row of ones that
        carries the bias through the same product.
    """
    OH, OW, geometry = _conv_geometry(x.shape, w.shape, stride, pad, dilation)
    if _fused(w.shape, groups):
        out = _fused_conv(layout.channels_last(x), _weight_rows(w), b, geometry[:8], OH, OW)
        return layout.as_nchw(out), (x, None)
    N, O = x.shape[0], w.shape[0]
    out = np.empty((N * OH * OW, O), dtype=x.dtype)                    # (N*OH*OW, O)
    wmat = w.reshape(O, -1)                                            # (O, C*KH*KW): (c, i, j)
    ones = b is not None and groups == 1
    if ones:
        wmat = np.concatenate([wmat, b[:, None]], axis=1)              # bias as one more column
    keep = not _weight_grad_kernel(w.shape, groups, stride)           # backward's GEMM reuses them
    chunks = _PatchChunks(x, w.shape, pad, geometry, ones, keep=keep)
    if groups == 1 and not chunks.keep:
        xp, P, K = _zero_padded(x, pad), OH * OW, chunks.k

        def chunk(first, stop):                                        # out = patches @ wmat.T
            cols_t = np.empty((K + ones, (stop - first) * P), dtype=x.dtype)
            conv_kernels.patch_columns(xp[first:stop], *_column_geometry(geometry), cols_t[:K],
                                       0, stop - first)
            if ones:
                cols_t[K] = 1
            np.matmul(cols_t.T, wmat.T, out=out[first * P:stop * P])
        _chunks_on_threads(chunk, N, P, (K + ones) * x.itemsize)
        if b is not None and not ones:
            out += b
        return layout.as_nchw(out.reshape(N, OH, OW, O)), (x, None)
    kept = None
    for rows, cols_t in chunks:                                        # out = patches @ wmat.T
        if groups == 1:
            np.matmul(cols_t.T, wmat.T, out=out[rows])
        for o, k in _group_blocks(w.shape, groups):
            out[rows, o] = cols_t[k].T @ wmat[o].T
        kept = cols_t if chunks.keep else None
    if b is not None and not ones:
        out += b
    return layout.as_nchw(out.reshape(N, OH, OW, O)), (x, kept)


@blas.single_threaded_if_spinning
def conv2d_backward(grad, saved, x_shape, w, stride, pad, dilation, groups, needs):
    """Gradients (input, weight, bias) of conv2d_forward; ``needs`` says which to compute.

    Input gradient, by the first that applies:
      stride 1, both channel counts >= settings.fused_min_channels (SimpleCNN's conv2): a
        convolution of the output gradient by the kernel turned 180 degrees with in/out
        channels swapped, padded by (KH-1)*dh - top (and so on), through the fused forward
        kernels (register tiles when C is a multiple of 32);
      otherwise, ungrouped, O >= settings.fused_min_channels and KH*KW*C a multiple of 32 on
        AVX-512 (strided convs; stride-1 ones with fewer than 16 input channels):
        kernels/cpu_conv.conv2d_input_grad_nhwc, each block's patch gradient g @ W in
        register tiles, added back channels-last (for SimpleCNN's conv2 it is slower than
        the transposed conv, 5.7 against 5.2 ms, and would cost its own ~1.4 s of compile);
      otherwise the patch gradient (NumPy's GEMM) summed back by patch_columns_add.
    Weight and bias gradients: see _weight_grad_kernel.
    """
    x, kept = saved
    N, O, OH, OW = grad.shape
    _, _, geometry = _conv_geometry(x_shape, w.shape, stride, pad, dilation)
    g = layout.channels_last(grad).reshape(N * OH * OW, O)                  # (N*OH*OW, O)
    need_db = len(needs) > 2 and needs[2]
    dx = dw_ = db = None
    if needs[0]:
        dx = _input_grad(g, grad.shape, w, x, stride, pad, dilation, groups, geometry)
    if (needs[1] or need_db) and _weight_grad_kernel(w.shape, groups, stride):
        dw_, db = _fused_weight_grad(g, x, w, stride, pad, geometry, needs[1], need_db)
    elif needs[1] or need_db:
        ones = need_db and groups == 1
        dwmat = np.zeros((O, w[0].size + ones), dtype=grad.dtype)
        for rows, cols_t in _PatchChunks(x, w.shape, pad, geometry, ones, kept=kept):
            if groups == 1:             # dW += (patches.T @ g).T: a plain NN GEMM, ~25% faster
                dwmat += (cols_t @ g[rows]).T
            for o, k in _group_blocks(w.shape, groups):
                dwmat[o] += (cols_t[k] @ g[rows, o]).T
        dw_ = dwmat[:, :w[0].size].reshape(w.shape) if needs[1] else None
        if need_db:
            db = dwmat[:, -1].copy() if ones else np.ones(g.shape[0], dtype=g.dtype) @ g
    return dx, dw_, db


def _fused_weight_grad(g, x, w, stride, pad, geometry, need_dw, need_db):
    """Weight and bias gradients where _weight_grad_kernel says so, on each thread's share
    of the images (no BLAS):

      first layers (C*KH*KW <= 12 taps), a multiple of 32 output channels, AVX-512:
        kernels/cpu_conv_wgrad.conv2d_weight_grad_taps, the sums in registers, the taps
        read from the zero-padded input (O % 32 is its tile's own requirement, checked
        apart from _covered_by_tiles, which tests/conv_paths.py switches). The kernel takes
        any stride, but _weight_grad_kernel sends only stride-1 first layers here;
      fused-path convs whose output channels fill matmul_into's tiles, any stride:
        kernels/cpu_conv_wgrad.conv2d_weight_grad_rows, patch rows times the output
        gradient as it lies (nothing transposed);
      other stride-1 convs, while one image's patches fit in settings.wgrad_image_bytes:
        kernels/cpu_conv_wgrad.conv2d_weight_grad, both operands laid out along the pixels
        for matmul_nt_add's dot products;
      the rest: channels-last patch rows (im2col_nhwc, remade a chunk of images at a time)
        times the output gradient in NumPy's GEMM, the bias gradient as a GEMV.
    """
    O, C, KH, KW = w.shape
    N, OH, OW = x.shape[0], geometry[-2], geometry[-1]
    image_bytes = C * KH * KW * OH * (OW + (KW - 1) * geometry[7]) * g.itemsize
    gh = g.reshape(N, OH, OW, O)
    if C * KH * KW <= wgrad_kernels._TAPS and O % 32 == 0 and settings.covered_by_tiles(O):
        xp = _zero_padded(x, pad)
        dw_rows, db = _summed_over_threads(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_taps(
                xp[lo:hi], gh[lo:hi], KH, KW, *geometry[2:4], *geometry[6:8], dw_part, db_part),
            N, (C * KH * KW, O), g.dtype)                             # rows (c, i, j)
        return (dw_rows.T.reshape(w.shape) if need_dw else None), (db if need_db else None)
    xh = layout.channels_last(x)
    if _fused(w.shape, 1) and settings.covered_by_tiles(O):
        dw_rows, db = _summed_over_threads(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_rows(
                xh[lo:hi], gh[lo:hi], *geometry[:8], dw_part, db_part),
            N, (KH * KW * C, O), g.dtype)                             # rows (i, j, c)
        dw_ = np.ascontiguousarray(dw_rows.T.reshape(O, KH, KW, C).transpose(0, 3, 1, 2))
        return (dw_ if need_dw else None), (db if need_db else None)
    if stride == (1, 1) and image_bytes <= settings.wgrad_image_bytes:
        dw_rows, db = _summed_over_threads(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad(
                xh[lo:hi], gh[lo:hi], KH, KW, pad[0], pad[2], *geometry[6:8], dw_part, db_part),
            N, (C * KH * KW, O), g.dtype)                             # rows (c, i, j)
        return (dw_rows.T.reshape(w.shape) if need_dw else None), (db if need_db else None)
    dw_ = None
    if need_dw:
        dwmat = np.zeros((O, KH * KW * C), dtype=g.dtype)            # columns (i, j, c)
        chunks = _image_chunks(N, OH * OW, KH * KW * C * g.itemsize)
        per_chunk = chunks[0][1] - chunks[0][0] if chunks else 0          # none when N == 0
        cols = np.empty((per_chunk * OH * OW, KH * KW * C), dtype=g.dtype)
        for first, stop in chunks:
            rows = slice(first * OH * OW, stop * OH * OW)
            part = cols[:rows.stop - rows.start]
            threads.over_images(lambda lo, hi: conv_kernels.im2col_nhwc(
                xh[first + lo:first + hi], *geometry, part[lo * OH * OW:hi * OH * OW]),
                stop - first, OH * OW * KH * KW * C)
            dwmat += g[rows].T @ part
        dw_ = np.ascontiguousarray(dwmat.reshape(O, KH, KW, C).transpose(0, 3, 1, 2))
    db = np.ones(g.shape[0], dtype=g.dtype) @ g if need_db else None  # a GEMV: 7x faster than g.sum(0)
    return dw_, db


def _summed_over_threads(kernel, N, dw_shape, dtype):
    """(dw, db) summed over one kernel(first, stop, dw_part, db_part) call per thread, each
    on its own share of the N images."""
    parts = min(N, threads.thread_count()) or 1                      # (max is this module's)
    dw_parts = np.empty((parts, *dw_shape), dtype=dtype)
    db_parts = np.empty((parts, dw_shape[1]), dtype=dtype)

    def parts_from(t0, t1):
        for t in range(t0, t1):
            kernel(N * t // parts, N * (t + 1) // parts, dw_parts[t], db_parts[t])
    threads.run(parts_from, parts)
    return dw_parts.sum(axis=0), db_parts.sum(axis=0)


def _input_grad(g, grad_shape, w, x, stride, pad, dilation, groups, geometry):
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    pt, pb, pl, pr = pad
    g_nhwc = g.reshape(N, grad_shape[2], grad_shape[3], O)
    if stride == (1, 1) and _fused(w.shape, groups) and _fused((C, O, KH, KW), groups):
        flipped, tconv = _transposed_conv(w, pad, dilation)
        return layout.as_nchw(_fused_conv(g_nhwc, flipped, None, tconv, H, W))
    if groups == 1 and O >= settings.fused_min_channels and settings.covered_by_tiles(KH * KW * C):
        dx = np.empty((N, H, W, C), dtype=g.dtype)
        wrows, P = _weight_rows(w), grad_shape[2] * grad_shape[3]
        threads.run(lambda lo, hi: conv_kernels.conv2d_input_grad_nhwc(
            g_nhwc, wrows, *geometry[:8], dx, lo, hi), N, grain=-(-settings.part_macs // (P * w.size)))
        return layout.as_nchw(dx)
    Hp, Wp = H + pt + pb, W + pl + pr
    dxp = np.empty((N, C, Hp, Wp), dtype=g.dtype)
    wmat, P = w.reshape(O, -1), grad_shape[2] * grad_shape[3]

    def chunk(first, stop):
        rows = slice(first * P, stop * P)
        dcols_t = np.empty((C * KH * KW, rows.stop - rows.start), dtype=g.dtype)
        if groups == 1:                                                # patch gradient
            np.matmul(wmat.T, g[rows].T, out=dcols_t)
        for o, k in _group_blocks(w.shape, groups):
            dcols_t[k] = wmat[o].T @ g[rows, o].T
        conv_kernels.patch_columns_add(dcols_t, *_column_geometry(geometry), dxp[first:stop],
                                       0, stop - first)
    _chunks_on_threads(chunk, N, P, C * KH * KW * g.itemsize)
    dx = np.empty_like(x)                                             # x's own memory layout
    dx[...] = dxp[:, :, pt:pt + H, pl:pl + W]
    return dx


def _transposed_conv(w, pad, dilation):
    """(weight rows, fused-kernel geometry) of the stride-1 input gradient as a convolution:
    the kernel turned 180 degrees with in/out channels swapped, padded by (KH-1)*dh - top
    and (KW-1)*dw - left."""
    O, C, KH, KW = w.shape
    (pt, _, pl, _), (dh, dw) = pad, dilation
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 2, 3, 0)).reshape(C, -1)
    return flipped, (KH, KW, 1, 1, (KH - 1) * dh - pt, (KW - 1) * dw - pl, dh, dw)

def _weight_grad_kernel(w_shape, groups, stride):
    """True when _fused_weight_grad computes the weight gradient: fused-path and ungrouped
    stride-1 convolutions. The others multiply patch matrices, which forward then keeps
    when they are small."""
    stride1 = settings.stride1_weight_grad_kernel and stride == (1, 1)
    return groups == 1 and (_fused(w_shape, groups) or stride1)


def _fused(w_shape, groups):
    return groups == 1 and w_shape[1] >= settings.fused_min_channels


def _weight_rows(w):
    """(O, KH*KW*C) weight matrix, columns (i, j, c) as channels-last patches are."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def _fused_conv(xh, wmat, b, geometry, OH, OW):
    """(N, OH, OW, O) output of the fused kernels for channels-last xh: outer-product tiles
    (conv2d_forward_tiles, on the weights transposed) where they cover the O output
    channels, dot products (conv2d_forward_nhwc) otherwise."""
    out = np.empty((xh.shape[0], OH, OW, wmat.shape[0]), dtype=xh.dtype)
    bias = b if b is not None else np.zeros(wmat.shape[0], dtype=xh.dtype)
    N, K, O = xh.shape[0], wmat.shape[1], wmat.shape[0]
    if settings.covered_by_tiles(O):
        wmat_t = np.ascontiguousarray(wmat.T)                        # (K, O)
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_tiles(  # noqa: E731
            xh, wmat_t, bias, *geometry, out, lo, hi)
    else:
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_nhwc(   # noqa: E731
            xh, wmat, bias, *geometry, out, lo, hi)
    threads.run(kernel, N * OH * OW, grain=-(-settings.part_macs // (K * O)))
    return out


def _group_blocks(w_shape, groups):
    """[(output-channel slice, patch-row slice)] per group; empty when groups == 1.

    Patch rows are ordered (c, i, j), so a group's input channels are one block of rows."""
    if groups == 1:
        return []
    og, kg = w_shape[0] // groups, w_shape[1] * w_shape[2] * w_shape[3]
    return [(slice(k * og, (k + 1) * og), slice(k * kg, (k + 1) * kg)) for k in range(groups)]


class _PatchChunks:
    """Iterate (row slice, transposed patches (C*KH*KW [+1 row of ones], rows)) over chunks of
    images: the kept matrix when there is one, else made from the zero-padded input.

    keep=True (forward): make the whole matrix in one chunk when it is at most
    settings.keep_patch_bytes, so backward can reuse it; self.keep says whether that happened.
    """

    def __init__(self, x, w_shape, pad, geometry, ones, keep=False, kept=None):
        N, C = x.shape[:2]
        O, Cg, KH, KW = w_shape
        self.x, self.pad, self.geometry, self.ones, self.kept = x, pad, geometry, ones, kept
        self.rows_per_image = geometry[-2] * geometry[-1]
        self.k = C * KH * KW
        row_bytes = (self.k + ones) * x.itemsize
        self.keep = keep and N * self.rows_per_image * row_bytes <= settings.keep_patch_bytes
        self.chunks = [(0, N)] if self.keep or kept is not None else \
            _image_chunks(N, self.rows_per_image, row_bytes)

    def __iter__(self):
        if self.kept is not None:
            yield slice(0, self.kept.shape[1]), self.kept[:self.k + self.ones]
            return
        xp = _zero_padded(self.x, self.pad)
        for first, stop in self.chunks:
            rows = slice(first * self.rows_per_image, stop * self.rows_per_image)
            cols_t = np.empty((self.k + self.ones, rows.stop - rows.start), dtype=self.x.dtype)
            images = xp[first:stop]
            threads.over_images(lambda lo, hi: conv_kernels.patch_columns(
                images, *_column_geometry(self.geometry), cols_t[:self.k], lo, hi),
                stop - first, self.k * self.rows_per_image)
            if self.ones:
                cols_t[self.k] = 1
            yield rows, cols_t


def _chunks_on_threads(work, N, rows_per_image, row_bytes):
    """work(first, stop) over images 0..N-1, a chunk of about settings.patch_chunk_bytes of patch
    rows at a time, each thread taking its own share of the images: its chunks' patches are
    made and multiplied in its own cache, with NumPy's BLAS on one thread per call. One
    hand-off to the threads per layer instead of two per chunk (ours and BLAS's pool):
    LeNet-5's step 9.2 -> 8.2 ms (medians of three paired runs)."""
    per = settings.patch_chunk_bytes // (row_bytes * rows_per_image) or 1      # (max is this module's)

    def share(lo, hi):
        for first in range(lo, hi, per):
            work(first, min(first + per, hi))
    with blas.one_thread():                                    # (float32 elements)
        threads.over_images(share, N, row_bytes * rows_per_image // 4)


def _zero_padded(x, pad):
    """NCHW contiguous copy of x with zeros around it (no copy when x is NCHW, unpadded)."""
    pt, pb, pl, pr = pad
    if pt == pb == pl == pr == 0:
        return np.ascontiguousarray(x)
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    return xp


def _column_geometry(geometry):
    """patch_columns' geometry (no padding: its input is padded) from _conv_geometry's."""
    KH, KW, sh, sw, pt, pl, dh, dw, OH, OW = geometry
    return KH, KW, sh, sw, dh, dw, OH, OW


def _image_chunks(N, rows_per_image, row_bytes):
    """[(first, stop), ...] image ranges whose patch rows fill about settings.patch_chunk_bytes per
    thread."""
    chunk_bytes = settings.patch_chunk_bytes * threads.thread_count()
    per = chunk_bytes // (row_bytes * rows_per_image) or 1              # (max is this module's)
    return [(s, min(s + per, N)) for s in range(0, N, per)]


def _conv_geometry(x_shape, w_shape, stride, pad, dilation):
    N, C, H, W = x_shape
    O, Cg, KH, KW = w_shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    OH = conv_out_size(H, KH, sh, pt + pb, dh)
    OW = conv_out_size(W, KW, sw, pl + pr, dw)
    return OH, OW, (KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)


def conv2d_input_grad(grad, x_shape, w, stride, pad, dilation, groups):
    """d(conv2d_forward(x, w))/dx applied to ``grad``, for an x of ``x_shape``: the forward of
    a transposed convolution. The input-gradient path reads nothing of x but its shape and
    memory layout, so an uninitialised array stands in."""
    x_like = np.empty(tuple(x_shape), dtype=grad.dtype)
    return conv2d_backward(grad, (x_like, None), tuple(x_shape), w, stride, pad, dilation,
                           groups, (True, False))[0]
