"""JIT settings for every CPU kernel, in one place.

cache=True keeps compiled kernels on disk between runs. fastmath stays off: max-pool and
ReLU compare values and must keep NaN and inf semantics. The one exception is the matrix
product (njit_gemm), which may reassociate its sums and fuse multiply-adds, nothing more.
"""
import functools

import numba

njit = functools.partial(numba.njit, cache=True, nogil=True)
"""Every CPU kernel: serial, and without the GIL, so backends/cpu_threads.run can call one
per core on different ranges of images at the same time."""

njit_gemm = functools.partial(numba.njit, cache=True, nogil=True,
                              fastmath={"reassoc", "contract"})
"""Serial matrix-product kernel: sums may be reassociated (into vector lanes) and multiply-adds
fused. No other fast-math flag: NaN and inf keep their IEEE meaning."""


@njit
def fill(block, value):
    """Set every element of a C-contiguous block to ``value``.

    An explicit loop, which LLVM turns into a memset or vector stores.
    """
    flat = block.reshape(block.size)
    for k in range(flat.size):
        flat[k] = value
