"""The register-tiled matrix products the fused CPU conv kernels are built on.

``matmul_into(a, b, c)`` stores ``a @ b`` in ``c`` in outer-product form, as BLAS kernels
do: a tile of ``c`` (6 rows x 64 columns, or 8 x 32) lives in vector registers for the whole
reduction, and each step adds one element of ``a`` (broadcast) times a contiguous run of a
row of ``b``. No horizontal sums, so it runs at the core's multiply-add rate whatever the
reduction's length (bench/RESULTS.md compares it with ``matmul_nt_add`` and NumPy's sgemm).
Its tiles need AVX-512's 32 vector registers (backends/cpu/settings.register_tiles) and at
least 32 columns; below that ``matmul_nt_add`` is the faster form. It stores rather than
adds so that every caller shares one compiled version (numba compiles a literal flag once
per value, and each version lengthens the cold start); callers that sum add the result
themselves.

``matmul_nt_add(a, b, c)`` adds ``a @ b.T`` to ``c``: every element of the result is a dot
product of a row of ``a`` with a row of ``b``, so the reduction runs along memory in both
operands. The product is computed in 6x4 tiles: 24 scalar sums live in registers for
the whole reduction, and with ``fastmath={"reassoc", "contract"}`` LLVM turns each into a
vector of partial sums fed by fused multiply-adds (AVX2 or AVX-512, whatever the host
has); each output then needs one horizontal sum.

Serial by design: the conv kernels call them on cache-sized blocks of the images each
thread is given, so no BLAS thread pool competes with the backend's threads for the cores.
Only reassociation and contraction are allowed: NaN propagates and inf * 0 is NaN as in
plain IEEE arithmetic, but the rounding differs from a left-to-right sum (and a sum near
float32's limit may overflow to inf in one order and not another); the tests compare with
NumPy to 1e-4 for float32 and 1e-10 for float64.
"""
import numba

from tinygrad_cnn.kernels.jit import njit_gemm, stack_tile

_WIDE_ROWS, _WIDE = 6, 64
"""matmul_into's main tile: 6 rows x 64 columns, 24 AVX-512 registers of float32 sums (and
4 for a row of b), the most that 32 registers hold with room for the broadcasts."""
_NARROW_ROWS, _NARROW = 8, 32
"""matmul_into's tile for a 32-column remainder (SimpleCNN's 32-channel layers): 8 x 32."""
_WIDE_SIZE, _NARROW_SIZE = _WIDE_ROWS * _WIDE, _NARROW_ROWS * _NARROW


@njit_gemm
def matmul_into(a, b, c):
    """c (M, N) = a (M, K) @ b (K, N), in the arrays' own dtype; a may be a transposed view.

    64-column tiles, then a 32-column one where N leaves 32 or more, each over the rows
    that fill whole tiles; then plain rows for the rest (fewer than 32 columns, fewer rows
    than a tile).

    Compile time is the cost of these tiles (each compiled version adds ~2 s to a cold
    start, since numba optimises a kernel again inside every caller that links it): one
    level of calls, and callers pass a as an 'A'-layout view (a[:, :K], or a transposed
    one), so that the weight gradient's transposed patches and the other callers' plain
    rows share one compiled version, at no measurable cost in speed.
    """
    M, N = a.shape[0], b.shape[1]
    wide = N - N % _WIDE
    narrow = wide + (N - wide) // _NARROW * _NARROW
    wide_rows, narrow_rows = M - M % _WIDE_ROWS, M - M % _NARROW_ROWS
    _wide_tiles(a, b, c, wide_rows, wide)
    _narrow_tiles(a, b, c, narrow_rows, wide, narrow)
    _edges(a, b, c, wide_rows, wide, narrow_rows, narrow)


@njit_gemm
def _wide_tiles(a, b, c, m1, n1):
    """c[:m1, :n1] = a[:m1] @ b[:, :n1] for m1 a multiple of 6 and n1 of 64.

    The tile is stack memory (stack_tile), so LLVM keeps it in registers: the r and j loops
    have constant trip counts and are unrolled into 24 vector multiply-adds per k.
    """
    K = a.shape[1]
    acc = numba.carray(stack_tile(_WIDE_SIZE, c.dtype), (_WIDE_ROWS, _WIDE))
    zero = c.dtype.type(0)
    for m in range(0, m1, _WIDE_ROWS):
        for n in range(0, n1, _WIDE):
            for r in range(_WIDE_ROWS):
                for j in range(_WIDE):
                    acc[r, j] = zero
            for k in range(K):
                bk = b[k, n:n + _WIDE]
                for r in range(_WIDE_ROWS):
                    ar = a[m + r, k]
                    for j in range(_WIDE):
                        acc[r, j] += ar * bk[j]
            for r in range(_WIDE_ROWS):
                cr = c[m + r, n:n + _WIDE]
                for j in range(_WIDE):
                    cr[j] = acc[r, j]


