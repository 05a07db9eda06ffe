"""Compile-time constants of the CUDA kernels and the decorators that compile them.

The UPPER_CASE constants size shared and local arrays inside kernels, so they never change
at run time; the launch settings that may change live in backends/cuda/settings.py.
"""
import functools

from numba import cuda

MAX_BLOCK_THREADS = 1024
"""Upper bound of threads per block: the size of a block reduction's shared buffer."""

GEMM_MICRO = 4
"""Each GEMM thread computes a GEMM_MICRO x GEMM_MICRO tile of the output in registers."""

GEMM_TILE_K = 8
"""Depth of the A and B panels a GEMM block stages in shared memory per step."""

GEMM_MAX_THREADS_DIM = 16
"""A GEMM block is at most 16 x 16 threads, so its output tile is at most 64 x 64."""

cuda_jit = functools.partial(cuda.jit, cache=True)
"""Every CUDA kernel: cached on disk; fastmath off (max-pool and ReLU keep NaN semantics)."""

cuda_device = functools.partial(cuda.jit, device=True)
"""Device functions called from kernels (LLVM inlines the small ones)."""
