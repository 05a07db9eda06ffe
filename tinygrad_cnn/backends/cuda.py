"""CUDA backend: the CPU backend's functions, same names and signatures, on device arrays.

Arrays are numba device arrays, always C-contiguous: every op that NumPy would answer
with a view (transpose, broadcast_to, slicing) writes a fresh array with one strided-copy
launch. Elementwise ops broadcast by strides inside the kernel; Python and NumPy scalars
become cached one-element device arrays read with stride 0. Reductions, GEMM, softmax,
indexing, convolution, pooling and optimizer updates each have their own kernels
(kernels/cuda*.py); this file and backends/cuda_*.py only size and launch them.
"""
import builtins
import math

import numpy as np

from tinygrad_cnn.backends import cuda_launch as rt
from tinygrad_cnn.kernels import cuda_elementwise as ew
from tinygrad_cnn.kernels import cuda_reduce as red
from tinygrad_cnn.kernels import cuda_softmax as sm

name = "cuda"


# ---- arrays -----------------------------------------------------------------------
def from_numpy(a):
    """Host array -> device array (a contiguous copy)."""
    return rt.upload(np.asarray(a))


def to_numpy(a):
    """Device array -> host array (a copy)."""
    return a.copy_to_host() if rt.is_device_array(a) else np.asarray(a)


def empty(shape, dtype):
    return rt.empty(_shape(shape), dtype)


def zeros(shape, dtype):
    return full(shape, 0, dtype)


def full(shape, value, dtype):
    out = empty(shape, dtype)
    rt.launch(ew.fill, out.size, rt.flat(out), np.dtype(dtype).type(value))
    return out


def astype(a, dtype):
    """``a`` itself when already ``dtype``, else a converted copy."""
    if a.dtype == np.dtype(dtype):
        return a
    out = empty(a.shape, dtype)
    _copy(a, 0, rt.contiguous_strides(a.shape), out, 0, rt.contiguous_strides(a.shape), a.shape)
    return out


def copy(a):
    out = empty(a.shape, a.dtype)
    if a.size:
        out.copy_to_device(a)
    return out


def _shape(shape):
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)


def _copy(src, src_off, src_strides, dst, dst_off, dst_strides, shape):
    """dst[view] = src[view], both views given by offset and element strides over ``shape``."""
    shape, src_strides, dst_strides = rt.collapse(shape, src_strides, dst_strides)
    rt.launch(ew.strided_copy, rt.numel(shape), rt.flat(src), int(src_off), src_strides,
              rt.flat(dst), int(dst_off), dst_strides, shape)


# ---- elementwise ------------------------------------------------------------------
def _host_value(x):
    """A scalar operand as a NumPy/Python scalar; a host array here means mixed devices."""
    if isinstance(x, np.ndarray):
        if x.ndim:
            raise RuntimeError(f"the CUDA backend got a host (NumPy) array of shape {x.shape}: "
                               f"an op mixes devices 'cuda' and 'cpu'; move tensors with "
                               f".to(device) first")
        return x[()]
    return x


def _operands(*xs):
    """(device arrays, shapes, common dtype) of arrays and scalars, NumPy's promotion rules."""
    values = [x if rt.is_device_array(x) else _host_value(x) for x in xs]
    dtype = np.result_type(*[v.dtype if rt.is_device_array(v) else v for v in values])
    arrays = [v if rt.is_device_array(v) else rt.scalar(v, dtype) for v in values]
    shapes = [tuple(v.shape) if rt.is_device_array(v) else () for v in values]
    return arrays, shapes, dtype


def _broadcast(arrays, shapes, out_dtype):
    """The output array and the collapsed (shape, strides per operand) of a broadcast op."""
    shape = np.broadcast_shapes(*shapes)
    out = empty(shape, out_dtype)
    geo = rt.collapse(shape, *[rt.broadcast_strides(s, shape) for s in shapes])
    return out, geo


def _binary(op, a, b, p=0.0):
    (xa, xb), shapes, dtype = _operands(a, b)
    if op == ew.DIV and dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    out, (shape, sa, sb) = _broadcast((xa, xb), shapes, dtype)
    param = dtype.type(p) if dtype.kind == "f" else np.float64(p)
    rt.launch(ew.binary, out.size, op, rt.flat(xa), rt.flat(xb), param, rt.flat(out), shape,
              sa, sb)
    return out


