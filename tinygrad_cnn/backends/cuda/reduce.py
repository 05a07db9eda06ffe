"""CUDA reductions (sum, max, argmax), softmax, log-softmax and softmax cross-entropy.

A reduction over several axes runs one launch per run of adjacent axes (last first), or
a single block-per-output launch for leading plus trailing axes around one kept run
(per-channel sums of NCHW). Kernels: kernels/cuda/reduce.py, kernels/cuda/softmax.py.
Every order of additions depends only on the launch settings: reruns are bit-identical.
"""
import builtins

import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.cuda import reduce as red
from tinygrad_cnn.kernels.cuda import softmax as sm


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
        cur = rt.empty(shape, out_dtype)
        rt.launch_rows(red.reduce_rows, rt.numel(kept), op, rt.flat(a), rt.flat(cur),
                       rt.numel(a.shape[:runs[0][-1] + 1]), rt.numel(a.shape[runs[1][0]:]),
                       cur.dtype.type(0))
        runs = []
    for run in reversed(runs):
        outer, K = rt.numel(shape[:run[0]]), rt.numel(shape[run[0]:run[-1] + 1])
        inner = rt.numel(shape[run[-1] + 1:])
        shape = shape[:run[0]] + (1,) * len(run) + shape[run[-1] + 1:]
        cur = _reduce_axis(op, cur, outer, K, inner, rt.empty(shape, out_dtype))
    if not axes:
        cur = rt.cast(rt.duplicate(cur), out_dtype)
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
        rows = a if inner == 1 else rt.permute(a.reshape((outer, K, inner)), (0, 2, 1))
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
    out = rt.empty((outer * inner,), np.int64)
    rt.launch(red.argmax, out.size, rt.flat(a), out, K, inner)
    if keepdims:
        return out.reshape(kept)
    return out.reshape(() if axis is None else shape[:d] + shape[d + 1:])


# ---- softmax and losses ------------------------------------------------------------
def _along(x, axis):
    axis = int(axis) % x.ndim
    shape = tuple(x.shape)
    return shape[axis], rt.numel(shape[axis + 1:])


def log_softmax(x, axis):
    """x - logsumexp(x): finite for logits of +-1e4."""
    K, inner = _along(x, axis)
    out = rt.empty(x.shape, x.dtype)
    rt.launch(sm.log_softmax, out.size // builtins.max(K, 1), rt.flat(x), rt.flat(out), K, inner)
    return out


def softmax(x, axis):
    K, inner = _along(x, axis)
    out = rt.empty(x.shape, x.dtype)
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
    loss, logp = rt.empty((N,), logits.dtype), rt.empty((N, C), logits.dtype)
    rt.launch(sm.cross_entropy_forward, N, rt.flat(logits), _target(target), eps, dt(1) - eps,
              loss, rt.flat(logp))
    return loss, logp


def cross_entropy_backward(grad_rows, logp, target, label_smoothing):
    """d loss / d logits = (softmax - smoothed one-hot) * per-sample grad."""
    N, C = logp.shape
    dt = logp.dtype.type
    eps = dt(label_smoothing)
    d = rt.empty((N, C), logp.dtype)
    rows = rt.cast(grad_rows, logp.dtype)
    rt.launch(sm.cross_entropy_backward, N * C, rows, logp, _target(target), dt(1) - eps,
              eps / dt(C) if label_smoothing else dt(0), d)
    return d
