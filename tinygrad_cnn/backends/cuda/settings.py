"""The CUDA backend's launch settings: one ``CudaSettings`` object, changed by configure()
and override().

Only the launchers (launch.py, gemm.py, conv.py) read it, never a kernel: the sizes that
kernels compile in are kernels/cuda/config.py's constants. Tests shrink the launches
(8 threads per block, a handful of blocks) so that the CUDA simulator runs several blocks
and every grid-stride loop really strides.
"""
import dataclasses

from tinygrad_cnn.backends.settings_base import Settings
from tinygrad_cnn.kernels.cuda.config import GEMM_MAX_THREADS_DIM, MAX_BLOCK_THREADS


@dataclasses.dataclass
class CudaSettings(Settings):
    """How launchers size grids and which GEMM runs; see configure() and override()."""
    threads_per_block: int = 256      # 1-D kernels (elementwise, pooling, im2col, ...)
    max_blocks: int = 4096            # grid cap: grid-stride loops cover the rest
    reduce_threads: int = 256         # block-per-row reductions (a power of two)
    gemm_threads: int = 16            # GEMM blocks are gemm_threads x gemm_threads
    max_gemm_blocks: int = 65535      # cap on each GEMM grid dimension (tile-stride loops)
    split_k_depth: int = 2048         # conv weight-grad GEMMs split their long K into chunks
    gemm: str = "auto"                # "auto": cuBLAS via CuPy when installed, else "numba"

    def check(self):
        """Raise ValueError for launch settings no kernel can run with."""
        for name in ("threads_per_block", "max_blocks", "reduce_threads", "gemm_threads",
                     "max_gemm_blocks", "split_k_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"cuda settings.{name} must be >= 1, got "
                                 f"{getattr(self, name)}")
        if self.threads_per_block > MAX_BLOCK_THREADS:
            raise ValueError(f"threads_per_block {self.threads_per_block} exceeds "
                             f"{MAX_BLOCK_THREADS}")
        r = self.reduce_threads
        if r > MAX_BLOCK_THREADS or r & (r - 1):
            raise ValueError(f"reduce_threads must be a power of two <= {MAX_BLOCK_THREADS}, "
                             f"got {r}")
        if self.gemm_threads > GEMM_MAX_THREADS_DIM:
            raise ValueError(f"gemm_threads {self.gemm_threads} exceeds {GEMM_MAX_THREADS_DIM}")
        if self.gemm not in ("auto", "numba", "cublas"):
            raise ValueError(f"gemm must be 'auto', 'numba' or 'cublas', got {self.gemm!r}")


settings = CudaSettings()
"""The settings every launcher reads; configure() changes this object in place."""


configure = settings.configure
"""configure(**changes): change launch settings for good; returns the old values."""
override = settings.override
"""override(**changes): launch settings changed inside a ``with`` block only."""