def _compare(op, a, b):
    (xa, xb), shapes, _ = _operands(a, b)
    out, (shape, sa, sb) = _broadcast((xa, xb), shapes, np.bool_)
    rt.launch(ew.compare, out.size, op, rt.flat(xa), rt.flat(xb), rt.flat(out), shape, sa, sb)
    return out


_FLOAT_RESULT = (ew.EXP, ew.LOG, ew.SQRT, ew.TANH, ew.SIGMOID, ew.ELU)


def _unary(op, a, p0=0.0, p1=0.0):
    dtype = a.dtype
    if op in _FLOAT_RESULT and dtype.kind != "f":
        a, dtype = astype(a, np.float64), np.dtype(np.float64)
    out = empty(a.shape, dtype)
    cast = dtype.type if dtype.kind == "f" else np.float64
    rt.launch(ew.unary, out.size, op, rt.flat(a), cast(p0), cast(p1), rt.flat(out))
    return out


def add(a, b):
    return _binary(ew.ADD, a, b)


def sub(a, b):
    return _binary(ew.SUB, a, b)


def mul(a, b):
    return _binary(ew.MUL, a, b)


def div(a, b):
    return _binary(ew.DIV, a, b)


def power(a, b):
    return _binary(ew.POW, a, b)


def maximum(a, b):
    return _binary(ew.MAXIMUM, a, b)


def minimum(a, b):
    return _binary(ew.MINIMUM, a, b)


def neg(a):
    return _unary(ew.NEG, a)


def exp(a):
    return _unary(ew.EXP, a)


def log(a):
    return _unary(ew.LOG, a)


def sqrt(a):
    return _unary(ew.SQRT, a)


def abs(a):
    return _unary(ew.ABS, a)


def tanh(a):
    return _unary(ew.TANH, a)


def sign(a):
    return _unary(ew.SIGN, a)


def equal(a, b):
    return _compare(ew.EQUAL, a, b)


def not_equal(a, b):
    return _compare(ew.NOT_EQUAL, a, b)


def less(a, b):
    return _compare(ew.LESS, a, b)


def less_equal(a, b):
    return _compare(ew.LESS_EQUAL, a, b)


def greater(a, b):
    return _compare(ew.GREATER, a, b)


def greater_equal(a, b):
    return _compare(ew.GREATER_EQUAL, a, b)


def where(cond, a, b):
    """a where cond else b, broadcasting all three (a host cond is uploaded: a constant)."""
    if isinstance(cond, np.ndarray) and cond.ndim:
        cond = rt.upload(cond)
    (xc,), (sc,), _ = _operands(cond)
    (xa, xb), shapes, dtype = _operands(a, b)
    out, (shape, stc, sta, stb) = _broadcast((xc, xa, xb), [sc] + shapes, dtype)
    rt.launch(ew.where, out.size, rt.flat(xc), rt.flat(xa), rt.flat(xb), rt.flat(out), shape,
              stc, sta, stb)
    return out


def clip(a, lo, hi):
    if a.dtype.kind == "f":
        lo = -math.inf if lo is None else lo
        hi = math.inf if hi is None else hi
    else:
        info = np.iinfo(a.dtype) if a.dtype.kind in "iu" else np.iinfo(np.int8)
        lo = info.min if lo is None else lo
        hi = info.max if hi is None else hi
    return _unary(ew.CLIP, a, lo, hi)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _unary(ew.SIGMOID, x)


def relu(x):
    return _unary(ew.RELU, x)


def relu_backward(grad, x):
    """grad where x > 0, else 0."""
    return _binary(ew.RELU_BACKWARD, grad, x)


def leaky_relu(x, slope):
    return _unary(ew.LEAKY_RELU, x, slope)


def leaky_relu_backward(grad, x, slope):
    return _binary(ew.LEAKY_RELU_BACKWARD, grad, x, slope)


def elu(x, alpha):
    return _unary(ew.ELU, x, alpha)


def elu_backward(grad, x, alpha):
    return _binary(ew.ELU_BACKWARD, grad, x, alpha)


# ---- reductions and movement -------------------------------------------------------
def _axes(ndim, axis):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted({int(d) % builtins.max(ndim, 1) for d in axes}))


