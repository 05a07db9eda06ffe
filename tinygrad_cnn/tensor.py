"""Tensor: an array on a device, plus what autograd needs (grad, requires_grad, graph node).

Every op method here is thin: it checks arguments and calls ``ops.X.apply``; the maths
lives in ops/, the array work in backends/.
"""
from __future__ import annotations

import numpy as np

from tinygrad_cnn import grad_mode, ops
from tinygrad_cnn import random as tc_random
from tinygrad_cnn.backends import get_backend

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _as_dtype(dtype):
    """np.dtype from a NumPy dtype, a type or a name (None stays None)."""
    return None if dtype is None else np.dtype(dtype)


def _host_array(data, dtype):
    """NumPy array for Tensor(data): floats default to float32, ints to int64."""
    if isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(np.float32, copy=False) if arr.dtype != np.float32 else arr
    if kind in "iu":
        return arr if isinstance(data, np.ndarray) else arr.astype(np.int64, copy=False)
    if kind == "b":
        return arr
    raise TypeError(f"Tensor data must be numbers, got dtype {arr.dtype}")


def check_same_device(what, tensors):
    """The common device of ``tensors``, or an error naming both devices."""
    device = tensors[0].device
    for t in tensors[1:]:
        if t.device != device:
            raise RuntimeError(f"{what}: tensors are on different devices, {device!r} and "
                               f"{t.device!r}; move them with .to(device) first")
    return device


