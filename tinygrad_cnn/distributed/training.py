"""What ``python -m tinygrad_cnn train`` does differently under mpiexec, in one place.

``setup_run()`` returns a LocalRun (one process: every method is the plain behaviour) or,
when an MPI launcher started the process, an MPIRun: --batch-size is per rank, rank r reads
its shard of each epoch's permutation (DistributedSampler, the very permutation one process
draws for the seed), BatchNorm layers become SyncBatchNorm and the model is wrapped in
DistributedDataParallel, metrics are reduced over the ranks, every rank resumes from the
checkpoint rank 0 found, and only rank 0 prints and writes files. Ctrl-C or an uncaught
exception on any rank aborts the whole job (MPI_Abort) rather than hanging the others.
"""
import dataclasses
import signal
import sys
import threading

import numpy as np

from tinygrad_cnn import distributed as dist
from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.distributed.process_group import launched_by_mpi
from tinygrad_cnn.nn.sync_batchnorm import SyncBatchNorm


def setup_run():
    """MPIRun when launched by mpiexec/mpirun/srun, else LocalRun (mpi4py is not imported)."""
    return MPIRun() if launched_by_mpi() else LocalRun()


class LocalRun:
    """One process: data, model, metrics and files exactly as without MPI."""

    rank, world = 0, 1
    writes = True   # this process writes checkpoints, metrics and plots

    def log(self, log):
        """The logging function to use on this rank."""
        return log

    def config(self, config):
        """The run configuration as this rank uses it."""
        return config

    def wrap(self, model):
        """The module to train (the model itself here)."""
        return model

    def train_loader(self, dataset, batch_size, seed):
        return DataLoader(dataset, batch_size, shuffle=True, seed=seed)

    def test_loader(self, dataset, batch_size):
        return DataLoader(dataset, batch_size)

    def agree(self, value):
        """Rank 0's ``value`` (here: the value)."""
        return value

    def set_epoch(self, loader, epoch):
        """Prepare ``loader`` for the 1-based ``epoch``."""

    def reduce_train(self, result):
        """(loss, accuracy, images/s, seconds) of the whole job from this rank's."""
        return result

    def reduce_eval(self, result, loader):
        """(loss, accuracy) over the whole test set from this rank's share."""
        return result


class MPIRun(LocalRun):
    """One rank of an mpiexec job (see the module docstring)."""

    def __init__(self):
        self._comm = dist.init()
        self._dist = dist
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.writes = self.rank == 0
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._interrupted)

    def _interrupted(self, signum, frame):
        # A rank waiting inside an MPI call cannot raise KeyboardInterrupt, and a rank that
        # exits leaves the others waiting for ever: end the whole job instead.
        print(f"\nrank {self.rank}: interrupted; aborting every rank (the last complete "
              f"checkpoint stays; continue with --resume)", file=sys.stderr)
        self._dist.abort(130)

    def log(self, log):
        if self.rank != 0:
            return lambda *args, **kwargs: None
        log(f"distributed: {self.world} MPI ranks; --batch-size is per rank, rank 0 prints "
            f"and writes the files")
        return log

    def config(self, config):
        if self.rank != 0:
            return dataclasses.replace(config, progress=False, plots=False)
        return config

    def wrap(self, model):
        model = SyncBatchNorm.convert_sync_batchnorm(model)
        return self._dist.DistributedDataParallel(model)

    def train_loader(self, dataset, batch_size, seed):
        sampler = self._dist.DistributedSampler(dataset, self.world, self.rank, shuffle=True,
                                                seed=seed)
        return DataLoader(dataset, batch_size, sampler=sampler)

    def test_loader(self, dataset, batch_size):
        # every test image once over the ranks (no padding: the sums below weigh each rank)
        return DataLoader(dataset, batch_size, sampler=range(self.rank, len(dataset), self.world))

    def agree(self, value):
        return self._comm.bcast(value, root=0)

    def set_epoch(self, loader, epoch):
        loader.sampler.set_epoch(epoch - 1)

    def reduce_train(self, result):
        loss, acc, rate, seconds = result
        seen = rate * seconds
        sums = self._allreduce([loss, acc, seen], "SUM")
        slowest = self._allreduce([seconds], "MAX")[0]
        return sums[0] / self.world, sums[1] / self.world, sums[2] / slowest, slowest

    def reduce_eval(self, result, loader):
        loss, acc = result
        n = len(loader.sampler)
        total_loss, correct, seen = self._allreduce([loss * n, acc * n, n], "SUM")
        return total_loss / max(seen, 1), round(correct) / max(seen, 1)

    def _allreduce(self, values, op):
        MPI = self._dist.process_group.mpi()
        buf = np.array(values, dtype=np.float64)
        self._comm.Allreduce(MPI.IN_PLACE, buf, op=getattr(MPI, op))
        return buf.tolist()
