"""backends/cuda/ against backends/cpu/: conv2d forward/backward (groups, strides,
dilation, asymmetric padding), pooling through the backend, optimizer updates."""
import numpy as np
import pytest
from hypothesis import given, settings

from cuda_helpers import backend, dev, host, tiny_conv_configs, tiny_pool_configs
from strategies import arrays, seeds, tie_free
from tinygrad_cnn.backends import cpu
from tinygrad_cnn.kernels.cpu import nchw
from tinygrad_cnn.kernels.geometry import ConvGeometry, PoolGeometry

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _conv_geometry(cfg, x, w):
    ph, pw = cfg.padding
    return ConvGeometry.of(x.shape, w.shape, cfg.stride, (ph, ph, pw, pw), cfg.dilation,
                           cfg.groups, x.itemsize)


def _backward(be, grad, x, w, g, workspace, needs):
    """(dx, dw, db) through the backend's two gradient functions, as ops.Conv2d calls them."""
    dx = be.conv2d_input_grad(grad, w, g, workspace) if needs[0] else None
    dw, db = be.conv2d_weight_grad(grad, x, g, workspace, needs[1], len(needs) > 2 and needs[2])
    return dx, dw, db


def _close(got, want, dtype):
    np.testing.assert_allclose(host(got), np.asarray(want), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=8)
@given(cfg=tiny_conv_configs(), seed=seeds)
def test_conv2d_forward_backward(dtype, cfg, seed):
    be = backend()
    x, w = arrays(cfg.x_shape, seed, dtype), arrays(cfg.w_shape, seed + 1, dtype)
    b = arrays((cfg.O,), seed + 2, dtype) if cfg.bias else None
    g = _conv_geometry(cfg, x, w)
    out, saved = be.conv2d_forward(dev(x), dev(w), None if b is None else dev(b), g)
    want, want_saved = cpu.conv2d_forward(x, w, b, g)
    _close(out, want, dtype)
    grad = arrays(want.shape, seed + 3, dtype)
    needs = (True, True, b is not None)
    got = _backward(be, dev(grad), dev(x), dev(w), g, saved, needs)
    wanted = _backward(cpu, grad, x, w, g, want_saved, needs)
    for g, wg in zip(got, wanted):
        assert (g is None) == (wg is None)
        if g is not None:
            _close(g, wg, dtype)


def test_conv2d_same_padding_and_partial_needs():
    """Asymmetric (top, bottom, left, right) padding as padding="same" with an even kernel."""
    be = backend()
    x, w = arrays((2, 2, 5, 4), 0), arrays((3, 2, 4, 2), 1)
    g = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 2, 0, 1), (1, 1), 1, x.itemsize)
    out, saved = be.conv2d_forward(dev(x), dev(w), None, g)
    want, want_saved = cpu.conv2d_forward(x, w, None, g)
    assert out.shape == (2, 3, 5, 4)
    _close(out, want, np.float64)
    grad = arrays(want.shape, 2)
    dx, dw, db = _backward(be, dev(grad), dev(x), dev(w), g, saved, (False, True))
    assert dx is None and db is None
    _close(dw, _backward(cpu, grad, x, w, g, want_saved, (False, True))[1], np.float64)


