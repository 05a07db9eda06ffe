"""Matrix products on the device: our tiled @cuda.jit GEMM, or cuBLAS through CuPy.

``gemm`` takes flat operands described by (offset, batch stride, row stride, col stride),
so callers express transposes, column blocks and broadcast batches without copies. With
settings.py's ``settings.gemm`` = "auto" it uses cuBLAS when CuPy is installed (CuPy wraps
numba's memory through ``__cuda_array_interface__``, no copy) and the tiled kernel
otherwise; "numba" and "cublas" force one.
"""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.backends.cuda.settings import settings
from tinygrad_cnn.kernels.cuda import elementwise as ew
from tinygrad_cnn.kernels.cuda import gemm as kg

_cupy = []


def cupy_module():
    """CuPy when it is installed and usable here, else None (cached)."""
    if not _cupy:
        try:
            from numba.core import config
            if config.ENABLE_CUDASIM:
                raise ImportError("the CUDA simulator has no cuBLAS")
            import cupy
            _cupy.append(cupy)
        except Exception:       # ImportError, or CuPy present but unusable (no driver)
            _cupy.append(None)
    return _cupy[0]


def _use_cublas():
    mode = settings.gemm
    if mode == "numba":
        return False
    cp = cupy_module()
    if mode == "cublas" and cp is None:
        raise RuntimeError("cuda settings gemm='cublas' needs CuPy (pip install cupy-cuda12x); "
                           "it is not installed or cannot run here")
    return cp is not None


def _cupy_view(cp, flat, geo, shape):
    """A CuPy strided view of a flat numba device array, sharing its memory."""
    off, bs, rs, cs = geo
    base = cp.asarray(flat)
    size = base.itemsize
    return cp.lib.stride_tricks.as_strided(base[off:], shape=shape,
                                           strides=(bs * size, rs * size, cs * size))


def _cublas_gemm(a, a_geo, b, b_geo, out, out_geo, dims):
    cp = cupy_module()
    B, M, N, K = dims
    A = _cupy_view(cp, a, a_geo, (B, M, K))
    Bm = _cupy_view(cp, b, b_geo, (B, K, N))
    O = _cupy_view(cp, out, out_geo, (B, M, N))
    rt.LAUNCHES["cublas_gemm"] += 1
    if O.flags.c_contiguous:
        cp.matmul(A, Bm, out=O)
    else:
        O[...] = cp.matmul(A, Bm)


def gemm(a, a_geo, b, b_geo, out, out_geo, dims):
    """out[z] = a[z] @ b[z] for z < B; dims = (B, M, N, K), operands flat with geometries."""
    B, M, N, K = dims
    if _use_cublas():
        _cublas_gemm(a, a_geo, b, b_geo, out, out_geo, dims)
    else:
        rt.launch_gemm(kg.gemm, B, M, N, a, tuple(map(int, a_geo)), b, tuple(map(int, b_geo)),
                       out, tuple(map(int, out_geo)), tuple(map(int, dims)))


def _batched(x, batch, rows, cols):
    """(flat array, geometry) of x as (B, rows, cols), broadcasting its batch axes."""
    own = tuple(x.shape[:-2])
    if rt.numel(own) == 1:
        return rt.flat(x), (0, 0, cols, 1)
    if (1,) * (len(batch) - len(own)) + own != batch:      # e.g. (2, 1) against (2, 3)
        shape = batch + (rows, cols)
        full = rt.empty(shape, x.dtype)
        rt.copy_view(x, 0, rt.broadcast_strides(tuple(x.shape), shape), full, 0,
                     rt.contiguous_strides(shape), shape)
        x = full
    return rt.flat(x), (0, rows * cols, cols, 1)


def matmul(a, b):
    """NumPy's matmul: batched, broadcasting batch axes, 1-D operands promoted and dropped."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs arrays of at least 1 dimension, got shapes {a.shape} "
                         f"and {b.shape}")
    a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
    b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
    (M, K), (K2, N) = a2.shape[-2:], b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul shapes {a.shape} and {b.shape} do not match: {K} != {K2}")
    batch = tuple(np.broadcast_shapes(tuple(a2.shape[:-2]), tuple(b2.shape[:-2])))
    out = rt.empty(batch + (M, N), np.result_type(a.dtype, b.dtype))
    fa, ga = _batched(a2, batch, M, K)
    fb, gb = _batched(b2, batch, K, N)
    if K == 0:
        rt.launch(ew.fill, out.size, rt.flat(out), out.dtype.type(0))
    else:
        gemm(fa, ga, fb, gb, rt.flat(out), (0, M * N, N, 1), (rt.numel(batch), M, N, K))
    shape = batch + ((M,) if a.ndim > 1 else ()) + ((N,) if b.ndim > 1 else ())
    return out.reshape(shape)

