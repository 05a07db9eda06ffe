"""A row tile of vector multiply-adds for a 3- or 5-wide kernel, written in LLVM IR: the
product of the row-tiles conv kernel (kernels/cpu/conv_row_tiles.py), for convs of one or two
tile units of output channels (16 or 32 float32, 8 or 16 float64).

``row_sums(a, a0, a_block, R, a_step, C, b, b0, b_step, init, init0, accumulate, relu, c, c0,
ldc, count, columns, taps, units)`` stores, for r < count (at most ROW_PIXELS) and j <
columns (at most units * tile_columns(itemsize))::

    c.flat[c0 + r*ldc + j] = (c.flat[c0 + r*ldc + j] if accumulate else init.flat[init0 + j])
        + sum over i < R, q < C, t < taps of
          a.flat[a0 + i*a_step + (q // ROW_LANES)*a_block + (r + t)*ROW_LANES + q % ROW_LANES]
          * b.flat[b0 + i*b_step + (q*taps + t)*width + j]

with width = units * tile_columns(itemsize), and with ``relu`` each value v as
``0 if v < 0 else v`` (NaN stays NaN). The other columns of c are neither read nor written
(masked loads and stores), so c may be the output itself whatever its channel count.

In a conv's forward, a is one image with its channels in blocks of ROW_LANES: a row's block
holds, pixel after pixel, that block's channels of the row's pixels (zero-padded). The
ROW_PIXELS + taps - 1 pixels from a0 are the input under a run of ROW_PIXELS output pixels
of one output row (stride 1 along it); i steps over the kernel rows. Each input value meets
each tap of the kernel row once, for a different one of the neighbouring output pixels: the
tile broadcasts it once and issues a multiply-add (per vector of its row) with each tap's
weight vector (b's rows (i, q, t), side by side), which stay in registers while the run's
values pass. Within a block every value and weight lies at a fixed distance from two
pointers, so the loop needs no registers for addresses beyond those.

Why: the image tiles (vector_tile.tile_sums) broadcast one a value for each multiply-add of
a one-vector tile row, and the core issues about one broadcast a cycle: a conv of 16 output
channels ran there at half the FMA units' rate with AVX-512 (bench/RESULTS.md, session 14);
and a first layer's kernel rows of 3 or 5 values each are a pass of their loop. Here, with
AVX-512, 8 pixels of a 3-wide kernel take 10 broadcasts and 3 weight loads for 24
multiply-adds per channel and vector. With one vector a row (one unit), a second set of sums
takes the odd channels, so that each sum has a multiply-add in flight every other step: 16
sums, 6 (5 wide: 10) weight vectors and a broadcast, 23 (27) of the 32 registers; two units
are 16 sums in one set. On AVX2 a unit is two ymm vectors and a tile 4 pixels: 8 sums, 6
weight vectors and a broadcast, 15 of its 16 registers for a 3-wide kernel (a 5-wide one
takes some weights from memory). backends/cpu/plan.py chooses where the row tiles run
(settings.row_tiles_max_outputs), never on ARM, and the tests run them on every ISA for
their values.

The caller guarantees every index is in bounds: the intrinsic does no checking.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.vector_tile import (
    TILE_BYTES, VECTOR_BYTES, array_data, as_i64, broadcast, column_masks, flag, masked_access,
    starting_sums, vector_at)

ROW_PIXELS = 8 if VECTOR_BYTES == TILE_BYTES else 4
"""Output pixels of a row tile: 8 where a unit is one vector (AVX-512), else 4."""
ROW_TAPS = (3, 5)
"""The kernel widths a row tile takes (its taps per kernel row)."""
ROW_LANES = 8
"""Channels of a block of a's rows (see the module docstring)."""


@intrinsic
def row_sums(typingctx, a, a0, a_block, R, a_step, C, b, b0, b_step, init, init0, accumulate,
             relu, c, c0, ldc, count, columns, taps, units):
    """See the module docstring. a, b, init, c: arrays of one float dtype; accumulate,
    relu: bools; the others integers (taps one of ROW_TAPS, units 1 or 2)."""
    arrays = (a, b, init, c)
    integers = (a0, a_block, R, a_step, C, b0, b_step, init0, c0, ldc, count, columns, taps,
                units)
    if not all(isinstance(t, types.Array) for t in arrays) \
            or len({t.dtype for t in arrays}) != 1 \
            or a.dtype not in (types.float32, types.float64) \
            or not all(isinstance(t, types.Integer) for t in integers) \
            or not isinstance(accumulate, types.Boolean) or not isinstance(relu, types.Boolean):
        return None
    sig = types.void(a, a0, a_block, R, a_step, C, b, b0, b_step, init, init0, accumulate,
                     relu, c, c0, ldc, count, columns, taps, units)
    return sig, _codegen


def _codegen(context, builder, signature, args):
    """A row tile for each of ROW_TAPS and 1 or 2 units, and the branches to them."""
    taps, units = args[-2:]
    with builder.if_else(builder.icmp_signed("==", taps, ir.Constant(taps.type, ROW_TAPS[0]))) \
            as (narrow, wide):
        for block, width in ((narrow, ROW_TAPS[0]), (wide, ROW_TAPS[1])):
            with block:
                with builder.if_else(builder.icmp_signed("==", units,
                                                         ir.Constant(units.type, 1))) as (one, two):
                    with one:
                        _row(context, builder, signature, args, width, 1)
                    with two:
                        _row(context, builder, signature, args, width, 2)
    return context.get_dummy_value()


