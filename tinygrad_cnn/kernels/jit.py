"""JIT settings for every CPU kernel, in one place.

cache=True keeps compiled kernels on disk between runs. fastmath stays off: max-pool and
ReLU compare values and must keep NaN and inf semantics.
"""
import functools

import numba

njit = functools.partial(numba.njit, cache=True, nogil=True)
"""Serial kernel: small loops, or ones called from inside a parallel loop."""

njit_parallel = functools.partial(numba.njit, cache=True, nogil=True, parallel=True)
"""Kernel whose outer loop is a prange over independent images or planes."""
