"""Keep NumPy's BLAS worker threads from spinning on the cores numba's kernels run on.

OpenBLAS leaves its worker threads spinning for about 0.1 s after every multi-threaded
GEMM (2^28 cycles, its default OPENBLAS_THREAD_TIMEOUT), and the next numba kernel then
shares the cores with them, at a large cost per step (bench/RESULTS.md).
tinygrad_cnn/__init__.py sets a short timeout, which OpenBLAS reads once, when NumPy loads
it: that works when tinygrad_cnn is imported first. When NumPy came first (a script's
``import numpy as np`` on its first line), the backend's own GEMMs run single-threaded
instead, so they never wake the workers. The GEMM path of
the conv also runs BLAS on one thread while its own threads each multiply a chunk
(one_thread). The limit is process-wide while a backend call holds it (threadpoolctl can
only set it for the whole process), and BLAS gets its thread count back afterwards.
threadpoolctl finds the BLAS library NumPy loaded, whichever it is.
"""
import contextlib
import functools
import threading

import numpy as np

from tinygrad_cnn.backends.cpu import threads

_WORKERS_SPIN = False
"""Set by tinygrad_cnn/__init__.py: True when NumPy was imported before it and the user had
not set OPENBLAS_THREAD_TIMEOUT (a value of theirs is theirs to choose)."""

_blas = None


def single_threaded_if_spinning(fn):
    """Decorator for backend functions that call NumPy's BLAS: run them with BLAS limited to
    one thread when its workers were configured to spin (see the module docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _WORKERS_SPIN:
            return fn(*args, **kwargs)
        with one_thread():
            return fn(*args, **kwargs)
    return wrapper


@contextlib.contextmanager
def one_thread():
    """Context: NumPy's BLAS on one thread, for backend code that calls it from several of
    its own threads at once (each call on its own core, no BLAS pool to wake).

    The limit is process-wide, so overlapping scopes (backend calls from several Python
    threads) share one: the first to enter sets it, the last to leave restores what BLAS
    had before. Nested scopes saving and restoring on their own could leave BLAS on one
    thread for good when they end out of order.
    """
    global _saved, _scope_users
    with _scope_lock:
        if _scope_users == 0:
            _saved = [(lib, lib.num_threads) for lib in _blas_controls().lib_controllers]
            for lib, threads in _saved:
                if threads != 1:
                    lib.set_num_threads(1)
        _scope_users += 1
    try:
        yield
    finally:
        with _scope_lock:
            _scope_users -= 1
            if _scope_users == 0:
                for lib, threads in _saved:
                    if threads != 1:
                        lib.set_num_threads(threads)
                _saved = None


_scope_lock = threading.Lock()
_saved, _scope_users = None, 0
"""[(library controller, its thread count before the scope)] while a one_thread scope is open:
threadpoolctl's per-library controllers, set directly (its limit() context costs about 8 us
a call, a third of a small conv at batch 1; these calls 3 us)."""


def _blas_controls():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


@single_threaded_if_spinning
def matmul(a, b):
    """a @ b through NumPy's BLAS, whose threads then have the cores: the backend's own
    workers stop polling for their next range (threads.park)."""
    threads.park()
    return np.matmul(a, b)
