"""CUDA getitem / index_add: NumPy's indexing rules with device kernels doing the copies.

Three index patterns, checked in this order:
- basic (ints, slices, None, Ellipsis): NumPy itself works out the view's offset and
  strides on a fake one-byte-per-element array; one strided copy moves the data.
- integer (or boolean) arrays on the leading axes, the rest whole: ``x[idx]``,
  ``logp[arange(n), target]``. The arrays fold into flat row numbers on the device;
  rows gather whole trailing blocks. The adjoint adds rows back in a fixed order.
- anything else: flat source positions computed on the host with NumPy (a slow path).
"""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.cuda import index as ki


def _as_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def _is_array(i):
    return rt.is_device_array(i) or isinstance(i, (np.ndarray, list))


def _host(i):
    return i.copy_to_host() if rt.is_device_array(i) else np.asarray(i)


def _expand_bools(index):
    """Boolean arrays replaced by their nonzero() index arrays, as NumPy does."""
    out = []
    for i in index:
        if _is_array(i) and _host_dtype(i).kind == "b":
            out.extend(np.nonzero(_host(i)))
        else:
            out.append(i)
    return tuple(out)


def _host_dtype(i):
    return i.dtype if rt.is_device_array(i) else np.asarray(i).dtype


def _basic_view(shape, index):
    """(shape, offset, strides) in elements of x[index] for a basic index."""
    fake = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=shape,
                                           strides=rt.contiguous_strides(shape))
    if not any(i is Ellipsis for i in index):
        index = index + (Ellipsis,)           # so all-int indices give a 0-d view, not a scalar
    view = fake[index]
    offset = view.__array_interface__["data"][0] - fake.__array_interface__["data"][0]
    return tuple(view.shape), offset, tuple(view.strides)


def _leading(index, ndim):
    """The index arrays when ``index`` is k >= 1 integer arrays then whole axes, else None."""
    k = 0
    while k < len(index) and _is_array(index[k]):
        k += 1
    rest = index[k:]
    whole = all(i is Ellipsis or i == slice(None) for i in rest if not _is_array(i))
    if k == 0 or k > ndim or any(_is_array(i) for i in rest) or not whole:
        return None
    if any(_host_dtype(i).kind not in "iu" for i in index[:k]):
        return None
    return index[:k]


def _check_host_bounds(idx, size, axis):
    bad = (idx < -size) | (idx >= size)
    if bad.any():
        raise IndexError(f"index {int(idx[bad][0])} is out of bounds for axis {axis} with "
                         f"size {size}")


def _rows(shape, arrays):
    """Flat row numbers (broadcast shape of the index arrays) into the leading axes."""
    arrays = [a if rt.is_device_array(a) else np.asarray(a) for a in arrays]
    for axis, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            _check_host_bounds(a, shape[axis], axis)
    bshape = tuple(np.broadcast_shapes(*[tuple(a.shape) for a in arrays]))
    rows = rt.empty(bshape, np.int64)
    rt.launch(ew.fill, rows.size, rt.flat(rows), np.int64(0))
    for axis, a in enumerate(arrays):
        dev = a if rt.is_device_array(a) else rt.upload(a.astype(np.int64))
        geo, strides = rt.collapse(bshape, rt.broadcast_strides(tuple(dev.shape), bshape))
        rt.launch(ki.fold_index, rows.size, rt.flat(rows), rt.flat(dev), geo, strides,
                  int(shape[axis]))
    return rows


def _positions(shape, index):
    """Flat source positions of x[index] for any index (host NumPy, uploaded)."""
    host = tuple(_host(i) if _is_array(i) else i for i in index)
    pos = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[host]
    return rt.upload(np.asarray(pos))


def _plan(shape, index):
    """("basic", view) | ("rows", rows, trailing shape) for x[index] on an array of ``shape``."""
    index = _expand_bools(_as_tuple(index))
    if not any(_is_array(i) for i in index):
        return ("basic", _basic_view(shape, index))
    arrays = _leading(index, len(shape))
    if arrays is not None:
        return ("rows", _rows(shape, arrays), tuple(shape[len(arrays):]))
    return ("rows", _positions(shape, index), ())


def getitem(a, index):
    shape = tuple(a.shape)
    plan = _plan(shape, index)
    if plan[0] == "basic":
        vshape, offset, strides = plan[1]
        out = rt.empty(vshape, a.dtype)
        geo, src, dst = rt.collapse(vshape, strides, rt.contiguous_strides(vshape))
        rt.launch(ew.strided_copy, out.size, rt.flat(a), int(offset), src, rt.flat(out), 0,
                  dst, geo)
        return out
    _, rows, trailing = plan
    inner = rt.numel(trailing)
    out = rt.empty(tuple(rows.shape) + trailing, a.dtype)
    rt.launch(ki.gather_rows, out.size, rt.flat(a), rt.flat(rows), inner, rt.flat(out))
    return out


def index_add(shape, index, values):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices sum)."""
    shape = tuple(int(n) for n in shape)
    out = rt.empty(shape, values.dtype)
    rt.launch(ew.fill, out.size, rt.flat(out), values.dtype.type(0))
    plan = _plan(shape, index)
    if plan[0] == "basic":
        vshape, offset, strides = plan[1]
        geo, src, dst = rt.collapse(vshape, rt.broadcast_strides(tuple(values.shape), vshape),
                                    strides)
        rt.launch(ew.strided_copy, rt.numel(vshape), rt.flat(values), 0, src, rt.flat(out),
                  int(offset), dst, geo)
        return out
    _, rows, trailing = plan
    inner = rt.numel(trailing)
    rt.launch(ki.index_add_rows, inner, rt.flat(rows), rt.flat(values), inner, rt.flat(out))
    return out
