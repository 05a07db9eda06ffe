"""Collectives on Tensors, in place, as torch.distributed: all_reduce, broadcast, ReduceOp.

Each call is one MPI collective on the tensor's own NumPy storage (MPI_IN_PLACE), so views
of the tensor see the result. Tensors live on the CPU; a CUDA tensor is refused with the
fix (``.cpu()``), since MPI here moves host memory.
"""
import enum

import numpy as np

from tinygrad_cnn.distributed.process_group import _comm, get_world_size, mpi
from tinygrad_cnn.tensor import Tensor


class ReduceOp(enum.Enum):
    """The reductions of torch.distributed.ReduceOp. AVG is SUM divided by the world size."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"


def _mpi_op(op, dtype):
    MPI = mpi()
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a tinygrad_cnn.distributed.ReduceOp, got {op!r}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "biu":
        raise TypeError(f"ReduceOp.{op.name} needs an integer or bool tensor, got {dtype}")
    if op is ReduceOp.AVG and dtype.kind != "f":
        raise TypeError(f"ReduceOp.AVG needs a float tensor, got {dtype}; use SUM and divide")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _host_storage(tensor, what):
    """The tensor's NumPy array (the storage itself), refusing other devices and non-tensors."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} expects a tinygrad_cnn Tensor, got {type(tensor).__name__}")
    if tensor.device != "cpu" or not isinstance(tensor._array, np.ndarray):
        raise ValueError(f"{what} works on CPU tensors (MPI moves host memory), got a tensor "
                         f"on {tensor.device!r}; reduce tensor.cpu() and copy the result back")
    return tensor._array


def _check_group(group):
    if group is not None:
        raise ValueError("process groups other than the world are not supported: pass "
                         "group=None")


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over every rank, in place; every rank gets the result.

    With async_op=True returns a Work whose wait() completes it (MPI_Iallreduce);
    otherwise returns None, as torch.distributed.all_reduce.
    """
    _check_group(group)
    arr = _host_storage(tensor, "all_reduce")
    tensor._version_counter.value += 1   # written in place: saved copies of it are now stale
    mpi_op = _mpi_op(op, arr.dtype)
    buf = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    comm = _comm()
    if async_op:
        return Work(comm.Iallreduce(mpi().IN_PLACE, buf, op=mpi_op), arr, buf, op)
    comm.Allreduce(mpi().IN_PLACE, buf, op=mpi_op)
    _finish(arr, buf, op)
    return None


def _finish(arr, buf, op):
    if op is ReduceOp.AVG:
        buf /= buf.dtype.type(get_world_size())
    if buf is not arr:
        np.copyto(arr, buf)


class Work:
    """A started all_reduce: wait() blocks until the tensor holds the result."""

    def __init__(self, request, arr, buf, op):
        self._request, self._arr, self._buf, self._op = request, arr, buf, op
        self._done = False

    def is_completed(self):
        """True when the reduction has finished (and the tensor holds the result)."""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self):
        """Block until the reduction has finished; returns True (as torch's Work.wait)."""
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def _complete(self):
        _finish(self._arr, self._buf, self._op)
        self._done = True


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place."""
    _check_group(group)
    if async_op:
        raise ValueError("broadcast(async_op=True) is not supported: call it with "
                         "async_op=False (it returns when the data has arrived)")
    arr = _host_storage(tensor, "broadcast")
    size = get_world_size()
    if not 0 <= int(src) < size:
        raise ValueError(f"broadcast src must be a rank in 0..{size - 1}, got {src}")
    buf = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    tensor._version_counter.value += 1
    _comm().Bcast(buf, root=int(src))
    if buf is not arr:
        np.copyto(arr, buf)
