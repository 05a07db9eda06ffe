"""What the architecture gallery asks of nn: adaptive average pooling to the sizes its models
use (torch's uneven, overlapping bins, and upsampling from a smaller map), max pooling with
ceil_mode as GoogLeNet does, BatchNorm's eps, and init.trunc_normal_."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn import functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("size, out", [(13, 6), (14, 4), (7, 7), (2, 7), (1, 7), (5, 3),
                                       (4, 2)])
def test_adaptive_avg_pool_gallery_sizes_match_torch(size, out):
    """AlexNet 13->6, GoogLeNet's aux heads 14->4, VGG 7->7, and smaller inputs upsampled."""
    x = np.random.default_rng(size * 10 + out).standard_normal((2, 3, size, size + 1))
    ours = tc.Tensor(x, dtype=np.float64, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ref = F.adaptive_avg_pool2d(ours, (out, out)), torch.nn.functional.adaptive_avg_pool2d(
        theirs, (out, out))
    np.testing.assert_allclose(y.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(1).standard_normal(ref.shape)
    (y * tc.Tensor(g, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_adaptive_avg_pool_uneven_bins_gradcheck():
    x = tc.Tensor(np.random.default_rng(0).standard_normal((1, 2, 14, 9)), dtype=np.float64,
                  requires_grad=True)
    assert tc.gradcheck(lambda t: F.adaptive_avg_pool2d(t, (4, 4)), [x])


def test_googlenet_pools_and_batch_norm_eps_match_torch():
    """MaxPool2d(3, 2, ceil_mode=True) on 112 -> 56 and 7 -> 4 (torch's last-window rule), the
    Inception branch pool (3, 1, 1, ceil_mode=True) keeping the size, BatchNorm2d(eps=0.001)."""
    rng = np.random.default_rng(2)
    for size, args in ((112, (3, 2, 0)), (7, (2, 2, 0)), (14, (3, 1, 1)), (13, (3, 2, 0))):
        x = rng.standard_normal((1, 2, size, size)).astype(np.float32)
        ours = nn.MaxPool2d(*args, ceil_mode=True)(tc.Tensor(x)).numpy()
        ref = torch.nn.MaxPool2d(*args, ceil_mode=True)(torch.from_numpy(x)).numpy()
        assert ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
    bn, tbn = nn.BatchNorm2d(4, eps=0.001), torch.nn.BatchNorm2d(4, eps=0.001)
    x = (rng.standard_normal((3, 4, 2, 2)) * 0.01).astype(np.float32)  # variance near eps
    np.testing.assert_allclose(bn(tc.Tensor(x)).numpy(),
                               tbn(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def _truncated_normal_moments(mean, std, a, b):
    """Mean and standard deviation of N(mean, std^2) truncated to [a, b]."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    Z = cdf(beta) - cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / Z
    var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / Z
                      - ((pdf(alpha) - pdf(beta)) / Z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 0.01, -2, 2), (0.0, 1.0, -2, 2),
                                             (0.5, 1.0, 0.0, 1.0), (0.0, 1.0, 1.0, 3.0)])
def test_trunc_normal_matches_the_truncated_distribution_and_torch(mean, std, a, b):
    tc.manual_seed(0)
    w = nn.init.trunc_normal_(tc.Tensor(np.zeros((200, 250), np.float32)), mean, std, a, b)
    v = w.numpy().astype(np.float64)
    assert w.dtype == np.float32 and v.min() >= a and v.max() <= b
    m, s = _truncated_normal_moments(mean, std, a, b)
    n = v.size
    assert abs(v.mean() - m) < 5 * s / math.sqrt(n)
    assert abs(v.std() - s) < 0.02 * s
    t = torch.nn.init.trunc_normal_(torch.empty(200, 250, dtype=torch.float64), mean, std, a, b)
    assert abs(t.std().item() - v.std()) < 0.03 * s


def test_trunc_normal_errors_name_the_numbers():
    w = tc.Tensor(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="a=3, b=1"):
        nn.init.trunc_normal_(w, a=3, b=1)
    with pytest.raises(ValueError, match=r"\[10, 11\]"):
        nn.init.trunc_normal_(w, a=10, b=11)
