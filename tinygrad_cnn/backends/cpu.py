"""CPU backend: NumPy for elementwise work and small GEMMs, @njit kernels for conv and pooling.

Every function takes and returns NumPy arrays. The CUDA backend supplies the same names
with device arrays, so ops.py is written once. Layout inside the conv path is this
file's choice: the public layout is NCHW.
"""
import numpy as np

from tinygrad_cnn.backends import blas_threads
from tinygrad_cnn.backends import cpu_threads as threads
from tinygrad_cnn.backends import host_memory
from tinygrad_cnn.backends.blas_threads import single_threaded_if_spinning as _blas_call
from tinygrad_cnn.kernels import cpu as kernels
from tinygrad_cnn.kernels import cpu_conv as conv_kernels
from tinygrad_cnn.kernels import cpu_conv_wgrad as wgrad_kernels
from tinygrad_cnn.kernels import cpu_elementwise as elementwise
from tinygrad_cnn.kernels import cpu_nhwc as nhwc
from tinygrad_cnn.kernels.cpu_gemm import _covered_by_tiles
from tinygrad_cnn.kernels.geometry import conv_out_size, pool_out_hw

name = "cpu"
host_memory.keep_freed_memory()

_PART_ELEMENTS = 1 << 15
"""Fewest elements a pass over memory (ReLU, pooling) hands to a thread of its own: a
hand-off costs ~45 us, about what a core takes for that many."""

_PART_MACS = 1 << 20
"""Fewest multiply-adds a conv kernel hands to a thread of its own (~20 us of a core)."""


def _per_image(shape):
    """Elements per image of an array of this shape (also when the batch is empty)."""
    return int(np.prod(shape[1:]))


