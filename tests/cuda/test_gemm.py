"""GEMM on the device: the tiled @cuda.jit kernel on strided operands, NumPy's matmul
semantics, and the cuBLAS path through CuPy (skipped when CuPy is absent)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuda_helpers import backend, dev, host
from strategies import arrays
from tinygrad_cnn.backends.cuda import gemm as cuda_gemm
from tinygrad_cnn.backends.cuda import launch as cuda_launch
from tinygrad_cnn.backends.cuda import settings as cuda_settings


def _gemm(a, a_geo, b, b_geo, out_shape, out_geo, dims, mode="numba"):
    out = dev(np.full(out_shape, np.nan, a.dtype))
    with cuda_settings.override(gemm=mode):
        cuda_gemm.gemm(cuda_launch.flat(dev(a)), a_geo, cuda_launch.flat(dev(b)), b_geo,
                       cuda_launch.flat(out), out_geo, dims)
    return host(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=8)
@given(M=st.integers(1, 11), N=st.integers(1, 11), K=st.integers(1, 19), ta=st.booleans(),
       tb=st.booleans(), seed=st.integers(0, 99))
def test_gemm_with_transposes_by_strides(dtype, M, N, K, ta, tb, seed):
    a = arrays((K, M) if ta else (M, K), seed, dtype)
    b = arrays((N, K) if tb else (K, N), seed + 1, dtype)
    a_geo = (0, 0, 1, M) if ta else (0, 0, K, 1)
    b_geo = (0, 0, 1, K) if tb else (0, 0, N, 1)
    got = _gemm(a, a_geo, b, b_geo, (M, N), (0, 0, N, 1), (1, M, N, K))
    want = (a.T if ta else a) @ (b.T if tb else b)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_gemm_batches_offsets_and_broadcast_batch():
    """Batch stride 0 broadcasts an operand; an offset writes into a column block."""
    a = arrays((3, 4), 2)                         # shared by both batches
    b = arrays((2, 4, 4), 3)
    got = _gemm(a, (0, 0, 4, 1), b, (0, 16, 4, 1), (2, 3, 6), (1, 18, 6, 1), (2, 3, 4, 4))
    np.testing.assert_allclose(got[:, :, 1:5], a @ b, rtol=1e-12)
    assert np.isnan(got[:, :, 0]).all() and np.isnan(got[:, :, 5]).all()


def test_gemm_results_do_not_depend_on_tiling():
    a, b = arrays((13, 21), 4, np.float32), arrays((21, 9), 5, np.float32)
    results = []
    for threads, blocks in ((1, 1), (2, 2), (4, 3)):
        with cuda_settings.override(gemm_threads=threads, max_gemm_blocks=blocks):
            results.append(_gemm(a, (0, 0, 21, 1), b, (0, 0, 9, 1), (13, 9), (0, 0, 9, 1),
                                 (1, 13, 9, 21)))
    for r in results:
        np.testing.assert_array_equal(r, results[0])   # same k order: bit-identical
    np.testing.assert_allclose(results[0], a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)),
                                    ((4,), (4,)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 5)),
                                    ((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 0), (0, 2))])
def test_matmul_follows_numpy(shapes):
    be = backend()
    a, b = arrays(shapes[0], 6), arrays(shapes[1], 7)
    got = host(be.matmul(dev(a), dev(b)))
    want = np.matmul(a, b)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_matmul_rejects_mismatched_shapes():
    be = backend()
    with pytest.raises(ValueError, match="do not match: 4 != 3"):
        be.matmul(dev(np.zeros((2, 4))), dev(np.zeros((3, 2))))


def test_cublas_path_through_cupy():
    cp = pytest.importorskip("cupy")
    if cuda_gemm.cupy_module() is None:
        pytest.skip("CuPy is installed but cannot run here (simulator or no GPU)")
    a, b = arrays((2, 3, 7), 8, np.float32), arrays((7, 5), 9, np.float32)
    for geo_b, bmat in (((0, 0, 5, 1), b), ((0, 0, 1, 7), b.T.copy())):
        got = _gemm(a, (0, 21, 7, 1), bmat, geo_b, (2, 3, 5), (0, 15, 5, 1), (2, 3, 5, 7),
                    mode="cublas")
        np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert cp.cuda.runtime.getDeviceCount() >= 1
