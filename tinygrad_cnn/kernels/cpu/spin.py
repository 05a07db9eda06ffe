"""Waiting without sleeping, for backends/cpu/threads.py's fork-join: a thread polls a
flag in a numba kernel, without the GIL, instead of blocking on a lock.

Blocking costs a wake-up on every hand-off: the sleeping thread must be scheduled again,
then take the GIL. A fork-join of two threads takes three such wake-ups (the worker for its
range, the worker for the GIL, the caller for the end), 45-60 us on the machines of
bench/RESULTS.md, for a conv whose share of a thread can take less than that. A polling
thread sees the flag change within a fraction of a microsecond.

``wait_while(flags, i, value, stop, polls)`` polls ``flags[i]`` (a 1-D int64 array shared
between the threads) until it differs from ``value``, ``flags[stop]`` is not 0, or
``polls`` polls have passed, and returns the last value of ``flags[i]`` read. Each poll is
an acquire load, then the CPU's spin-wait hint (x86 ``pause``, ARM ``yield``), which lets
the core's other hardware thread run and saves power; ``pause`` waits 10 to 140 cycles,
depending on the CPU (29 ns on this project's Zen 5), so a number of polls is a time only
roughly.
``publish(flags, i, value)`` stores with release order: whatever the thread wrote before is
visible to a thread whose acquire load reads ``value``; ``publish_then_wait`` does both.
"""
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.vector_tile import array_data, as_i64
from tinygrad_cnn.kernels.jit import njit

_HINT = {"x86_64": ("llvm.x86.sse2.pause", ()), "amd64": ("llvm.x86.sse2.pause", ()),
         "aarch64": ("llvm.aarch64.hint", (1,)), "arm64": ("llvm.aarch64.hint", (1,))}.get(
    platform.machine().lower())
"""The spin-wait hint's LLVM intrinsic and its i32 arguments on this CPU, or None."""
HINT_WAITS = _HINT is not None and _HINT[0].startswith("llvm.x86")
"""True where the hint itself waits (x86's ``pause``, see above); ARM's ``yield`` does not."""


def _flag_pointer(context, builder, signature, args):
    flags, i = args[0], args[1]
    return builder.gep(array_data(context, builder, signature, 0, flags), [i])


def _flags_ok(flags, i):
    """A 1-D C-contiguous aligned int64 array (its flat index is its address: atomic loads
    need natural alignment) and an integer."""
    return isinstance(flags, types.Array) and flags.dtype == types.int64 and flags.ndim == 1 \
        and flags.layout == "C" and flags.aligned and isinstance(i, types.Integer)


@intrinsic
def _load_acquire(typingctx, flags, i):
    """flags[i] by an acquire load."""
    if not _flags_ok(flags, i):
        return None

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_flag_pointer(context, builder, signature, args),
                                   "acquire", 8)
    return types.int64(flags, i), codegen


@intrinsic
def _store_release(typingctx, flags, i, value):
    """flags[i] = value by a release store."""
    if not _flags_ok(flags, i) or not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        builder.store_atomic(as_i64(builder, args[2]),
                             _flag_pointer(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()
    return types.void(flags, i, value), codegen


@intrinsic
def _spin_hint(typingctx):
    """The CPU's spin-wait hint (nothing where it has none)."""
    def codegen(context, builder, signature, args):
        if _HINT is not None:
            name, constants = _HINT
            i32 = ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i32] * len(constants)), name)
            builder.call(fn, [ir.Constant(i32, c) for c in constants])
        return context.get_dummy_value()
    return types.void(), codegen


@njit
def wait_while(flags, i, value, stop, polls):
    """Poll flags[i] until it is not ``value``, flags[stop] is not 0, or after ``polls``
    polls; the last value of flags[i]."""
    seen = _load_acquire(flags, i)
    for _ in range(polls):
        if seen != value or _load_acquire(flags, stop) != 0:
            break
        _spin_hint()
        seen = _load_acquire(flags, i)
    return seen


@njit
def publish(flags, i, value):
    """flags[i] = value, ordered after every write this thread made before."""
    _store_release(flags, i, value)


@njit
def publish_then_wait(flags, i, value, j, waiting, stop, polls):
    """publish(flags, i, value), then wait_while(flags, j, waiting, stop, polls), in one
    call: the thread holds no GIL from the moment the flag is up (a thread that sees it
    then takes the GIL without waiting for this one)."""
    _store_release(flags, i, value)
    return wait_while(flags, j, waiting, stop, polls)