def _over_images(body, N, per_image):
    """threads.run over N images, each per_image elements (or multiply-adds) of work."""
    threads.run(body, N, grain=-(-_PART_ELEMENTS // (per_image or 1)))


# ---- arrays -----------------------------------------------------------------------
def from_numpy(a):
    """Host array -> backend array (the same object on the CPU)."""
    return a


def to_numpy(a):
    """Backend array -> host array."""
    return a


def empty(shape, dtype):
    return np.empty(shape, dtype=dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype=dtype)


def astype(a, dtype):
    return a.astype(dtype, copy=False)


def copy(a):
    return a.copy()


def assign(dst, src):
    """dst[...] = src in place (src broadcast to dst's shape and cast to its dtype)."""
    np.copyto(dst, src, casting="unsafe")


def setitem(a, index, values):
    """a[index] = values in place (NumPy's indexing and broadcasting rules)."""
    a[index] = values


def shares_memory(a, b):
    """True when the two arrays may overlap in memory (a bounds check, no element walk)."""
    return a is b or np.may_share_memory(a, b)


def argsort(a, axis, descending):
    """Stable sort order of ``a`` along ``axis``; NaN counts as the largest value (as torch)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    flipped = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return a.shape[axis] - 1 - np.flip(flipped, axis)


# ---- elementwise ------------------------------------------------------------------
add, sub, mul, div, power = np.add, np.subtract, np.multiply, np.divide, np.power
neg, exp, log, sqrt, abs, tanh = np.negative, np.exp, np.log, np.sqrt, np.abs, np.tanh
maximum, minimum, where, sign = np.maximum, np.minimum, np.where, np.sign
equal, not_equal, less, less_equal = np.equal, np.not_equal, np.less, np.less_equal
greater, greater_equal = np.greater, np.greater_equal


def clip(a, lo, hi):
    return np.clip(a, lo, hi)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _flat_pair(a, like):
    """Flat views of ``a`` and ``like`` in one element order, or None when layouts differ."""
    if a.shape != like.shape or a.strides != like.strides or a.dtype != like.dtype:
        return None
    fa, fl = a.ravel(order="K"), like.ravel(order="K")
    if not (np.shares_memory(fa, a) and np.shares_memory(fl, like)):
        return None
    return fa, fl


def relu(x):
    """max(x, 0) in one pass, keeping x's memory layout."""
    if x.ndim == 0 or x.size < 4096:
        return np.maximum(x, x.dtype.type(0))
    out = np.empty_like(x)
    flat = _flat_pair(x, out)
    if flat is None:
        return np.maximum(x, x.dtype.type(0))
    x_, out_ = flat
    threads.run(lambda lo, hi: elementwise.relu_forward(x_[lo:hi], out_[lo:hi]), x.size,
                grain=_PART_ELEMENTS)
    return out


def relu_backward(grad, x):
    """grad where x > 0, else 0, in one pass (after a copy of grad into x's layout when the
    two differ, still cheaper than np.where's temporaries)."""
    if x.size < 4096 or grad.shape != x.shape or grad.dtype != x.dtype:
        return np.where(x > 0, grad, grad.dtype.type(0))
    pair = _flat_pair(grad, x)
    if pair is None:
        like_x = np.empty_like(x)
        like_x[...] = grad
        pair = _flat_pair(like_x, x)
    if pair is None:
        return np.where(x > 0, grad, grad.dtype.type(0))
    out = np.empty_like(x)
    g_, x_, out_ = pair[0], pair[1], out.ravel(order="K")
    threads.run(lambda lo, hi: elementwise.relu_backward(g_[lo:hi], x_[lo:hi], out_[lo:hi]),
                x.size, grain=_PART_ELEMENTS)
    return out


def leaky_relu(x, slope):
    return np.where(x > 0, x, x * x.dtype.type(slope))


def leaky_relu_backward(grad, x, slope):
    return np.where(x > 0, grad, grad * grad.dtype.type(slope))


def elu(x, alpha):
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def elu_backward(grad, x, alpha):
    return np.where(x > 0, grad, grad * x.dtype.type(alpha) * np.exp(np.minimum(x, 0)))


# ---- reductions and movement -------------------------------------------------------
def sum(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


def max(a, axis=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims)


def argmax(a, axis=None, keepdims=False):
    return np.argmax(a, axis=axis, keepdims=keepdims)


def reshape(a, shape):
    return a.reshape(shape)


def transpose(a, perm):
    return a.transpose(perm)


def broadcast_to(a, shape):
    return np.broadcast_to(a, shape)


def getitem(a, index):
    return a[index]


def index_add(shape, index, values):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices sum)."""
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, index, values)
    return out


def concatenate(arrays, axis):
    return np.concatenate(arrays, axis=axis)


@_blas_call
def matmul(a, b):
    return np.matmul(a, b)


# ---- softmax and losses ------------------------------------------------------------
def log_softmax(x, axis):
    """x - logsumexp(x): finite for logits of +-1e4."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy_forward(logits, target, label_smoothing):
    """Per-sample loss of (N, C) logits against class indices, and the log-probs."""
    N, C = logits.shape
    logp = log_softmax(logits, 1)
    picked = -logp[np.arange(N), target]
    if label_smoothing == 0:
        return picked, logp
    eps = logits.dtype.type(label_smoothing)
    smooth = -np.mean(logp, axis=1)
    return (1 - eps) * picked + eps * smooth, logp


def cross_entropy_backward(grad_rows, logp, target, label_smoothing):
    """d loss / d logits = (softmax - smoothed one-hot) * per-sample grad."""
    N, C = logp.shape
    d = np.exp(logp)
    eps = logp.dtype.type(label_smoothing)
    d[np.arange(N), target] -= 1 - eps
    if label_smoothing:
        d -= eps / logp.dtype.type(C)
    return d * grad_rows[:, None]


# ---- layout -----------------------------------------------------------------------
def _channels_last(x):
    """(N, H, W, C) view of an NCHW array: free when x is channels-last in memory, else a copy."""
    v = x.transpose(0, 2, 3, 1)
    return v if v.flags.c_contiguous else np.ascontiguousarray(v)


def _is_channels_last(x):
    """True when the NCHW array's memory is ordered (N, H, W, C)."""
    return x.transpose(0, 2, 3, 1).flags.c_contiguous


def _as_nchw(x_nhwc):
    """The public NCHW view of a channels-last result (no copy)."""
    return x_nhwc.transpose(0, 3, 1, 2)


# ---- convolution -------------------------------------------------------------------
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N*oh*ow, C*kh*kw) patch matrix of NCHW x, columns ordered (c, i, j) as the notes."""
    N, C = x.shape[:2]
    cols = np.empty((N * oh * ow, C * kh * kw), dtype=x.dtype)
    x, P = np.ascontiguousarray(x), oh * ow
    _over_images(lambda lo, hi: kernels.im2col(x[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                                               cols[lo * P:hi * P]), N, cols[:P].size)
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N, C, H, W) sum of the patches in cols (columns ordered (c, i, j))."""
    x = np.empty(x_shape, dtype=cols.dtype)
    cols, P = np.ascontiguousarray(cols), oh * ow
    _over_images(lambda lo, hi: kernels.col2im(cols[lo * P:hi * P], kh, kw, sh, sw, ph, pw, dh, dw,
                                               oh, ow, x[lo:hi]), x_shape[0], cols[:P].size)
    return x


_FUSED_MIN_CHANNELS = 16
"""Fewest input channels for the fused path. Its tiles sum dot products along the (i, j, c)
patch columns, 4 output channels at a time: measured at batch 100, it beats the GEMM path
2x on SimpleCNN's conv2 (32 -> 64 channels) and loses on LeNet-5's conv2 (6 -> 16) and on
1-channel inputs (measured in session 2, when the GEMM path still kept LeNet-5's patches)."""

_PATCH_CHUNK_BYTES = 1 << 20
"""The GEMM path makes and multiplies patches a few images at a time, about this many bytes
per thread (a core's L2 cache) in each chunk, so the GEMM reads patches that were just
written to cache. Each thread makes its own chunks (_chunks_on_threads), or, where patches
are kept or grouped, each chunk is one hand-off and one GEMM call; with that older design on
2 threads LeNet-5's step took 9.6 ms with 1 MB chunks, 8.5 ms with 2 MB (4 MB: 8.0 ms, but 7 MB more
memory at the step's peak)."""

_KEEP_PATCH_BYTES = 16 << 20
"""Patch matrices up to this size are kept for the weight gradient; larger ones are remade
chunk by chunk from the saved input in backward, which costs one more pass and saves their
memory. Small-channel convolutions, where making patches costs most, keep theirs."""


@_blas_call
def conv2d_forward(x, w, b, stride, pad, dilation, groups):
    """Convolution; returns the NCHW output, a view of channels-last memory (which the next
    conv or pool reads without a copy), and what backward needs: (x, kept patches or None).

    pad = (top, bottom, left, right). Two paths, one result:
      fused (groups == 1, C >= _FUSED_MIN_CHANNELS): kernels/cpu_conv.conv2d_forward_tiles
        (O a multiple of 32: kernels/cpu_gemm.matmul_into) or conv2d_forward_nhwc
        (kernels/cpu_gemm.matmul_nt_add) makes patch rows a cache-sized block at a time and
        multiplies them at once, bias included;
      GEMM: transposed patches (kernels/cpu_conv.patch_columns) of the zero-padded input, a chunk
        of images at a time, times the weights in NumPy's GEMM, with a row of ones that
        carries the bias through the same product.
    """
    OH, OW, geometry = _conv_geometry(x.shape, w.shape, stride, pad, dilation)
    if _fused(w.shape, groups):
        out = _fused_conv(_channels_last(x), _weight_rows(w), b, geometry[:8], OH, OW)
        return _as_nchw(out), (x, None)
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
        return _as_nchw(out.reshape(N, OH, OW, O)), (x, None)
    kept = None
    for rows, cols_t in chunks:                                        # out = patches @ wmat.T
        if groups == 1:
            np.matmul(cols_t.T, wmat.T, out=out[rows])
        for o, k in _group_blocks(w.shape, groups):
            out[rows, o] = cols_t[k].T @ wmat[o].T
        kept = cols_t if chunks.keep else None
    if b is not None and not ones:
        out += b
    return _as_nchw(out.reshape(N, OH, OW, O)), (x, kept)


@_blas_call
def conv2d_backward(grad, saved, x_shape, w, stride, pad, dilation, groups, needs):
    """Gradients (input, weight, bias) of conv2d_forward; ``needs`` says which to compute.

    Input gradient, by the first that applies:
      stride 1, both channel counts >= _FUSED_MIN_CHANNELS (SimpleCNN's conv2): a
        convolution of the output gradient by the kernel turned 180 degrees with in/out
        channels swapped, padded by (KH-1)*dh - top (and so on), through the fused forward
        kernels (register tiles when C is a multiple of 32);
      otherwise, ungrouped, O >= _FUSED_MIN_CHANNELS and KH*KW*C a multiple of 32 on
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
    g = _channels_last(grad).reshape(N * OH * OW, O)                  # (N*OH*OW, O)
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
      other stride-1 convs, while one image's patches fit in _WGRAD_IMAGE_BYTES:
        kernels/cpu_conv_wgrad.conv2d_weight_grad, both operands laid out along the pixels
        for matmul_nt_add's dot products;
      the rest: channels-last patch rows (im2col_nhwc, remade a chunk of images at a time)
        times the output gradient in NumPy's GEMM, the bias gradient as a GEMV.
    """
    O, C, KH, KW = w.shape
    N, OH, OW = x.shape[0], geometry[-2], geometry[-1]
    image_bytes = C * KH * KW * OH * (OW + (KW - 1) * geometry[7]) * g.itemsize
    gh = g.reshape(N, OH, OW, O)
    if C * KH * KW <= wgrad_kernels._TAPS and O % 32 == 0 and _covered_by_tiles(O):
        xp = _zero_padded(x, pad)
        dw_rows, db = _summed_over_threads(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_taps(
                xp[lo:hi], gh[lo:hi], KH, KW, *geometry[2:4], *geometry[6:8], dw_part, db_part),
            N, (C * KH * KW, O), g.dtype)                             # rows (c, i, j)
        return (dw_rows.T.reshape(w.shape) if need_dw else None), (db if need_db else None)
    xh = _channels_last(x)
    if _fused(w.shape, 1) and _covered_by_tiles(O):
        dw_rows, db = _summed_over_threads(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_rows(
                xh[lo:hi], gh[lo:hi], *geometry[:8], dw_part, db_part),
            N, (KH * KW * C, O), g.dtype)                             # rows (i, j, c)
        dw_ = np.ascontiguousarray(dw_rows.T.reshape(O, KH, KW, C).transpose(0, 3, 1, 2))
        return (dw_ if need_dw else None), (db if need_db else None)
    if stride == (1, 1) and image_bytes <= _WGRAD_IMAGE_BYTES:
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
            _over_images(lambda lo, hi: conv_kernels.im2col_nhwc(
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
        return _as_nchw(_fused_conv(g_nhwc, flipped, None, tconv, H, W))
    if groups == 1 and O >= _FUSED_MIN_CHANNELS and _covered_by_tiles(KH * KW * C):
        dx = np.empty((N, H, W, C), dtype=g.dtype)
        wrows, P = _weight_rows(w), grad_shape[2] * grad_shape[3]
        threads.run(lambda lo, hi: conv_kernels.conv2d_input_grad_nhwc(
            g_nhwc, wrows, *geometry[:8], dx, lo, hi), N, grain=-(-_PART_MACS // (P * w.size)))
        return _as_nchw(dx)
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


_WGRAD_IMAGE_BYTES = 8 << 20
"""Largest per-image patch matrix (one per thread) for the weight-gradient kernel: SimpleCNN's
conv2 needs 258 KB; a 64-channel 3x3 layer on 224x224 images would need 116 MB."""

_STRIDE1_WGRAD_KERNEL = True
"""Every ungrouped stride-1 convolution takes the weight-gradient kernel, the GEMM path's too:
it is as fast as NumPy's GEMM on kept patches for the first layers of LeNet-5 (6 outputs)
and SimpleCNN (32), whose forward then keeps no patches (LeNet-5's conv2: 6 MB less per
step). The tests turn it off to check the kept-patch route."""


def _weight_grad_kernel(w_shape, groups, stride):
    """True when _fused_weight_grad computes the weight gradient: fused-path and ungrouped
    stride-1 convolutions. The others multiply patch matrices, which forward then keeps
    when they are small."""
    stride1 = _STRIDE1_WGRAD_KERNEL and stride == (1, 1)
    return groups == 1 and (_fused(w_shape, groups) or stride1)


def _fused(w_shape, groups):
    return groups == 1 and w_shape[1] >= _FUSED_MIN_CHANNELS


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
    if _covered_by_tiles(O):
        wmat_t = np.ascontiguousarray(wmat.T)                        # (K, O)
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_tiles(  # noqa: E731
            xh, wmat_t, bias, *geometry, out, lo, hi)
    else:
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_nhwc(   # noqa: E731
            xh, wmat, bias, *geometry, out, lo, hi)
    threads.run(kernel, N * OH * OW, grain=-(-_PART_MACS // (K * O)))
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
    _KEEP_PATCH_BYTES, so backward can reuse it; self.keep says whether that happened.
    """

    def __init__(self, x, w_shape, pad, geometry, ones, keep=False, kept=None):
        N, C = x.shape[:2]
        O, Cg, KH, KW = w_shape
        self.x, self.pad, self.geometry, self.ones, self.kept = x, pad, geometry, ones, kept
        self.rows_per_image = geometry[-2] * geometry[-1]
        self.k = C * KH * KW
        row_bytes = (self.k + ones) * x.itemsize
        self.keep = keep and N * self.rows_per_image * row_bytes <= _KEEP_PATCH_BYTES
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
            _over_images(lambda lo, hi: conv_kernels.patch_columns(
                images, *_column_geometry(self.geometry), cols_t[:self.k], lo, hi),
                stop - first, self.k * self.rows_per_image)
            if self.ones:
                cols_t[self.k] = 1
            yield rows, cols_t


def _chunks_on_threads(work, N, rows_per_image, row_bytes):
    """work(first, stop) over images 0..N-1, a chunk of about _PATCH_CHUNK_BYTES of patch
    rows at a time, each thread taking its own share of the images: its chunks' patches are
    made and multiplied in its own cache, with NumPy's BLAS on one thread per call. One
    hand-off to the threads per layer instead of two per chunk (ours and BLAS's pool):
    LeNet-5's step 9.2 -> 8.2 ms (medians of three paired runs)."""
    per = _PATCH_CHUNK_BYTES // (row_bytes * rows_per_image) or 1      # (max is this module's)

    def share(lo, hi):
        for first in range(lo, hi, per):
            work(first, min(first + per, hi))
    with blas_threads.one_thread():                                    # (float32 elements)
        _over_images(share, N, row_bytes * rows_per_image // 4)


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
    """[(first, stop), ...] image ranges whose patch rows fill about _PATCH_CHUNK_BYTES per
    thread."""
    chunk_bytes = _PATCH_CHUNK_BYTES * threads.thread_count()
    per = chunk_bytes // (row_bytes * rows_per_image) or 1              # (max is this module's)
    return [(s, min(s + per, N)) for s in range(0, N, per)]


def _conv_geometry(x_shape, w_shape, stride, pad, dilation):
    N, C, H, W = x_shape
    O, Cg, KH, KW = w_shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    OH = conv_out_size(H, KH, sh, pt + pb, dh)
    OW = conv_out_size(W, KW, sw, pl + pr, dw)
    return OH, OW, (KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)


# ---- pooling -----------------------------------------------------------------------
def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """(out, argmax) of max pooling; argmax holds flat h*W+w per plane, as int32.

    int32 halves the index traffic of the backward pass; planes hold far fewer than 2^31
    pixels. return_indices widens it to int64 as PyTorch returns.

    Channels-last input (what conv2d_forward returns) is pooled channels-last; both
    results then are NCHW views of channels-last memory.
    """
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode)
    if _is_channels_last(x):
        out = np.empty((N, OH, OW, C), dtype=x.dtype)
        idx = np.empty((N, OH, OW, C), dtype=np.int32)
        xh = _channels_last(x)
        _over_images(lambda lo, hi: nhwc.max_pool2d_forward_nhwc(
            xh[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, out[lo:hi], idx[lo:hi]), N, _per_image(x.shape))
        return _as_nchw(out), _as_nchw(idx)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    idx = np.empty((N, C, OH, OW), dtype=np.int32)
    x = np.ascontiguousarray(x)
    _over_images(lambda lo, hi: kernels.max_pool2d_forward(
        x[lo:hi], kh, kw, sh, sw, ph, pw, dh, dw, out[lo:hi], idx[lo:hi]), N, _per_image(x.shape))
    return out, idx


def max_pool2d_backward(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """Gradient of max pooling, in the layout its forward used."""
    N, C, H, W = x_shape
    geometry = (*kernel, *stride, *padding, *dilation)
    if _is_channels_last(argmax) and not argmax.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        gh, ah = _channels_last(grad), _channels_last(argmax)
        _over_images(lambda lo, hi: nhwc.max_pool2d_backward_nhwc(
            gh[lo:hi], ah[lo:hi], *geometry, gx[lo:hi]), N, _per_image(gx.shape))
        return _as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad, argmax = np.ascontiguousarray(grad), np.ascontiguousarray(argmax)
    _over_images(lambda lo, hi: kernels.max_pool2d_backward(
        grad[lo:hi], argmax[lo:hi], *geometry, gx[lo:hi]), N, _per_image(gx.shape))
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, (1, 1), ceil_mode)
    if _is_channels_last(x):
        out = np.empty((N, OH, OW, C), dtype=x.dtype)
        xh = _channels_last(x)
        _over_images(lambda lo, hi: nhwc.avg_pool2d_forward_nhwc(
            xh[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, out[lo:hi]), N, _per_image(x.shape))
        return _as_nchw(out)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    _over_images(lambda lo, hi: kernels.avg_pool2d_forward(
        x[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, out[lo:hi]), N, _per_image(x.shape))
    return out


def avg_pool2d_backward(grad, x_shape, kernel, stride, padding, count_include_pad):
    """Gradient of average pooling; channels-last when the incoming gradient is."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x_shape
    if _is_channels_last(grad) and not grad.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        gh = _channels_last(grad)
        _over_images(lambda lo, hi: nhwc.avg_pool2d_backward_nhwc(
            gh[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, gx[lo:hi]), N, _per_image(gx.shape))
        return _as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad = np.ascontiguousarray(grad)
    _over_images(lambda lo, hi: kernels.avg_pool2d_backward(
        grad[lo:hi], kh, kw, sh, sw, ph, pw, count_include_pad, gx[lo:hi]), N, _per_image(gx.shape))
    return gx


def adaptive_avg_pool2d_forward(x, output_size):
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(output_size), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    _over_images(lambda lo, hi: kernels.adaptive_avg_pool2d_forward(x[lo:hi], out[lo:hi]), N,
                 _per_image(x.shape))
    return out


def adaptive_avg_pool2d_backward(grad, x_shape):
    gx = np.empty(x_shape, dtype=grad.dtype)
    grad = np.ascontiguousarray(grad)
    _over_images(lambda lo, hi: kernels.adaptive_avg_pool2d_backward(grad[lo:hi], gx[lo:hi]),
                 x_shape[0], _per_image(gx.shape))
    return gx

def arange(n):
    """Integer positions 0..n-1, for gather/scatter indices."""
    return np.arange(n)
from tinygrad_cnn.backends.cpu_optim import adam_update, sgd_update  # noqa: E402,F401
from tinygrad_cnn.backends.cpu_extra import conv2d_input_grad, copy_into, erf  # noqa: E402,F401
