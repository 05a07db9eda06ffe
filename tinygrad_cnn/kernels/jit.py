"""JIT settings for every CPU kernel, in one place.

cache=True keeps compiled kernels on disk between runs; the dispatcher cooperates with the
compile-ahead helper of a cold start (kernels/warmup.py). fastmath stays off: max-pool and
ReLU compare values and must keep NaN and inf semantics. The one exception is the matrix
product (njit_gemm), which may reassociate its sums and fuse multiply-adds, nothing more.
"""
import numba
from numba.core import cgutils, types
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
        kernel.enable_caching()
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
