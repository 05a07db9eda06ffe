"""Tensor: an array on a device, plus what autograd needs (grad, requires_grad, graph node).

Every op method is thin: it checks arguments and calls ``ops.X.apply``; the maths
lives in ops/, the array work in backends/. This file holds the tensor's state, its
conversions, operands and comparisons; the other methods come from mixins, each in its
own file: arithmetic, elementwise ops and reductions (tensor_math.py), shape ops
(tensor_shape.py), in-place ops and version counters (tensor_inplace.py), torch's
conversions, named-tuple reductions and Python protocols (tensor_methods.py); how
Tensor(...) reads its arguments is in tensor_construct.py.
"""
from __future__ import annotations

import numpy as np

from tinygrad_cnn import creation
from tinygrad_cnn.autograd import add_post_accumulate_hook, run_backward
from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.device import as_device, check_same_device
from tinygrad_cnn.dtypes import as_dtype
from tinygrad_cnn.tensor_construct import _host_array, _init_args, _legacy_sizes
from tinygrad_cnn.tensor_inplace import InplaceMethods
from tinygrad_cnn.tensor_math import MathMethods
from tinygrad_cnn.tensor_methods import TorchMethods
from tinygrad_cnn.tensor_shape import ShapeMethods, cat, stack  # noqa: F401 - public here

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


