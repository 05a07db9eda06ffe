"""A register tile of vector multiply-adds, written in LLVM IR: the product the CPU's
vector-tiles conv kernels (kernels/cpu/conv_vector.py) are built on.

``tile_sums(a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0, accumulate,
relu, c, c0, ldc, columns, units)`` stores, for r < 6 and j < columns (at most
units * tile_columns(itemsize))::

    c.flat[c0 + r*ldc + j] = (c.flat[c0 + r*ldc + j] if accumulate else init.flat[init0 + j])
        + sum over i < R, k < K of
          a.flat[offsets[r] + i*a_step + k*a_stride] * b.flat[b0 + i*b_step + k*ldb + j]

and with ``relu`` each value v as ``0 if v < 0 else v`` instead (a ReLU as the sums are
stored: NaN stays NaN, as the ReLU kernel keeps it). A tile of fewer columns than its
vectors hold reads and writes only those (masked loads and stores), so a conv's last block
of channels stores straight into its output; a whole tile takes plain ones.

Each of a's 6 rows has its own start (offsets, int64). In a conv's forward they are 6
output pixels' patches, read straight from the channels-last image (a kernel row is one run
of KW*C values, a_stride 1; i steps over the kernel rows, b_step over their weight rows), so
no patch matrix is ever written: 6 pixels of one zero-padded image, or one pixel of 6
images, whose taps inside the image are the run and rows summed. In its weight gradient
they are 6 patch columns, read along the pixels (a_stride the pixel step), times the output
gradient's rows. The tile of sums lives in vector registers for the whole reduction; each
step loads a row of b's vectors, broadcasts one value of each a row and issues a multiply-add
per vector of sums, the shape of a BLAS microkernel.

Its vectors are the target's widest (isa.vector_bytes): 32 bytes (AVX2's ymm), 16 on ARM
(NEON), or 64 with AVX-512 (zmm). A tile row is ``units`` times 64 bytes (16 float32, 8
float64): on AVX2 one unit, two vectors, 6 x 2 = 12 of its 16 registers, leaving room for a
row of b and a broadcast. On ARM a unit is four NEON vectors: 24 sums, a row of b and the
a value a row's multiply-adds take by lane, 29 of its 32 registers (the AArch64 code LLVM
emits for the kernels keeps the sums in registers: tests/kernels/test_vector_tile_isas.py).
On AVX-512 a unit is one zmm vector, and a row may be 1 to MAX_UNITS = 3 of them (16, 32
or 48 float32 columns: 6, 12 or 18 of its 32 registers).
Each broadcast of an a value feeds one multiply-add per vector of its row, and the core
issues about one broadcast a cycle: a one-vector row runs both FMA units at half their rate
(its second set of sums, for the odd steps of k, covers the multiply-adds' latency), two or
three vectors keep both busy. The kernels take rows of 2 units while the output channels
left (padded to 16) are a multiple of 32, one row of 3 where they are 48 or another odd
multiple of 16 (first), and 1 unit only for a conv of 16 channels or fewer (tile_units), so
the padding to whole tiles stays at 16 columns on every ISA.

Why IR: numba has no vector types, and LLVM does not keep a tile written as numba loops in
registers on AVX2's 16 vector registers (its loops over 16 columns ran at 4-18 GFLOP/s
against BLAS's 47-70; bench/RESULTS.md). Here the vectors are explicit, so what LLVM
emits is the tile itself on any target. ``llvm.fmuladd`` lets LLVM fuse each multiply-add
where the CPU has FMA and keep IEEE semantics (no other fast-math flag: NaN and inf
propagate).

The caller guarantees every index is in bounds: the intrinsic does no checking.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.isa import vector_bytes
from tinygrad_cnn.kernels.jit import njit

TILE_ROWS = 6
"""Rows of a tile (see the module docstring)."""
VECTOR_BYTES = vector_bytes()
"""Bytes of a vector of sums: the target's widest register (isa.vector_bytes)."""
TILE_BYTES = 64
"""Bytes of a unit of a tile row: 16 float32, two AVX2 vectors or one AVX-512 vector."""
MAX_UNITS = 3 if VECTOR_BYTES == TILE_BYTES else 1
"""Most units of a tile row: 3 where a unit is one vector (AVX-512), else 1."""


def tile_columns(itemsize):
    """Columns of a tile for elements of ``itemsize`` bytes (16 float32, 8 float64)."""
    return TILE_BYTES // itemsize


@njit
def tile_units(remaining):
    """Units of the next block of output channels, of ``remaining`` (a multiple of a unit's
    columns) still to do: 2 while they are an even number of units, 3 where an odd number
    of 3 or more, else 1 (see the module docstring); always 1 where MAX_UNITS is 1."""
    if MAX_UNITS == 1 or remaining <= 1:
        return 1
    return 2 if remaining % 2 == 0 else 3


