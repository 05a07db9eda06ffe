"""@njit kernels of batch normalisation: per-channel sums and per-channel affine maps.

Each kernel comes in two memory layouts, chosen by the backend (backends/cpu/norm.py):
``rows`` for an (M, C) array whose channel is the last axis of memory (a channels-last
activation seen as N*H*W rows, or a BatchNorm1d input (N, C)), ``planes`` for an (N, C, S)
array whose channel is the middle axis (contiguous NCHW, S = H*W). A pass reads each value
once: the normalised output and the input gradient are each one sweep over memory, and
the statistics are sums of the deviations from a shift per channel and of their squares in
one sweep (a float32 activation's from one of each channel's values, one sweep in all; a
float64 one's from zero, then from the mean: two), where NumPy needed a temporary per
arithmetic step.

Sums accumulate in float64 (``out`` is float64), so a float32 activation of millions of
values keeps its mean and variance to float32 precision.
"""
import numpy as np

from tinygrad_cnn.kernels.jit import njit


@njit
def shifted_sums_rows(x, shift, out_d, out_dd):
    """out_d[c] += sum over rows of d = x[:, c] - shift[c], out_dd[c] += sum of d * d: with
    shift 0 the plain sums, with the mean the squared deviations, and for a float32 x with
    one of each channel's own values both statistics in one pass, exact enough in float64
    (the variance is then s_dd/n - (s_d/n)**2 with no cancellation beyond float64's 1e-16
    of the spread)."""
    M, C = x.shape
    acc_d = np.zeros(C, dtype=np.float64)
    acc_dd = np.zeros(C, dtype=np.float64)
    for m in range(M):
        row = x[m]
        for c in range(C):
            d = np.float64(row[c]) - shift[c]
            acc_d[c] += d
            acc_dd[c] += d * d
    for c in range(C):
        out_d[c] += acc_d[c]
        out_dd[c] += acc_dd[c]


@njit
def shifted_sums_planes(x, shift, out_d, out_dd):
    """shifted_sums_rows for an (N, C, S) array."""
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            plane = x[n, c]
            k = np.float64(shift[c])
            acc_d = np.float64(0)
            acc_dd = np.float64(0)
            for s in range(S):
                d = np.float64(plane[s]) - k
                acc_d += d
                acc_dd += d * d
            out_d[c] += acc_d
            out_dd[c] += acc_dd


@njit
def grad_sums_rows(g, x, mean, relu, x_mean, scale, shift, out_g, out_gx):
    """out_g[c] += sum of g[:, c]; out_gx[c] += sum of g[:, c] * (x[:, c] - mean[c]). With
    ``relu``, g is the gradient of the ReLU of affine_rows(x, x_mean, scale, shift) (vectors
    in x's dtype, the very values forward used): its sums count g only where that affine
    value, recomputed as affine_rows computes it, is above 0 (not where it is 0 or NaN:
    the ReLU's own gradient)."""
    M, C = x.shape
    acc_g = np.zeros(C, dtype=np.float64)
    acc_gx = np.zeros(C, dtype=np.float64)
    zero = x.dtype.type(0)
    for m in range(M):
        gr, xr = g[m], x[m]
        for c in range(C):
            gv = np.float64(gr[c])
            if relu and not (xr[c] - x_mean[c]) * scale[c] + shift[c] > zero:
                gv = 0.0
            acc_g[c] += gv
            acc_gx[c] += gv * (np.float64(xr[c]) - mean[c])
    for c in range(C):
        out_g[c] += acc_g[c]
        out_gx[c] += acc_gx[c]


@njit
def grad_sums_planes(g, x, mean, relu, x_mean, scale, shift, out_g, out_gx):
    """grad_sums_rows for (N, C, S) arrays."""
    N, C, S = x.shape
    zero = x.dtype.type(0)
    for n in range(N):
        for c in range(C):
            gp, xp = g[n, c], x[n, c]
            m = np.float64(mean[c])
            xm, a, b = x_mean[c], scale[c], shift[c]
            acc_g = np.float64(0)
            acc_gx = np.float64(0)
            for s in range(S):
                gv = np.float64(gp[s])
                if relu and not (xp[s] - xm) * a + b > zero:
                    gv = 0.0
                acc_g += gv
                acc_gx += gv * (np.float64(xp[s]) - m)
            out_g[c] += acc_g
            out_gx[c] += acc_gx


@njit
def affine_rows(x, mean, scale, shift, relu, out):
    """out[:, c] = (x[:, c] - mean[c]) * scale[c] + shift[c] (every vector in x's dtype), and
    with ``relu`` its ReLU, ``0 if v < 0 else v`` (NaN stays NaN, as the ReLU kernel)."""
    M, C = x.shape
    zero = out.dtype.type(0)
    for m in range(M):
        xr, orow = x[m], out[m]
        for c in range(C):
            v = (xr[c] - mean[c]) * scale[c] + shift[c]
            orow[c] = zero if relu and v < zero else v


@njit
def affine_planes(x, mean, scale, shift, relu, out):
    """affine_rows for (N, C, S) arrays."""
    N, C, S = x.shape
    zero = out.dtype.type(0)
    for n in range(N):
        for c in range(C):
            xp, op = x[n, c], out[n, c]
            m, a, b = mean[c], scale[c], shift[c]
            for s in range(S):
                v = (xp[s] - m) * a + b
                op[s] = zero if relu and v < zero else v


@njit
def input_grad_rows(g, x, mean, a, b, d, relu, scale, shift, out):
    """out[:, c] = g[:, c] * a[c] + (x[:, c] - mean[c]) * b[c] + d[c]: batch norm's input
    gradient, whose per-channel coefficients the backend computes from the sums above. With
    ``relu``, g counts only where (x - mean) * scale + shift, as affine_rows computes it, is
    above 0 (grad_sums_rows)."""
    M, C = x.shape
    zero = x.dtype.type(0)
    for m in range(M):
        gr, xr, orow = g[m], x[m], out[m]
        for c in range(C):
            centred = xr[c] - mean[c]
            gv = gr[c]
            if relu and not centred * scale[c] + shift[c] > zero:
                gv = zero
            orow[c] = gv * a[c] + centred * b[c] + d[c]


@njit
def input_grad_planes(g, x, mean, a, b, d, relu, scale, shift, out):
    """input_grad_rows for (N, C, S) arrays."""
    N, C, S = x.shape
    zero = x.dtype.type(0)
    for n in range(N):
        for c in range(C):
            gp, xp, op = g[n, c], x[n, c], out[n, c]
            m, ac, bc, dc, sc, sh = mean[c], a[c], b[c], d[c], scale[c], shift[c]
            for s in range(S):
                centred = xp[s] - m
                gv = gp[s]
                if relu and not centred * sc + sh > zero:
                    gv = zero
                op[s] = gv * ac + centred * bc + dc
