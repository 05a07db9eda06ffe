"""The MPI world: detect an mpiexec launch, initialise mpi4py, rank/size, barrier, abort.

mpi4py is imported only by ``init()`` (importing it starts MPI), so a process that
mpiexec did not start never loads it. ``init()`` also installs an excepthook: an uncaught
exception on any rank prints its traceback and calls ``MPI_Abort``, which ends every rank
of the job with a non-zero status instead of leaving the others waiting for ever in
their next collective.
"""
import os
import sys
import threading

# Variables a launcher sets for each rank it starts: MPICH/Hydra and Intel MPI (PMI_*),
# Open MPI (OMPI_*), Slurm's srun with PMI2/PMIx (PMIX_RANK).
_LAUNCH_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
_LAUNCH_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


class _World:
    """The initialised communicator, held in one place (set once by init())."""

    comm = None
    mpi = None


def launched_by_mpi():
    """True when an MPI launcher (mpiexec, mpirun, srun) started this process.

    Reads the environment only; does not import mpi4py.
    """
    return any(v in os.environ for v in _LAUNCH_RANK_VARS + _LAUNCH_SIZE_VARS)


def is_available():
    """True when mpi4py can be imported (the ``mpi`` extra is installed); does not start MPI."""
    try:
        import mpi4py  # noqa: F401  (the package only: MPI starts with mpi4py.MPI)
    except ImportError:
        return False
    return True


def is_initialized():
    """True after init()."""
    return _World.comm is not None


def init(abort_on_exception=True):
    """Start MPI (through mpi4py) and return the world communicator; again is a no-op.

    abort_on_exception: install sys.excepthook and threading.excepthook so that an
    uncaught exception on any rank prints its traceback and aborts the whole job
    (MPI_Abort, exit status 1) instead of hanging the other ranks.
    Outside mpiexec this is a world of one process.
    """
    if _World.comm is not None:
        return _World.comm
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError("tinygrad_cnn.distributed needs mpi4py and an MPI library: "
                          "pip install 'tinygrad-cnn[mpi]' (mpi4py and mpich)") from err
    _World.mpi, _World.comm = MPI, MPI.COMM_WORLD
    if abort_on_exception:
        _install_abort_hooks()
    return _World.comm


def _install_abort_hooks():
    previous = sys.excepthook

    def abort_job(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            print("\ninterrupted: aborting every rank", file=sys.stderr)
        else:
            # the error itself first: Abort can end the job before a long traceback is relayed
            print(f"rank {get_rank()} of {get_world_size()} failed; aborting the MPI job\n"
                  f"{exc_type.__name__}: {exc}", file=sys.stderr, flush=True)
            previous(exc_type, exc, tb)
        sys.stderr.flush()
        abort(130 if issubclass(exc_type, KeyboardInterrupt) else 1)

    def abort_from_thread(args):
        print(f"rank {get_rank()}: thread {args.thread.name if args.thread else '?'} failed; "
              f"aborting the MPI job", file=sys.stderr)
        print(f"{args.exc_type.__name__}: {args.exc_value}", file=sys.stderr, flush=True)
        sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)
        sys.stderr.flush()
        abort(1)

    sys.excepthook = abort_job
    threading.excepthook = abort_from_thread


def _comm():
    if _World.comm is None:
        raise ValueError("tinygrad_cnn.distributed is not initialized: call "
                           "tinygrad_cnn.distributed.init() first (and launch with "
                           "mpiexec -n N python ...)")
    return _World.comm


def mpi():
    """The mpi4py.MPI module (after init())."""
    _comm()
    return _World.mpi


def get_rank():
    """This process's rank in the world, 0 .. world_size - 1 (as torch.distributed.get_rank)."""
    return _comm().Get_rank()


def get_world_size():
    """The number of processes in the job (as torch.distributed.get_world_size)."""
    return _comm().Get_size()


def barrier():
    """Wait until every rank has reached this call."""
    _comm().Barrier()


def abort(code=1):
    """End every rank of the job now with exit status ``code`` (MPI_Abort); never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _World.comm is None:
        os._exit(code)
    _World.comm.Abort(code)