@intrinsic
def tile_sums(typingctx, a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0,
              accumulate, relu, c, c0, ldc, columns, units):
    """See the module docstring. a, b, init, c: arrays of one float dtype; offsets: int64;
    accumulate, relu: bools; columns: an integer; units: an integer from 1 to MAX_UNITS."""
    arrays = (a, b, init, c)
    if not all(isinstance(t, types.Array) for t in arrays + (offsets,)) \
            or len({t.dtype for t in arrays}) != 1 \
            or a.dtype not in (types.float32, types.float64) \
            or offsets.dtype != types.int64 or not isinstance(accumulate, types.Boolean) \
            or not isinstance(relu, types.Boolean) or not isinstance(units, types.Integer) \
            or not isinstance(columns, types.Integer):
        return None
    sig = types.void(a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0,
                     accumulate, relu, c, c0, ldc, columns, units)
    return sig, _codegen


def _codegen(context, builder, signature, args):
    """The tile of one unit a row, and where MAX_UNITS allows, a branch on ``units`` to the
    tiles of 2 and 3."""
    vectors = TILE_BYTES // VECTOR_BYTES
    if MAX_UNITS == 1:
        _tile(context, builder, signature, args, vectors)
        return context.get_dummy_value()
    units = args[-1]
    with builder.if_else(builder.icmp_signed("==", units, ir.Constant(units.type, 1))) \
            as (one, more):
        with one:
            _tile(context, builder, signature, args, vectors)
        with more:
            with builder.if_else(builder.icmp_signed("==", units, ir.Constant(units.type, 2))) \
                    as (two, three):
                with two:
                    _tile(context, builder, signature, args, 2 * vectors)
                with three:
                    _tile(context, builder, signature, args, 3 * vectors)
    return context.get_dummy_value()


def flag(builder, value):
    """A bool argument as LLVM's i1."""
    return builder.trunc(value, ir.IntType(1)) if value.type != ir.IntType(1) else value


def as_i64(builder, value):
    """An integer argument as LLVM's i64 (sign-extended)."""
    return builder.sext(value, ir.IntType(64)) if value.type.width < 64 else value


def array_data(context, builder, signature, position, value):
    """The data pointer of an intrinsic's array argument at ``position`` (LLVM ``value``)."""
    return cgutils.create_struct_proxy(signature.args[position])(
        context, builder, value=value).data


def _tile(context, builder, signature, args, vectors):
    """The IR of one tile whose rows are ``vectors`` vectors of VECTOR_BYTES."""
    A, OFFSETS, a_step, a_stride, R, K, B, b0, ldb, b_step, INIT, init0, accumulate, relu, C, \
        c0, ldc, columns, _ = args
    i64 = ir.IntType(64)

    def data(position, value):
        return array_data(context, builder, signature, position, value)

    float_type = context.get_value_type(signature.args[0].dtype)
    size = context.get_abi_sizeof(float_type)
    lanes = VECTOR_BYTES // size
    vector = ir.VectorType(float_type, lanes)
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fmuladd.v{lanes}f{size * 8}")

    def load_vector(pointer, part):
        return builder.load(vector_at(builder, pointer, part, vector), align=size)

    masks = column_masks(builder, columns, lanes, vectors)
    whole = builder.icmp_signed(">=", columns, ir.Constant(columns.type, lanes * vectors))
    _, masked_store = masked_access(builder, vector)
    align = ir.Constant(ir.IntType(32), size)

    a_data, offsets = data(0, A), data(1, OFFSETS)
    a_rows = [builder.gep(a_data, [builder.load(builder.gep(offsets, [ir.Constant(i64, r)]))])
              for r in range(TILE_ROWS)]
    b_data = builder.gep(data(6, B), [b0])
    init_row = builder.gep(data(10, INIT), [init0])
    c_data = builder.gep(data(14, C), [c0])
    c_rows = [builder.gep(c_data, [builder.mul(ir.Constant(i64, r), ldc)])
              for r in range(TILE_ROWS)]
    keep, clamp = flag(builder, accumulate), flag(builder, relu)
    parts = range(vectors)
    sums = starting_sums(builder, keep, c_rows, init_row, vector, vectors, masks)
    zeros = ir.Constant(vector, [ir.Constant(float_type, 0.0)] * lanes)
    # A tile of one vector per row has too few sums to cover the multiply-adds' latency: it
    # keeps a second set for the odd steps of k, added to the first at the end.
    chains = [sums]
    if vectors == 1:
        chains.append([cgutils.alloca_once_value(builder, zeros) for _ in sums])

    def multiply_add(a_i, b_i, k, chain):
        """Step k of the reduction into the sums of ``chain``."""
        b_row = builder.gep(b_i, [builder.mul(k, ldb)])
        b_vectors = [load_vector(b_row, part) for part in parts]
        for r in range(TILE_ROWS):
            value = builder.load(builder.gep(a_i[r], [builder.mul(k, a_stride)]))
            a_vector = broadcast(builder, value, vector)
            for part in parts:
                slot = chain[vectors * r + part]
                builder.store(builder.call(fmuladd, [a_vector, b_vectors[part],
                                                     builder.load(slot)]), slot)

    one = ir.Constant(K.type, 1)
    with cgutils.for_range(builder, R) as kernel_row:
        i = kernel_row.index
        a_i = [builder.gep(row, [builder.mul(i, a_step)]) for row in a_rows]
        b_i = builder.gep(b_data, [builder.mul(i, b_step)])
        with cgutils.for_range(builder, builder.udiv(K, ir.Constant(K.type, len(chains)))) \
                as step:
            for c, chain in enumerate(chains):
                k = builder.add(builder.mul(step.index, ir.Constant(K.type, len(chains))),
                                ir.Constant(K.type, c))
                multiply_add(a_i, b_i, k, chain)
        if len(chains) > 1:                     # an odd K's last step
            with builder.if_then(builder.icmp_unsigned("==", builder.and_(K, one), one)):
                multiply_add(a_i, b_i, builder.sub(K, one), sums)
    for other in chains[1:]:
        for slot, more in zip(sums, other):
            builder.store(builder.fadd(builder.load(slot), builder.load(more)), slot)
    results = []
    for r in range(TILE_ROWS):
        for part in parts:
            total = builder.load(sums[vectors * r + part])
            clamped = builder.select(builder.fcmp_ordered("<", total, zeros), zeros, total)
            results.append(builder.select(clamp, clamped, total))
    targets = [vector_at(builder, row, part, vector) for row in c_rows for part in parts]
    with builder.if_else(whole) as (plain, masked):
        with plain:
            for result, target in zip(results, targets):
                builder.store(result, target, align=size)
        with masked:
            for k, (result, target) in enumerate(zip(results, targets)):
                builder.call(masked_store, [result, target, align, masks[k % vectors]])