def test_conv2d_weight_grad_split_k_is_deterministic():
    """The weight gradient sums per-chunk partial GEMMs in a fixed order: bit-identical reruns."""
    be = backend()
    x, w = arrays((4, 2, 4, 4), 3, np.float32), arrays((2, 2, 3, 3), 4, np.float32)
    g = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, x.itemsize)
    out, saved = be.conv2d_forward(dev(x), dev(w), None, g)
    grad = dev(arrays(out.shape, 5, np.float32))
    first = host(be.conv2d_weight_grad(grad, dev(x), g, saved, True, False)[0])
    second = host(be.conv2d_weight_grad(grad, dev(x), g, saved, True, False)[0])
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=6)
@given(cfg=tiny_pool_configs(), seed=seeds)
def test_pooling_through_the_backend(dtype, cfg, seed):
    be = backend()
    x = tie_free(cfg.x_shape, seed, dtype)
    geo = PoolGeometry.of(x.shape, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation,
                          cfg.ceil_mode, cfg.count_include_pad)
    out, idx = be.max_pool2d_forward(dev(x), geo)
    want, want_idx = cpu.max_pool2d_forward(x, geo)
    _close(out, want, dtype)
    np.testing.assert_array_equal(host(idx), want_idx)
    grad = arrays(want.shape, seed + 1, dtype)
    _close(be.max_pool2d_backward(dev(grad), idx, geo),
           cpu.max_pool2d_backward(grad, want_idx, geo), dtype)
    if cfg.dilation == (1, 1):
        avg = be.avg_pool2d_forward(dev(x), geo)
        want_avg = cpu.avg_pool2d_forward(x, geo)
        _close(avg, want_avg, dtype)
        g = arrays(want_avg.shape, seed + 2, dtype)
        _close(be.avg_pool2d_backward(dev(g), geo), cpu.avg_pool2d_backward(g, geo), dtype)
    ada = be.adaptive_avg_pool2d_forward(dev(x), (2, 1))
    _close(ada, cpu.adaptive_avg_pool2d_forward(x, (2, 1)), dtype)
    g = arrays((cfg.N, cfg.C, 2, 1), seed + 3, dtype)
    _close(be.adaptive_avg_pool2d_backward(dev(g), x.shape),
           cpu.adaptive_avg_pool2d_backward(g, x.shape), dtype)


def test_im2col_col2im_kernels_match_the_cpu_kernels():
    """The CUDA backend's patch kernels (conv2d_forward's im2col, conv2d_input_grad's col2im)
    against kernels/cpu/nchw.py's, on an asymmetric geometry."""
    from tinygrad_cnn.backends.cuda import launch as rt
    from tinygrad_cnn.kernels.cuda import conv as cuda_kernels

    x = arrays((2, 3, 5, 4), 6, np.float32)
    geo = (3, 2, 2, 1, 1, 0, 1, 2, 3, 2)
    cols = np.empty((2 * 3 * 2, 3 * 3 * 2), np.float32)
    nchw.im2col(x, *geo, cols)
    got = rt.empty(cols.shape, cols.dtype)
    rt.launch(cuda_kernels.im2col, cols.size, dev(x), *geo, got)
    np.testing.assert_array_equal(host(got), cols)
    want = np.empty(x.shape, np.float32)
    nchw.col2im(cols, *geo, want)
    back = rt.empty(x.shape, np.float32)
    rt.launch(cuda_kernels.col2im, back.size, dev(cols), *geo, back)
    _close(back, want, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [(0, 0, False, 0), (0.9, 0, False, 0),
                                                            (0.9, 0.1, False, 0.01),
                                                            (0.8, 0, True, 0.1)])
def test_sgd_update_in_place(momentum, dampening, nesterov, wd, dtype):
    be = backend()
    p, g = arrays((3, 4), 7, dtype), arrays((3, 4), 8, dtype)
    dp, cp_, buf, cbuf = dev(p), p.copy(), None, None
    for _ in range(3):
        buf = be.sgd_update(dp, dev(g), buf, 0.1, momentum, dampening, nesterov, wd)
        cbuf = cpu.sgd_update(cp_, g, cbuf, 0.1, momentum, dampening, nesterov, wd)
    _close(dp, cp_, dtype)
    assert (buf is None) == (cbuf is None)
    if buf is not None:
        _close(buf, cbuf, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wd,decoupled", [(0, False), (0.1, False), (0.1, True)])
def test_adam_update_in_place(wd, decoupled, dtype):
    be = backend()
    p = arrays((2, 5), 9, dtype)
    dp, cp_ = dev(p), p.copy()
    m, v = be.zeros(p.shape, dtype), be.zeros(p.shape, dtype)
    cm, cv = np.zeros_like(p), np.zeros_like(p)
    for step in (1, 2, 3):
        g = arrays(p.shape, 10 + step, dtype)
        be.adam_update(dp, dev(g), m, v, step, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled)
        cpu.adam_update(cp_, g, cm, cv, step, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled)
    _close(dp, cp_, dtype)
    _close(m, cm, dtype)
    _close(v, cv, dtype)