@njit_gemm
def _narrow_tiles(a, b, c, m1, n0, n1):
    """As _wide_tiles for m1 a multiple of 8 and 32 columns, in 8 x 32 tiles, two k per
    step: a 32-long j loop alone is unrolled whole before LLVM vectorises it, and the rows
    then become the vector lanes (gathers, 30x slower)."""
    K = a.shape[1]
    k_pairs = K - K % 2
    acc = numba.carray(stack_tile(_NARROW_SIZE, c.dtype), (_NARROW_ROWS, _NARROW))
    zero = c.dtype.type(0)
    for m in range(0, m1, _NARROW_ROWS):
        for n in range(n0, n1, _NARROW):
            for r in range(_NARROW_ROWS):
                for j in range(_NARROW):
                    acc[r, j] = zero
            for k in range(0, k_pairs, 2):
                b0, b1 = b[k, n:n + _NARROW], b[k + 1, n:n + _NARROW]
                for r in range(_NARROW_ROWS):
                    a0, a1 = a[m + r, k], a[m + r, k + 1]
                    for j in range(_NARROW):
                        acc[r, j] += a0 * b0[j]
                        acc[r, j] += a1 * b1[j]
            for r in range(_NARROW_ROWS):
                cr = c[m + r, n:n + _NARROW]
                for j in range(_NARROW):
                    cr[j] = acc[r, j]
            if K > k_pairs:                     # an odd K: its last step, straight into c
                bk = b[K - 1, n:n + _NARROW]
                for r in range(_NARROW_ROWS):
                    ar, cr = a[m + r, K - 1], c[m + r, n:n + _NARROW]
                    for j in range(_NARROW):
                        cr[j] += ar * bk[j]


@njit_gemm
def _edges(a, b, c, wide_rows, wide, narrow_rows, narrow):
    """What the tiles leave of c = a @ b: rows below the 6-row tiles in their columns, rows
    below the 8-row tiles in theirs, and every row right of both. Arguments are never
    literal constants, so numba compiles one version (it compiles one per literal)."""
    M, N = c.shape
    _plain_rows(a, b, c, wide_rows, M, wide - wide, wide)
    _plain_rows(a, b, c, narrow_rows, M, wide, narrow)
    _plain_rows(a, b, c, M - M, M, narrow, N)


@njit_gemm
def _plain_rows(a, b, c, m0, m1, n0, n1):
    """c[m0:m1, n0:n1] = a[m0:m1] @ b[:, n0:n1], one row of c at a time."""
    K = a.shape[1]
    zero = c.dtype.type(0)
    for m in range(m0, m1):
        cr = c[m, n0:n1]
        for j in range(n1 - n0):
            cr[j] = zero
        for k in range(K):
            ak = a[m, k]
            bk = b[k, n0:n1]
            for j in range(n1 - n0):
                cr[j] += ak * bk[j]


@njit_gemm
def matmul_nt_add(a, b, c):
    """c (M, N) += a (M, K) @ b (N, K).T, in the arrays' own dtype.

    6x4 tiles: 24 sums, 6 rows of a against 4 rows of b, which is as many vector registers
    as AVX2 and AVX-512 leave room for (8x4 and 4x8 spill). Edges: 6x1 tiles right of the tiles, 1x4 and
    single dot products below them.
    """
    M, K = a.shape
    N = b.shape[0]
    m6 = M - M % 6
    n4 = N - N % 4
    zero = c.dtype.type(0)
    for m in range(0, m6, 6):
        for n in range(0, n4, 4):
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            s40 = s41 = s42 = s43 = s50 = s51 = s52 = s53 = zero
            for k in range(K):
                b0, b1, b2, b3 = b[n, k], b[n + 1, k], b[n + 2, k], b[n + 3, k]
                a0, a1, a2 = a[m, k], a[m + 1, k], a[m + 2, k]
                s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3  # noqa: E702
                s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3  # noqa: E702
                s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3  # noqa: E702
                a3, a4, a5 = a[m + 3, k], a[m + 4, k], a[m + 5, k]
                s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3  # noqa: E702
                s40 += a4 * b0; s41 += a4 * b1; s42 += a4 * b2; s43 += a4 * b3  # noqa: E702
                s50 += a5 * b0; s51 += a5 * b1; s52 += a5 * b2; s53 += a5 * b3  # noqa: E702
            _add_row(c, m, n, s00, s01, s02, s03)
            _add_row(c, m + 1, n, s10, s11, s12, s13)
            _add_row(c, m + 2, n, s20, s21, s22, s23)
            _add_row(c, m + 3, n, s30, s31, s32, s33)
            _add_row(c, m + 4, n, s40, s41, s42, s43)
            _add_row(c, m + 5, n, s50, s51, s52, s53)
        for n in range(n4, N):                  # columns right of the tiles: 6x1 tiles
            s0 = s1 = s2 = s3 = s4 = s5 = zero
            for k in range(K):
                bk = b[n, k]
                s0 += a[m, k] * bk; s1 += a[m + 1, k] * bk; s2 += a[m + 2, k] * bk  # noqa: E702
                s3 += a[m + 3, k] * bk; s4 += a[m + 4, k] * bk; s5 += a[m + 5, k] * bk  # noqa: E702
            c[m, n] += s0
            c[m + 1, n] += s1
            c[m + 2, n] += s2
            c[m + 3, n] += s3
            c[m + 4, n] += s4
            c[m + 5, n] += s5
    for m in range(m6, M):                      # rows below the tiles: 1x4 tiles, then dots
        for n in range(0, n4, 4):
            s0 = s1 = s2 = s3 = zero
            for k in range(K):
                ak = a[m, k]
                s0 += ak * b[n, k]; s1 += ak * b[n + 1, k]  # noqa: E702
                s2 += ak * b[n + 2, k]; s3 += ak * b[n + 3, k]  # noqa: E702
            _add_row(c, m, n, s0, s1, s2, s3)
        for n in range(n4, N):
            s = zero
            for k in range(K):
                s += a[m, k] * b[n, k]
            c[m, n] += s


@njit_gemm
def _add_row(c, m, n, s0, s1, s2, s3):
    c[m, n] += s0
    c[m, n + 1] += s1
    c[m, n + 2] += s2
    c[m, n + 3] += s3


@njit_gemm
def add_row_sums(a, out):
    """out (M,) += the sum of each row of a (M, K), reassociated into vector lanes."""
    M, K = a.shape
    for m in range(M):
        s = out.dtype.type(0)
        for k in range(K):
            s += a[m, k]
        out[m] += s
