"""@njit 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3): the
``winograd`` forward route of backends/cpu/plan.py (and, with the weights flipped, the input
gradient's ``transposed-winograd``).

A 2x2 block of output pixels is a 4x4 tile of the zero-padded input, d. With the constant
matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)::

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

the block is A^T [ sum over c of (G g_oc G^T) * (B^T d_c B) ] A, the product elementwise
over the 4x4 positions xi. Summed over the input channels, each position is a matrix
product: M[xi] (tiles, O) = V[xi] (tiles, C) @ U[xi] (C, O), with V the transformed input
tiles and U = G g G^T the transformed weights (backends/cpu/winograd.py makes U once per
call). So the 36 multiply-adds of a 2x2 block and channel pair in the direct sums become 16:
2.25x fewer, done by the same register tiles as the other conv kernels
(vector_tile.tile_sums), plus the transforms, which are additions over the channels. The
algorithm in NumPy, the spec this kernel is tested against, is kernels/reference_winograd.py.

The kernel works one image at a time, so that its V (16 x tiles x C) and M (16 x tiles x O)
stay in the core's L2 cache: the image zero-padded into a buffer whose tiles are all whole,
its input transform, 16 tile_sums products per block of output channels, and the output
transform, which adds the bias, applies the ReLU and stores the real pixels.

Rounding differs from the direct sum (the transforms add and subtract before multiplying);
the error stays within a few float32 ulps of the inputs' magnitudes (tests/kernels). IEEE
special values do not carry over: an inf in a tile turns into inf - inf = NaN in its
transforms, where the direct sum gives inf. The output transform therefore reports whether
any output was NaN or inf, and the backend then computes the conv by the direct route
instead, so every non-finite value is the direct sum's.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu.conv_vector import _zero_padded
from tinygrad_cnn.kernels.cpu.vector_tile import TILE_BYTES, TILE_ROWS, tile_sums, tile_units
from tinygrad_cnn.kernels.cpu.winograd_tile import winograd_input, winograd_output
from tinygrad_cnn.kernels.jit import njit

POSITIONS = 16
"""Positions xi of a transformed 4x4 tile."""


@njit
def conv2d_forward_winograd(x, u, bias, ph, pw, relu, pool, out, first, stop):
    """Images first .. stop-1 of out (N, OH, OW, O) = the 3x3 stride-1 convolution of x
    (N, H, W, C), padded ph rows on top and pw columns on the left (with zeros, as far as
    the output needs), by the transformed weights u (16, C, O') plus bias (O',), and with
    ``relu`` its ReLU; with ``pool``, out (N, PH, PW, O) receives instead the 2x2 stride-2
    max pool of the conv's first 2*PH rows and 2*PW columns (the pool's floor drops an odd
    last one): a pool window is exactly one tile, so the conv's output is never stored. O'
    is O rounded up to whole tiles (16 float32, 8 float64); the weights and bias of the
    columns beyond O are zero or anything. out is C-contiguous.

    Returns whether any value it computed was NaN or inf, the pixels of a partial tile beyond
    out's edge included (see the module docstring).
    """
    C = x.shape[3]
    oh, ow, O = out.shape[1], out.shape[2], out.shape[3]
    if pool:
        oh, ow = 2 * oh, 2 * ow
    ldb = u.shape[2]
    unit = TILE_BYTES // x.itemsize
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    tiles = th * tw
    rows = -(-tiles // TILE_ROWS) * TILE_ROWS               # whole tiles of 6 rows
    img = np.empty((2 * th + 2, 2 * tw + 2, C), dtype=x.dtype)
    v = np.zeros((POSITIONS, rows, C), dtype=x.dtype)      # spare rows stay 0
    m = np.empty((POSITIONS, rows, ldb), dtype=x.dtype)
    flat_v, flat_u, flat_m = v.reshape(v.size), u.reshape(u.size), m.reshape(m.size)
    zeros = np.zeros(ldb, dtype=x.dtype)
    offsets = np.empty(POSITIONS * rows, dtype=np.int64)     # v's rows, position by position
    for t in range(POSITIONS * rows):
        offsets[t] = t * C
    bad = False
    for n in range(first, stop):
        _zero_padded(x[n], ph, pw, img)
        _input_transform(img, th, tw, v)
        o0 = 0
        while o0 < ldb:
            units = tile_units((ldb - o0) // unit)
            cols = units * unit
            for xi in range(POSITIONS):
                for t0 in range(0, rows, TILE_ROWS):
                    tile_sums(flat_v, offsets[xi * rows + t0:], 0, 1, 1, C, flat_u,
                              xi * C * ldb + o0, ldb, 0, zeros, o0, False, False, flat_m,
                              (xi * rows + t0) * ldb + o0, ldb, cols, units)
            o0 += cols
        bad |= _output_transform(m, bias, relu, pool, th, tw, out[n])
    return bad


@njit
def _input_transform(img, th, tw, v):
    """v[xi, t, :] = (B^T d B)[xi] for every tile t = (ty, tx) of img (2*th + 2, 2*tw + 2, C),
    d = img[2ty:2ty+4, 2tx:2tx+4, :]."""
    C, Wp = img.shape[2], img.shape[1]
    flat_img, flat_v = img.reshape(img.size), v.reshape(v.size)
    step = v.shape[1] * C
    for ty in range(th):
        for tx in range(tw):
            winograd_input(flat_img, (2 * ty * Wp + 2 * tx) * C, Wp * C, C, flat_v,
                           (ty * tw + tx) * C, step, C)


@njit
def _output_transform(m, bias, relu, pool, th, tw, out):
    """out (OH, OW, O)[2ty:2ty+2, 2tx:2tx+2, :] = A^T M A + bias for every tile t = (ty, tx)
    (its pixels inside out), M = m[:, t, :O], with ``relu`` its ReLU (NaN stays NaN); with
    ``pool`` out[ty, tx, :] = the largest of the 4 (th, tw: out's own size then). Returns
    whether any value computed was NaN or inf."""
    oh, ow, O = out.shape
    ldm = m.shape[2]
    flat_m, flat_out = m.reshape(m.size), out.reshape(out.size)
    step = m.shape[1] * ldm
    bad = False
    for ty in range(oh if pool else th):
        for tx in range(ow if pool else tw):
            y, x = (ty, tx) if pool else (2 * ty, 2 * tx)
            bad |= winograd_output(flat_m, (ty * tw + tx) * ldm, step, bias, relu, pool,
                                   flat_out, (y * ow + x) * O, ow * O, O, min(2, oh - y),
                                   min(2, ow - x), O)
    return bad


@njit
def winograd_weights(w, flipped, u):
    """u (16, K, O') = G g G^T at each position xi, for the 3x3 kernels g of w (O, C, 3, 3):
    u[:, c, o] for g = w[o, c] (K = C, O' >= O), or with ``flipped`` u[:, o, c] for g =
    w[o, c] turned by 180 degrees (K = O, O' >= C: the weights of the input gradient, a
    convolution of the output gradient). The columns beyond O (or C) are set to 0.

    A k's values go to a small buffer first, then to u a plane's row at a time: stored
    straight into u, 16 streams whose planes lie a power of two of bytes apart often share
    the same L1 cache sets, and ran at 2.3 ns a value (36 ns a kernel)."""
    O, C = w.shape[0], w.shape[1]
    K, J = (O, C) if flipped else (C, O)
    half = w.dtype.type(0.5)
    u[:, :, J:] = 0
    row = np.empty((16, J), dtype=w.dtype)
    for k in range(K):
        for j in range(J):
            o, c = (k, j) if flipped else (j, k)
            g00, g01, g02 = w[o, c, 0, 0], w[o, c, 0, 1], w[o, c, 0, 2]
            g10, g11, g12 = w[o, c, 1, 0], w[o, c, 1, 1], w[o, c, 1, 2]
            g20, g21, g22 = w[o, c, 2, 0], w[o, c, 2, 1], w[o, c, 2, 2]
            if flipped:                             # turned by 180 degrees
                g00, g01, g02, g20, g21, g22 = g22, g21, g20, g02, g01, g00
                g10, g12 = g12, g10
            # G g, row a of it, then that row times G^T
            _store_row(row, 0, j, g00, g01, g02, half)
            _store_row(row, 1, j, (g00 + g10 + g20) * half, (g01 + g11 + g21) * half,
                       (g02 + g12 + g22) * half, half)
            _store_row(row, 2, j, (g00 - g10 + g20) * half, (g01 - g11 + g21) * half,
                       (g02 - g12 + g22) * half, half)
            _store_row(row, 3, j, g20, g21, g22, half)
        for p in range(16):
            for j in range(J):
                u[p, k, j] = row[p, j]


@njit
def _store_row(row, a, j, h0, h1, h2, half):
    """row[4a .. 4a+3, j] = (h0, h1, h2) G^T: row a of (G g) G^T."""
    row[4 * a, j] = h0
    row[4 * a + 1, j] = (h0 + h1 + h2) * half
    row[4 * a + 2, j] = (h0 - h1 + h2) * half
    row[4 * a + 3, j] = h2
