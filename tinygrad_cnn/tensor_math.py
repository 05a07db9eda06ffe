"""Tensor methods that compute: arithmetic operators, matmul, elementwise functions and
reductions, each a thin call of ``ops.X.apply``; and the dtype rule two operands follow
(``_match_dtypes``), which tc.where shares."""
import numpy as np

from tinygrad_cnn import ops


class MathMethods:
    """Mixin of Tensor: the arithmetic, elementwise and reduction ops."""

    __slots__ = ()

    # ---- arithmetic ----------------------------------------------------------------
    def _binary(self, fn, other, reverse=False):
        a, b = _match_dtypes(self, self._other(other))
        return fn.apply(b, a) if reverse else fn.apply(a, b)

    def __add__(self, other):
        return self._binary(ops.Add, other)

    def __radd__(self, other):
        return self._binary(ops.Add, other, reverse=True)

    def __sub__(self, other):
        return self._binary(ops.Sub, other)

    def __rsub__(self, other):
        return self._binary(ops.Sub, other, reverse=True)

    def __mul__(self, other):
        return self._binary(ops.Mul, other)

    def __rmul__(self, other):
        return self._binary(ops.Mul, other, reverse=True)

    def __truediv__(self, other):
        return self._binary(ops.Div, other)

    def __rtruediv__(self, other):
        return self._binary(ops.Div, other, reverse=True)

    def __pow__(self, other):
        return self._binary(ops.Pow, other)

    def __rpow__(self, other):
        return self._binary(ops.Pow, other, reverse=True)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __matmul__(self, other):
        return self.matmul(other)

    def matmul(self, other):
        other = self._other(other)
        if self.ndim == 0 or other.ndim == 0:
            raise ValueError(f"matmul needs tensors of at least 1 dimension, got shapes "
                             f"{self.shape} and {other.shape}")
        k1 = self.shape[-1]
        k2 = other.shape[-2] if other.ndim > 1 else other.shape[0]
        if k1 != k2:
            raise ValueError(f"matmul shapes {self.shape} and {other.shape} do not match: "
                             f"{k1} != {k2}")
        return ops.MatMul.apply(self, other)

    # ---- elementwise ---------------------------------------------------------------
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def relu(self):
        return ops.ReLU.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def softmax(self, dim=-1):
        return ops.Softmax.apply(self, axis=self._dim(dim))

    def log_softmax(self, dim=-1):
        return ops.LogSoftmax.apply(self, axis=self._dim(dim))

    # ---- reductions ----------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return ops.Sum.apply(self, axis=self._axes(dim), keepdims=keepdim)

    def _count(self, dim):
        """How many elements a reduction over ``dim`` (None: all) takes together."""
        axes = self._axes(dim)
        return self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))

    def mean(self, dim=None, keepdim=False):
        return self.sum(dim, keepdim) / self._count(dim)

    def var(self, dim=None, keepdim=False, unbiased=True, *, correction=None):
        """Variance dividing by n - correction (1 by default: unbiased), as torch.var."""
        count = self._count(dim)
        correction = (1 if unbiased else 0) if correction is None else correction
        centred = self - self.mean(dim, keepdim=True)
        return (centred * centred).sum(dim, keepdim) / max(count - correction, 0)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (flattened when dim is None), as an int64 tensor."""
        axis = None if dim is None else self._dim(dim)
        out = self.backend.argmax(self._array, axis=axis, keepdims=keepdim and axis is not None)
        return type(self)._wrap(self.backend.astype(out, np.int64), self.device)


def _match_dtypes(a, b):
    """Both tensors in one dtype, converting only where nothing is lost.

    Integer and bool tensors join a float one as that float type; float32 and float64
    never mix silently (as the brief says: results never silently change dtype).
    """
    if a.dtype == b.dtype:
        return a, b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        raise TypeError(f"dtype mismatch: {a.dtype} and {b.dtype}; convert one with "
                        f".float() or .double()")
    if a.dtype.kind == "f":
        return a, b.astype(a.dtype)
    if b.dtype.kind == "f":
        return a.astype(b.dtype), b
    common = np.result_type(a.dtype, b.dtype)
    return a.astype(common), b.astype(common)


def where(condition, input, other):  # noqa: A002 - torch's names
    """``input`` where ``condition`` holds, else ``other`` (broadcast); differentiable in
    both tensors. Numbers take the other operand's dtype."""
    if not hasattr(condition, "_array") or condition.dtype != np.bool_:
        raise TypeError("where: condition must be a bool Tensor (e.g. x > 0)")
    if not hasattr(input, "_array") and not hasattr(other, "_array"):
        input = condition._other(input)
    a = input if hasattr(input, "_array") else other._other(input)
    b = other if hasattr(other, "_array") else a._other(other)
    a, b = _match_dtypes(a, b)
    cond = condition._array
    shape = np.broadcast_shapes(condition.shape, a.shape, b.shape)
    if tuple(condition.shape) != shape:
        cond = condition.expand(shape)._array
    return ops.Where.apply(a, b, cond=cond)
