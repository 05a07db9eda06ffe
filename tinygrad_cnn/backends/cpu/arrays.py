"""CPU backend, arrays: creation, copies, views, indexing and concatenation of NumPy arrays."""
import numpy as np

from tinygrad_cnn.backends.cpu import layout


def from_numpy(a):
    """Host array -> backend array (the same object on the CPU)."""
    return a


def to_numpy(a):
    """Backend array -> host array."""
    return a


def empty(shape, dtype):
    return np.empty(shape, dtype=dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype=dtype)


def astype(a, dtype):
    return a.astype(dtype, copy=False)


def copy(a):
    return a.copy()


def clone(a):
    """A copy in a's memory layout: NumPy's order "K" keeps a channels-last array
    channels-last, where copy() would make it NCHW-contiguous."""
    return a.copy(order="K")


def assign(dst, src):
    """dst[...] = src in place (src broadcast to dst's shape and cast to its dtype)."""
    np.copyto(dst, src, casting="unsafe")


def setitem(a, index, values):
    """a[index] = values in place (NumPy's indexing and broadcasting rules)."""
    a[index] = values


def shares_memory(a, b):
    """True when the two arrays may overlap in memory (a bounds check, no element walk)."""
    return a is b or np.may_share_memory(a, b)


def argsort(a, axis, descending):
    """Stable sort order of ``a`` along ``axis``; NaN counts as the largest value (as torch)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    flipped = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return a.shape[axis] - 1 - np.flip(flipped, axis)


def reshape(a, shape):
    return a.reshape(shape)


def transpose(a, perm):
    return a.transpose(perm)


def broadcast_to(a, shape):
    return np.broadcast_to(a, shape)


def getitem(a, index):
    return a[index]


def index_add(shape, index, values):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices sum)."""
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, index, values)
    return out


def concatenate(arrays, axis):
    """The arrays joined along axis; 4-D arrays that are all channels-last in memory (conv
    outputs: DenseNet's and GoogLeNet's channel concatenations) give a channels-last result,
    which the next conv reads without a transposing copy."""
    if arrays and all(a.ndim == 4 and layout.is_channels_last(a) for a in arrays):
        nhwc_axis = (0, 3, 1, 2)[axis % 4]
        return layout.as_nchw(np.concatenate([a.transpose(0, 2, 3, 1) for a in arrays],
                                             axis=nhwc_axis))
    return np.concatenate(arrays, axis=axis)


def split(a, sizes, axis):
    """The pieces of ``a`` along ``axis``, of these sizes in order (Cat's backward). A 4-D
    channels-last array split along its channels (DenseNet's and GoogLeNet's
    concatenations) gives channels-last pieces of their own, each copied once here: every
    reader (a conv's or batch norm's backward, a gradient sum) then reads whole rows of
    values, where a slice's rows have gaps that each reader copied out again, or summed
    slowly. Any other split gives views of ``a``."""
    starts = np.cumsum([0, *sizes])
    if a.ndim == 4 and axis % 4 == 1 and layout.is_channels_last(a):
        nhwc = a.transpose(0, 2, 3, 1)
        return [layout.as_nchw(np.ascontiguousarray(nhwc[..., lo:hi]))
                for lo, hi in zip(starts[:-1], starts[1:])]
    return [a[(slice(None),) * (axis % max(a.ndim, 1)) + (slice(lo, hi),)]
            for lo, hi in zip(starts[:-1], starts[1:])]


def arange(n):
    """Integer positions 0..n-1, for gather/scatter indices."""
    return np.arange(n)


def copy_into(dst, src):
    """dst[...] = src, in place (src broadcast to dst's shape, cast to its dtype)."""
    np.copyto(dst, src, casting="unsafe")
