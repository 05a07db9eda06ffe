"""Every @cuda.jit twin in kernels/cuda/conv.py and kernels/cuda/pool.py against its @njit
twin and the NumPy reference."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuda_helpers import run, tiny_conv_configs, tiny_pool_configs
from strategies import arrays, seeds, tie_free
from tinygrad_cnn.kernels import reference
from tinygrad_cnn.kernels.cpu import nchw as cpu
from tinygrad_cnn.kernels.cuda import conv as gpu_conv
from tinygrad_cnn.kernels.cuda import pool as gpu_pool

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
FEW = settings(max_examples=6)      # the simulator runs one Python thread per CUDA thread


def _conv_geo(cfg):
    return (cfg.kh, cfg.kw, *cfg.stride, *cfg.padding, *cfg.dilation, *cfg.out_hw)


def _pool_geo(cfg):
    return (*cfg.kernel, *cfg.stride, *cfg.padding)


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(cfg=tiny_conv_configs(), seed=seeds)
def test_im2col(dtype, cfg, seed):
    x = arrays(cfg.x_shape, seed, dtype)
    oh, ow = cfg.out_hw
    shape = (cfg.N * oh * ow, cfg.C * cfg.kh * cfg.kw)
    fast, ref = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    cpu.im2col(x, *_conv_geo(cfg), fast)
    reference.im2col(x, *_conv_geo(cfg), ref)
    got = run(gpu_conv.im2col, fast.size, x, *_conv_geo(cfg), np.full(shape, np.nan, dtype))[-1]
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got, fast)
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(cfg=tiny_conv_configs(), seed=seeds)
def test_col2im_gather(dtype, cfg, seed):
    oh, ow = cfg.out_hw
    cols = arrays((cfg.N * oh * ow, cfg.C * cfg.kh * cfg.kw), seed, dtype)
    fast, ref = np.empty(cfg.x_shape, dtype), np.empty(cfg.x_shape, dtype)
    cpu.col2im(cols, *_conv_geo(cfg), fast)
    reference.col2im(cols, *_conv_geo(cfg), ref)
    got = run(gpu_conv.col2im, fast.size, cols, *_conv_geo(cfg), np.full(cfg.x_shape, np.nan, dtype))[-1]
    np.testing.assert_allclose(got, ref, **TOL[dtype])
    np.testing.assert_allclose(got, fast, **TOL[dtype])


def test_col2im_is_bit_identical_run_to_run():
    """No atomics: the gather adds in a fixed order, so two runs agree to the last bit."""
    x_shape, geo = (2, 3, 6, 5), (3, 3, 1, 1, 1, 1, 1, 1, 6, 5)
    cols = arrays((2 * 6 * 5, 3 * 9), 0, np.float32) * np.float32(1e3)
    first = run(gpu_conv.col2im, 180, cols, *geo, np.empty(x_shape, np.float32))[-1]
    second = run(gpu_conv.col2im, 180, cols, *geo, np.empty(x_shape, np.float32))[-1]
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(cfg=tiny_pool_configs(), seed=seeds)
def test_max_pool(dtype, cfg, seed):
    x = tie_free(cfg.x_shape, seed, dtype)
    out_shape = cfg.x_shape[:2] + cfg.out_hw
    grad = arrays(out_shape, seed + 1, dtype)
    results = []
    for mod in (cpu, reference):
        out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int64)
        mod.max_pool2d_forward(x, *_pool_geo(cfg), *cfg.dilation, out, idx)
        gx = np.empty(cfg.x_shape, dtype)
        mod.max_pool2d_backward(grad, idx, *_pool_geo(cfg), *cfg.dilation, gx)
        results.append((out, idx, gx))
    n = int(np.prod(out_shape))
    out, idx = run(gpu_pool.max_pool2d_forward, n, x, *_pool_geo(cfg), *cfg.dilation,
                   np.empty(out_shape, dtype), np.empty(out_shape, np.int64))[-2:]
    gx = run(gpu_pool.max_pool2d_backward, int(np.prod(cfg.x_shape)), grad, idx, *_pool_geo(cfg),
             *cfg.dilation, np.full(cfg.x_shape, np.nan, dtype))[-1]
    for want_out, want_idx, want_gx in results:
        np.testing.assert_array_equal(out, want_out)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_allclose(gx, want_gx, **TOL[dtype])


def test_max_pool_nan_propagates_and_ties_keep_first():
    x = np.array([[[[1.0, 1.0], [np.nan, 0.0]]]])
    out, idx = run(gpu_pool.max_pool2d_forward, 1, x, 2, 2, 2, 2, 0, 0, 1, 1,
                   np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int64))[-2:]
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 2
    out, idx = run(gpu_pool.max_pool2d_forward, 1, x[:, :, :1].copy(), 1, 2, 1, 2, 0, 0, 1, 1,
                   np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int64))[-2:]
    assert out[0, 0, 0, 0] == 1.0 and idx[0, 0, 0, 0] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(cfg=tiny_pool_configs(dilation=False), seed=seeds)
def test_avg_pool(dtype, cfg, seed):
    x = arrays(cfg.x_shape, seed, dtype)
    out_shape = cfg.x_shape[:2] + cfg.out_hw
    grad = arrays(out_shape, seed + 1, dtype)
    geo = (*_pool_geo(cfg), cfg.count_include_pad)
    out = run(gpu_pool.avg_pool2d_forward, int(np.prod(out_shape)), x, *geo,
              np.empty(out_shape, dtype))[-1]
    gx = run(gpu_pool.avg_pool2d_backward, int(np.prod(cfg.x_shape)), grad, *geo,
             np.full(cfg.x_shape, np.nan, dtype))[-1]
    for mod in (cpu, reference):
        want, want_gx = np.empty(out_shape, dtype), np.empty(cfg.x_shape, dtype)
        mod.avg_pool2d_forward(x, *geo, want)
        mod.avg_pool2d_backward(grad, *geo, want_gx)
        np.testing.assert_allclose(out, want, **TOL[dtype])
        np.testing.assert_allclose(gx, want_gx, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(N=st.integers(1, 2), C=st.integers(1, 2), H=st.integers(1, 6), W=st.integers(1, 6),
       oh=st.integers(1, 6), ow=st.integers(1, 6), seed=seeds)
def test_adaptive_avg_pool(dtype, N, C, H, W, oh, ow, seed):
    x = arrays((N, C, H, W), seed, dtype)
    grad = arrays((N, C, oh, ow), seed + 1, dtype)
    out = run(gpu_pool.adaptive_avg_pool2d_forward, N * C * oh * ow, x,
              np.empty((N, C, oh, ow), dtype))[-1]
    gx = run(gpu_pool.adaptive_avg_pool2d_backward, N * C * H * W, grad,
             np.full((N, C, H, W), np.nan, dtype))[-1]
    for mod in (cpu, reference):
        want, want_gx = np.empty((N, C, oh, ow), dtype), np.empty((N, C, H, W), dtype)
        mod.adaptive_avg_pool2d_forward(x, want)
        mod.adaptive_avg_pool2d_backward(grad, want_gx)
        np.testing.assert_allclose(out, want, **TOL[dtype])
        np.testing.assert_allclose(gx, want_gx, **TOL[dtype])


def test_global_average_pool_of_a_larger_map():
    """Adaptive pooling to 1x1 (ResNet's head) and to a size that does not divide the input."""
    x = arrays((1, 2, 7, 5), 3, np.float32)
    for oh, ow in ((1, 1), (3, 2)):
        out = run(gpu_pool.adaptive_avg_pool2d_forward, 2 * oh * ow, x,
                  np.empty((1, 2, oh, ow), np.float32))[-1]
        want = np.empty((1, 2, oh, ow), np.float32)
        reference.adaptive_avg_pool2d_forward(x, want)
        np.testing.assert_allclose(out, want, rtol=1e-6)