def broadcast(builder, value, vector):
    """``value`` (a scalar) in every lane of a ``vector``."""
    undef = ir.Constant(vector, ir.Undefined)
    lanes = ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count)
    return builder.shuffle_vector(
        builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0)), undef, lanes)


def vector_at(builder, row, part, vector):
    """A pointer to the ``part``-th ``vector`` from the element pointer ``row``."""
    at = builder.gep(row, [ir.Constant(ir.IntType(64), part * vector.count)])
    return builder.bitcast(at, vector.as_pointer())


def starting_sums(builder, keep, c_rows, init_row, vector, vectors, masks):
    """A tile's sums, row by row ``vectors`` ``vector``s (allocas, which LLVM promotes to
    registers), set to what the rows c_rows hold where ``keep`` (an i1; masked loads: the
    lanes of ``masks`` only), else each row to the vectors at init_row."""
    load, _ = masked_access(builder, vector)
    align = ir.Constant(ir.IntType(32), _element_bytes(vector))
    parts = range(vectors)
    with builder.if_else(keep) as (from_c, from_init):
        with from_c:
            starts_c = [builder.call(load, [vector_at(builder, row, part, vector), align,
                                            masks[part], ir.Constant(vector, ir.Undefined)])
                        for row in c_rows for part in parts]
            block_c = builder.block
        with from_init:
            starts_init = [builder.load(vector_at(builder, init_row, part, vector),
                                        align=_element_bytes(vector))
                           for _ in c_rows for part in parts]
            block_init = builder.block
    starts = []                                 # the phis first: they open the block
    for start_c, start_init in zip(starts_c, starts_init):
        start = builder.phi(vector)
        start.add_incoming(start_c, block_c)
        start.add_incoming(start_init, block_init)
        starts.append(start)
    return [cgutils.alloca_once_value(builder, start) for start in starts]


def _element_bytes(vector):
    """Bytes of one element of an LLVM float or double ``vector``."""
    return 8 if isinstance(vector.element, ir.DoubleType) else 4


def masked_access(builder, vector):
    """LLVM's masked load and store of ``vector``s (of float or double)."""
    lanes, size = vector.count, _element_bytes(vector)
    mask = ir.VectorType(ir.IntType(1), lanes)
    name = f"v{lanes}f{size * 8}.p0"
    load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector.as_pointer(), ir.IntType(32), mask,
                                                 vector]), f"llvm.masked.load.{name}")
    store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vector, vector.as_pointer(),
                                                        ir.IntType(32), mask]),
        f"llvm.masked.store.{name}")
    return load, store


def column_masks(builder, columns, lanes, vectors):
    """For each of a tile row's ``vectors`` vectors of ``lanes``, the mask of its lanes
    below ``columns`` (an integer value)."""
    index = ir.VectorType(columns.type, lanes)
    splat = builder.shuffle_vector(
        builder.insert_element(ir.Constant(index, ir.Undefined), columns,
                               ir.Constant(ir.IntType(32), 0)),
        ir.Constant(index, ir.Undefined),
        ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
    return [builder.icmp_signed("<", ir.Constant(index, [part * lanes + k for k in range(lanes)]),
                                splat) for part in range(vectors)]
