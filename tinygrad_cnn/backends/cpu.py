"""CPU backend: NumPy for elementwise work and GEMM, @njit kernels for conv and pooling.

Every function takes and returns NumPy arrays. The CUDA backend supplies the same names
with device arrays, so ops.py is written once. Layout inside the conv path is this
file's choice: the public layout is NCHW.
"""
import numpy as np

from tinygrad_cnn.backends import host_memory
from tinygrad_cnn.kernels import cpu as kernels
from tinygrad_cnn.kernels import cpu_elementwise as elementwise
from tinygrad_cnn.kernels import cpu_nhwc as nhwc
from tinygrad_cnn.kernels.geometry import conv_out_size, pool_out_hw

name = "cpu"
host_memory.keep_freed_memory()


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
    elementwise.relu_forward(flat[0], flat[1])
    return out


def relu_backward(grad, x):
    """grad where x > 0, else 0, in one pass when grad and x share a layout."""
    pair = _flat_pair(grad, x) if x.size >= 4096 else None
    if pair is None:
        return np.where(x > 0, grad, grad.dtype.type(0))
    out = np.empty_like(x)
    elementwise.relu_backward(pair[0], pair[1], out.ravel(order="K"))
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
    kernels.im2col(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N, C, H, W) sum of the patches in cols (columns ordered (c, i, j))."""
    x = np.empty(x_shape, dtype=cols.dtype)
    kernels.col2im(np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x)
    return x


def _group_columns(cols, groups, taps):
    """Each group's (rows, taps*Cg) slice of a channels-last patch matrix (i, j, c columns)."""
    if groups == 1:
        return [cols]
    rows = cols.shape[0]
    per_tap = cols.reshape(rows, taps, -1)                             # (rows, KH*KW, C)
    cg = per_tap.shape[2] // groups
    return [per_tap[:, :, g * cg:(g + 1) * cg].reshape(rows, -1) for g in range(groups)]


_PATCH_CHUNK_BYTES = 4 << 20
"""Patch-matrix rows are made and multiplied a few images at a time, about this many bytes per
chunk, so the GEMM reads patches im2col has just written to cache."""

_KEEP_PATCH_BYTES = 16 << 20
"""Patch matrices up to this size are kept for the weight gradient; larger ones (22.6 MB for
SimpleCNN's conv2 at batch 100) are remade chunk by chunk from the saved input in backward,
which costs one more im2col and saves their memory. Measured at batch 100: SimpleCNN conv
forward+backward 18.1 -> 16.3 ms and ~48 MB less per step; small-channel convs such as
LeNet-5's, whose im2col is the expensive part, keep their patches."""


def _image_chunks(N, rows_per_image, row_bytes):
    """[(first, stop), ...] image ranges whose patch rows fill about _PATCH_CHUNK_BYTES."""
    per = _PATCH_CHUNK_BYTES // (row_bytes * rows_per_image) or 1      # (max is this module's)
    return [(s, min(s + per, N)) for s in range(0, N, per)]


def _conv_geometry(x_shape, w_shape, stride, pad, dilation):
    N, C, H, W = x_shape
    O, Cg, KH, KW = w_shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    OH = conv_out_size(H, KH, sh, pt + pb, dh)
    OW = conv_out_size(W, KW, sw, pl + pr, dw)
    return OH, OW, (KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)


def conv2d_forward(x, w, b, stride, pad, dilation, groups):
    """Convolution by channels-last im2col + GEMM, a cache-sized chunk of images at a time.

    pad = (top, bottom, left, right). Returns the NCHW output (a view of channels-last
    memory, which the next conv or pool reads without a copy) and the channels-last input,
    from which backward remakes the patches for the weight gradient (patch matrices up to
    _KEEP_PATCH_BYTES are kept instead).
    """
    N, C = x.shape[:2]
    O, Cg, KH, KW = w.shape
    OH, OW, geometry = _conv_geometry(x.shape, w.shape, stride, pad, dilation)
    xh = _channels_last(x)                                             # (N, H, W, C)
    wmat = w.transpose(0, 2, 3, 1).reshape(O, KH * KW * Cg)           # (O, KH*KW*Cg)
    out = np.empty((N * OH * OW, O), dtype=x.dtype)                    # (N*OH*OW, O)
    row_bytes = KH * KW * C * x.itemsize
    chunks = _image_chunks(N, OH * OW, row_bytes)
    keep = N * OH * OW * row_bytes <= _KEEP_PATCH_BYTES
    buf_rows = N * OH * OW if keep else (chunks[0][1] - chunks[0][0]) * OH * OW
    buf = np.empty((buf_rows, KH * KW * C), dtype=x.dtype)
    og = O // groups
    for first, stop in chunks:
        rows = slice(first * OH * OW, stop * OH * OW)
        cols = buf[rows] if keep else buf[:rows.stop - rows.start]     # (rows, KH*KW*C)
        nhwc.im2col_nhwc(xh[first:stop], *geometry, cols)
        if groups == 1:
            np.matmul(cols, wmat.T, out=out[rows])
        else:
            for g, cols_g in enumerate(_group_columns(cols, groups, KH * KW)):
                out[rows, g * og:(g + 1) * og] = cols_g @ wmat[g * og:(g + 1) * og].T
    if b is not None:
        out += b
    return _as_nchw(out.reshape(N, OH, OW, O)), (xh, buf if keep else None)