class Tensor:
    """An n-dimensional array with reverse-mode autograd, shaped like torch.Tensor."""

    __slots__ = ("_array", "grad", "requires_grad", "device", "_ctx", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device="cpu"):
        if isinstance(data, Tensor):
            data = data.numpy()
        arr = _host_array(data, _as_dtype(dtype))
        if requires_grad and arr.dtype not in FLOAT_TYPES:
            raise TypeError(f"only float32/float64 tensors can require grad, got {arr.dtype}")
        self._array = get_backend(device).from_numpy(arr)
        self.device = device
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @classmethod
    def _wrap(cls, array, device="cpu", requires_grad=False):
        """A Tensor around a backend array, with no copy or conversion."""
        t = cls.__new__(cls)
        t._array, t.device, t.grad, t.requires_grad, t._ctx = array, device, None, requires_grad, None
        return t

    # ---- attributes ----------------------------------------------------------------
    @property
    def backend(self):
        return get_backend(self.device)

    @property
    def shape(self):
        return tuple(self._array.shape)

    @property
    def ndim(self):
        return len(self._array.shape)

    @property
    def dtype(self):
        return np.dtype(self._array.dtype)

    @property
    def is_leaf(self):
        return self._ctx is None

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(np.prod(self.shape))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = "" if self.device == "cpu" else f", device='{self.device}'"
        return f"Tensor({np.array2string(self.numpy(), precision=4)}, dtype={self.dtype}{dev}{grad})"

    # ---- conversion ----------------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array (shares memory on the CPU)."""
        return self.backend.to_numpy(self._array)

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor._wrap(self._array, self.device)

    def to(self, device):
        """This tensor on ``device`` ("cpu" or "cuda"); itself when already there."""
        if device == self.device:
            return self
        host = self.backend.to_numpy(self._array)
        out = Tensor._wrap(get_backend(device).from_numpy(host), device, self.requires_grad)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        """A copy converted to ``dtype`` (not differentiable)."""
        return Tensor._wrap(self.backend.astype(self._array, np.dtype(dtype)), self.device)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    # ---- autograd ------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad, walking the graph once."""
        from tinygrad_cnn.autograd import run_backward

        run_backward(self, gradient, retain_graph)

    def requires_grad_(self, flag=True):
        if flag and self.dtype not in FLOAT_TYPES:
            raise TypeError(f"only float32/float64 tensors can require grad, got {self.dtype}")
        self.requires_grad = flag
        return self

    # ---- arithmetic ----------------------------------------------------------------
    def _other(self, other):
        """``other`` (a Tensor or a number/array) as a Tensor on this device.

        A Python number takes this tensor's float dtype, so ``x * 0.5`` stays float32.
        """
        if isinstance(other, Tensor):
            return other
        arr = np.asarray(other)
        if arr.dtype.kind in "biuf" and self.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        return Tensor._wrap(self.backend.from_numpy(arr), self.device)

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

    # comparisons: not differentiable, return bool tensors
    def _compare(self, fn, other):
        other = self._other(other)
        check_same_device("comparison", (self, other))
        return Tensor._wrap(fn(self._array, other._array), self.device)

    def __eq__(self, other):
        return self._compare(self.backend.equal, other)

    def __ne__(self, other):
        return self._compare(self.backend.not_equal, other)

    def __lt__(self, other):
        return self._compare(self.backend.less, other)

    def __le__(self, other):
        return self._compare(self.backend.less_equal, other)

    def __gt__(self, other):
        return self._compare(self.backend.greater, other)

    def __ge__(self, other):
        return self._compare(self.backend.greater_equal, other)

    __hash__ = object.__hash__

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self.item())

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

    def clip(self, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clip needs at least one of lo and hi")
        return ops.Clip.apply(self, lo=lo, hi=hi)

    clamp = clip

    def softmax(self, dim=-1):
        return ops.Softmax.apply(self, axis=self._dim(dim))

    def log_softmax(self, dim=-1):
        return ops.LogSoftmax.apply(self, axis=self._dim(dim))

    # ---- reductions ----------------------------------------------------------------
    def _dim(self, dim):
        """A dim in [0, ndim), with negative dims counted from the end."""
        n = max(self.ndim, 1)
        if not -n <= dim < n:
            raise IndexError(f"dim {dim} out of range for a tensor of {self.ndim} dimensions")
        return dim % n

    def _axes(self, dim):
        if dim is None:
            return None
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        return tuple(sorted(self._dim(d) for d in dims))

    def sum(self, dim=None, keepdim=False):
        return ops.Sum.apply(self, axis=self._axes(dim), keepdims=keepdim)

    def mean(self, dim=None, keepdim=False):
        axes = self._axes(dim)
        count = self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self.sum(dim, keepdim) / count

    def var(self, dim=None, keepdim=False, unbiased=True):
        """Variance; unbiased (divide by n-1) by default, as torch.var."""
        axes = self._axes(dim)
        count = self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(dim, keepdim=True)
        return (centred * centred).sum(dim, keepdim) / (count - 1 if unbiased else count)

    def max(self, dim=None, keepdim=False):
        """Largest value (over ``dim`` when given); ties share the gradient."""
        return ops.Max.apply(self, axis=self._axes(dim), keepdims=keepdim)

    def min(self, dim=None, keepdim=False):
        return -((-self).max(dim, keepdim))

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (flattened when dim is None), as an int64 tensor."""
        axis = None if dim is None else self._dim(dim)
        out = self.backend.argmax(self._array, axis=axis, keepdims=keepdim and axis is not None)
        return Tensor._wrap(self.backend.astype(out, np.int64), self.device)

    # ---- shape ---------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _resolve_shape(_shape(shape), self.numel(), self.shape)
        return ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = self._dim(start_dim), self._dim(end_dim)
        shape = self.shape[:s] + (int(np.prod(self.shape[s:e + 1])),) + self.shape[e + 1:]
        return self.reshape(shape)

    def permute(self, *dims):
        dims = _shape(dims)
        perm = tuple(self._dim(d) for d in dims)
        if sorted(perm) != list(range(self.ndim)):
            raise ValueError(f"permute dims {dims} are not a permutation of {self.ndim} axes")
        return ops.Permute.apply(self, perm=perm)

    def transpose(self, dim0, dim1):
        perm = list(range(self.ndim))
        a, b = self._dim(dim0), self._dim(dim1)
        perm[a], perm[b] = perm[b], perm[a]
        return ops.Permute.apply(self, perm=tuple(perm))

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def expand(self, *shape):
        return ops.Expand.apply(self, shape=_shape(shape))

    def unsqueeze(self, dim):
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = self._dim(dim)
        if self.shape[d] != 1:
            return self
        return self.reshape(self.shape[:d] + self.shape[d + 1:])

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_index_arrays(index, self.backend))

    # ---- layers as methods ---------------------------------------------------------
    def conv2d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        from tinygrad_cnn.nn import functional as F

        return F.conv2d(self, weight, bias, stride, padding, dilation, groups)

    def max_pool2d(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        from tinygrad_cnn.nn import functional as F

        return F.max_pool2d(self, kernel_size, stride, padding, dilation, ceil_mode)

    # ---- constructors --------------------------------------------------------------
    @staticmethod
    def zeros(*shape, dtype=np.float32, requires_grad=False, device="cpu"):
        return Tensor(np.zeros(_shape(shape), dtype), requires_grad, dtype, device)

    @staticmethod
    def ones(*shape, dtype=np.float32, requires_grad=False, device="cpu"):
        return Tensor(np.ones(_shape(shape), dtype), requires_grad, dtype, device)

    @staticmethod
    def full(shape, value, dtype=np.float32, requires_grad=False, device="cpu"):
        return Tensor(np.full(_shape((shape,)), value, dtype), requires_grad, dtype, device)

    @staticmethod
    def rand(*shape, dtype=np.float32, requires_grad=False, device="cpu"):
        """Uniform [0, 1) from the generator seeded by tc.manual_seed."""
        data = tc_random.generator().random(_shape(shape), dtype=np.dtype(dtype))
        return Tensor(data, requires_grad, dtype, device)

    @staticmethod
    def randn(*shape, dtype=np.float32, requires_grad=False, device="cpu"):
        """Standard normal from the generator seeded by tc.manual_seed."""
        data = tc_random.generator().standard_normal(_shape(shape), dtype=np.dtype(dtype))
        return Tensor(data, requires_grad, dtype, device)

    @staticmethod
    def arange(start, stop=None, step=1, dtype=None, device="cpu"):
        if stop is None:
            start, stop = 0, start
        data = np.arange(start, stop, step)
        return Tensor(data, dtype=dtype, device=device)

    @staticmethod
    def zeros_like(t, dtype=None, requires_grad=False):
        return Tensor.zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                            device=t.device)

    @staticmethod
    def ones_like(t, dtype=None, requires_grad=False):
        return Tensor.ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                           device=t.device)


def _shape(shape):
    """(2, 3) from either zeros(2, 3) or zeros((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _index_arrays(index, backend):
    """Tensors inside an index become backend arrays (x[idx_tensor] as in torch)."""
    if isinstance(index, Tensor):
        return index._array
    if isinstance(index, tuple):
        return tuple(i._array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return backend.from_numpy(np.asarray(index))
    return index


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


def _resolve_shape(shape, numel, old_shape):
    """``shape`` with a single -1 filled in; an error when it cannot hold ``numel``."""
    shape = tuple(int(n) for n in shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    known = int(np.prod([n for n in shape if n != -1]))
    bad = len(unknown) > 1 or any(n < -1 for n in shape)
    if unknown and not bad:
        bad = known == 0 or numel % known != 0
        shape = shape[:unknown[0]] + (numel // max(known, 1),) + shape[unknown[0] + 1:]
    if bad or int(np.prod(shape)) != numel:
        raise ValueError(f"cannot reshape tensor of shape {old_shape} ({numel} elements) "
                         f"into {shape}")
    return shape


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    first = tensors[0]
    d = first._dim(dim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise ValueError(f"cat along dim {dim}: shapes {first.shape} and {t.shape} differ "
                             f"outside that dim")
        if t.dtype != first.dtype:
            raise TypeError(f"cat: dtype mismatch, {first.dtype} and {t.dtype}")
    return ops.Cat.apply(*tensors, axis=d)


def stack(tensors, dim=0):
    """Stack equal-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shape = tensors[0].shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(f"stack needs equal shapes, got {shape} and {t.shape}")
    d = dim % (len(shape) + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def is_grad_enabled():
    return grad_mode.is_enabled()
