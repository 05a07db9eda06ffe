"""Keep NumPy's BLAS worker threads from spinning on the cores numba's kernels run on.

OpenBLAS leaves its worker threads spinning for about 0.1 s after every multi-threaded
GEMM (2^28 cycles, its default OPENBLAS_THREAD_TIMEOUT), and the next numba kernel then
shares the cores with them: a SimpleCNN step at 2 threads measured 28 ms instead of 17.
tinygrad_cnn/__init__.py sets a short timeout, which OpenBLAS reads once, when NumPy loads
it: that works when tinygrad_cnn is imported first. When NumPy came first (a script's
``import numpy as np`` on its first line), the backend's own GEMMs run single-threaded
instead, so they never wake the workers (measured 20.7 ms for that step). Only the
backend's calls are limited, for their duration; NumPy elsewhere in the program keeps its
threads. threadpoolctl finds the BLAS library NumPy loaded, whichever it is.
"""
import functools

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
        with _blas_controls().limit(limits=1):
            return fn(*args, **kwargs)
    return wrapper


def one_thread():
    """Context: NumPy's BLAS on one thread, for backend code that calls it from several of
    its own threads at once (each call on its own core, no BLAS pool to wake)."""
    return _blas_controls().limit(limits=1)


def _blas_controls():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas
