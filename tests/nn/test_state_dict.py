"""state_dict / load_state_dict: torch's keys, order and shapes; both ways; errors lose nothing."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.checkpoint import load, save
from layer_helpers import torch_state_as_numpy

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def build(m):
    """The same nested model from our nn or torch.nn."""
    return m.Sequential(
        m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2)),
        m.Conv2d(4, 6, 3, bias=False), m.BatchNorm2d(6, affine=False), m.Flatten(),
        m.Dropout(0.2), m.Linear(6, 5), m.BatchNorm1d(5), m.Linear(5, 3))


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


@requires_torch
def test_keys_order_and_shapes_match_torch():
    ours, theirs = build(nn).state_dict(), build(torch.nn).state_dict()
    assert isinstance(ours, OrderedDict)
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key].shape == tuple(theirs[key].shape), key
        assert ours[key].dtype == np.dtype(str(theirs[key].dtype).replace("torch.", "")), key


def test_state_dict_values_are_detached_tensors():
    model = nn.Linear(3, 2)
    sd = model.state_dict()
    assert all(isinstance(v, tc.Tensor) and not v.requires_grad for v in sd.values())
    assert sd["weight"]._array is model.weight._array  # shares storage, as torch


@requires_torch
def test_torch_weights_load_into_ours_and_outputs_match():
    theirs = build(torch.nn).eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    theirs.train()
    theirs(torch.tensor(x))  # move running stats away from their defaults
    theirs.eval()
    ours = build(nn).eval()
    result = ours.load_state_dict(torch_state_as_numpy(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


@requires_torch
def test_our_weights_load_into_torch():
    ours = build(nn)
    ours(tc.Tensor(np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)))
    theirs = build(torch.nn)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    for key, value in theirs.state_dict().items():
        assert np.array_equal(value.numpy(), ours.state_dict()[key].numpy()), key


def test_loading_accepts_tensors_and_copies_values():
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
    weight_obj = dst.weight
    dst.load_state_dict(src.state_dict())
    assert dst.weight is weight_obj  # the same Parameter, new values
    assert np.array_equal(dst.weight.numpy(), src.weight.numpy())
    src.weight._array[...] = 0  # no aliasing after the load
    assert dst.weight.numpy().any()


def test_loading_float64_values_keeps_our_dtype():
    model = nn.Linear(2, 2)
    model.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    assert model.weight.dtype == np.float32 and model.weight.numpy().sum() == 4


def test_round_trip_through_checkpoint_file(tmp_path):
    model = build(nn)
    model(tc.Tensor.randn(2, 1, 6, 6))
    save(model.state_dict(), tmp_path / "model.ckpt")
    fresh = build(nn)
    fresh.load_state_dict(load(tmp_path / "model.ckpt"))
    for key, value in snapshot(model).items():
        assert np.array_equal(fresh.state_dict()[key].numpy(), value), key


def test_missing_key_is_an_error_and_changes_nothing():
    model, other = build(nn), build(nn)
    before = snapshot(model)
    sd = other.state_dict()
    del sd["1.weight"]
    with pytest.raises(RuntimeError, match=r"missing key\(s\) in state_dict: '1.weight'"):
        model.load_state_dict(sd)
    assert all(np.array_equal(v, before[k]) for k, v in snapshot(model).items())


def test_unexpected_key_is_an_error_and_changes_nothing():
    model, other = build(nn), build(nn)
    before = snapshot(model)
    sd = other.state_dict()
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"unexpected key\(s\) in state_dict: 'extra.weight'"):
        model.load_state_dict(sd)
    assert all(np.array_equal(v, before[k]) for k, v in snapshot(model).items())


def test_shape_mismatch_names_key_and_both_shapes_and_changes_nothing():
    model = build(nn)
    before = snapshot(model)
    sd = build(nn).state_dict()  # good values for every key but one, which comes last
    sd["7.weight"] = np.zeros((3, 4), np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for 7.weight: copying a param with "
                                           r"shape \(3, 4\) from checkpoint, the shape in "
                                           r"current model is \(3, 5\)"):
        model.load_state_dict(sd)
    assert all(np.array_equal(v, before[k]) for k, v in snapshot(model).items())


def test_shape_mismatch_is_an_error_even_when_not_strict():
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        model.load_state_dict({"bias": np.zeros(3)}, strict=False)


def test_non_strict_reports_missing_and_unexpected_keys():
    model = nn.Linear(2, 2)
    result = model.load_state_dict({"bias": np.ones(2), "foo": np.ones(1)}, strict=False)
    assert result.missing_keys == ["weight"] and result.unexpected_keys == ["foo"]
    assert np.array_equal(model.bias.numpy(), [1, 1])


def test_all_errors_are_listed_together():
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict({"weight": np.zeros((2, 3)), "extra": np.zeros(1)})
    text = str(info.value)
    assert "Error(s) in loading state_dict for Linear" in text
    assert "'extra'" in text and "'bias'" in text and "size mismatch for weight" in text
