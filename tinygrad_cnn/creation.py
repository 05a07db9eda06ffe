"""Tensor factories with torch's signatures: tc.tensor, zeros, rand, arange, eye, *_like, ...

Sizes are ints or one tuple/list (``zeros(2, 3)`` or ``zeros((2, 3))``); every factory takes
``dtype=``, ``device=`` and (for float results) ``requires_grad=``. Values are made on the
host and moved to the device once. Random ones draw from the generator tc.manual_seed seeds.
"""
import builtins

import numpy as np

from tinygrad_cnn import random as tc_random
from tinygrad_cnn import tensor as _tensor
from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.device import as_device
from tinygrad_cnn.dtypes import as_dtype


def _size(size):
    """(2, 3) from either f(2, 3) or f((2, 3))."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for n in size:
        if isinstance(n, builtins.bool) or not isinstance(n, (builtins.int, np.integer)):
            raise TypeError(f"sizes must be ints, got {n!r} in {tuple(size)}")
        if n < 0:
            raise RuntimeError(f"negative dimension {n} in size {tuple(size)}")
    return tuple(builtins.int(n) for n in size)


def _from_host(arr, device, requires_grad):
    """A Tensor owning ``arr`` (no further copy on the CPU)."""
    Tensor = _tensor.Tensor
    device = as_device(device)
    if requires_grad and arr.dtype.kind != "f":
        raise RuntimeError(f"only floating point tensors can require gradients, got {arr.dtype}")
    return Tensor._wrap(get_backend(device).from_numpy(arr), device, builtins.bool(requires_grad))


def _infer(data):
    """torch.tensor's dtype for Python/NumPy data: NumPy arrays keep theirs, Python floats
    become float32, ints int64, bools bool."""
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        return arr
    raise TypeError(f"tensor(): data must be numbers (nested lists, NumPy arrays or Tensors), "
                    f"got {type(data).__name__} holding {arr.dtype}")


def _host_values(data):
    """NumPy values of ``data``, with Tensors (also inside lists) read back from their device."""
    if isinstance(data, _tensor.Tensor):
        return np.array(data.numpy())
    if isinstance(data, (list, tuple)) and any(isinstance(x, _tensor.Tensor) for x in data):
        return [_host_values(x) for x in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data``, as torch.tensor."""
    if isinstance(data, _tensor.Tensor):
        arr = np.array(data.numpy(), copy=True)
        device = data.device if device is None else device
    else:
        arr = _infer(_host_values(data))
    dtype = as_dtype(dtype)
    arr = np.array(arr, dtype=dtype if dtype is not None else arr.dtype, copy=True)
    as_dtype(arr.dtype)
    return _from_host(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it already is one (or a CPU NumPy array)
    of the requested dtype and device."""
    dtype = as_dtype(dtype)
    if isinstance(data, _tensor.Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype == data.dtype) \
            and as_device(device) == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A CPU tensor sharing ``ndarray``'s memory and dtype, as torch.from_numpy."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(ndarray).__name__}")
    as_dtype(ndarray.dtype)
    return _from_host(ndarray, "cpu", False)


def _float_dtype(dtype):
    dtype = as_dtype(dtype)
    return np.dtype(np.float32) if dtype is None else dtype


def _draw_dtype(dtype):
    """NumPy's generator draws float32 or float64 directly; float16 is drawn as float32."""
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def empty(*size, dtype=None, device=None, requires_grad=False, **_):
    return _from_host(np.empty(_size(size), _float_dtype(dtype)), device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _from_host(np.zeros(_size(size), _float_dtype(dtype)), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _from_host(np.ones(_size(size), _float_dtype(dtype)), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """``size`` filled with ``fill_value``; the dtype follows the value (bool, int64, float32)
    unless given, as torch.full."""
    if dtype is None:
        dtype = _infer(fill_value).dtype
    size = _size(size if isinstance(size, (tuple, list)) else (size,))
    return _from_host(np.full(size, fill_value, as_dtype(dtype)), device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform [0, 1) draws."""
    dtype = _float_dtype(dtype)
    values = tc_random.generator().random(_size(size), dtype=_draw_dtype(dtype)).astype(dtype)
    return _from_host(values, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal draws."""
    dtype = _float_dtype(dtype)
    values = tc_random.generator().standard_normal(_size(size), dtype=_draw_dtype(dtype))
    values = values.astype(dtype)
    return _from_host(values, device, requires_grad)


def randint(*args, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers uniform in [low, high): randint(high, size) or randint(low, high, size)."""
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("randint expects (high, size) or (low, high, size)")
    if high <= low:
        raise RuntimeError(f"randint: low ({low}) must be smaller than high ({high})")
    dtype = as_dtype(dtype) or np.dtype(np.int64)
    values = tc_random.generator().integers(low, high, _size((size,)), dtype=np.int64)
    return _from_host(values.astype(dtype), device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start+step, ... below end; int64 for int arguments, else float32, as torch."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    numbers = (start, end, step)
    is_int = all(isinstance(v, (builtins.int, np.integer)) for v in numbers)
    if dtype is None:
        dtype = np.int64 if is_int else np.float32
    values = np.arange(start, end, step, dtype=np.int64 if is_int else np.float64)
    return _from_host(values.astype(as_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end inclusive."""
    values = np.linspace(start, end, builtins.int(steps), dtype=np.float64)
    return _from_host(values.astype(_float_dtype(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """Ones on the diagonal of an (n, m) matrix."""
    values = np.eye(n, n if m is None else m, dtype=_float_dtype(dtype))
    return _from_host(values, device, requires_grad)


def _like(t, dtype, device):
    return (t.shape, as_dtype(dtype) or t.dtype, t.device if device is None else device)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return empty(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return zeros(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return ones(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return full(shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(t, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(t, low=0, high=None, dtype=None, device=None):
    if high is None:
        low, high = 0, low
    shape, dtype, device = _like(t, dtype, device)
    return randint(low, high, shape, dtype=dtype, device=device)
