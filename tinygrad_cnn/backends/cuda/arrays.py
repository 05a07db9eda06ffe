"""CUDA arrays and data movement: creation, host round trips, casts, copies, reshapes,
transposes, broadcasts, concatenation.

Arrays are numba device arrays, always C-contiguous: every op that NumPy would answer
with a view (transpose, broadcast_to) writes a fresh array with one strided-copy launch.
"""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.backends.cuda.index import getitem
from tinygrad_cnn.kernels.cuda import elementwise as ew


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
    return rt.cast(a, dtype)


def copy(a):
    return rt.duplicate(a)


def clone(a):
    """A copy in a's memory layout: device arrays are C-contiguous, so copy()."""
    return rt.duplicate(a)


def assign(dst, src):
    """dst[...] = src in place (src broadcast to dst's shape and cast to its dtype)."""
    copy_into(dst, src if rt.is_device_array(src) else rt.upload(np.asarray(src, dst.dtype)))


def setitem(a, index, values):
    """a[index] = values in place. Runs on the host (a copy each way): there is no device
    scatter-assign kernel."""
    host = a.copy_to_host()
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(i.copy_to_host() if rt.is_device_array(i) else i for i in parts)
    host[parts if isinstance(index, tuple) else parts[0]] = to_numpy(values)
    assign(a, rt.upload(host))


def shares_memory(a, b):
    """True when two device arrays overlap in memory (their address ranges intersect)."""
    if a is b:
        return True
    if not (rt.is_device_array(a) and rt.is_device_array(b)) or a.size == 0 or b.size == 0:
        return False
    (a0, a1), (b0, b1) = _address_range(a), _address_range(b)
    return a0 < b1 and b0 < a1


def _address_range(a):
    host = getattr(a, "_ary", None)  # the simulator's device arrays wrap a NumPy array
    start = (host.__array_interface__["data"][0] if host is not None
             else a.device_ctypes_pointer.value)
    return start, start + a.nbytes


def argsort(a, axis, descending):
    """Stable sort order along ``axis``, NaN largest. Sorting runs on the host (a copy each
    way): there is no device sort kernel."""
    from tinygrad_cnn.backends import cpu

    return rt.upload(cpu.argsort(a.copy_to_host(), axis, descending))


def _shape(shape):
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)


# ---- movement ------------------------------------------------------------------------
def reshape(a, shape):
    shape = _shape(shape)
    if -1 in shape:
        known = rt.numel([n for n in shape if n != -1])
        shape = tuple(a.size // max(known, 1) if n == -1 else n for n in shape)
    if rt.numel(shape) != a.size:
        raise ValueError(f"cannot reshape array of shape {a.shape} into shape {shape}")
    return a.reshape(shape)


def transpose(a, perm):
    return rt.permute(a, tuple(reversed(range(a.ndim))) if perm is None else perm)


def broadcast_to(a, shape):
    shape = _shape(shape)
    if tuple(a.shape) == shape:
        return a
    if np.broadcast_shapes(tuple(a.shape), shape) != shape:
        raise ValueError(f"cannot broadcast an array of shape {a.shape} to {shape}")
    out = empty(shape, a.dtype)
    rt.copy_view(a, 0, rt.broadcast_strides(tuple(a.shape), shape), out, 0,
                 rt.contiguous_strides(shape), shape)
    return out


def concatenate(arrays, axis):
    arrays = list(arrays)
    first = arrays[0]
    axis = int(axis) % first.ndim
    size = sum(int(x.shape[axis]) for x in arrays)
    shape = tuple(first.shape[:axis]) + (size,) + tuple(first.shape[axis + 1:])
    out = empty(shape, np.result_type(*[x.dtype for x in arrays]))
    out_strides, start = rt.contiguous_strides(shape), 0
    for x in arrays:
        rt.copy_view(x, 0, rt.contiguous_strides(x.shape), out, start * out_strides[axis],
                     out_strides, tuple(x.shape))
        start += x.shape[axis]
    return out


def arange(n):
    """Integer positions 0..n-1, for gather/scatter indices."""
    out = empty((int(n),), np.int64)
    rt.launch(ew.iota, out.size, out)
    return out


def copy_into(dst, src):
    """dst[...] = src, in place (src broadcast to dst's shape, cast to its dtype)."""
    shape = tuple(dst.shape)
    src_strides = rt.broadcast_strides(tuple(src.shape), shape)
    rt.copy_view(src, 0, src_strides, dst, 0, rt.contiguous_strides(shape), shape)


def split(a, sizes, axis):
    """The pieces of ``a`` along ``axis``, of these sizes in order (Cat's backward), each a
    contiguous device copy."""
    starts = np.cumsum([0, *sizes])
    return [getitem(a, (slice(None),) * (axis % a.ndim) + (slice(int(lo), int(hi)),))
            for lo, hi in zip(starts[:-1], starts[1:])]
