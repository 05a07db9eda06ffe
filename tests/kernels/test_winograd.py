"""kernels/cpu/conv_winograd.py and its transforms (kernels/cpu/winograd_tile.py): Winograd's
F(2x2, 3x3) against the direct sum in float64, for any channel count (the transforms' masked
last vector), odd maps (tiles at the edge), padding, bias and ReLU; within the rounding
bound of float32; NaN and inf reported, and through the backend the direct route's values."""
import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from tinygrad_cnn.backends.cpu import conv as cpu_conv
from tinygrad_cnn.backends.cpu import conv_grad, layout
from tinygrad_cnn.backends.cpu.settings import override
from tinygrad_cnn.backends.cpu.winograd import winograd_conv
from tinygrad_cnn.kernels.cpu import conv_winograd as kernels
from tinygrad_cnn.kernels import reference_winograd
from tinygrad_cnn.kernels.cpu.vector_tile import tile_columns
from tinygrad_cnn.kernels.geometry import ConvGeometry, PoolGeometry

G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])

FORCED = dict(winograd=True, winograd_itemsizes=(4, 8), winograd_min_channels=1,
              winograd_min_tiles=1, winograd_min_tile_values=0, winograd_min_pixels=0)
"""Settings under which every 3x3 stride-1 conv takes the Winograd routes."""


