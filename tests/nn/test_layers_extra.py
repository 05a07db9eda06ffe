"""GELU, SiLU, LayerNorm, GroupNorm, LocalResponseNorm, AdaptiveMaxPool2d, Upsample and
Dropout2d against torch (float64, forward and gradients) and float64 central differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from strategies import arrays, seeds, small_shapes, tie_free
from torch_compare import compare_fn, gradcheck_fn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@given(shape=small_shapes(), seed=seeds)
def test_gelu(approximate, shape, seed):
    x = arrays(shape, seed, scale=3)
    compare_fn(lambda t: F.gelu(t, approximate), lambda t: TF.gelu(t, approximate=approximate),
               [x])
    gradcheck_fn(lambda t: nn.GELU(approximate)(t), [x])


def test_gelu_float32_stays_float32_and_matches_torch():
    x = np.linspace(-6, 6, 101, dtype=np.float32)
    for approximate in ("none", "tanh"):
        y = F.gelu(tc.Tensor(x), approximate)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), TF.gelu(torch.tensor(x), approximate=approximate),
                                   rtol=1e-6, atol=1e-6)  # float32 rounding of 1 + erf
    with pytest.raises(ValueError, match="'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")


@given(shape=small_shapes(), seed=seeds)
def test_silu(shape, seed):
    x = arrays(shape, seed, scale=3)
    compare_fn(F.silu, TF.silu, [x])
    gradcheck_fn(nn.SiLU(), [x])   # inplace=True on a leaf raises, as torch


@given(shape=small_shapes(min_dims=2), k=st.integers(1, 2), seed=seeds)
def test_layer_norm(shape, k, seed):
    k = min(k, len(shape))
    normalized = shape[-k:]
    x, w, b = arrays(shape, seed), arrays(normalized, seed + 1), arrays(normalized, seed + 2)
    compare_fn(lambda *t: F.layer_norm(t[0], normalized, t[1], t[2]), lambda x_, w_, b_: TF.layer_norm(
        x_, normalized, w_, b_, 1e-5), [x, w, b])
    gradcheck_fn(lambda *t: F.layer_norm(t[0], normalized, t[1], t[2]), [x, w, b])


def test_layer_norm_module_matches_torch_and_checks_shape():
    ours, theirs = nn.LayerNorm([3, 4]), torch.nn.LayerNorm([3, 4])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    x = arrays((2, 3, 4), 0).astype(np.float32)
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach(),
                               rtol=1e-5, atol=1e-6)
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\) does not match"):
        nn.LayerNorm(5)(tc.Tensor(x))


@given(N=st.integers(1, 2), groups=st.integers(1, 3), per=st.integers(1, 2),
       spatial=small_shapes(min_dims=0, max_dims=2, max_side=3), seed=seeds)
def test_group_norm(N, groups, per, spatial, seed):
    C = groups * per
    shape = (N, C) + spatial
    x, w, b = arrays(shape, seed), arrays((C,), seed + 1), arrays((C,), seed + 2)
    if per * int(np.prod(spatial)) == 1:
        with pytest.raises(ValueError, match="more than 1 value per group"):
            F.group_norm(tc.Tensor(x), groups)
        return
    compare_fn(lambda *t: F.group_norm(t[0], groups, t[1], t[2]),
               lambda *t: TF.group_norm(t[0], groups, t[1], t[2]), [x, w, b])
    gradcheck_fn(lambda *t: F.group_norm(t[0], groups, t[1], t[2]), [x, w, b])


def test_group_norm_module_errors():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expected 6 channels"):
        nn.GroupNorm(3, 6)(tc.Tensor.zeros(2, 4, 3))


@given(shape=small_shapes(min_dims=3, max_dims=4), size=st.integers(1, 4), seed=seeds)
def test_local_response_norm(shape, size, seed):
    x = arrays(shape, seed)
    compare_fn(lambda t: nn.LocalResponseNorm(size, 0.1, 0.6, 1.5)(t),
               lambda t: TF.local_response_norm(t, size, 0.1, 0.6, 1.5), [x])
    gradcheck_fn(lambda t: F.local_response_norm(t, size, 0.1, 0.6, 1.5), [x])


@settings(max_examples=10)
@given(H=st.integers(1, 7), W=st.integers(1, 7), oh=st.integers(1, 4), ow=st.integers(1, 4),
       seed=seeds)
def test_adaptive_max_pool2d(H, W, oh, ow, seed):
    x = tie_free((2, 2, H, W), seed)
    compare_fn(lambda t: nn.AdaptiveMaxPool2d((oh, ow))(t),
               lambda t: TF.adaptive_max_pool2d(t, (oh, ow)), [x])
    _, ours = F.adaptive_max_pool2d(tc.Tensor(x, dtype=np.float64), (oh, ow), True)
    _, theirs = TF.adaptive_max_pool2d(torch.tensor(x), (oh, ow), return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    gradcheck_fn(lambda t: F.adaptive_max_pool2d(t, (oh, ow)), [x])


def test_adaptive_max_pool2d_none_and_unbatched():
    x = tie_free((3, 5, 6), 1)
    ours = F.adaptive_max_pool2d(tc.Tensor(x, dtype=np.float64), (None, 4))
    np.testing.assert_array_equal(ours.numpy(),
                                  TF.adaptive_max_pool2d(torch.tensor(x), (None, 4)).numpy())


@given(H=st.integers(1, 5), W=st.integers(1, 5), scale=st.sampled_from([1, 2, 3, 0.5, 1.7]),
       seed=seeds)
def test_upsample_nearest_by_scale(H, W, scale, seed):
    x = arrays((1, 2, H, W), seed)
    if min(int(H * scale), int(W * scale)) < 1:
        return
    compare_fn(lambda t: nn.Upsample(scale_factor=scale)(t),
               lambda t: torch.nn.Upsample(scale_factor=scale)(t), [x])


@given(H=st.integers(1, 6), W=st.integers(1, 6), oh=st.integers(1, 9), ow=st.integers(1, 9),
       seed=seeds)
def test_interpolate_nearest_by_size(H, W, oh, ow, seed):
    x = arrays((2, 1, H, W), seed)
    compare_fn(lambda t: F.interpolate(t, size=(oh, ow)),
               lambda t: TF.interpolate(t, size=(oh, ow)), [x])
    gradcheck_fn(lambda t: F.interpolate(t, size=(oh, ow)), [x])


def test_interpolate_1d_and_errors():
    x = arrays((1, 2, 5), 0)
    compare_fn(lambda t: F.interpolate(t, scale_factor=2), lambda t: TF.interpolate(
        t, scale_factor=2), [x])
    with pytest.raises(NotImplementedError, match="mode 'bilinear' is not supported"):
        F.interpolate(tc.Tensor.zeros(1, 1, 2, 2), scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="Upsample mode 'bilinear'"):
        nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(tc.Tensor.zeros(1, 1, 2, 2))


def test_dropout2d_zeroes_whole_channels_and_is_identity_in_eval():
    tc.manual_seed(0)
    layer = nn.Dropout2d(0.5)
    x = tc.Tensor.ones(8, 16, 3, 3, requires_grad=True)
    y = layer(x)
    planes = y.numpy().reshape(8, 16, 9)
    assert set(np.unique(planes)) <= {0.0, 2.0}
    assert (planes.min(2) == planes.max(2)).all()           # one draw per channel
    assert 0.3 < (planes[:, :, 0] == 0).mean() < 0.7
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # the mask scales the gradient
    layer.eval()
    assert layer(x) is x
    with pytest.warns(UserWarning, match="treats it as \\(N, C, L\\)"):
        y3 = F.dropout2d(tc.Tensor.ones(4, 6, 50), 0.5).numpy()       # torch: 3-D is (N, C, L)
    assert (y3.min(2) == y3.max(2)).all() and 0 < (y3[:, :, 0] == 0).mean() < 1
    with pytest.raises(ValueError, match="between 0 and 1, but got 2"):
        F.dropout2d(x, 2)


@settings(max_examples=5)
@given(seed=seeds)
def test_dropout2d_gradcheck_with_a_fixed_mask(seed):
    x = arrays((2, 3, 2, 2), seed)

    def fn(t):
        tc.manual_seed(seed)
        return F.dropout2d(t, 0.4)
    gradcheck_fn(fn, [x])
