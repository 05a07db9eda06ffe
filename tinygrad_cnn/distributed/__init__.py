"""Data-parallel training over MPI (mpi4py), named as torch.distributed.

Launch with ``mpiexec -n N python script.py``; in the script call ``init()`` first. Then
``get_rank()`` / ``get_world_size()`` / ``barrier()``, in-place collectives on CPU tensors
(``all_reduce(t, ReduceOp.SUM)``, ``broadcast(t, src)``), ``DistributedSampler`` for each
rank's shard of the data, and ``DistributedDataParallel(model)`` to average gradients.
Needs the ``mpi`` extra: ``pip install 'tinygrad-cnn[mpi]'``.
"""
from tinygrad_cnn.distributed.collectives import ReduceOp, Work, all_reduce, broadcast  # noqa: F401
from tinygrad_cnn.distributed.ddp import DistributedDataParallel  # noqa: F401
from tinygrad_cnn.distributed.process_group import (  # noqa: F401
    abort, barrier, get_rank, get_world_size, init, is_available, is_initialized,
    launched_by_mpi,
)
from tinygrad_cnn.distributed.sampler import DistributedSampler  # noqa: F401
