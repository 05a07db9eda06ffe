"""A pooling window's maximum or mean over a pixel's channels, written in LLVM IR with
explicit vectors: the inner step of the channels-last pooling kernels (kernels/cpu/nhwc.py).

``window_max(x, base, offsets, position, positions, taps, channels, relu, keep, out, at,
argmax)`` stores, for c < channels::

    m, i = x[base + offsets[0] + c], position + positions[0]
    for t in 1 .. taps-1:                  # a later tap replaces when greater or NaN
        v = x[base + offsets[t] + c]
        if v > m or v is NaN:
            m, i = v, position + positions[t]
    out[at + c] = m                        # with relu: 0 where m < 0 (NaN stays NaN)
    argmax[at + c] = i                     # only with keep; with relu -1 where m is not > 0

``window_mean(x, base, offsets, taps, channels, divisor, out, at)`` stores::

    out[at + c] = (x[base + offsets[0] + c] + ... + x[base + offsets[taps-1] + c]) / divisor

summed in tap order, and 0 / divisor where taps is 0.

x, out, argmax (int32), offsets (int64) and positions (int32) are 1-D; base + offsets[t]
are a window's taps inside the image, each the flat index of its pixel's first channel, and
position + positions[t] their argmax index; ties keep the first tap, as PyTorch's kernel
does. Every window inside the image has the same offsets and positions relative to its
first tap (base, position).

Why IR: a channel loop as numba code is vectorised by LLVM only where it runs long enough
for its unrolled vector body (4 vectors: 64 float32 with AVX-512), and in the full pooling
kernel not even then: the channels of a conv's output (6 to 128) ran scalar, 0.6-6 ns an
output value against 0.3-1.5 here (bench/RESULTS.md, session 15). Here the channels go a
vector of the target's width at a time (16 float32 with AVX-512, 8 with AVX2), two
vectors' chains side by side where they fill them; the last channels are one more vector
that overlaps the ones before (it stores the same values again); fewer channels than a
vector take vectors of 4 lanes, fewer than 4 one channel at a time.

The caller guarantees every index is in bounds: the intrinsics do no checking.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.vector_tile import (
    VECTOR_BYTES, array_data, as_i64, broadcast, flag)

_I32, _I64 = ir.IntType(32), ir.IntType(64)


@intrinsic
def window_max(typingctx, x, base, offsets, position, positions, taps, channels, relu, keep,
               out, at, argmax):
    """See the module docstring."""
    if not _arrays_ok(x, out, offsets) or not _array(positions, types.int32) \
            or not _array(argmax, types.int32) or not isinstance(relu, types.Boolean) \
            or not isinstance(keep, types.Boolean) \
            or not all(isinstance(t, types.Integer)
                       for t in (base, position, taps, channels, at)):
        return None
    sig = types.void(x, base, offsets, position, positions, taps, channels, relu, keep, out, at,
                     argmax)
    return sig, _max_codegen


@intrinsic
def window_mean(typingctx, x, base, offsets, taps, channels, divisor, out, at):
    """See the module docstring."""
    if not _arrays_ok(x, out, offsets) or divisor != x.dtype \
            or not all(isinstance(t, types.Integer) for t in (base, taps, channels, at)):
        return None
    return types.void(x, base, offsets, taps, channels, divisor, out, at), _mean_codegen


def _array(t, dtype):
    return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == dtype


def _arrays_ok(x, out, offsets):
    """x and out 1-D arrays of one float dtype, offsets 1-D int64."""
    return isinstance(x, types.Array) and x.dtype in (types.float32, types.float64) \
        and _array(x, x.dtype) and _array(out, x.dtype) and _array(offsets, types.int64)


class _Window:
    """What both reductions share: the arguments as LLVM values, vectors of ``width`` lanes
    (1: scalars) of the float type, and the loop over all the channels."""

    def __init__(self, context, builder, signature, args, names, width):
        self.builder, self.width = builder, width
        values = dict(zip(names, args))
        self.float_type = context.get_value_type(signature.args[0].dtype)
        self.values_type = self.vector(self.float_type)
        self.index_type = self.vector(_I32)

        def data(name):
            return array_data(context, builder, signature, names.index(name), values[name])

        def i64(name):
            return as_i64(builder, values[name])

        self.value, self.data, self.i64 = values, data, i64
        self.x = builder.gep(data("x"), [i64("base")])
        self.offsets, self.out = data("offsets"), builder.gep(data("out"), [i64("at")])
        self.taps, self.channels = i64("taps"), i64("channels")

    def vector(self, element):
        return element if self.width == 1 else ir.VectorType(element, self.width)

    def splat(self, value):
        """``value`` in every lane (itself for scalars)."""
        if self.width == 1:
            return value
        return broadcast(self.builder, value, ir.VectorType(value.type, self.width))

    def load(self, pointer, kind):
        return self.builder.load(self.builder.bitcast(pointer, kind.as_pointer()), align=4)

    def store(self, value, pointer):
        self.builder.store(value, self.builder.bitcast(pointer, value.type.as_pointer()),
                           align=4)

    def tap(self, t, c):
        """The values of tap t at channels c.."""
        offset = self.builder.load(self.builder.gep(self.offsets, [t]))
        return self.load(self.builder.gep(self.x, [self.builder.add(offset, c)]),
                         self.values_type)

    def over_channels(self, window):
        """window(c, vectors) for every block of channels: pairs of vectors, one more,
        then the overlapping last one (scalars: one at a time)."""
        b, step = self.builder, ir.Constant(_I64, self.width)
        if self.width == 1:
            with cgutils.for_range_slice(b, ir.Constant(_I64, 0), self.channels, step) \
                    as (c, _):
                window(c, 1)
            return
        pair = ir.Constant(_I64, 2 * self.width)
        pairs_end = b.mul(b.udiv(self.channels, pair), pair)
        with cgutils.for_range_slice(b, ir.Constant(_I64, 0), pairs_end, pair) as (c, _):
            window(c, 2)
        with b.if_then(b.icmp_unsigned(">=", b.sub(self.channels, pairs_end), step)):
            window(pairs_end, 1)
        with b.if_then(b.icmp_unsigned("!=", b.urem(self.channels, step),
                                       ir.Constant(_I64, 0))):
            window(b.sub(self.channels, step), 1)


def _by_width(context, builder, signature, channels, emit):
    """emit(width) where the channels fill a vector of the target's width, else one of 4
    lanes, else for scalars."""
    float_type = context.get_value_type(signature.args[0].dtype)
    lanes = VECTOR_BYTES // context.get_abi_sizeof(float_type)
    fits = builder.icmp_signed(">=", channels, ir.Constant(channels.type, lanes))
    with builder.if_else(fits) as (wide, narrow):
        with wide:
            emit(lanes)
        with narrow:
            four = builder.icmp_signed(">=", channels, ir.Constant(channels.type, 4))
            with builder.if_else(four) as (vectors, scalars):
                with vectors:
                    emit(4)
                with scalars:
                    emit(1)
    return context.get_dummy_value()


_MAX_ARGS = ("x", "base", "offsets", "position", "positions", "taps", "channels", "relu", "keep",
             "out", "at", "argmax")
_MEAN_ARGS = ("x", "base", "offsets", "taps", "channels", "divisor", "out", "at")


def _max_codegen(context, builder, signature, args):
    """window_max's IR (the module docstring), for each width _by_width branches to."""
    def emit(width):
        w = _Window(context, builder, signature, args, _MAX_ARGS, width)
        relu, keep = flag(builder, w.value["relu"]), flag(builder, w.value["keep"])
        position = w.value["position"]
        position = builder.trunc(position, _I32) if position.type.width > 32 else position
        positions = w.data("positions")
        argmax = builder.gep(w.data("argmax"), [w.i64("at")])

        def index(t):
            return w.splat(builder.add(position, builder.load(builder.gep(positions, [t]))))

        def window(c, vectors):
            at = [builder.add(c, ir.Constant(_I64, v * width)) for v in range(vectors)]
            zero = ir.Constant(_I64, 0)
            best = [cgutils.alloca_once_value(builder, w.tap(zero, a)) for a in at]
            where = [cgutils.alloca_once_value(builder, index(zero)) for _ in at]
            with cgutils.for_range_slice(builder, ir.Constant(_I64, 1), w.taps,
                                         ir.Constant(_I64, 1)) as (t, _):
                i = index(t)
                for a, m_slot, i_slot in zip(at, best, where):
                    v, m = w.tap(t, a), builder.load(m_slot)
                    take = builder.or_(builder.fcmp_ordered(">", v, m),
                                       builder.fcmp_unordered("uno", v, v))
                    builder.store(builder.select(take, v, m), m_slot)
                    builder.store(builder.select(take, i, builder.load(i_slot)), i_slot)
            for a, m_slot, i_slot in zip(at, best, where):
                m, i = builder.load(m_slot), builder.load(i_slot)
                zeros = ir.Constant(w.values_type, None)
                clamp = w.splat(relu)
                w.store(builder.select(builder.and_(clamp, builder.fcmp_ordered("<", m, zeros)),
                                       zeros, m), builder.gep(w.out, [a]))
                with builder.if_then(keep):
                    shut = builder.and_(clamp, builder.not_(builder.fcmp_ordered(">", m, zeros)))
                    w.store(builder.select(shut, w.splat(ir.Constant(_I32, -1)), i),
                            builder.gep(argmax, [a]))
        w.over_channels(window)
    return _by_width(context, builder, signature, args[_MAX_ARGS.index("channels")], emit)


