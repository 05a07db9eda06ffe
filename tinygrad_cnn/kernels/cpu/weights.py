"""@njit copy of an OIHW conv weight into the layout the vector tiles read: columns (KH*KW*C,
O), one per output channel.

NumPy's transposing copy of this order goes a value at a time along the weight's largest
stride: 128 -> 128 3x3 (590 KB) took 68-120 us, against 8 for a plain copy, and the conv
itself at batch 1 about 20 (bench/RESULTS.md, session 17). (The patch rows (O, KH*KW*C)
keep NumPy's copy, which moves runs of KH*KW values: 38 us, as fast as blocks here.)
Here the weight, viewed as a matrix, is transposed in blocks of 8 x 8 values: ``_transpose8``
loads 8 rows of 8 as vectors, transposes them with 24 shuffles (LLVM IR; three rounds of
interleaving pairs, pairs of pairs, halves) and stores the 8 rows, each where its offset
says, so that the reordering of the taps and the input channels costs nothing more. The
values left over at the edges (fewer than 8 rows or columns) are copied one by one.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from tinygrad_cnn.kernels.cpu.vector_tile import array_data, as_i64
from tinygrad_cnn.kernels.jit import njit

_ROUNDS = (([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]),
           ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]),
           ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]))
"""The shuffles' lane masks of the three rounds: (low, high) of each pair of vectors."""


@intrinsic
def _transpose8(typingctx, src, src0, src_rows, dst, dst_rows):
    """For k, q < 8: dst[dst_rows[k] + q] = src[src0 + src_rows[q] + k]: the 8 x 8 block
    whose row q starts at src[src0 + src_rows[q]], transposed, its row k stored from
    dst[dst_rows[k]]. src, dst: 1-D arrays of one float dtype; src_rows, dst_rows: 1-D
    int64 arrays of 8; src0 an integer."""
    arrays = (src, src_rows, dst, dst_rows)
    if not all(isinstance(t, types.Array) and t.ndim == 1 for t in arrays) \
            or src.dtype != dst.dtype or src.dtype not in (types.float32, types.float64) \
            or src_rows.dtype != types.int64 or dst_rows.dtype != types.int64 \
            or not isinstance(src0, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        values = ir.VectorType(context.get_value_type(signature.args[0].dtype), 8)
        align = context.get_abi_sizeof(values.element)
        data = {k: array_data(context, builder, signature, k, args[k]) for k in (0, 2, 3, 4)}
        start = builder.gep(data[0], [as_i64(builder, args[1])])

        def row(pointer, offsets, k):
            at = builder.load(builder.gep(offsets, [ir.Constant(i64, k)]))
            return builder.bitcast(builder.gep(pointer, [at]), values.as_pointer())

        rows = [builder.load(row(start, data[2], q), align=align) for q in range(8)]
        rows = _shuffled(rows, lambda a, b, lanes: builder.shuffle_vector(
            a, b, ir.Constant(ir.VectorType(ir.IntType(32), 8), lanes)))
        for k in range(8):
            builder.store(rows[_ORDER[k]], row(data[3], data[4], k), align=align)
        return context.get_dummy_value()
    return types.void(src, src0, src_rows, dst, dst_rows), codegen


def _shuffled(rows, shuffle):
    """The 8 rows after the three rounds, which pair rows 1, 2, then 4 apart;
    ``shuffle(a, b, lanes)`` picks the ``lanes`` of a and b side by side (LLVM's
    shufflevector in the intrinsic, NumPy indexing in _order)."""
    for (low, high), span in zip(_ROUNDS, (1, 2, 4)):
        mixed = list(rows)
        for k in range(8):
            if not k & span:
                a, b = rows[k], rows[k + span]
                mixed[k], mixed[k + span] = shuffle(a, b, low), shuffle(a, b, high)
        rows = mixed
    return rows


def _order():
    """Which of _shuffled's vectors holds the transposed row k."""
    rows = [np.arange(q * 8, q * 8 + 8) for q in range(8)]   # row q: elements q*8 + k
    rows = _shuffled(rows, lambda a, b, lanes: np.concatenate([a, b])[lanes])
    firsts = [int(r[0]) for r in rows]                # transposed row k starts with k
    return tuple(firsts.index(k) for k in range(8))


_ORDER = _order()


@njit
def column_weights(w, out):
    """out (T, C, O)[t, c, o] = w[o, c, t] for the OIHW weight w (C-contiguous; T = KH*KW
    taps): w as the matrix (O, C*T) transposed, its column m = c*T + t stored as out's row
    t*C + c."""
    O, C, T = w.shape[0], w.shape[1], w.shape[2] * w.shape[3]
    M = C * T
    src, dst = w.reshape(w.size), out.reshape(out.size)
    at = np.empty(M, np.int64)                  # where column m starts in out
    for m in range(M):
        at[m] = ((m % T) * C + m // T) * O
    O8, M8 = O - O % 8, M - M % 8
    src_rows, dst_rows = np.empty(8, np.int64), np.empty(8, np.int64)
    for o0 in range(0, O8, 8):
        for q in range(8):
            src_rows[q] = (o0 + q) * M
        for m0 in range(0, M8, 8):
            for k in range(8):
                dst_rows[k] = at[m0 + k] + o0
            _transpose8(src, m0, src_rows, dst, dst_rows)
    for o in range(O):                          # the edges: the last rows and columns
        for m in range(M8 if o < O8 else 0, M):
            dst[at[m] + o] = src[o * M + m]