def _direct(xh, w, b, pads, relu=False):
    """The 3x3 conv of xh (N, H, W, C) by w (O, C, 3, 3), pads (top, bottom, left, right),
    summed in float64: (N, OH, OW, O)."""
    pt, pb, pl, pr = pads
    xp = np.pad(xh.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    OH, OW = xp.shape[1] - 2, xp.shape[2] - 2
    out = np.zeros((xh.shape[0], OH, OW, w.shape[0]))
    for i in range(3):
        for j in range(3):
            out += xp[:, i:i + OH, j:j + OW, :] @ w[:, :, i, j].T.astype(np.float64)
    if b is not None:
        out += b
    return np.maximum(out, 0) if relu else out


def _run_kernel(xh, w, b, pads, relu=False, pool=False):
    """(out, bad) of conv2d_forward_winograd over all of xh's images (with ``pool`` the conv's
    2x2 stride-2 max pool)."""
    O, dtype = w.shape[0], xh.dtype
    padded = -(-O // tile_columns(xh.itemsize)) * tile_columns(xh.itemsize)
    u = np.empty((16, w.shape[1], padded), dtype)
    kernels.winograd_weights(w, False, u)
    bias = np.zeros(padded, dtype)
    if b is not None:
        bias[:O] = b
    pt, pb, pl, pr = pads
    OH, OW = xh.shape[1] + pt + pb - 2, xh.shape[2] + pl + pr - 2
    shape = (OH // 2, OW // 2) if pool else (OH, OW)
    out = np.full((xh.shape[0], *shape, O), np.nan, dtype)
    bad = kernels.conv2d_forward_winograd(xh, u, bias, pt, pl, relu, pool, out, 0, xh.shape[0])
    return out, bad


def _max_pool(y):
    """The 2x2 stride-2 max pool (floor) of y (N, OH, OW, O)."""
    N, OH, OW, O = y.shape
    y = y[:, :OH // 2 * 2, :OW // 2 * 2]
    return y.reshape(N, OH // 2, 2, OW // 2, 2, O).max(axis=(2, 4))


@hsettings(deadline=None, max_examples=60)
@given(N=st.integers(1, 3), C=st.integers(1, 40), O=st.integers(1, 40), H=st.integers(1, 11),
       W=st.integers(1, 11), pads=st.tuples(*[st.integers(0, 3)] * 4), bias=st.booleans(),
       relu=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_winograd_forward_matches_the_direct_sum(N, C, O, H, W, pads, bias, relu, dtype, seed):
    pt, pb, pl, pr = pads
    if H + pt + pb < 3 or W + pl + pr < 3:
        return                                          # no output pixel
    rng = np.random.default_rng(seed)
    xh = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((O, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype) if bias else None
    out, bad = _run_kernel(xh, w, b, pads, relu)
    expected = _direct(xh, w, b, pads, relu)
    scale = _direct(np.abs(xh), np.abs(w), None if b is None else np.abs(b), pads) + 1
    eps = np.finfo(dtype).eps
    assert not bad
    assert np.all(np.abs(out - expected) <= 64 * eps * scale)   # every pixel written


@hsettings(deadline=None, max_examples=30)
@given(N=st.integers(1, 2), C=st.integers(1, 20), O=st.integers(1, 20), H=st.integers(1, 9),
       W=st.integers(1, 9), pads=st.tuples(*[st.integers(0, 2)] * 4), relu=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_kernel_matches_the_numpy_reference_and_it_the_direct_sum(N, C, O, H, W, pads, relu,
                                                                   seed):
    """kernels/reference_winograd.py (the algorithm in einsums) is the kernel's spec: float64,
    the same to rounding; and it is the direct sum's."""
    pt, pb, pl, pr = pads
    if H + pt + pb < 3 or W + pl + pr < 3:
        return
    rng = np.random.default_rng(seed)
    xh, w = rng.standard_normal((N, H, W, C)), rng.standard_normal((O, C, 3, 3))
    b = rng.standard_normal(O)
    ours, _ = _run_kernel(xh, w, b, pads, relu)
    spec = np.empty_like(ours)
    reference_winograd.conv2d_forward_winograd(xh, w, b, pt, pl, relu, spec)
    scale = _direct(np.abs(xh), np.abs(w), np.abs(b), pads) + 1
    assert np.all(np.abs(ours - spec) <= 1e-13 * scale)
    assert np.all(np.abs(spec - _direct(xh, w, b, pads, relu)) <= 1e-13 * scale)


@hsettings(deadline=None, max_examples=40)
@given(N=st.integers(1, 3), C=st.integers(1, 24), O=st.integers(1, 40), H=st.integers(2, 11),
       W=st.integers(2, 11), pad=st.integers(0, 2), relu=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_pooled_output_is_the_max_pool_of_the_conv(N, C, O, H, W, pad, relu, dtype, seed):
    """With pool, each tile's output transform stores the largest of its 4 values: the 2x2
    stride-2 max pool (floor) of the conv, bit for bit the pool of the kernel's own conv."""
    if min(H, W) + 2 * pad < 4:
        return                                          # a conv output below 2x2
    rng = np.random.default_rng(seed)
    xh = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((O, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    pads = (pad,) * 4
    pooled, bad = _run_kernel(xh, w, b, pads, relu, pool=True)
    conv, _ = _run_kernel(xh, w, b, pads, relu)
    assert not bad
    np.testing.assert_array_equal(pooled, _max_pool(conv))
    expected = _max_pool(_direct(xh, w, b, pads, relu))
    scale = _max_pool(_direct(np.abs(xh), np.abs(w), np.abs(b), pads)) + 1
    assert np.all(np.abs(pooled - expected) <= 64 * np.finfo(dtype).eps * scale)


def test_winograd_float32_error_is_that_of_the_direct_sum():
    """Rounding: against float64, F(2x2, 3x3) in float32 stays within 4x the direct sum's
    float32 error (measured: about the same)."""
    rng = np.random.default_rng(3)
    xh = rng.standard_normal((4, 14, 14, 64)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.1).astype(np.float32)
    exact = _direct(xh, w, None, (1, 1, 1, 1))
    ours, _ = _run_kernel(xh, w, None, (1, 1, 1, 1))
    direct32 = sum(np.pad(xh, ((0, 0), (1, 1), (1, 1), (0, 0)))[:, i:i + 14, j:j + 14, :]
                   @ w[:, :, i, j].T for i in range(3) for j in range(3))
    assert np.abs(ours - exact).max() <= 4 * np.abs(direct32 - exact).max()


@hsettings(deadline=None, max_examples=40)
@given(O=st.integers(1, 40), C=st.integers(1, 40), flipped=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_weight_transform_is_g_w_g_transposed(O, C, flipped, dtype, seed):
    w = np.random.default_rng(seed).standard_normal((O, C, 3, 3)).astype(dtype)
    K, J = (O, C) if flipped else (C, O)
    u = np.full((16, K, J + 5), np.nan, dtype)
    kernels.winograd_weights(w, flipped, u)
    g = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3) if flipped else w    # (J, K, 3, 3)
    expected = np.einsum("ai,jkiy,by->abkj", G, g.astype(np.float64), G).reshape(16, K, J)
    assert np.allclose(u[:, :, :J], expected, rtol=0,
                       atol=8 * np.finfo(dtype).eps * np.abs(w).max())
    assert not u[:, :, J:].any()                       # the padded columns are zero


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_non_finite_values_are_reported_and_take_the_direct_route(special):
    """An inf in a tile gives inf - inf = NaN in the transforms, where the direct sum gives
    inf: the kernel says so, winograd_conv returns None, and conv2d_forward's values are
    the direct route's, bit for bit (NaN where it has NaN)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    x[1, 3, 4, 5] = special
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    assert _run_kernel(xh, w, b, (1, 1, 1, 1))[1]
    g = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, 4)
    assert winograd_conv(xh, w, b, g) is None
    with override(**FORCED):
        out, workspace = cpu_conv.conv2d_forward(x, w, b, g)
    with override(winograd=False):
        direct, _ = cpu_conv.conv2d_forward(x, w, b, g)
    assert workspace.plan.forward != "winograd"        # the direct route's plan, for backward
    np.testing.assert_array_equal(out, direct)
    assert _run_kernel(xh, w, b, (1, 1, 1, 1), pool=True)[1]
    pool = PoolGeometry.of(g.out_shape, (2, 2), (2, 2), (0, 0), (1, 1), False)
    with override(**FORCED):
        pooled, route = cpu_conv.conv2d_forward_max_pool(x, w, b, g, pool, relu=True)
    with override(winograd=False):
        pooled_direct, _ = cpu_conv.conv2d_forward_max_pool(x, w, b, g, pool, relu=True)
    assert "winograd" not in route
    np.testing.assert_array_equal(pooled, pooled_direct)
    grad = np.ones(g.out_shape, np.float32)
    grad[0, 0, 0, 0] = special
    with override(**FORCED):
        dx = conv_grad.conv2d_input_grad(grad, w, g, None)
    with override(winograd=False):
        dx_direct = conv_grad.conv2d_input_grad(grad, w, g, None)
    np.testing.assert_array_equal(dx, dx_direct)


def test_overflow_to_inf_is_the_direct_sums_too():
    """Finite inputs whose sums overflow: the same values as the direct route (inf, not the
    NaN the transforms would make of inf - inf)."""
    x = np.full((1, 16, 4, 4), 3e38, np.float32)
    w = np.ones((16, 16, 3, 3), np.float32)
    g = ConvGeometry.of(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, 4)
    with override(**FORCED):
        out, _ = cpu_conv.conv2d_forward(x, w, None, g)
    assert np.isposinf(out).all()


@pytest.mark.parametrize("channels_last", [True, False])
def test_backend_routes_match_the_direct_routes(channels_last):
    """conv2d_forward and conv2d_input_grad by Winograd (forced) against the direct routes,
    NCHW and channels-last memory, the input gradient of an asymmetric padding."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 24, 9, 10)).astype(np.float32)
    if channels_last:
        x = layout.as_nchw(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    w = (rng.standard_normal((20, 24, 3, 3)) * 0.2).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    g = ConvGeometry.of(x.shape, w.shape, (1, 1), (2, 0, 1, 2), (1, 1), 1, 4)
    with override(**FORCED):
        out, workspace = cpu_conv.conv2d_forward(x, w, b, g)
        grad = rng.standard_normal(out.shape).astype(np.float32)
        dx = conv_grad.conv2d_input_grad(grad, w, g, workspace)
    assert workspace.plan.forward == "winograd" and workspace.plan.input_grad == \
        "transposed-winograd"
    with override(winograd=False):
        out_direct, workspace_direct = cpu_conv.conv2d_forward(x, w, b, g)
        dx_direct = conv_grad.conv2d_input_grad(grad, w, g, workspace_direct)
    np.testing.assert_allclose(out, out_direct, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dx_direct, rtol=1e-5, atol=1e-5)
    assert out.shape == out_direct.shape and dx.shape == dx_direct.shape == x.shape
