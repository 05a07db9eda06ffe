"""Launch plumbing for the CUDA backend: grid sizes, the launch counter, device arrays.

Every kernel launch of the backend goes through ``launch``, ``launch_rows`` or
``launch_gemm``, which size the grid from settings.py's ``settings`` and count launches
per kernel name in ``LAUNCHES`` (bench/bench_gpu.py reports launches per step). The
device-array helpers below use only what real device arrays support (reshape of
contiguous arrays, copies).
"""
import collections
import contextlib
import math

import numpy as np
from numba import cuda

from tinygrad_cnn.backends.cuda.settings import settings
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.cuda.config import GEMM_MICRO

LAUNCHES = collections.Counter()
"""Kernel name -> number of launches since the last LAUNCHES.clear()."""

_recorders = []


def _name(kernel):
    fn = getattr(kernel, "py_func", None) or getattr(kernel, "fn", None)
    return getattr(fn, "__name__", repr(kernel))


def _count(kernel, args):
    LAUNCHES[_name(kernel)] += 1
    for rec in _recorders:
        rec.append((kernel, args))


@contextlib.contextmanager
def recording():
    """Collect (kernel, args) of every launch inside the block (for compile checks)."""
    calls = []
    _recorders.append(calls)
    try:
        yield calls
    finally:
        _recorders.remove(calls)


def launch(kernel, n, *args):
    """1-D grid-stride launch covering ``n`` work items (nothing to do when n == 0)."""
    if n <= 0:
        return
    blocks = min(-(-n // settings.threads_per_block), settings.max_blocks)
    _count(kernel, args)
    kernel[blocks, settings.threads_per_block](*args)


def launch_rows(kernel, rows, *args):
    """One block per row (block-stride over rows), reduce_threads threads each."""
    if rows <= 0:
        return
    _count(kernel, args)
    kernel[min(rows, settings.max_blocks), settings.reduce_threads](*args)


def launch_gemm(kernel, B, M, N, *args):
    """2-D tiles of (threads * GEMM_MICRO)^2 outputs, batches on grid z."""
    if B * M * N == 0:
        return
    t, tile = settings.gemm_threads, settings.gemm_threads * GEMM_MICRO
    cap = settings.max_gemm_blocks
    grid = (min(-(-N // tile), cap), min(-(-M // tile), cap), min(B, cap, 65535))
    _count(kernel, args)
    kernel[grid, (t, t)](*args)


# ---- device arrays -------------------------------------------------------------------
def is_device_array(a):
    """True for a numba device array (real or simulated), False for host data."""
    return cuda.devicearray.is_cuda_ndarray(a)


def empty(shape, dtype):
    return cuda.device_array(tuple(int(n) for n in shape), dtype=np.dtype(dtype))


def flat(a):
    """A 1-D view of a contiguous device array (0-d arrays give one element)."""
    return a.reshape(a.size) if a.shape != (a.size,) else a


def upload(host):
    """A contiguous device copy of a host array (0-d stays 0-d)."""
    host = np.asarray(host)
    return cuda.to_device(host if host.flags.c_contiguous else host.copy(order="C"))


_scalars = {}


def scalar(value, dtype):
    """A cached 1-element device array holding ``value`` as ``dtype`` (never written to)."""
    host = np.array([value], dtype=dtype)
    key = (host.dtype.str, host.tobytes())
    found = _scalars.get(key)
    if found is None:
        if len(_scalars) > 512:
            _scalars.clear()
        found = _scalars[key] = upload(host)
    return found


def contiguous_strides(shape):
    """C-order strides of ``shape`` in elements."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def broadcast_strides(shape, out_shape):
    """Element strides of a contiguous ``shape`` read as ``out_shape`` (0 where broadcast)."""
    own = contiguous_strides(shape)
    lead = len(out_shape) - len(shape)
    return tuple(0 if d < lead or shape[d - lead] == 1 else own[d - lead]
                 for d in range(len(out_shape)))


def collapse(shape, *strides):
    """Merge adjacent axes that every operand walks contiguously; drop axes of size 1.

    Returns (shape, strides...) with at least one axis, so kernels index few dimensions.
    """
    dims = [(n, [s[d] for s in strides]) for d, n in enumerate(shape) if n != 1]
    if not dims:
        return ((1,),) + tuple((0,) for _ in strides)
    merged = [dims[0]]
    for n, st in dims[1:]:
        pn, pst = merged[-1]
        if all(ps == s * n for ps, s in zip(pst, st)):
            merged[-1] = (pn * n, st)
        else:
            merged.append((n, st))
    out_shape = tuple(int(n) for n, _ in merged)
    return (out_shape,) + tuple(tuple(int(st[k]) for _, st in merged) for k in range(len(strides)))


def numel(shape):
    return int(math.prod(shape))


# ---- data movement shared by the backend modules --------------------------------------
def copy_view(src, src_off, src_strides, dst, dst_off, dst_strides, shape):
    """dst[view] = src[view], both views given by offset and element strides over ``shape``."""
    shape, src_strides, dst_strides = collapse(shape, src_strides, dst_strides)
    launch(ew.strided_copy, numel(shape), flat(src), int(src_off), src_strides, flat(dst),
           int(dst_off), dst_strides, shape)


def cast(a, dtype):
    """``a`` itself when already ``dtype``, else a converted copy."""
    if a.dtype == np.dtype(dtype):
        return a
    out = empty(a.shape, dtype)
    own = contiguous_strides(a.shape)
    copy_view(a, 0, own, out, 0, own, a.shape)
    return out


def duplicate(a):
    """A fresh device copy of ``a`` (device-to-device memcpy, no kernel)."""
    out = empty(a.shape, a.dtype)
    if a.size:
        out.copy_to_device(a)
    return out


def permute(a, perm):
    """A contiguous copy of ``a`` with its axes permuted (``a`` itself for the identity)."""
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(a.ndim)):
        return a
    own = contiguous_strides(a.shape)
    shape = tuple(a.shape[p] for p in perm)
    out = empty(shape, a.dtype)
    copy_view(a, 0, tuple(own[p] for p in perm), out, 0, contiguous_strides(shape), shape)
    return out