def _mean_codegen(context, builder, signature, args):
    """window_mean's IR (the module docstring), for each width _by_width branches to."""
    def emit(width):
        w = _Window(context, builder, signature, args, _MEAN_ARGS, width)
        divisor = w.splat(w.value["divisor"])
        zeros = ir.Constant(w.values_type, None)

        def window(c, vectors):
            at = [builder.add(c, ir.Constant(_I64, v * width)) for v in range(vectors)]
            sums = [cgutils.alloca_once_value(builder, zeros) for _ in at]
            with builder.if_then(builder.icmp_signed(">", w.taps, ir.Constant(_I64, 0))):
                for a, slot in zip(at, sums):
                    builder.store(w.tap(ir.Constant(_I64, 0), a), slot)
            with cgutils.for_range_slice(builder, ir.Constant(_I64, 1), w.taps,
                                         ir.Constant(_I64, 1)) as (t, _):
                for a, slot in zip(at, sums):
                    builder.store(builder.fadd(builder.load(slot), w.tap(t, a)), slot)
            for a, slot in zip(at, sums):
                w.store(builder.fdiv(builder.load(slot), divisor), builder.gep(w.out, [a]))
        w.over_channels(window)
    return _by_width(context, builder, signature, args[_MEAN_ARGS.index("channels")], emit)