def _runs(axes):
    """Sorted axes grouped into runs of adjacent axes: (0, 2, 3) -> [(0,), (2, 3)]."""
    runs = []
    for d in axes:
        if runs and runs[-1][-1] == d - 1:
            runs[-1] = runs[-1] + (d,)
        else:
            runs.append((d,))
    return runs


def _reduce(op, a, axis, keepdims, out_dtype):
    """Reduce over ``axis`` one run of adjacent axes at a time, last run first.

    Leading plus trailing axes around one kept run (a per-channel reduction of NCHW over
    (0, 2, 3)) go to one block-per-output launch instead.
    """
    axes = _axes(a.ndim, axis)
    if a.size == 0 and op == red.MAX:
        raise ValueError(f"max of an empty array (shape {a.shape}) has no identity")
    cur, shape = a, tuple(a.shape)
    runs = _runs(axes)
    if len(runs) == 2 and runs[0][0] == 0 and runs[1][-1] == a.ndim - 1 and a.size:
        kept = shape[runs[0][-1] + 1:runs[1][0]]
        shape = tuple(1 if d in axes else n for d, n in enumerate(shape))
        cur = empty(shape, out_dtype)
        rt.launch_rows(red.reduce_rows, rt.numel(kept), op, rt.flat(a), rt.flat(cur),
                       rt.numel(a.shape[:runs[0][-1] + 1]), rt.numel(a.shape[runs[1][0]:]),
                       cur.dtype.type(0))
        runs = []
    for run in reversed(runs):
        outer, K = rt.numel(shape[:run[0]]), rt.numel(shape[run[0]:run[-1] + 1])
        inner = rt.numel(shape[run[-1] + 1:])
        shape = shape[:run[0]] + (1,) * len(run) + shape[run[-1] + 1:]
        cur = _reduce_axis(op, cur, outer, K, inner, empty(shape, out_dtype))
    if not axes:
        cur = astype(copy(cur), out_dtype)
    final = shape if keepdims else tuple(n for d, n in enumerate(shape) if d not in axes)
    return cur.reshape(final)


def _reduce_axis(op, a, outer, K, inner, out):
    """out (outer*inner values) = reduce over K of the (outer, K, inner) view of ``a``.

    Short reductions, and many long columns, take one thread per output; long rows take
    a block each; a few long columns are transposed into rows first.
    """
    init = out.dtype.type(0)
    if K == 0:
        rt.launch(ew.fill, out.size, rt.flat(out), init)
    elif K < 64 or (inner > 1 and outer * inner >= 2048):
        rt.launch(red.reduce_strided, out.size, op, rt.flat(a), rt.flat(out), K, inner, init)
    else:
        rows = a if inner == 1 else transpose(a.reshape((outer, K, inner)), (0, 2, 1))
        rt.launch_rows(red.reduce_rows, outer * inner, op, rt.flat(rows), rt.flat(out), 1, K,
                       init)
    return out


def _sum_dtype(dtype):
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 8):
        return np.dtype(np.int64)
    if dtype.kind == "u" and dtype.itemsize < 8:
        return np.dtype(np.uint64)
    return dtype


def sum(a, axis=None, keepdims=False):
    return _reduce(red.SUM, a, axis, keepdims, _sum_dtype(a.dtype))


def max(a, axis=None, keepdims=False):
    return _reduce(red.MAX, a, axis, keepdims, a.dtype)


def argmax(a, axis=None, keepdims=False):
    if a.size == 0:
        raise ValueError(f"argmax of an empty array (shape {a.shape})")
    shape = tuple(a.shape)
    if axis is None:
        outer, K, inner, kept = 1, a.size, 1, (1,) * a.ndim
    else:
        d = int(axis) % a.ndim
        outer, K, inner = rt.numel(shape[:d]), shape[d], rt.numel(shape[d + 1:])
        kept = shape[:d] + (1,) + shape[d + 1:]
    out = empty((outer * inner,), np.int64)
    rt.launch(red.argmax, out.size, rt.flat(a), out, K, inner)
    if keepdims:
        return out.reshape(kept)
    return out.reshape(() if axis is None else shape[:d] + shape[d + 1:])


