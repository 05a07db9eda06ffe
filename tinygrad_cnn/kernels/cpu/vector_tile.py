"""A register tile of vector multiply-adds, written in LLVM IR: the product the CPU's
vector-tiles conv kernels (kernels/cpu/conv_vector.py) are built on.

``tile_sums(a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0, accumulate,
relu, c, c0, ldc)`` stores, for r < 6 and j < tile_columns(itemsize)::

    c.flat[c0 + r*ldc + j] = (c.flat[c0 + r*ldc + j] if accumulate else init.flat[init0 + j])
        + sum over i < R, k < K of
          a.flat[offsets[r] + i*a_step + k*a_stride] * b.flat[b0 + i*b_step + k*ldb + j]

and with ``relu`` each value v as ``0 if v < 0 else v`` instead (a ReLU as the sums are
stored: NaN stays NaN, as the ReLU kernel keeps it).

Each of a's 6 rows has its own start (offsets, int64). In a conv's forward they are 6
output pixels' patches, read straight from the channels-last image (a kernel row is one run
of KW*C values, a_stride 1; i steps over the kernel rows, b_step over their weight rows), so
no patch matrix is ever written: 6 pixels of one zero-padded image, or one pixel of 6
images, whose taps inside the image are the run and rows summed. In its weight gradient
they are 6 patch columns, read along the pixels (a_stride the pixel step), times the output
gradient's rows. The 6 x
2-vector tile of sums (12 vectors of 32 bytes: 8 float32 or 4 float64 each) lives in
registers for the whole reduction; each step loads two vectors of b's row, broadcasts one
value of each a row and issues 12 multiply-adds, the shape of a BLAS microkernel.

Why IR: numba has no vector types, and LLVM does not keep a tile written as numba loops in
registers on AVX2's 16 vector registers (its loops over 16 columns ran at 4-18 GFLOP/s
against BLAS's 47-70; bench/RESULTS.md). Here the vectors are explicit, so what LLVM
emits is the tile itself on any target: AVX2 and AVX-512 (ymm registers), or two NEON
registers per vector on ARM. ``llvm.fmuladd`` lets LLVM fuse each multiply-add where the
CPU has FMA and keep IEEE semantics (no other fast-math flag: NaN and inf propagate).

The caller guarantees every index is in bounds: the intrinsic does no checking.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_ROWS = 6
"""Rows of a tile: 6 x 2 vectors of sums, 12 of AVX2's 16 registers, leaving room for the
two vectors of b and a broadcast."""
TILE_BYTES = 64
"""Bytes of a tile row: two 32-byte vectors."""


def tile_columns(itemsize):
    """Columns of a tile for elements of ``itemsize`` bytes (16 float32, 8 float64)."""
    return TILE_BYTES // itemsize


@intrinsic
def tile_sums(typingctx, a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0,
              accumulate, relu, c, c0, ldc):
    """See the module docstring. a, b, init, c: arrays of one float dtype; offsets: int64;
    accumulate, relu: bools."""
    arrays = (a, b, init, c)
    if not all(isinstance(t, types.Array) for t in arrays + (offsets,)) \
            or len({t.dtype for t in arrays}) != 1 \
            or a.dtype not in (types.float32, types.float64) \
            or offsets.dtype != types.int64 or not isinstance(accumulate, types.Boolean) \
            or not isinstance(relu, types.Boolean):
        return None
    sig = types.void(a, offsets, a_step, a_stride, R, K, b, b0, ldb, b_step, init, init0,
                     accumulate, relu, c, c0, ldc)
    return sig, _codegen


def _codegen(context, builder, signature, args):
    A, OFFSETS, a_step, a_stride, R, K, B, b0, ldb, b_step, INIT, init0, accumulate, relu, C, \
        c0, ldc = args
    i64 = ir.IntType(64)

    def data(position, value):
        """The data pointer of argument ``position``, an array."""
        return cgutils.create_struct_proxy(signature.args[position])(
            context, builder, value=value).data

    float_type = context.get_value_type(signature.args[0].dtype)
    size = context.get_abi_sizeof(float_type)
    lanes = TILE_BYTES // 2 // size
    vector = ir.VectorType(float_type, lanes)
    fmuladd = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fmuladd.v{lanes}f{size * 8}")

    def load_vector(pointer, half):
        at = builder.gep(pointer, [ir.Constant(i64, half * lanes)])
        return builder.load(builder.bitcast(at, vector.as_pointer()), align=size)

    a_data, offsets = data(0, A), data(1, OFFSETS)
    a_rows = [builder.gep(a_data, [builder.load(builder.gep(offsets, [ir.Constant(i64, r)]))])
              for r in range(TILE_ROWS)]
    b_data = builder.gep(data(6, B), [b0])
    init_row = builder.gep(data(10, INIT), [init0])
    c_data = builder.gep(data(14, C), [c0])
    c_rows = [builder.gep(c_data, [builder.mul(ir.Constant(i64, r), ldc)])
              for r in range(TILE_ROWS)]
    keep, clamp = (builder.trunc(flag, ir.IntType(1)) if flag.type != ir.IntType(1) else flag
                   for flag in (accumulate, relu))
    sums = []                                   # allocas: LLVM promotes them to registers
    with builder.if_else(keep) as (from_c, from_init):
        with from_c:
            starts_c = [load_vector(row, half) for row in c_rows for half in range(2)]
            block_c = builder.block
        with from_init:
            starts_init = [load_vector(init_row, half) for _ in c_rows for half in range(2)]
            block_init = builder.block
    starts = []                                 # the phis first: they open the block
    for start_c, start_init in zip(starts_c, starts_init):
        start = builder.phi(vector)
        start.add_incoming(start_c, block_c)
        start.add_incoming(start_init, block_init)
        starts.append(start)
    for start in starts:
        slot = cgutils.alloca_once(builder, vector)
        builder.store(start, slot)
        sums.append(slot)
    undef = ir.Constant(vector, ir.Undefined)
    lane0 = ir.Constant(ir.IntType(32), 0)
    broadcast_mask = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
    with cgutils.for_range(builder, R) as kernel_row:
        i = kernel_row.index
        a_i = [builder.gep(row, [builder.mul(i, a_step)]) for row in a_rows]
        b_i = builder.gep(b_data, [builder.mul(i, b_step)])
        with cgutils.for_range(builder, K) as step:
            k = step.index
            b_row = builder.gep(b_i, [builder.mul(k, ldb)])
            b_vectors = [load_vector(b_row, half) for half in range(2)]
            for r in range(TILE_ROWS):
                value = builder.load(builder.gep(a_i[r], [builder.mul(k, a_stride)]))
                a_vector = builder.shuffle_vector(builder.insert_element(undef, value, lane0),
                                                  undef, broadcast_mask)
                for half in range(2):
                    slot = sums[2 * r + half]
                    builder.store(builder.call(fmuladd, [a_vector, b_vectors[half],
                                                         builder.load(slot)]), slot)
    zeros = ir.Constant(vector, [ir.Constant(float_type, 0.0)] * lanes)
    for r, row in enumerate(c_rows):
        for half in range(2):
            at = builder.gep(row, [ir.Constant(i64, half * lanes)])
            total = builder.load(sums[2 * r + half])
            clamped = builder.select(builder.fcmp_ordered("<", total, zeros), zeros, total)
            builder.store(builder.select(clamp, clamped, total),
                          builder.bitcast(at, vector.as_pointer()), align=size)
    return context.get_dummy_value()
