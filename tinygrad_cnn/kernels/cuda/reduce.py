"""@cuda.jit reductions over one axis of an (outer, K, inner) view of a flat array.

Reducing axes that are not adjacent is done by the launcher, one run of adjacent axes
at a time. Two shapes of work:
- ``reduce_rows``: one block per output, threads stride over the values it reduces, then
  a shared-memory tree. It also takes leading plus trailing axes at once (the per-channel
  sums of NCHW). The order of additions depends only on the block size, so results are
  bit-identical run to run.
- ``reduce_strided`` (inner > 1): one thread per output, looping over K; neighbouring
  threads read neighbouring addresses.
SUM accumulates in out's dtype (bool and int sums in int64, as NumPy); MAX propagates
nan, as np.max.
"""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import MAX_BLOCK_THREADS, cuda_device, cuda_jit

SUM, MAX = range(2)


@cuda_device
def _combine(op, acc, v):
    if op == SUM:
        return acc + v
    if v > acc or math.isnan(v):
        return v
    return acc


@cuda_jit
def reduce_rows(op, a, out, outer, inner, init):
    """out[m] = reduce over (o, i) of a[(o*M + m)*inner + i], M = out.size; a block per m.

    outer = 1 is a plain row reduction (rows of ``inner``); outer > 1 also folds the
    leading axes, e.g. a per-channel sum over (N, H, W) of NCHW in one launch. SUM starts
    from ``init`` (0); MAX from the row's first element. blockDim.x is a power of two.
    """
    buf = cuda.shared.array(MAX_BLOCK_THREADS, dtype=out.dtype)
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    M = out.size
    for m in range(cuda.blockIdx.x, M, cuda.gridDim.x):
        acc = init if op == SUM else out.dtype.type(a[m * inner])
        for e in range(tid, outer * inner, nt):
            o, i = e // inner, e % inner
            acc = _combine(op, acc, out.dtype.type(a[(o * M + m) * inner + i]))
        buf[tid] = acc
        cuda.syncthreads()
        s = nt // 2
        while s > 0:
            if tid < s:
                buf[tid] = _combine(op, buf[tid], buf[tid + s])
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            out[m] = buf[0]
        cuda.syncthreads()          # buf is reused by the next m


@cuda_jit
def reduce_strided(op, a, out, K, inner, init):
    """out[o*inner + i] = reduce over k of a[(o*K + k)*inner + i]; one thread per output."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        o, i = t // inner, t % inner
        base = o * K * inner + i
        acc = init if op == SUM else out.dtype.type(a[base])
        for k in range(K):
            acc = _combine(op, acc, out.dtype.type(a[base + k * inner]))
        out[t] = acc


@cuda_jit
def argmax(a, out, K, inner):
    """out[o*inner + i] = first k of the largest a[(o*K + k)*inner + i] (a nan wins, as NumPy)."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        o, i = t // inner, t % inner
        base = o * K * inner + i
        best, best_k = a[base], 0
        if not math.isnan(best):
            for k in range(1, K):
                v = a[base + k * inner]
                if math.isnan(v):
                    best_k = k
                    break
                if v > best:
                    best, best_k = v, k
        out[t] = best_k
