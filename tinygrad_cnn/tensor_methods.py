"""Tensor methods with torch's semantics: conversions, named-tuple reductions, sorting,
Python protocols (float(t), format, np.asarray, iteration) and small shape helpers."""
from collections import namedtuple

import numpy as np

from tinygrad_cnn import creation, grad_mode, ops
from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.device import as_device
from tinygrad_cnn.dtypes import as_dtype
from tinygrad_cnn.function import Context, Node
from tinygrad_cnn.tensor_math import where
from tinygrad_cnn.tensor_shape import _shape

# torch.return_types.max/min/sort/topk: tuples with .values and .indices
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _is_dtype_like(x):
    if isinstance(x, np.dtype):
        return True
    return isinstance(x, type) and (issubclass(x, np.generic) or x in (float, int, bool))


class TorchMethods:
    """Mixin of Tensor: the torch.Tensor methods scripts use beyond the core ops."""

    __slots__ = ()

    # ---- dtype and device --------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False,
           memory_format=None):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other)``; self when
        nothing changes (unless copy=True). Float-to-float casts are differentiable."""
        for a in args:
            if hasattr(a, "_array"):
                device, dtype = a.device, a.dtype
            elif _is_dtype_like(a):
                dtype = a
            elif isinstance(a, (str, int)) and not isinstance(a, bool):
                device = a
            else:
                raise TypeError(f"to() got an unexpected argument {a!r}: expected a device, a "
                                f"dtype or a Tensor")
        out = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            out = out._cast(as_dtype(dtype))
        if device is not None and as_device(device) != self.device:
            out = out._move(as_device(device))
        if copy and out is self:
            out = self.clone()
        return out

    def _cast(self, dtype):
        if self.requires_grad and dtype.kind == "f" and grad_mode.is_enabled():
            return ops.Cast.apply(self, dtype=dtype)
        return type(self)._wrap(self.backend.astype(self._array, dtype), self.device)

    def _move(self, device):
        """A copy on ``device``; differentiable (the gradient moves back), as torch."""
        target = get_backend(device)
        out = type(self)._wrap(target.from_numpy(self.backend.to_numpy(self._array)), device)
        if self.requires_grad and grad_mode.is_enabled():
            ctx = Context(target, (True,))
            ctx.source = self.device
            out._ctx, out.requires_grad = Node(ops.ToDevice, ctx, (self,), (True,)), True
        return out

    def type(self, dtype=None, non_blocking=False):
        """With no argument, the type name (e.g. 'tinygrad_cnn.FloatTensor'); else to(dtype)."""
        if dtype is None:
            return f"tinygrad_cnn.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
        return self.to(as_dtype(dtype))

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def element_size(self):
        return self.dtype.itemsize

    # ---- new tensors like this one (same dtype and device unless given) ---------------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return creation.tensor(data, dtype=dtype or self.dtype,
                               device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.zeros(*size, dtype=dtype or self.dtype,
                              device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.ones(*size, dtype=dtype or self.dtype,
                             device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.empty(*size, dtype=dtype or self.dtype,
                              device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return creation.full(size, fill_value, dtype=dtype or self.dtype,
                             device=device or self.device, requires_grad=requires_grad)

    def masked_fill(self, mask, value):
        """``value`` where the bool ``mask`` (broadcast) is True, else this tensor's values."""
        return where(mask, value, self)

    # ---- Python protocols ----------------------------------------------------------------
    def _one_value(self, what):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               f"{what} (shape {self.shape})")
        return self.item()

    def __float__(self):
        return float(self._one_value("a Python float"))

    def __int__(self):
        return int(self._one_value("a Python int"))

    def __index__(self):
        if self.dtype.kind not in "iub" or self.numel() != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index (got dtype {self.dtype}, shape {self.shape})")
        return int(self.item())

    def __format__(self, spec):
        if self.numel() == 1 and self.ndim == 0 or (spec and self.numel() == 1):
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ "
                            f"for a tensor of shape {self.shape}")
        return repr(self)

    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            f"Tensor.cpu() to copy the tensor to host memory first.")
        arr = self.backend.to_numpy(self._array)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return np.array(arr, copy=True) if copy else arr

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {self.shape})")
        return bool(self.item())

    # ---- reductions with indices -----------------------------------------------------------
    def max(self, dim=None, keepdim=False):
        """No dim: the largest value (ties share the gradient). With dim: (values, indices),
        the gradient going to the returned index, as torch.max."""
        if hasattr(dim, "_array"):
            raise TypeError("max(other) (elementwise maximum) is not supported; use "
                            "tc.where(a >= b, a, b)")
        if dim is None:
            return ops.Max.apply(self, axis=None, keepdims=False)
        indices = self.argmax(dim, keepdim=True)
        return max_result(*self._gather_result(indices, dim, keepdim))

    def min(self, dim=None, keepdim=False):
        """As max, for the smallest value."""
        if hasattr(dim, "_array"):
            raise TypeError("min(other) (elementwise minimum) is not supported; use "
                            "tc.where(a <= b, a, b)")
        if dim is None:
            return -((-self).max())
        indices = self.argmin(dim, keepdim=True)
        return min_result(*self._gather_result(indices, dim, keepdim))

    def amax(self, dim=None, keepdim=False):
        """Largest values over dim(s); ties share the gradient."""
        return ops.Max.apply(self, axis=self._axes(dim), keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        return -((-self).amax(dim, keepdim))

    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest value (flattened when dim is None), as an int64 tensor."""
        flipped = self.astype(np.int64) if self.dtype.kind in "ub" else self
        return (-flipped.detach()).argmax(dim, keepdim)

    def _gather_result(self, indices, dim, keepdim):
        """(values, indices) picked along ``dim`` by keepdim-shaped ``indices``."""
        d = self._dim(dim)
        values = ops.TakeAlongDim.apply(self, index=indices._array, axis=d)
        if not keepdim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return values, indices

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along ``dim``; equal values keep their order; NaN is
        largest."""
        d = self._dim(dim)
        order = self.backend.argsort(self._array, d, bool(descending))
        indices = type(self)._wrap(self.backend.astype(order, np.int64), self.device)
        return sort_result(ops.TakeAlongDim.apply(self, index=indices._array, axis=d), indices)

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.sort(dim, descending, stable).indices

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - torch's name
        """The k largest (or smallest) values along ``dim`` and their indices."""
        d = self._dim(dim)
        n = self.shape[d] if self.ndim else 1
        if not 0 <= k <= n:
            raise RuntimeError(f"topk: k ({k}) out of range for dimension {dim} of size {n}")
        order = self.backend.argsort(self._array, d, bool(largest))
        first_k = (slice(None),) * d + (slice(0, k),)
        order = self.backend.astype(self.backend.getitem(order, first_k), np.int64)
        indices = type(self)._wrap(order, self.device)
        return topk_result(ops.TakeAlongDim.apply(self, index=order, axis=d), indices)

    def std(self, dim=None, keepdim=False, unbiased=True, *, correction=None):
        """Standard deviation, dividing by n - correction (1 by default), as torch.std."""
        return self.var(dim, keepdim, unbiased, correction=correction).sqrt()

    # ---- shape helpers ---------------------------------------------------------------------
    def dim(self):
        return self.ndim

    def t(self):
        """Transpose of a tensor of at most 2 dims."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        """Tile the tensor ``sizes`` times along each dim (leading sizes add dims), as torch."""
        sizes = _shape(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: the number of repeat dims ({len(sizes)}) can not be "
                               f"smaller than the number of tensor dims ({self.ndim})")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        x = self.reshape(shape)
        spread = tuple(v for n in shape for v in (1, n))               # (1, n0, 1, n1, ...)
        tiled = tuple(v for r, n in zip(sizes, shape) for v in (r, n))  # (r0, n0, r1, n1, ...)
        out = x.reshape(spread).expand(tiled)
        return out.reshape(tuple(r * n for r, n in zip(sizes, shape))).clone()

    def clone(self, memory_format=None):
        """A copy with its own storage (differentiable)."""
        return ops.Clone.apply(self)

    def contiguous(self, memory_format=None):
        flags = getattr(self._array, "flags", None)
        return self if flags is None or flags.c_contiguous else self.clone()

    def clamp(self, min=None, max=None):  # noqa: A002 - torch's names
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        return ops.Clip.apply(self, lo=min, hi=max)

    clip = clamp

    # ---- comparisons by name ---------------------------------------------------------------
    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other
