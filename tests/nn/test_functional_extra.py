"""F.pad, F.one_hot, unbatched conv/pool inputs, inplace= keywords, against torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from strategies import arrays, seeds, tie_free
from torch_compare import compare_fn, gradcheck_fn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@st.composite
def pad_cases(draw):
    """(shape, pad tuple, mode): 3-D or 4-D input, one or two padded dims, within torch's limits."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(
        draw(st.integers(2, 5)) for _ in range(draw(st.integers(1, 2))))
    if mode == "constant":
        dims = draw(st.integers(1, len(shape)))
    else:                                   # torch: (d+1)- or (d+2)-D input for d padded dims
        dims = draw(st.integers(max(1, len(shape) - 2), min(2, len(shape) - 1)))
    pad = []
    for k in range(dims):
        n = shape[-1 - k]
        hi = n - 1 if mode == "reflect" else n if mode == "circular" else 3
        lo = -1 if mode == "constant" and n > 2 else 0
        pad += [draw(st.integers(lo, hi)), draw(st.integers(lo, hi))]
    return shape, tuple(pad), mode


@given(case=pad_cases(), seed=seeds)
def test_pad_matches_torch(case, seed):
    shape, pad, mode = case
    x = arrays(shape, seed)
    value = 0.5 if mode == "constant" else None
    kw = {"value": value} if value is not None else {}
    compare_fn(lambda t: F.pad(t, pad, mode, value),
               lambda t: TF.pad(t, pad, mode=mode, **kw), [x])
    gradcheck_fn(lambda t: F.pad(t, pad, mode, value), [x])


def test_pad_errors():
    x = tc.Tensor.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match="mode must be 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match="reflect padding \\(3, 0\\) must be smaller than the "
                                         "dimension size 3"):
        F.pad(x, (3, 0, 0, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="last 1 or 2 dims"):
        F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")
    with pytest.raises(ValueError, match="needs a 2-D or 3-D input"):
        F.pad(x, (1, 1), mode="replicate")
    with pytest.raises(ValueError, match="pairs"):
        F.pad(x, (1, 1, 1))


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 1]])
    ours = F.one_hot(tc.Tensor(labels))
    theirs = TF.one_hot(torch.tensor(labels))
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(tc.Tensor(labels), 6).numpy(),
                                  TF.one_hot(torch.tensor(labels), 6).numpy())
    with pytest.raises(ValueError, match=r"class values must be in \[0, 3\)"):
        F.one_hot(tc.Tensor(labels), 3)
    with pytest.raises(TypeError, match="index tensors"):
        F.one_hot(tc.Tensor([0.5]))


def test_unbatched_conv_and_pooling_match_torch():
    x = tie_free((3, 6, 5), 0)
    w = arrays((4, 3, 3, 3), 1)
    compare_fn(lambda a, b: F.conv2d(a, b, padding=1), lambda a, b: TF.conv2d(a, b, padding=1),
               [x, w])
    for ours, theirs in [(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2)),
                         (lambda t: F.avg_pool2d(t, 2, 1), lambda t: TF.avg_pool2d(t, 2, 1)),
                         (lambda t: F.adaptive_avg_pool2d(t, (2, 3)),
                          lambda t: TF.adaptive_avg_pool2d(t, (2, 3)))]:
        compare_fn(ours, theirs, [x])
    y, idx = F.max_pool2d(tc.Tensor(x, dtype=np.float64), 2, return_indices=True)
    yt, it = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert y.shape == tuple(yt.shape) == (3, 3, 2)
    np.testing.assert_array_equal(idx.numpy(), it.numpy())
    layer = nn.Conv2d(3, 2, 3)
    assert layer(tc.Tensor(x.astype(np.float32))).shape == (2, 4, 3)


def test_inplace_true_overwrites_the_input_as_torch_does():
    """inplace=True: the input takes the values and is returned; gradients still flow."""
    values = np.array([-1.5, -0.25, 0.5, 2.0])
    pairs = [(nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
             (nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1, inplace=True)),
             (nn.ELU(inplace=True), torch.nn.ELU(inplace=True)),
             (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
             (nn.Dropout(0.5, inplace=True).eval(), torch.nn.Dropout(0.5, inplace=True).eval())]
    for ours, theirs in pairs:
        w = tc.tensor(values, requires_grad=True)
        wt = torch.tensor(values, requires_grad=True)
        x, xt = w * 2, wt * 2
        y, yt = ours(x), theirs(xt)
        assert y is x, type(ours).__name__
        np.testing.assert_allclose(x.detach().numpy(), xt.detach().numpy(), rtol=1e-12)
        (y * y).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12,
                                   err_msg=type(ours).__name__)
    x = tc.Tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    assert F.dropout(x, 0.5, False, inplace=True) is x
    leaf = tc.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(leaf, inplace=True)
    d = tc.Tensor(np.ones((2, 3, 2, 2), np.float32))
    out = nn.Dropout2d(0.5, inplace=True)(d)
    assert out is d and set(np.unique(d.numpy())) <= {0.0, 2.0}