def _row(context, builder, signature, args, taps, units):
    """The IR of one row tile of ``taps`` taps whose rows are ``units`` tile units."""
    A, a0, a_block, R, a_step, C, B, b0, b_step, INIT, init0, accumulate, relu, OUT, c0, ldc, \
        count, columns, _, _ = args
    i64 = ir.IntType(64)

    def data(position, value):
        return array_data(context, builder, signature, position, value)

    a0, a_block, R, a_step, C, b0, b_step, init0, c0, ldc, count, columns = (
        as_i64(builder, v) for v in (a0, a_block, R, a_step, C, b0, b_step, init0, c0, ldc,
                                     count, columns))
    float_type = context.get_value_type(signature.args[0].dtype)
    size = context.get_abi_sizeof(float_type)
    lanes = VECTOR_BYTES // size
    vectors = units * TILE_BYTES // VECTOR_BYTES
    width = units * TILE_BYTES // size          # b's row length
    vector = ir.VectorType(float_type, lanes)
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fmuladd.v{lanes}f{size * 8}")

    def constant(n):
        return ir.Constant(i64, n)

    def load_vector(pointer, at):
        return builder.load(builder.bitcast(builder.gep(pointer, [constant(at)]),
                                            vector.as_pointer()), align=size)

    align = ir.Constant(ir.IntType(32), size)
    _, masked_store = masked_access(builder, vector)
    masks = column_masks(builder, columns, lanes, vectors)
    a_data = builder.gep(data(0, A), [a0])
    b_data = builder.gep(data(6, B), [b0])
    init_row = builder.gep(data(9, INIT), [init0])
    c_data = builder.gep(data(13, OUT), [c0])
    c_rows = [builder.gep(c_data, [builder.mul(constant(r), ldc)]) for r in range(ROW_PIXELS)]
    keep, clamp = flag(builder, accumulate), flag(builder, relu)
    parts = range(vectors)
    sums = starting_sums(builder, keep, c_rows, init_row, vector, vectors, masks)
    zeros = ir.Constant(vector, [ir.Constant(float_type, 0.0)] * lanes)
    chains = [sums]
    if vectors == 1:                            # the odd channels' sums (module docstring)
        chains.append([cgutils.alloca_once_value(builder, zeros) for _ in sums])

    def multiply_add(block, weights, lane, chain):
        """Channel ``lane`` of the channel block at ``block``, whose weights (its taps' rows)
        are at ``weights``, into the sums of ``chain``."""
        tap_weights = [[load_vector(weights, t * width + part * lanes) for part in parts]
                       for t in range(taps)]
        for p in range(ROW_PIXELS + taps - 1):
            at = builder.add(lane, constant(p * ROW_LANES))
            value = builder.load(builder.gep(block, [at]))
            a_vector = broadcast(builder, value, vector)
            for t in range(taps):
                r = p - t
                if not 0 <= r < ROW_PIXELS:
                    continue
                for part in parts:
                    slot = chain[vectors * r + part]
                    builder.store(builder.call(fmuladd, [a_vector, tap_weights[t][part],
                                                         builder.load(slot)]), slot)

    lanes_const = constant(ROW_LANES)
    channel_weights = taps * width
    whole = builder.udiv(C, lanes_const)
    with cgutils.for_range(builder, R) as kernel_row:
        a_i = builder.gep(a_data, [builder.mul(kernel_row.index, a_step)])
        b_i = builder.gep(b_data, [builder.mul(kernel_row.index, b_step)])
        with cgutils.for_range(builder, whole) as blocks:
            block = builder.gep(a_i, [builder.mul(blocks.index, a_block)])
            weights = builder.gep(b_i, [builder.mul(blocks.index,
                                                    constant(ROW_LANES * channel_weights))])
            with cgutils.for_range(builder, constant(ROW_LANES // 2)) as pairs:
                first = builder.mul(pairs.index, constant(2))   # two lanes, one per set of sums
                for k in range(2):
                    lane = builder.add(first, constant(k))
                    multiply_add(block, builder.gep(weights, [
                        builder.mul(lane, constant(channel_weights))]), lane,
                        chains[k % len(chains)])
        block = builder.gep(a_i, [builder.mul(whole, a_block)])
        weights = builder.gep(b_i, [builder.mul(whole, constant(ROW_LANES * channel_weights))])
        with cgutils.for_range(builder, builder.urem(C, lanes_const)) as rest:
            multiply_add(block, builder.gep(weights, [builder.mul(rest.index,
                                                                  constant(channel_weights))]),
                         rest.index, sums)
    for other in chains[1:]:
        for slot, more in zip(sums, other):
            builder.store(builder.fadd(builder.load(slot), builder.load(more)), slot)
    for r, row in enumerate(c_rows):
        with builder.if_then(builder.icmp_signed("<", constant(r), count)):
            for part in parts:
                total = builder.load(sums[vectors * r + part])
                clamped = builder.select(builder.fcmp_ordered("<", total, zeros), zeros, total)
                target = vector_at(builder, row, part, vector)
                builder.call(masked_store, [builder.select(clamp, clamped, total), target, align,
                                            masks[part]])
