"""ConvTranspose2d / F.conv_transpose2d against torch and float64 central differences."""
import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from conv_paths import PATHS, conv_path
from strategies import arrays, conv_transpose_configs, seeds
from torch_compare import compare_fn, gradcheck_fn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _args(cfg):
    return dict(stride=cfg.stride, padding=cfg.padding, output_padding=cfg.output_padding,
                groups=cfg.groups, dilation=cfg.dilation)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=15)
@given(cfg=conv_transpose_configs(), seed=seeds)
def test_conv_transpose2d_matches_torch(path, cfg, seed):
    """Every CPU conv path: a transposed conv's forward is its conv's input gradient, its
    backward that conv's forward and weight gradient."""
    x, w = arrays(cfg.x_shape, seed), arrays(cfg.w_shape, seed + 1)
    inputs = [x, w] + ([arrays((cfg.O,), seed + 2)] if cfg.bias else [])
    with conv_path(path):
        y = compare_fn(lambda *t: F.conv_transpose2d(*t, **_args(cfg)),
                       lambda *t: TF.conv_transpose2d(*t, **_args(cfg)), inputs)
    assert y.shape[2:] == cfg.out_hw


@settings(max_examples=8)
@given(cfg=conv_transpose_configs(max_size=3, max_channels=2), seed=seeds)
def test_conv_transpose2d_gradcheck(cfg, seed):
    x, w, b = arrays(cfg.x_shape, seed), arrays(cfg.w_shape, seed + 1), arrays((cfg.O,), seed)
    gradcheck_fn(lambda *t: F.conv_transpose2d(*t, **_args(cfg)), [x, w, b])


def test_float32_layer_matches_torch_init_shapes_and_values():
    ours = nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2)
    theirs = torch.nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1,
                                      groups=2)
    assert ours.weight.shape == tuple(theirs.weight.shape) == (4, 3, 3, 2)
    bound = 1 / np.sqrt(3 * 3 * 2)                    # fan_in from weight dim 1, as torch
    assert np.abs(ours.weight.numpy()).max() <= bound and np.abs(ours.bias.numpy()).max() <= bound
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 4)).astype(np.float32)
    xo, xt = tc.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    yo.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-5)


def test_output_size_argument_and_unbatched_input():
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = tc.Tensor.randn(1, 2, 4, 4)
    assert layer(x).shape == (1, 3, 7, 7)
    assert layer(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    assert layer(x, output_size=[1, 3, 8, 7]).shape == (1, 3, 8, 7)
    with pytest.raises(ValueError, match=r"requested output size \(9, 9\) is not reachable"):
        layer(x, output_size=(9, 9))
    np.testing.assert_allclose(layer(x[0]).numpy(), layer(x).numpy()[0], rtol=1e-6)


def test_errors_name_the_problem():
    x, w = tc.Tensor.zeros(1, 2, 4, 4), tc.Tensor.zeros(2, 3, 3, 3)
    with pytest.raises(ValueError, match="output_padding 2 .* smaller than either the stride 2 "
                                         "or the dilation 1"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="expected 2 input channels .* got 3"):
        F.conv_transpose2d(tc.Tensor.zeros(1, 3, 4, 4), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        F.conv_transpose2d(x, w, tc.Tensor.zeros(2))
    with pytest.raises(ValueError, match="groups=2 must divide in_channels"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)


def test_output_padding_below_the_dilation_but_not_the_stride():
    x, w = np.random.default_rng(0).standard_normal((1, 2, 3, 4)), arrays((2, 3, 2, 3), 1)
    args = dict(stride=1, padding=1, output_padding=(1, 2), dilation=(2, 3))
    y = compare_fn(lambda *t: F.conv_transpose2d(*t, **args),
                   lambda *t: TF.conv_transpose2d(*t, **args), [x, w])
    assert y.shape == (1, 3, 4, 10)
    gradcheck_fn(lambda *t: F.conv_transpose2d(*t, **args), [x, w])
