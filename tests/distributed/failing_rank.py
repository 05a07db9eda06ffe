"""Run under mpiexec: the train command, with rank 1 raising in the middle of its first epoch.

The other rank is then waiting in its next gradient Allreduce; the job must still end, with
a non-zero status and rank 1's error printed (``distributed.init()``'s abort excepthook).
Arguments after the script name are the train command's.
"""
import sys

from tinygrad_cnn import train
from tinygrad_cnn.__main__ import main
from tinygrad_cnn.distributed.process_group import launched_by_mpi

assert launched_by_mpi(), "run me under mpiexec"
real_step, steps = train.train_step, []


def failing_step(model, opt, images, labels, **kwargs):
    from tinygrad_cnn import distributed as dist

    steps.append(1)
    if dist.get_rank() == 1 and len(steps) == 3:
        raise RuntimeError("simulated failure on rank 1 at step 3")
    return real_step(model, opt, images, labels, **kwargs)


train.train_step = failing_step
sys.exit(main(sys.argv[1:]))
