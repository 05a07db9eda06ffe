"""The transforms of Winograd's F(2x2, 3x3) for one tile, over a pixel's channels, written
in LLVM IR with explicit vectors: the inner steps of kernels/cpu/conv_winograd.py.

``winograd_input(img, base, row_step, col_step, v, v0, v_step, channels)`` stores, for
c < channels and the 16 positions xi = 4a + b::

    v[v0 + xi*v_step + c] = sum over i, j < 4 of
        B^T[a, i] B^T[b, j] img[base + i*row_step + j*col_step + c]

``winograd_output(m, m0, m_step, bias, relu, pool, out, at, row_step, col_step, rows, cols,
channels)`` stores, for c < channels, a < rows and b < cols (1 or 2 each: a tile at the
output's edge keeps only its pixels inside)::

    y = bias[c] + sum over xi = 4i + j of A^T[a, i] A^T[b, j] m[m0 + xi*m_step + c]
    out[at + a*row_step + b*col_step + c] = y      # with relu: 0 where y < 0 (NaN stays NaN)

or with ``pool`` the 2x2 max pool of the tile, the largest of its 4 values, at
out[at + c]; and returns whether any of the 4 sums (all of them, kept or not) was NaN or
inf (the pool's maximum is only meant for finite sums: the caller recomputes otherwise).

B^T and A^T are conv_winograd's; their entries are 0 and +-1, so a transform is additions
and subtractions only, rows first, then columns, in the order the matrices give.

Why IR: written as numba loops over the channels, LLVM left both transforms scalar (16
input streams against 16 output streams of possibly aliased arrays is more than its loop
vectoriser checks at run time), 5 ns a tile and channel. Here the channels go a vector of
the target's width at a time (isa.vector_bytes), the last, partial one by masked loads and
stores.

The caller guarantees every index is in bounds: the intrinsics do no checking.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.vector_tile import (
    VECTOR_BYTES, array_data, as_i64, column_masks, flag, masked_access)

B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
"""Winograd F(2, 3)'s input transform (Lavin and Gray's B^T)."""
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))
"""Its output transform (A^T)."""

_I64 = ir.IntType(64)


@intrinsic
def winograd_input(typingctx, img, base, row_step, col_step, v, v0, v_step, channels):
    """See the module docstring. img, v: 1-D arrays of one float dtype; the rest integers."""
    if not _floats(img, v) or not _integers(base, row_step, col_step, v0, v_step, channels):
        return None
    return types.void(img, base, row_step, col_step, v, v0, v_step, channels), _input_codegen


@intrinsic
def winograd_output(typingctx, m, m0, m_step, bias, relu, pool, out, at, row_step, col_step,
                    rows, cols, channels):
    """See the module docstring. m, bias, out: 1-D arrays of one float dtype; relu, pool:
    bools; the rest integers. Returns a bool."""
    if not _floats(m, bias, out) or not isinstance(relu, types.Boolean) \
            or not isinstance(pool, types.Boolean) \
            or not _integers(m0, m_step, at, row_step, col_step, rows, cols, channels):
        return None
    return types.boolean(m, m0, m_step, bias, relu, pool, out, at, row_step, col_step, rows,
                         cols, channels), _output_codegen


def _floats(*arrays):
    return all(isinstance(a, types.Array) and a.ndim == 1 for a in arrays) \
        and len({a.dtype for a in arrays}) == 1 and arrays[0].dtype in (types.float32,
                                                                         types.float64)


def _integers(*values):
    return all(isinstance(v, types.Integer) for v in values)


def combine(builder, matrix, values):
    """matrix (rows of 0 and +-1) times the list ``values``: one LLVM value a row, its
    terms added and subtracted in column order."""
    results = []
    for row in matrix:
        total = None
        for coefficient, value in zip(row, values):
            if coefficient == 0:
                continue
            if total is None:
                total = value if coefficient == 1 else builder.fneg(value)
            else:
                total = (builder.fadd if coefficient == 1 else builder.fsub)(total, value)
        results.append(total)
    return results


def transform_2d(builder, matrix, grid):
    """matrix . grid . matrix^T for a square grid (a list of rows of LLVM values)."""
    rows = [combine(builder, matrix, [grid[i][j] for i in range(len(grid))])
            for j in range(len(grid[0]))]                           # rows[j][a]: column j
    return [combine(builder, matrix, [rows[j][a] for j in range(len(rows))])
            for a in range(len(matrix))]


class _Channels:
    """The loop over a pixel's channels, a vector of the target's width at a time, the last
    partial vector masked; load and store at element pointers."""

    def __init__(self, context, builder, dtype, channels):
        self.builder = builder
        self.float_type = context.get_value_type(dtype)
        self.size = context.get_abi_sizeof(self.float_type)
        self.lanes = VECTOR_BYTES // self.size
        self.vector = ir.VectorType(self.float_type, self.lanes)
        self.channels = channels
        self.masked_load, self.masked_store = masked_access(builder, self.vector)

    def loop(self, body):
        """body(c, mask) for c = 0, lanes, ..., mask None for whole vectors."""
        b, step = self.builder, ir.Constant(_I64, self.lanes)
        whole = b.mul(b.udiv(self.channels, step), step)
        with cgutils.for_range_slice(b, ir.Constant(_I64, 0), whole, step) as (c, _):
            body(c, None)
        with b.if_then(b.icmp_unsigned("<", whole, self.channels)):
            mask = column_masks(b, b.sub(self.channels, whole), self.lanes, 1)[0]
            body(whole, mask)

    def load(self, pointer, mask):
        b, vp = self.builder, self.builder.bitcast(pointer, self.vector.as_pointer())
        if mask is None:
            return b.load(vp, align=self.size)
        return b.call(self.masked_load, [vp, ir.Constant(ir.IntType(32), self.size), mask,
                                         ir.Constant(self.vector, ir.Undefined)])

    def store(self, value, pointer, mask):
        b, vp = self.builder, self.builder.bitcast(pointer, self.vector.as_pointer())
        if mask is None:
            b.store(value, vp, align=self.size)
        else:
            b.call(self.masked_store, [value, vp, ir.Constant(ir.IntType(32), self.size), mask])


def _input_codegen(context, builder, signature, args):
    IMG, base, row_step, col_step, V, v0, v_step, channels = args
    i64 = [as_i64(builder, a) for a in (base, row_step, col_step, v0, v_step, channels)]
    base, row_step, col_step, v0, v_step, channels = i64
    lanes = _Channels(context, builder, signature.args[0].dtype, channels)
    img = builder.gep(array_data(context, builder, signature, 0, IMG), [base])
    v = builder.gep(array_data(context, builder, signature, 4, V), [v0])

    def tile(c, mask):
        grid = [[lanes.load(builder.gep(img, [builder.add(builder.add(
            builder.mul(ir.Constant(_I64, i), row_step), builder.mul(ir.Constant(_I64, j),
                                                                     col_step)), c)]), mask)
                 for j in range(4)] for i in range(4)]
        result = transform_2d(builder, B_T, grid)
        for a in range(4):
            for bb in range(4):
                at = builder.add(builder.mul(ir.Constant(_I64, 4 * a + bb), v_step), c)
                lanes.store(result[a][bb], builder.gep(v, [at]), mask)
    lanes.loop(tile)
    return context.get_dummy_value()


def _output_codegen(context, builder, signature, args):
    M, m0, m_step, BIAS, relu, pool, OUT, at, row_step, col_step, rows, cols, channels = args
    m0, m_step, at, row_step, col_step, rows, cols, channels = (
        as_i64(builder, a) for a in (m0, m_step, at, row_step, col_step, rows, cols, channels))
    lanes = _Channels(context, builder, signature.args[0].dtype, channels)
    m = builder.gep(array_data(context, builder, signature, 0, M), [m0])
    bias = array_data(context, builder, signature, 3, BIAS)
    out = builder.gep(array_data(context, builder, signature, 6, OUT), [at])
    clamp, pooled = flag(builder, relu), flag(builder, pool)
    zeros = ir.Constant(lanes.vector, [ir.Constant(lanes.float_type, 0.0)] * lanes.lanes)
    bad = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(1), 0))

    def tile(c, mask):
        grid = [[lanes.load(builder.gep(m, [builder.add(
            builder.mul(ir.Constant(_I64, 4 * i + j), m_step), c)]), mask)
                 for j in range(4)] for i in range(4)]
        y = transform_2d(builder, A_T, grid)
        b = lanes.load(builder.gep(bias, [c]), mask)
        sums = [[builder.fadd(y[a][bb], b) for bb in range(2)] for a in range(2)]
        flat = [s for row in sums for s in row]
        probe = builder.fmul(builder.fadd(builder.fadd(flat[0], flat[1]),
                                          builder.fadd(flat[2], flat[3])), zeros)
        if mask is not None:
            probe = builder.select(mask, probe, zeros)
        odd = builder.fcmp_unordered("une", probe, zeros)
        any_odd = builder.icmp_unsigned("!=", builder.bitcast(odd, ir.IntType(lanes.lanes)),
                                        ir.Constant(ir.IntType(lanes.lanes), 0))
        builder.store(builder.or_(builder.load(bad), any_odd), bad)
        values = []
        for value in flat:
            clamped = builder.select(builder.fcmp_ordered("<", value, zeros), zeros, value)
            values.append(builder.select(clamp, clamped, value))
        with builder.if_else(pooled) as (pool_tile, store_tile):
            with pool_tile:
                largest = values[0]
                for value in values[1:]:
                    largest = builder.select(builder.fcmp_ordered(">", value, largest), value,
                                             largest)
                lanes.store(largest, builder.gep(out, [c]), mask)
            with store_tile:
                for a in range(2):
                    for bb in range(2):
                        keep = builder.and_(
                            builder.icmp_signed("<", ir.Constant(_I64, a), rows),
                            builder.icmp_signed("<", ir.Constant(_I64, bb), cols))
                        with builder.if_then(keep):
                            where = builder.add(builder.add(
                                builder.mul(ir.Constant(_I64, a), row_step),
                                builder.mul(ir.Constant(_I64, bb), col_step)), c)
                            lanes.store(values[2 * a + bb], builder.gep(out, [where]), mask)
    lanes.loop(tile)
    return builder.zext(builder.load(bad), context.get_value_type(types.boolean))
