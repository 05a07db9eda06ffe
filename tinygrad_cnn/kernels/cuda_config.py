"""CUDA tuning constants and JIT settings, in one place.

Two kinds of numbers live here. Compile-time constants (UPPER_CASE) size shared and local
arrays inside kernels, so they never change at run time. Launch settings (``settings``)
are read only by the launchers in backends/cuda*.py, never by a kernel: tests shrink them
(8 threads per block, a handful of blocks) so that the CUDA simulator runs several blocks
and every grid-stride loop really strides.
"""
import contextlib
import dataclasses
import functools

from numba import cuda

# ---- compile-time constants (sizes of shared / local arrays) ----------------------------
MAX_BLOCK_THREADS = 1024
"""Upper bound of threads per block: the size of a block reduction's shared buffer."""

GEMM_MICRO = 4
"""Each GEMM thread computes a GEMM_MICRO x GEMM_MICRO tile of the output in registers."""

GEMM_TILE_K = 8
"""Depth of the A and B panels a GEMM block stages in shared memory per step."""

GEMM_MAX_THREADS_DIM = 16
"""A GEMM block is at most 16 x 16 threads, so its output tile is at most 64 x 64."""


# ---- launch settings (read by launchers only) -----------------------------------------
@dataclasses.dataclass
class LaunchSettings:
    """How launchers size grids; see configure() and override()."""
    threads_per_block: int = 256      # 1-D kernels (elementwise, pooling, im2col, ...)
    max_blocks: int = 4096            # grid cap: grid-stride loops cover the rest
    reduce_threads: int = 256         # block-per-row reductions (a power of two)
    gemm_threads: int = 16            # GEMM blocks are gemm_threads x gemm_threads
    max_gemm_blocks: int = 65535      # cap on each GEMM grid dimension (tile-stride loops)
    split_k_depth: int = 2048         # conv weight-grad GEMMs split their long K into chunks
    gemm: str = "auto"                # "auto": cuBLAS via CuPy when installed, else "numba"


settings = LaunchSettings()


def _check(s):
    for name in ("threads_per_block", "max_blocks", "reduce_threads", "gemm_threads",
                 "max_gemm_blocks", "split_k_depth"):
        if getattr(s, name) < 1:
            raise ValueError(f"cuda_config.{name} must be >= 1, got {getattr(s, name)}")
    if s.threads_per_block > MAX_BLOCK_THREADS:
        raise ValueError(f"threads_per_block {s.threads_per_block} exceeds {MAX_BLOCK_THREADS}")
    r = s.reduce_threads
    if r > MAX_BLOCK_THREADS or r & (r - 1):
        raise ValueError(f"reduce_threads must be a power of two <= {MAX_BLOCK_THREADS}, got {r}")
    if s.gemm_threads > GEMM_MAX_THREADS_DIM:
        raise ValueError(f"gemm_threads {s.gemm_threads} exceeds {GEMM_MAX_THREADS_DIM}")
    if s.gemm not in ("auto", "numba", "cublas"):
        raise ValueError(f"gemm must be 'auto', 'numba' or 'cublas', got {s.gemm!r}")


def configure(**changes):
    """Change launch settings, e.g. configure(threads_per_block=128); returns the old ones."""
    global settings
    old = settings
    new = dataclasses.replace(settings, **changes)
    _check(new)
    settings = new
    return old


@contextlib.contextmanager
def override(**changes):
    """Launch settings changed inside a ``with`` block only."""
    old = configure(**changes)
    try:
        yield settings
    finally:
        configure(**dataclasses.asdict(old))


# ---- JIT settings ------------------------------------------------------------------
cuda_jit = functools.partial(cuda.jit, cache=True)
"""Every CUDA kernel: cached on disk; fastmath off (max-pool and ReLU keep NaN semantics)."""

cuda_device = functools.partial(cuda.jit, device=True)
"""Device functions called from kernels (LLVM inlines the small ones)."""
