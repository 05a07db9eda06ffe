"""nn.init: torch's formulas for gains, fans, bounds and spreads; default Conv2d/Linear init.

The expected bounds and standard deviations are torch's formulas written out; when torch is
installed its own draws are checked against the same numbers.
"""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn import init

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

SHAPE = (64, 32, 3, 3)  # fan_in 288, fan_out 576; 18,432 draws


def ours(shape=SHAPE, dtype=np.float32):
    return tc.Tensor(np.zeros(shape), dtype=dtype)


def torch_draw(name, kwargs, seed):
    """torch.nn.init.<name> applied to an empty SHAPE tensor, or None without torch."""
    if torch is None:
        return None
    torch.manual_seed(seed)
    return getattr(torch.nn.init, name)(torch.empty(SHAPE), **kwargs).numpy()


@requires_torch
@pytest.mark.parametrize("name, param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                         ("tanh", None), ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                         ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    expected = torch.nn.init.calculate_gain(name, param)
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


@requires_torch
@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (6, 2, 5), (7, 1, 2, 3, 4)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(ours(shape)) == expected


def test_gains_and_fans_by_formula():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init._calculate_fan_in_and_fan_out(ours()) == (288, 576)


def test_errors():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(ours((5,)))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(ours(), mode="fan_avg")


def _check_uniform(draw, bound):
    """All within [-bound, bound], extremes near it, std bound/sqrt(3), mean near 0.

    Tolerances scale with the draw count n: the largest of n uniform |x| falls below
    (1 - 10/n) * bound with probability ~e^-10; std and mean get five standard errors.
    """
    n = draw.size
    assert np.abs(draw).max() <= bound * (1 + 1e-6)
    assert np.abs(draw).max() > (1 - 10 / n) * bound
    assert draw.std() == pytest.approx(bound / math.sqrt(3), rel=5 * 0.45 / math.sqrt(n))
    assert abs(draw.mean()) < 5 * bound / math.sqrt(3 * n)


def _check_normal(draw, std):
    n = draw.size
    assert draw.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))
    assert abs(draw.mean()) < 5 * std / math.sqrt(n)


UNIFORM = [
    ("xavier_uniform_", {}, math.sqrt(6 / (288 + 576))),
    ("xavier_uniform_", {"gain": 2.0}, 2 * math.sqrt(6 / (288 + 576))),
    ("kaiming_uniform_", {}, math.sqrt(2) * math.sqrt(3 / 288)),  # a=0: gain sqrt(2)
    ("kaiming_uniform_", {"a": math.sqrt(5)}, 1 / math.sqrt(288)),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(6 / 576)),
    ("uniform_", {"a": -0.3, "b": 0.3}, 0.3),
]


@pytest.mark.parametrize("name, kwargs, bound", UNIFORM)
def test_uniform_initialisers_follow_torch_formulas(name, kwargs, bound):
    tc.manual_seed(0)
    t = getattr(init, name)(ours(), **kwargs)
    assert t.dtype == np.float32 and t.shape == SHAPE
    _check_uniform(t.numpy(), bound)
    reference = torch_draw(name, kwargs, seed=0)
    if reference is not None:
        _check_uniform(reference, bound)


NORMAL = [
    ("xavier_normal_", {}, math.sqrt(2 / (288 + 576))),
    ("kaiming_normal_", {}, math.sqrt(2) / math.sqrt(288)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / 576)),
    ("normal_", {"mean": 0.0, "std": 0.02}, 0.02),
]


@pytest.mark.parametrize("name, kwargs, std", NORMAL)
def test_normal_initialisers_follow_torch_formulas(name, kwargs, std):
    tc.manual_seed(1)
    t = getattr(init, name)(ours(), **kwargs)
    assert t.dtype == np.float32 and t.shape == SHAPE
    _check_normal(t.numpy(), std)
    reference = torch_draw(name, kwargs, seed=1)
    if reference is not None:
        _check_normal(reference, std)


def test_fills_are_in_place_and_keep_dtype():
    t = ours((100, 100), np.float64)
    data = t._array
    init.uniform_(t, -2.0, 3.0)
    assert t._array is data and t.dtype == np.float64
    assert t.numpy().min() >= -2.0 and t.numpy().max() < 3.0
    assert t.numpy().mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(t, 5.0, 0.5)
    assert t._array is data
    assert t.numpy().mean() == pytest.approx(5.0, abs=0.02)
    assert t.numpy().std() == pytest.approx(0.5, rel=0.03)
    assert np.array_equal(init.constant_(t, 0.25).numpy(), np.full((100, 100), 0.25))
    assert not init.zeros_(t).numpy().any()
    assert (init.ones_(t).numpy() == 1).all()
    assert t._array is data


def test_initialisers_follow_manual_seed():
    tc.manual_seed(3)
    a = init.kaiming_normal_(ours()).numpy().copy()
    tc.manual_seed(3)
    b = init.kaiming_normal_(ours()).numpy()
    assert np.array_equal(a, b)


LAYERS = [
    (lambda m: m.Conv2d(16, 32, 5), 16 * 25),
    (lambda m: m.Conv2d(8, 12, 3, groups=4), 2 * 9),
    (lambda m: m.Linear(400, 120), 400),
]


@pytest.mark.parametrize("make, fan_in", LAYERS)
def test_default_layer_init_matches_torch(make, fan_in):
    """kaiming_uniform_(a=sqrt(5)) gives weight bound 1/sqrt(fan_in), the bias bound too."""
    tc.manual_seed(2)
    layer = make(nn)
    bound = 1 / math.sqrt(fan_in)
    _check_uniform(layer.weight.numpy(), bound)
    assert np.abs(layer.bias.numpy()).max() <= bound
    assert layer.bias.numpy().std() > 0.3 * bound  # really drawn, not zeros
    if torch is not None:
        torch.manual_seed(2)
        reference = make(torch.nn)
        _check_uniform(reference.weight.detach().numpy(), bound)
        assert np.abs(reference.bias.detach().numpy()).max() <= bound
