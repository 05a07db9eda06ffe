"""CPU backend: NumPy for elementwise work and GEMM, @njit kernels for conv and pooling.

Every function takes and returns NumPy arrays. The CUDA backend supplies the same names
with device arrays, so ops.py is written once. Layout inside the conv path is this
file's choice: the public layout is NCHW.
"""
import numpy as np

from tinygrad_cnn.kernels import cpu as kernels
from tinygrad_cnn.kernels.geometry import conv_out_size, pool_out_size

name = "cpu"


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


def relu(x):
    return np.maximum(x, x.dtype.type(0))


def relu_backward(grad, x):
    """grad where x > 0, else 0."""
    return np.where(x > 0, grad, grad.dtype.type(0))


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


# ---- convolution -------------------------------------------------------------------
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N*oh*ow, C*kh*kw) patch matrix of x."""
    N, C = x.shape[:2]
    cols = np.empty((N * oh * ow, C * kh * kw), dtype=x.dtype)
    kernels.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """(N, C, H, W) sum of the patches in cols."""
    x = np.empty(x_shape, dtype=cols.dtype)
    kernels.col2im(np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x)
    return x


def _group_slices(groups, rows_per_group, cols_per_group):
    return [(slice(g * rows_per_group, (g + 1) * rows_per_group),
             slice(g * cols_per_group, (g + 1) * cols_per_group)) for g in range(groups)]


def conv2d_forward(x, w, b, stride, pad, dilation, groups):
    """NCHW convolution by im2col + GEMM. pad = (top, bottom, left, right).

    Returns the output and the patch matrix, which backward reuses for the weight grad.
    """
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    OH = conv_out_size(H, KH, sh, pt + pb, dh)
    OW = conv_out_size(W, KW, sw, pl + pr, dw)
    cols = im2col(np.ascontiguousarray(x), KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)
    wmat = w.reshape(O, Cg * KH * KW)
    if groups == 1:
        out = cols @ wmat.T                                      # (N*OH*OW, O)
    else:
        out = np.empty((N * OH * OW, O), dtype=x.dtype)
        for o_sl, c_sl in _group_slices(groups, O // groups, Cg * KH * KW):
            out[:, o_sl] = cols[:, c_sl] @ wmat[o_sl].T
    if b is not None:
        out += b
    out = out.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)        # (N, O, OH, OW)
    return np.ascontiguousarray(out), cols


def conv2d_backward(grad, cols, x_shape, w, stride, pad, dilation, groups, needs):
    """Gradients (input, weight, bias) of conv2d_forward; ``needs`` says which to compute."""
    N, O, OH, OW = grad.shape
    _, Cg, KH, KW = w.shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
    g = grad.transpose(0, 2, 3, 1).reshape(N * OH * OW, O)       # (N*OH*OW, O)
    wmat = w.reshape(O, Cg * KH * KW)
    slices = _group_slices(groups, O // groups, Cg * KH * KW)
    dx = dw_ = db = None
    if needs[0]:
        if groups == 1:
            dcols = g @ wmat
        else:
            dcols = np.empty(cols.shape, dtype=grad.dtype)
            for o_sl, c_sl in slices:
                dcols[:, c_sl] = g[:, o_sl] @ wmat[o_sl]
        dx = col2im(dcols, x_shape, KH, KW, sh, sw, pt, pl, dh, dw, OH, OW)
    if needs[1]:
        dwmat = np.empty(wmat.shape, dtype=grad.dtype)
        for o_sl, c_sl in slices:
            dwmat[o_sl] = g[:, o_sl].T @ cols[:, c_sl]
        dw_ = dwmat.reshape(w.shape)
    if len(needs) > 2 and needs[2]:
        db = g.sum(axis=0)
    return dx, dw_, db


# ---- pooling -----------------------------------------------------------------------
def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """(out, argmax) of NCHW max pooling; argmax holds flat h*W+w per plane."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    OH = pool_out_size(H, kh, sh, ph, dh, ceil_mode)
    OW = pool_out_size(W, kw, sw, pw, dw, ceil_mode)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    idx = np.empty((N, C, OH, OW), dtype=np.int64)
    kernels.max_pool2d_forward(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw, out, idx)
    return out, idx


def max_pool2d_backward(grad, argmax, x_shape):
    gx = np.empty(x_shape, dtype=grad.dtype)
    kernels.max_pool2d_backward(np.ascontiguousarray(grad), argmax, gx)
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad):
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH = pool_out_size(H, kh, sh, ph, 1, ceil_mode)
    OW = pool_out_size(W, kw, sw, pw, 1, ceil_mode)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    kernels.avg_pool2d_forward(np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw,
                               count_include_pad, out)
    return out


def avg_pool2d_backward(grad, x_shape, kernel, stride, padding, count_include_pad):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
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