class VersionCounter:
    """How many times a storage was changed in place; shared by a tensor, its views and
    detach(). Backward compares it with the value each node saw when it saved the tensor."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor(MathMethods, ShapeMethods, InplaceMethods, TorchMethods):
    """An n-dimensional array with reverse-mode autograd, shaped like torch.Tensor.

    ``Tensor(data, requires_grad=False, dtype=None, device="cpu")`` copies ``data`` with
    torch.tensor's inference (floats -> float32, ints -> int64); ``Tensor()`` and
    ``Tensor(*sizes)`` (two or more ints) are torch's legacy uninitialised float32 forms.
    """

    __slots__ = ("_array", "grad", "requires_grad", "device", "_ctx", "_version_counter", "_base",
                 "_post_accumulate_hooks", "_view_version",
                 "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, *args, **kwargs):
        sizes = _legacy_sizes(args, kwargs)
        if sizes is not None:
            data = np.empty(sizes, np.float32)
            dtype, device, requires_grad = kwargs.pop("dtype", None), kwargs.pop("device", "cpu"), \
                kwargs.pop("requires_grad", False)
            if kwargs:
                raise TypeError(f"Tensor(*sizes) got unexpected keyword(s) {sorted(kwargs)}")
        else:
            data, requires_grad, dtype, device = _init_args(*args, **kwargs)
        if isinstance(data, Tensor):
            data = data.numpy()
        device = as_device(device)
        arr = _host_array(data, as_dtype(dtype))
        if requires_grad and arr.dtype not in FLOAT_TYPES:
            raise TypeError(f"only float32/float64 tensors can require grad, got {arr.dtype}")
        self._array = get_backend(device).from_numpy(arr)
        self.device = device
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._version_counter = VersionCounter()
        self._base = self._view_version = self._post_accumulate_hooks = None

    @classmethod
    def _wrap(cls, array, device="cpu", requires_grad=False):
        """A Tensor around a backend array, with no copy or conversion (a NumPy scalar, which
        reductions return, becomes a 0-d array so that in-place ops can write into it)."""
        if isinstance(array, np.generic):
            array = np.asarray(array)
        t = cls.__new__(cls)
        t._array, t.device, t.grad, t.requires_grad, t._ctx = array, device, None, requires_grad, None
        t._version_counter, t._base = VersionCounter(), None
        t._view_version = t._post_accumulate_hooks = None   # set: a missing slot is slow to ask
        return t

    def _as_view_of(self, base):
        """Mark this op output as a view of ``base``: one version counter, as torch's views.

        The counter's value now is remembered: a view in the graph whose base is later changed
        in place refuses to be used (Function.apply), since its graph node still describes
        the old values."""
        self._version_counter = base._version_counter
        self._base = base if base._base is None else base._base
        self._view_version = base._version_counter.value
        return self

    # ---- attributes ----------------------------------------------------------------
    @property
    def backend(self):
        return get_backend(self.device)

    @property
    def data(self):
        """The same storage as a Tensor outside the graph (changes to it are not tracked by
        autograd, as torch's .data)."""
        out = Tensor._wrap(self._array, self.device)
        out._base = self._graph_free_base()
        return out

    def _graph_free_base(self):
        """For a view, a stand-in for its base holding only the base's storage (so an in-place
        op on a detached view still checks it writes through, without keeping the graph)."""
        if self._base is None:
            return None
        base = Tensor._wrap(self._base._array, self._base.device)
        base._version_counter = self._base._version_counter
        return base

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}; "
                            f"wrap arrays with tc.from_numpy(...) or tc.tensor(...)")
        self._array, self.device = value._array, value.device

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

    @property
    def is_cuda(self):
        return self.device == "cuda"

    @property
    def grad_fn(self):
        """The node that made this tensor (None for leaves)."""
        return self._ctx

    @property
    def _version(self):
        """How many in-place changes this tensor's storage has had (torch's t._version)."""
        return self._version_counter.value

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[self._dim(dim)]

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
        """The same data and version counter, cut from the graph."""
        out = Tensor._wrap(self._array, self.device)
        out._version_counter, out._base = self._version_counter, self._graph_free_base()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else device)

    def astype(self, dtype):
        """A copy converted to ``dtype`` (not differentiable)."""
        return Tensor._wrap(self.backend.astype(self._array, np.dtype(dtype)), self.device)

    # ---- autograd ------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad, walking the graph once."""
        if gradient is not None:
            gradient = gradient._array if isinstance(gradient, Tensor) else \
                self.backend.from_numpy(np.asarray(gradient))
        run_backward(self, gradient, retain_graph)

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(tensor) each time backward has accumulated into this leaf's .grad (as torch).

        Returns a handle whose remove() unregisters the hook.
        """
        return add_post_accumulate_hook(self, hook)

    def requires_grad_(self, flag=True):
        if flag and self.dtype not in FLOAT_TYPES:
            raise TypeError(f"only float32/float64 tensors can require grad, got {self.dtype}")
        self.requires_grad = flag
        return self

    # ---- operands and comparisons --------------------------------------------------
    def _other(self, other):
        """``other`` (a Tensor or a number/array) as a Tensor on this device.

        A Python number takes this tensor's float dtype, so ``x * 0.5`` stays float32.
        """
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (tuple, list)) and any(isinstance(o, Tensor) for o in other):
            raise TypeError(f"unsupported operand: a {type(other).__name__} of Tensors (for "
                            f"max/min/sort/topk results use .values or .indices)")
        arr = np.asarray(other)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"unsupported operand of type {type(other).__name__} (dtype "
                            f"{arr.dtype}) for a Tensor op")
        if arr.dtype.kind in "biuf" and self.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        return Tensor._wrap(self.backend.from_numpy(arr), self.device)

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

    # ---- constructors (tc.zeros etc. are the same functions) -------------------------
    @staticmethod
    def zeros(*size, dtype=None, requires_grad=False, device=None):
        return creation.zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)

    @staticmethod
    def ones(*size, dtype=None, requires_grad=False, device=None):
        return creation.ones(*size, dtype=dtype, requires_grad=requires_grad, device=device)

    @staticmethod
    def full(size, fill_value, dtype=None, requires_grad=False, device=None):
        return creation.full(size, fill_value, dtype=dtype, requires_grad=requires_grad,
                             device=device)

    @staticmethod
    def rand(*size, dtype=None, requires_grad=False, device=None):
        """Uniform [0, 1) from the generator seeded by tc.manual_seed."""
        return creation.rand(*size, dtype=dtype, requires_grad=requires_grad, device=device)

    @staticmethod
    def randn(*size, dtype=None, requires_grad=False, device=None):
        """Standard normal from the generator seeded by tc.manual_seed."""
        return creation.randn(*size, dtype=dtype, requires_grad=requires_grad, device=device)

    @staticmethod
    def arange(start, end=None, step=1, dtype=None, device=None):
        return creation.arange(start, end, step, dtype=dtype, device=device)

    @staticmethod
    def zeros_like(t, dtype=None, requires_grad=False):
        return creation.zeros_like(t, dtype=dtype, requires_grad=requires_grad)

    @staticmethod
    def ones_like(t, dtype=None, requires_grad=False):
        return creation.ones_like(t, dtype=dtype, requires_grad=requires_grad)


# Function.apply and autograd wrap arrays through a tensor they hold (function.py and
# autograd.py sit below this module and do not import it): always a plain Tensor, never a
# subclass such as Parameter, whatever the tensor reached through.
Tensor._wrap_plain = Tensor._wrap
