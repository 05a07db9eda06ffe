"""JIT settings for every CPU kernel, in one place.

cache=True keeps compiled kernels on disk between runs. fastmath stays off: max-pool and
ReLU compare values and must keep NaN and inf semantics. The one exception is the matrix
product (njit_gemm), which may reassociate its sums and fuse multiply-adds, nothing more.
"""
import functools
import os

# Numba's OpenMP threads and OpenBLAS's threads share the same cores. Left spinning after
# each parallel region, OpenMP threads steal the cores the next GEMM needs (measured: a
# SimpleCNN step 2x slower). Passive waiting hands the cores back at once. Set before the
# first parallel kernel loads the OpenMP runtime; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

njit = functools.partial(numba.njit, cache=True, nogil=True)
"""Serial kernel: small loops, or ones called from inside a parallel loop."""

njit_parallel = functools.partial(numba.njit, cache=True, nogil=True, parallel=True)
"""Kernel whose outer loop is a prange over independent images or planes."""

njit_gemm = functools.partial(numba.njit, cache=True, nogil=True,
                              fastmath={"reassoc", "contract"})
"""Serial matrix-product kernel: sums may be reassociated (into vector lanes) and multiply-adds
fused. No other fast-math flag: NaN and inf keep their IEEE meaning."""


def thread_count():
    """Threads numba's parallel kernels run on (NUMBA_NUM_THREADS, or numba.set_num_threads)."""
    return numba.get_num_threads()


@njit
def fill(block, value):
    """Set every element of a C-contiguous block to ``value``.

    An explicit loop: a slice assignment such as ``x[n] = 0`` inside a prange body becomes
    a nested parfor that took numba ~2 s more to compile per kernel.
    """
    flat = block.reshape(block.size)
    for k in range(flat.size):
        flat[k] = value
