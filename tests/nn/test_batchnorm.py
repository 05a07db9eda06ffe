"""Batch norm: running statistics, momentum, eval mode and errors, against torch where installed."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn import functional as F
from layer_helpers import copy_torch_to_ours

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


@requires_torch
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("kind, shape", [("BatchNorm2d", (4, 3, 5, 5)),
                                         ("BatchNorm1d", (8, 3)),
                                         ("BatchNorm1d", (4, 3, 6))])
def test_running_stats_follow_torch_over_steps(kind, shape, momentum):
    rng = np.random.default_rng(0)
    ours = getattr(nn, kind)(3, momentum=momentum, eps=1e-3)
    theirs = getattr(torch.nn, kind)(3, momentum=momentum, eps=1e-3)
    copy_torch_to_ours(theirs, ours)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        yo, yt = ours(tc.Tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, key).numpy(), getattr(theirs, key).numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 4
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_eval_mode_uses_running_stats_exactly():
    bn = nn.BatchNorm2d(2, eps=1e-5).eval()
    bn.running_mean._array = np.array([1.0, -2.0], np.float32)
    bn.running_var._array = np.array([4.0, 0.25], np.float32)
    bn.weight._array = np.array([2.0, 3.0], np.float32)
    bn.bias._array = np.array([0.5, -1.0], np.float32)
    x = np.random.default_rng(1).standard_normal((3, 2, 2, 2)).astype(np.float32)
    y = bn(tc.Tensor(x)).numpy()
    mean = np.array([1.0, -2.0]).reshape(1, 2, 1, 1)
    std = np.sqrt(np.array([4.0, 0.25]) + 1e-5).reshape(1, 2, 1, 1)
    want = (x - mean) / std * np.array([2.0, 3.0]).reshape(1, 2, 1, 1) + np.array(
        [0.5, -1.0]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert y.dtype == np.float32
    assert bn.num_batches_tracked.item() == 0  # eval does not count batches


def test_train_mode_normalises_with_biased_batch_variance():
    x = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float64) * 3 + 1
    bn = nn.BatchNorm1d(3, eps=0.0).double()
    y = bn(tc.Tensor(x, dtype=np.float64)).numpy()
    np.testing.assert_allclose(y, (x - x.mean(0)) / x.std(0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(0), rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_matches_torch(training):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 2, 5)).astype(np.float32)
    w, b = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    rm, rv = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    ours_rm, ours_rv = tc.Tensor(rm.copy()), tc.Tensor(rv.copy())
    theirs_rm, theirs_rv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    xo, wo, bo = (tc.Tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yo = F.batch_norm(xo, ours_rm, ours_rv, wo, bo, training, 0.2, 1e-4)
    yt = torch.nn.functional.batch_norm(xt, theirs_rm, theirs_rv, wt, bt, training, 0.2, 1e-4)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours_rm.numpy(), theirs_rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_rv.numpy(), theirs_rv.numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(x.shape).astype(np.float32)
    (yo * tc.Tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for mine, ref in ((xo, xt), (wo, wt), (bo, bt)):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-4, atol=1e-5)


@requires_torch
def test_no_running_stats_uses_batch_stats_in_eval_and_keys_match_torch():
    ours = nn.BatchNorm2d(3, track_running_stats=False)
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert ours.running_mean is None and ours.num_batches_tracked is None
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(4).standard_normal((4, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_float64_input_stays_float64():
    bn = nn.BatchNorm2d(2).double()
    y = bn(tc.Tensor(np.ones((2, 2, 2, 2)) * np.arange(2).reshape(1, 2, 1, 1), dtype=np.float64))
    assert y.dtype == np.float64 and bn.running_mean.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64


def test_wrong_channel_count_names_the_numbers():
    with pytest.raises(ValueError, match=r"BatchNorm2d expected 16 channels, got 3 \(input shape "
                                         r"\(2, 3, 4, 4\)\)"):
        nn.BatchNorm2d(16)(tc.Tensor.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="BatchNorm1d expected 4 channels, got 5"):
        nn.BatchNorm1d(4)(tc.Tensor.zeros(3, 5))


def test_wrong_rank_and_single_value_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d expects 4-D \(N, C, H, W\) input, got "
                                         r"shape \(2, 3\)"):
        nn.BatchNorm2d(3)(tc.Tensor.zeros(2, 3))
    with pytest.raises(ValueError, match="BatchNorm1d expects 2-D"):
        nn.BatchNorm1d(3)(tc.Tensor.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tc.Tensor.zeros(1, 3))
    with pytest.raises(ValueError, match=r"running_mean has shape \(4,\), expected \(3,\)"):
        F.batch_norm(tc.Tensor.zeros(2, 3), tc.Tensor.zeros(4), tc.Tensor.ones(3))


def test_eval_needs_running_stats_in_functional():
    with pytest.raises(ValueError, match="training=False needs running_mean and running_var"):
        F.batch_norm(tc.Tensor.zeros(2, 3), None, None, training=False)


def test_reset_running_stats_and_parameters():
    bn = nn.BatchNorm1d(2)
    bn(tc.Tensor(np.arange(8.0).reshape(4, 2)))
    bn.weight._array = np.array([3.0, 4.0], np.float32)
    bn.reset_parameters()
    assert np.array_equal(bn.running_mean.numpy(), [0, 0])
    assert np.array_equal(bn.running_var.numpy(), [1, 1])
    assert bn.num_batches_tracked.item() == 0
    assert np.array_equal(bn.weight.numpy(), [1, 1]) and np.array_equal(bn.bias.numpy(), [0, 0])
