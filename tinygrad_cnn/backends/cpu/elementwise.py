"""CPU backend, elementwise: NumPy's ufuncs under the backend's names, and the activations
(ReLU in one threaded pass that keeps its input's memory layout)."""
import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import elementwise as elementwise_kernels
from tinygrad_cnn.kernels.cpu import special as special_kernels

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
    out = np.empty_like(x)
    return out if _relu_into(x, out) else np.maximum(x, x.dtype.type(0))


def relu_in_place(x):
    """x = relu(x), overwriting x (a conv's new output, or Tensor.relu_'s storage)."""
    if not _relu_into(x, x):
        np.maximum(x, x.dtype.type(0), out=x)


def _relu_into(x, out):
    """out = max(x, 0) by the threaded kernel, when x is large enough for it and the two
    share a memory layout (out may be x); False, with nothing written, otherwise."""
    flat = _flat_pair(x, out) if x.ndim and x.size >= 4096 else None
    if flat is None:
        return False
    x_, out_ = flat
    threads.run(lambda lo, hi: elementwise_kernels.relu_forward(x_[lo:hi], out_[lo:hi]), x.size,
                grain=settings.part_elements)
    return True


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
    threads.run(lambda lo, hi: elementwise_kernels.relu_backward(g_[lo:hi], x_[lo:hi], out_[lo:hi]),
                x.size, grain=settings.part_elements)
    return out


def leaky_relu(x, slope):
    return np.where(x > 0, x, x * x.dtype.type(slope))


def leaky_relu_backward(grad, x, slope):
    return np.where(x > 0, grad, grad * grad.dtype.type(slope))


def elu(x, alpha):
    return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))


def elu_backward(grad, x, alpha):
    return np.where(x > 0, grad, grad * x.dtype.type(alpha) * np.exp(np.minimum(x, 0)))


def erf(x):
    """Elementwise error function (float input; float32 stays float32)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    special_kernels.erf(x.reshape(-1), out.reshape(-1))
    return out
