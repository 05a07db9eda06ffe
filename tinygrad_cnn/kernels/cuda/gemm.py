"""@cuda.jit GEMM: shared-memory tiles plus a register micro-tile per thread.

``out[z] = a[z] @ b[z]`` for every batch index z, on flat arrays described by
``(offset, batch stride, row stride, col stride)`` in elements. Strides make transposes,
column blocks (grouped convolution) and broadcast batches (batch stride 0) free: no
operand is copied. A block of (TY, TX) threads owns a (TY*MICRO, TX*MICRO) output tile;
per step it stages a TILE_K-deep panel of A and of B in shared memory, then each thread
accumulates its MICRO x MICRO outputs (rows ty + i*TY, cols tx + j*TX) in registers.
Tiles and batches are walked with block-stride loops, so any grid size is correct.
"""
from numba import cuda

from tinygrad_cnn.kernels.cuda.config import (GEMM_MAX_THREADS_DIM, GEMM_MICRO, GEMM_TILE_K,
                                              cuda_jit)

PANEL = GEMM_MAX_THREADS_DIM * GEMM_MICRO  # widest output tile side a block can own


@cuda_jit
def gemm(a, a_geo, b, b_geo, out, out_geo, dims):
    """out[z, m, n] = sum_k a[z, m, k] b[z, k, n]; dims = (B, M, N, K)."""
    B, M, N, K = dims
    a_off, a_bs, a_rs, a_cs = a_geo
    b_off, b_bs, b_rs, b_cs = b_geo
    o_off, o_bs, o_rs, o_cs = out_geo
    As = cuda.shared.array((GEMM_TILE_K, PANEL), dtype=out.dtype)
    Bs = cuda.shared.array((GEMM_TILE_K, PANEL), dtype=out.dtype)
    acc = cuda.local.array((GEMM_MICRO, GEMM_MICRO), dtype=out.dtype)
    af = cuda.local.array(GEMM_MICRO, dtype=out.dtype)
    bf = cuda.local.array(GEMM_MICRO, dtype=out.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    TX, TY = cuda.blockDim.x, cuda.blockDim.y
    BM, BN = TY * GEMM_MICRO, TX * GEMM_MICRO
    tid, nthreads = ty * TX + tx, TX * TY
    zero = out.dtype.type(0)
    for z in range(cuda.blockIdx.z, B, cuda.gridDim.z):
        for m0 in range(cuda.blockIdx.y * BM, M, cuda.gridDim.y * BM):
            for n0 in range(cuda.blockIdx.x * BN, N, cuda.gridDim.x * BN):
                for i in range(GEMM_MICRO):
                    for j in range(GEMM_MICRO):
                        acc[i, j] = zero
                for k0 in range(0, K, GEMM_TILE_K):
                    # neighbouring threads load neighbouring addresses of each operand
                    for e in range(tid, BM * GEMM_TILE_K, nthreads):
                        if a_cs == 1:
                            mm, kk = e // GEMM_TILE_K, e % GEMM_TILE_K
                        else:
                            kk, mm = e // BM, e % BM
                        v = zero
                        if m0 + mm < M and k0 + kk < K:
                            v = out.dtype.type(a[a_off + z * a_bs + (m0 + mm) * a_rs
                                                 + (k0 + kk) * a_cs])
                        As[kk, mm] = v
                    for e in range(tid, GEMM_TILE_K * BN, nthreads):
                        if b_cs == 1:
                            kk, nn = e // BN, e % BN
                        else:
                            nn, kk = e // GEMM_TILE_K, e % GEMM_TILE_K
                        v = zero
                        if k0 + kk < K and n0 + nn < N:
                            v = out.dtype.type(b[b_off + z * b_bs + (k0 + kk) * b_rs
                                                 + (n0 + nn) * b_cs])
                        Bs[kk, nn] = v
                    cuda.syncthreads()
                    for kk in range(GEMM_TILE_K):
                        for i in range(GEMM_MICRO):
                            af[i] = As[kk, ty + i * TY]
                        for j in range(GEMM_MICRO):
                            bf[j] = Bs[kk, tx + j * TX]
                        for i in range(GEMM_MICRO):
                            for j in range(GEMM_MICRO):
                                acc[i, j] += af[i] * bf[j]
                    cuda.syncthreads()
                for i in range(GEMM_MICRO):
                    r = m0 + ty + i * TY
                    if r < M:
                        for j in range(GEMM_MICRO):
                            c = n0 + tx + j * TX
                            if c < N:
                                out[o_off + z * o_bs + r * o_rs + c * o_cs] = acc[i, j]
