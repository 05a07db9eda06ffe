"""JIT settings for every CPU kernel, in one place.

cache=True keeps compiled kernels on disk between runs; the dispatcher cooperates with the
compile-ahead helper of a cold start (kernels/warmup.py). numba keys a kernel's cache on its
own source file only, but a kernel inlines the LLVM IR of intrinsics and the helpers of other
files (kernels/cpu/vector_tile.py, window_reduce.py): KernelCache keys it on every source file
under kernels/ as well, so that an edit to any of them recompiles every kernel instead of
loading machine code built from the old one. fastmath stays off: max-pool and
ReLU compare values and must keep NaN and inf semantics. The one exception is the matrix
product (njit_gemm), which may reassociate its sums and fuse multiply-adds, nothing more.
"""
import functools
import hashlib
from pathlib import Path

import numba
from numba.core import cgutils, types
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic

from tinygrad_cnn.kernels import warmup


class Kernel(CPUDispatcher):
    """numba's CPU dispatcher (what ``numba.njit`` makes), which before compiling a kernel
    for new argument types waits while the compile-ahead helper is compiling the same one
    (kernels/warmup.await_helper), and then loads it from the cache instead of compiling it
    a second time."""

    def compile(self, sig):
        warmup.await_helper(self.py_func, sig)
        return super().compile(sig)


class KernelCache(FunctionCache):
    """numba's per-kernel disk cache, whose index is stamped with the kernel's own source
    file (as numba's) and with every source file under kernels/ (kernel_sources_hash): a
    changed intrinsic or helper makes every kernel's cached code stale."""

    def __init__(self, py_func):
        super().__init__(py_func)
        own = self._cache_file._source_stamp
        self._cache_file = IndexDataCacheFile(cache_path=self._cache_path,
                                              filename_base=self._impl.filename_base,
                                              source_stamp=(own, kernel_sources_hash()))


KERNELS = Path(__file__).resolve().parent
"""The kernels/ directory, whose source files stamp every kernel's cache."""


@functools.cache
def kernel_sources_hash(root=KERNELS):
    """SHA-256 over the names and contents of every .py file under ``root``, in name order."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.digest()


def _kernels(**options):
    """A decorator making a Kernel with the cache on, as ``numba.njit(cache=True, **options)``
    makes a CPUDispatcher (numba.core.decorators._jit); ``@decorator(**more)`` adds options
    (``inline="always"``)."""
    def decorate(fn=None, **more):
        if fn is None:
            return _kernels(**options, **more)
        if numba.config.DISABLE_JIT:
            return fn
        targetoptions = dict(nopython=True, boundscheck=None, **options)
        kernel = Kernel(py_func=fn, locals={}, targetoptions=targetoptions)
        kernel._cache = KernelCache(fn)            # Dispatcher.enable_caching, restamped
        return kernel
    return decorate


njit = _kernels(nogil=True, no_cfunc_wrapper=True)
"""Every CPU kernel: serial, and without the GIL, so backends/cpu/threads.run can call one
per core on different ranges of images at the same time. No C-callable wrapper: kernels are
called from Python or from each other, never through a C pointer, and the wrapper is one
more function for LLVM to compile at a cold start."""

njit_gemm = _kernels(nogil=True, fastmath={"reassoc", "contract"})
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


@intrinsic
def stack_tile(typingctx, size, dtype):
    """Pointer to ``size`` (a constant) elements of ``dtype`` on the calling kernel's stack.

    An LLVM ``alloca``: memory no array argument can alias, so once the loops over a
    register tile are unrolled LLVM keeps the whole tile in vector registers, where a NumPy
    array's elements would be loaded and stored at every step. Wrap it as
    ``numba.carray(stack_tile(ROWS * COLS, c.dtype), (ROWS, COLS))``; it is uninitialised.
    """
    if not isinstance(size, types.IntegerLiteral) or not isinstance(dtype, types.DType):
        return None
    count = size.literal_value

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype.dtype), size=count)
    return types.CPointer(dtype.dtype)(size, dtype), codegen
