"""Batch norm's one-pass CPU kernels (backends/cpu/norm.py) over every memory layout an
activation can have: forward and backward against torch (float64), central differences, and
the backend's sums against NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn.backends import cpu
from tinygrad_cnn.gradcheck import gradcheck
from tinygrad_cnn.nn import functional as F

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

LAYOUTS = ("contiguous", "channels_last", "strided")


def in_layout(a, layout):
    """a's values in memory ordered as ``layout``: channels last (ndim > 2), or a strided
    view (every other element of a larger array along the last axis)."""
    if layout == "channels_last" and a.ndim > 2:
        order = (0,) + tuple(range(2, a.ndim)) + (1,)
        back = np.argsort(order)
        return np.ascontiguousarray(a.transpose(order)).transpose(back)
    if layout == "strided":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    return np.ascontiguousarray(a)


@st.composite
def bn_cases(draw):
    N = draw(st.integers(1, 4))
    C = draw(st.integers(1, 5))
    spatial = draw(st.lists(st.integers(1, 5), min_size=0, max_size=2))
    shape = (N, C, *spatial)
    training = draw(st.booleans())
    if training and N * int(np.prod(spatial or [1])) < 2:
        training = False
    return shape, draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS)), training, \
        draw(st.booleans()), draw(st.integers(0, 2 ** 31 - 1))


@requires_torch
@settings(max_examples=60, deadline=None)
@given(bn_cases())
def test_forward_and_backward_match_torch_in_every_layout(case):
    shape, x_layout, g_layout, training, affine, seed = case
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = rng.standard_normal(shape) * 3 + 1
    gy = rng.standard_normal(shape)
    mean, var = rng.standard_normal(C), rng.random(C) + 0.5
    w, b = rng.standard_normal(C), rng.standard_normal(C)

    xt = tc.tensor(in_layout(x, x_layout), requires_grad=True)
    wt, bt = (tc.tensor(w, requires_grad=True), tc.tensor(b, requires_grad=True)) if affine \
        else (None, None)
    out = F.batch_norm(xt, tc.tensor(mean.copy()), tc.tensor(var.copy()), wt, bt,
                       training=training, eps=1e-3)
    out.backward(tc.tensor(in_layout(gy, g_layout)))

    xr = torch.tensor(x, requires_grad=True)
    wr, br = (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) if affine \
        else (None, None)
    ref = torch.nn.functional.batch_norm(xr, torch.tensor(mean), torch.tensor(var), wr, br,
                                         training=training, eps=1e-3)
    ref.backward(torch.tensor(gy))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-8, atol=1e-10)
    if affine:
        np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bt.grad.numpy(), br.grad.numpy(), rtol=1e-8, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("shape", [(4, 16, 6, 6), (8, 6, 7, 7), (3, 24, 5, 7), (64, 48)])
@pytest.mark.parametrize("training", [True, False])
def test_joined_rows_of_narrow_channels_match_torch(shape, training):
    """Channels-last rows of few channels are joined into longer rows (per-channel vectors
    repeated): 16 channels x 144 pixels, 6 x 392 (joined 8 at a time), an odd pixel count
    (not joined), a BatchNorm1d batch. Forward and every gradient against torch."""
    rng = np.random.default_rng(5)
    C = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    gy = rng.standard_normal(shape)
    mean, var = rng.standard_normal(C), rng.random(C) + 0.5
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    xt = tc.tensor(in_layout(x, "channels_last"), requires_grad=True)
    wt, bt = tc.tensor(w, requires_grad=True), tc.tensor(b, requires_grad=True)
    out = F.batch_norm(xt, tc.tensor(mean.copy()), tc.tensor(var.copy()), wt, bt,
                       training=training)
    out.backward(tc.tensor(in_layout(gy, "channels_last")))
    xr, wr, br = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = torch.nn.functional.batch_norm(xr, torch.tensor(mean), torch.tensor(var), wr, br,
                                         training=training)
    ref.backward(torch.tensor(gy))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((xt, xr), (wt, wr), (bt, br)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8,
                                   atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_central_differences(training, layout):
    rng = np.random.default_rng(3)
    x = tc.tensor(in_layout(rng.standard_normal((3, 4, 3, 2)), layout), requires_grad=True)
    w = tc.tensor(rng.standard_normal(4), requires_grad=True)
    b = tc.tensor(rng.standard_normal(4), requires_grad=True)
    mean, var = tc.tensor(rng.standard_normal(4)), tc.tensor(rng.random(4) + 0.5)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=training),
                     [x, w, b])


def test_output_keeps_the_channels_last_layout():
    x = in_layout(np.random.default_rng(0).standard_normal((2, 8, 5, 5)).astype(np.float32),
                  "channels_last")
    out = F.batch_norm(tc.tensor(x), tc.zeros(8), tc.ones(8), training=True)
    assert out.numpy().transpose(0, 2, 3, 1).flags.c_contiguous
    assert out.dtype == np.float32


@pytest.mark.parametrize("layout", LAYOUTS)
def test_float32_statistics_hold_float32_precision(layout):
    """Sums accumulate in float64: a million float32 values far from zero keep their mean and
    variance to float32 rounding, where a float32 running sum would lose digits."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 3, 64, 80)) * 0.01 + 1000).astype(np.float32)
    mean, var = cpu.batch_norm_stats(in_layout(x, layout))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-7)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=1e-5)
    assert mean.dtype == var.dtype == np.float32
    sums = cpu.channel_sums(in_layout(x, layout), mean)
    np.testing.assert_allclose(sums, ((x64 - mean.astype(np.float64)[None, :, None, None]) ** 2)
                               .sum(axis=(0, 2, 3)), rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(bn_cases(), st.floats(-1e4, 1e4), st.sampled_from([1e-3, 1.0, 1e3]))
def test_float32_one_pass_statistics_match_float64_numpy(case, loc, scale):
    """A float32 activation's statistics in one pass (deviations from each channel's first
    value) against NumPy's float64 mean and variance, in every layout, far from zero and
    at any spread: the float32 rounding of the exact values."""
    shape, layout, _, _, _, seed = case
    x = (np.random.default_rng(seed).standard_normal(shape) * scale + loc).astype(np.float32)
    mean, var = cpu.batch_norm_stats(in_layout(x, layout))
    axes = (0,) + tuple(range(2, x.ndim))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=axes), rtol=2e-7, atol=1e-30)
    np.testing.assert_allclose(var, x64.var(axis=axes), rtol=2e-6,
                               atol=float(np.finfo(np.float32).tiny))
    assert mean.dtype == var.dtype == np.float32


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("first", [np.inf, -np.inf, np.nan])
def test_statistics_of_a_channel_starting_with_inf_or_nan(layout, first):
    """A channel whose first value is inf or NaN has NumPy's statistics (mean inf and
    variance NaN, or both NaN; the one-pass form would shift by it, so the two passes
    run); the other channels keep theirs."""
    x = np.random.default_rng(2).standard_normal((4, 3, 5, 5)).astype(np.float32)
    x[0, 1, 0, 0] = first
    mean, var = cpu.batch_norm_stats(in_layout(x, layout))
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        want_mean, want_var = x64.mean((0, 2, 3)), x64.var((0, 2, 3))
    np.testing.assert_allclose(mean, want_mean, rtol=2e-7)       # NaN and inf where NumPy's
    np.testing.assert_allclose(var, want_var, rtol=2e-6)


def test_empty_batch_gives_empty_output():
    x = np.zeros((0, 3, 4, 4), dtype=np.float32)
    out = cpu.channel_affine(x, np.zeros(3), np.ones(3), np.zeros(3))
    assert out.shape == (0, 3, 4, 4)
    np.testing.assert_array_equal(cpu.channel_sums(x), np.zeros(3, np.float32))
