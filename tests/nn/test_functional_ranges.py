"""Integer arguments out of range and zero-size inputs of conv2d / pooling, against torch."""
import numpy as np
import pytest

import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor

HUGE = 2 ** 64


def _x(shape=(1, 1, 6, 6)):
    return Tensor(np.zeros(shape, np.float32))


@pytest.mark.parametrize("name, call", [
    ("stride", lambda: F.conv2d(_x(), _x((1, 1, 3, 3)), stride=HUGE)),
    ("padding", lambda: F.conv2d(_x(), _x((1, 1, 3, 3)), padding=(0, HUGE))),
    ("dilation", lambda: F.conv2d(_x(), _x((1, 1, 3, 3)), dilation=-HUGE)),
    ("kernel_size", lambda: F.max_pool2d(_x(), HUGE)),
    ("stride", lambda: F.max_pool2d(_x(), 2, stride=(1, 2 ** 40))),
    ("padding", lambda: F.avg_pool2d(_x(), 2, padding=HUGE)),
    ("dilation", lambda: F.max_pool2d(_x(), 2, dilation=np.uint64(2 ** 63))),
])
def test_huge_integer_arguments_name_the_argument(name, call):
    with pytest.raises(ValueError, match=rf"^{name} .* is out of range: each value must be at most 2147483647"):
        call()


@pytest.mark.parametrize("xs, ws, groups", [
    ((2, 0, 5, 5), (3, 0, 3, 3), 1),     # no input channels: torch returns (N, 0, OH, OW)
    ((2, 0, 5, 5), (4, 0, 3, 3), 2),
    ((0, 2, 5, 5), (3, 2, 3, 3), 1),     # empty batch
])
@pytest.mark.parametrize("bias", [False, True])
def test_zero_channel_and_zero_batch_conv2d_match_torch(xs, ws, groups, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.random(xs, np.float32), rng.random(ws, np.float32)
    b = rng.random(ws[0], np.float32) if bias else None
    ours = [Tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    ref = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    y = F.conv2d(*ours, stride=2, padding=1, groups=groups)
    y_ref = torch.nn.functional.conv2d(*ref, stride=2, padding=1, groups=groups)
    assert y.shape == tuple(y_ref.shape) and y.dtype == np.float32
    y.sum().backward()
    y_ref.sum().backward()
    for a, r in zip(ours, ref):
        if a is not None:
            assert a.grad.shape == tuple(r.grad.shape)
            np.testing.assert_array_equal(a.grad.numpy(), r.grad.numpy())


def test_conv2d_with_no_output_channels_is_refused_as_in_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(0, 2, 3, 3))
    with pytest.raises(ValueError, match=r"weight \(0, 2, 3, 3\) has 0 output channels"):
        F.conv2d(_x((1, 2, 5, 5)), _x((0, 2, 3, 3)))


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_zero_size_pooling_matches_torch(op):
    torch = pytest.importorskip("torch")
    x = np.zeros((0, 2, 4, 4), np.float32)
    y = getattr(F, op)(Tensor(x), 2)
    assert y.shape == tuple(getattr(torch.nn.functional, op)(torch.tensor(x), 2).shape)
    for shape in [(2, 0, 4, 4), (2, 2, 0, 4)]:          # torch refuses these
        with pytest.raises(RuntimeError):
            getattr(torch.nn.functional, op)(torch.zeros(shape), 2)
        with pytest.raises(ValueError, match=f"{op} expects non-zero channels"):
            getattr(F, op)(Tensor(np.zeros(shape, np.float32)), 2)