def conv2d_backward(grad, saved, x_shape, w, stride, pad, dilation, groups, needs):
    """Gradients (input, weight, bias) of conv2d_forward; ``needs`` says which to compute."""
    N, O, OH, OW = grad.shape
    _, C, H, W = x_shape
    _, Cg, KH, KW = w.shape
    _, _, geometry = _conv_geometry(x_shape, w.shape, stride, pad, dilation)
    xh, kept = saved
    g = _channels_last(grad).reshape(N * OH * OW, O)                  # (N*OH*OW, O)
    wmat = w.transpose(0, 2, 3, 1).reshape(O, KH * KW * Cg)
    og = O // groups
    # kept patches are small: one pass, fewest GEMM calls; remade ones go chunk by chunk
    chunks = [(0, N)] if kept is not None else _image_chunks(N, OH * OW, KH * KW * C * grad.itemsize)
    rows0 = (chunks[0][1] - chunks[0][0]) * OH * OW
    buf = np.empty((rows0, KH * KW * C), dtype=grad.dtype)
    dx_nhwc = np.empty((N, H, W, C), dtype=grad.dtype) if needs[0] else None
    dwmat = np.zeros(wmat.shape, dtype=grad.dtype) if needs[1] else None
    for first, stop in chunks:
        rows = slice(first * OH * OW, stop * OH * OW)
        g_rows, cols = g[rows], buf[:rows.stop - rows.start]
        if needs[1]:
            if kept is None:
                nhwc.im2col_nhwc(xh[first:stop], *geometry, cols)
            else:
                cols = kept[rows]                                      # the forward's patches
            for k, cols_g in enumerate(_group_columns(cols, groups, KH * KW)):
                dwmat[k * og:(k + 1) * og] += g_rows[:, k * og:(k + 1) * og].T @ cols_g
        if needs[0]:
            cols = buf[:rows.stop - rows.start]
            if groups == 1:
                np.matmul(g_rows, wmat, out=cols)                      # the patch gradient
            else:
                cols[...] = _grouped_patch_grad(g_rows, wmat, groups, KH * KW, cols.shape)
            nhwc.col2im_nhwc(cols, *geometry, dx_nhwc[first:stop])
    dx = _as_nchw(dx_nhwc) if needs[0] else None
    dw_ = None
    if needs[1]:
        dw_ = np.ascontiguousarray(dwmat.reshape(O, KH, KW, Cg).transpose(0, 3, 1, 2))
    db = None
    if len(needs) > 2 and needs[2]:
        db = np.ones(g.shape[0], dtype=g.dtype) @ g                    # a GEMV: 7x faster than g.sum(0)
    return dx, dw_, db


def _grouped_patch_grad(g, wmat, groups, taps, shape):
    """The channels-last patch-matrix gradient assembled from per-group products."""
    rows = shape[0]
    dcols = np.empty(shape, dtype=g.dtype)
    per_tap = dcols.reshape(rows, taps, -1)                            # (rows, KH*KW, C)
    cg, og = per_tap.shape[2] // groups, wmat.shape[0] // groups
    for k in range(groups):
        part = g[:, k * og:(k + 1) * og] @ wmat[k * og:(k + 1) * og]   # (rows, KH*KW*Cg)
        per_tap[:, :, k * cg:(k + 1) * cg] = part.reshape(rows, taps, cg)
    return dcols


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
        nhwc.max_pool2d_forward_nhwc(_channels_last(x), kh, kw, sh, sw, ph, pw, dh, dw, out, idx)
        return _as_nchw(out), _as_nchw(idx)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    idx = np.empty((N, C, OH, OW), dtype=np.int32)
    kernels.max_pool2d_forward(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw, out, idx)
    return out, idx


def max_pool2d_backward(grad, argmax, x_shape, kernel, stride, padding, dilation):
    """Gradient of max pooling, in the layout its forward used."""
    N, C, H, W = x_shape
    geometry = (*kernel, *stride, *padding, *dilation)
    if _is_channels_last(argmax) and not argmax.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        nhwc.max_pool2d_backward_nhwc(_channels_last(grad), _channels_last(argmax), *geometry, gx)
        return _as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    kernels.max_pool2d_backward(np.ascontiguousarray(grad), np.ascontiguousarray(argmax),
                                *geometry, gx)
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = pool_out_hw(H, W, kernel, stride, padding, (1, 1), ceil_mode)
    if _is_channels_last(x):
        out = np.empty((N, OH, OW, C), dtype=x.dtype)
        nhwc.avg_pool2d_forward_nhwc(_channels_last(x), kh, kw, sh, sw, ph, pw,
                                     count_include_pad, out)
        return _as_nchw(out)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    kernels.avg_pool2d_forward(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw,
                               count_include_pad, out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel, stride, padding, count_include_pad):
    """Gradient of average pooling; channels-last when the incoming gradient is."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x_shape
    if _is_channels_last(grad) and not grad.flags.c_contiguous:
        gx = np.empty((N, H, W, C), dtype=grad.dtype)
        nhwc.avg_pool2d_backward_nhwc(_channels_last(grad), kh, kw, sh, sw, ph, pw,
                                      count_include_pad, gx)
        return _as_nchw(gx)
    gx = np.empty(x_shape, dtype=grad.dtype)
    kernels.avg_pool2d_backward(np.ascontiguousarray(grad), kh, kw, sh, sw, ph, pw,
                                count_include_pad, gx)
    return gx


def adaptive_avg_pool2d_forward(x, output_size):
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(output_size), dtype=x.dtype)
    kernels.adaptive_avg_pool2d_forward(np.ascontiguousarray(x), out)
    return out


def adaptive_avg_pool2d_backward(grad, x_shape):
    gx = np.empty(x_shape, dtype=grad.dtype)
    kernels.adaptive_avg_pool2d_backward(np.ascontiguousarray(grad), gx)
    return gx

def arange(n):
    """Integer positions 0..n-1, for gather/scatter indices."""
    return np.arange(n)
from tinygrad_cnn.backends.cpu_optim import adam_update, sgd_update  # noqa: E402,F401