def reshape(a, shape):
    shape = _shape(shape)
    if -1 in shape:
        known = rt.numel([n for n in shape if n != -1])
        shape = tuple(a.size // builtins.max(known, 1) if n == -1 else n for n in shape)
    if rt.numel(shape) != a.size:
        raise ValueError(f"cannot reshape array of shape {a.shape} into shape {shape}")
    return a.reshape(shape)


def transpose(a, perm):
    perm = tuple(reversed(range(a.ndim))) if perm is None else tuple(int(p) for p in perm)
    if perm == tuple(range(a.ndim)):
        return a
    own = rt.contiguous_strides(a.shape)
    shape = tuple(a.shape[p] for p in perm)
    out = empty(shape, a.dtype)
    _copy(a, 0, tuple(own[p] for p in perm), out, 0, rt.contiguous_strides(shape), shape)
    return out


def broadcast_to(a, shape):
    shape = _shape(shape)
    if tuple(a.shape) == shape:
        return a
    if np.broadcast_shapes(tuple(a.shape), shape) != shape:
        raise ValueError(f"cannot broadcast an array of shape {a.shape} to {shape}")
    out = empty(shape, a.dtype)
    _copy(a, 0, rt.broadcast_strides(tuple(a.shape), shape), out, 0,
          rt.contiguous_strides(shape), shape)
    return out


def concatenate(arrays, axis):
    arrays = list(arrays)
    first = arrays[0]
    axis = int(axis) % first.ndim
    size = builtins.sum(int(x.shape[axis]) for x in arrays)
    shape = tuple(first.shape[:axis]) + (size,) + tuple(first.shape[axis + 1:])
    out = empty(shape, np.result_type(*[x.dtype for x in arrays]))
    out_strides, start = rt.contiguous_strides(shape), 0
    for x in arrays:
        _copy(x, 0, rt.contiguous_strides(x.shape), out, start * out_strides[axis], out_strides,
              tuple(x.shape))
        start += x.shape[axis]
    return out


# ---- softmax and losses ------------------------------------------------------------
def _along(x, axis):
    axis = int(axis) % x.ndim
    shape = tuple(x.shape)
    return shape[axis], rt.numel(shape[axis + 1:])


def log_softmax(x, axis):
    """x - logsumexp(x): finite for logits of +-1e4."""
    K, inner = _along(x, axis)
    out = empty(x.shape, x.dtype)
    rt.launch(sm.log_softmax, out.size // builtins.max(K, 1), rt.flat(x), rt.flat(out), K, inner)
    return out


def softmax(x, axis):
    K, inner = _along(x, axis)
    out = empty(x.shape, x.dtype)
    rt.launch(sm.softmax, out.size // builtins.max(K, 1), rt.flat(x), rt.flat(out), K, inner)
    return out


def _target(target):
    """Class indices on the device (a host array is uploaded: it is a constant)."""
    return target if rt.is_device_array(target) else rt.upload(np.asarray(target, np.int64))


def cross_entropy_forward(logits, target, label_smoothing):
    """Per-sample loss of (N, C) logits against class indices, and the log-probs."""
    N, C = logits.shape
    dt = logits.dtype.type
    eps = dt(label_smoothing)
    loss, logp = empty((N,), logits.dtype), empty((N, C), logits.dtype)
    rt.launch(sm.cross_entropy_forward, N, rt.flat(logits), _target(target), eps, dt(1) - eps,
              loss, rt.flat(logp))
    return loss, logp


def cross_entropy_backward(grad_rows, logp, target, label_smoothing):
    """d loss / d logits = (softmax - smoothed one-hot) * per-sample grad."""
    N, C = logp.shape
    dt = logp.dtype.type
    eps = dt(label_smoothing)
    d = empty((N, C), logp.dtype)
    rows = astype(grad_rows, logp.dtype)
    rt.launch(sm.cross_entropy_backward, N * C, rows, logp, _target(target), dt(1) - eps,
              eps / dt(C) if label_smoothing else dt(0), d)
    return d


def arange(n):
    """Integer positions 0..n-1, for gather/scatter indices."""
    out = empty((int(n),), np.int64)
    rt.launch(ew.iota, out.size, out)
    return out


from tinygrad_cnn.backends.cuda_conv import (  # noqa: E402,F401
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
    avg_pool2d_forward, col2im, conv2d_backward, conv2d_forward, im2col, max_pool2d_backward,
    max_pool2d_forward,
)
from tinygrad_cnn.backends.cuda_gemm import matmul  # noqa: E402,F401
from tinygrad_cnn.backends.cuda_index import getitem, index_add  # noqa: E402,F401
from tinygrad_cnn.backends.cuda_optim import adam_update, sgd_update  # noqa: E402,F401
