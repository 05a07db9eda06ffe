"""Each layer against torch.nn in float32: outputs, input grads and parameter grads."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from layer_helpers import assert_param_grads_match, copy_torch_to_ours, run_both

torch = pytest.importorskip("torch")
tnn = torch.nn

RTOL, ATOL = 1e-4, 1e-5  # float32, sums of at most a few hundred terms

# (name, our factory, torch factory, input shape)
CASES = [
    ("conv", lambda m: m.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    ("conv_strided_grouped", lambda m: m.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                                dilation=(1, 2), groups=2, bias=False),
     (2, 4, 7, 8)),
    ("conv_same", lambda m: m.Conv2d(2, 3, 3, padding="same"), (1, 2, 5, 5)),
    ("linear", lambda m: m.Linear(5, 3), (4, 5)),
    ("linear_3d_nobias", lambda m: m.Linear(5, 3, bias=False), (2, 3, 5)),
    ("maxpool", lambda m: m.MaxPool2d(2), (2, 3, 6, 6)),
    ("maxpool_pad", lambda m: m.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    ("maxpool_ceil", lambda m: m.MaxPool2d(2, ceil_mode=True), (1, 2, 5, 5)),
    ("avgpool", lambda m: m.AvgPool2d(2), (2, 3, 6, 6)),
    ("avgpool_nopad", lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 2, 7, 7)),
    ("adaptive_global", lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 5, 4)),
    ("adaptive_3x2", lambda m: m.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    ("flatten", lambda m: m.Flatten(), (2, 3, 4, 5)),
    ("flatten_0_2", lambda m: m.Flatten(0, 2), (2, 3, 4, 5)),
    ("relu", lambda m: m.ReLU(), (3, 7)),
    ("leaky_relu", lambda m: m.LeakyReLU(0.1), (3, 7)),
    ("elu", lambda m: m.ELU(0.5), (3, 7)),
    ("sigmoid", lambda m: m.Sigmoid(), (3, 7)),
    ("tanh", lambda m: m.Tanh(), (3, 7)),
    ("softmax", lambda m: m.Softmax(dim=1), (3, 7)),
    ("log_softmax", lambda m: m.LogSoftmax(dim=-1), (3, 7)),
    ("identity", lambda m: m.Identity(), (3, 7)),
    ("bn1d_2d", lambda m: m.BatchNorm1d(4), (6, 4)),
    ("bn1d_3d", lambda m: m.BatchNorm1d(3), (4, 3, 5)),
    ("bn2d", lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
    ("bn2d_no_affine", lambda m: m.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
    ("sequential", lambda m: m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4),
                                          m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                                          m.Linear(4 * 3 * 3, 5)), (3, 1, 6, 6)),
]


def _randomise_affine(ours, tmod, rng):
    """Give batch-norm weights non-trivial values so their gradients are tested."""
    with torch.no_grad():
        for name, p in tmod.named_parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
    copy_torch_to_ours(tmod, ours)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, factory, shape", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(name, factory, shape, train):
    rng = np.random.default_rng(1)
    ours, theirs = factory(nn), factory(tnn)
    if name.startswith("bn"):
        _randomise_affine(ours, theirs, rng)
        theirs.running_mean.uniform_(-0.5, 0.5)
        theirs.running_var.uniform_(0.5, 2.0)
    copy_torch_to_ours(theirs, ours)
    ours.train(train)
    theirs.train(train)
    x = rng.standard_normal(shape).astype(np.float32)
    yo, yt, gxo, gxt = run_both(ours, theirs, x)
    assert yo.shape == yt.shape
    np.testing.assert_allclose(yo, yt, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gxo, gxt, rtol=RTOL, atol=ATOL)
    assert_param_grads_match(ours, theirs, RTOL, ATOL)
    for key, value in theirs.state_dict().items():  # running stats after the step
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_torch(reduction):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = rng.integers(0, 4, 6)
    pairs = [(nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
              tnn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), logits),
             (nn.NLLLoss(reduction=reduction), tnn.NLLLoss(reduction=reduction),
              np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True)))]
    for ours, theirs, inp in pairs:
        xo = tc.Tensor(inp, requires_grad=True)
        xt = torch.tensor(inp, requires_grad=True)
        lo, lt = ours(xo, tc.Tensor(target)), theirs(xt, torch.tensor(target))
        np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
        lo.sum().backward()
        lt.sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    a, b = (rng.standard_normal((3, 5)).astype(np.float32) for _ in range(2))
    xo, xt = tc.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    lo = nn.MSELoss(reduction=reduction)(xo, tc.Tensor(b))
    lt = tnn.MSELoss(reduction=reduction)(xt, torch.tensor(b))
    np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
    lo.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


REPR_CASES = [
    lambda m: m.Conv2d(1, 32, 3, padding=1),
    lambda m: m.Conv2d(4, 8, (3, 5), stride=2, dilation=2, groups=2, bias=False),
    lambda m: m.Conv2d(2, 2, 3, padding="same"),
    lambda m: m.Linear(10, 3, bias=False),
    lambda m: m.MaxPool2d(2),
    lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    lambda m: m.AvgPool2d(2, stride=1),
    lambda m: m.AdaptiveAvgPool2d((1, 1)),
    lambda m: m.Flatten(),
    lambda m: m.ReLU(), lambda m: m.LeakyReLU(0.2), lambda m: m.ELU(),
    lambda m: m.Sigmoid(), lambda m: m.Tanh(), lambda m: m.Softmax(dim=1),
    lambda m: m.LogSoftmax(dim=1), lambda m: m.Identity(), lambda m: m.Dropout(0.25),
    lambda m: m.BatchNorm1d(7), lambda m: m.BatchNorm2d(3, momentum=None, affine=False),
    lambda m: m.CrossEntropyLoss(), lambda m: m.MSELoss(), lambda m: m.NLLLoss(),
    lambda m: m.Sequential(m.Conv2d(1, 4, 3), m.Sequential(m.ReLU(), m.MaxPool2d(2)),
                           m.Flatten(), m.Linear(4, 2)),
]


@pytest.mark.parametrize("factory", REPR_CASES)
def test_repr_matches_torch(factory):
    assert repr(factory(nn)) == repr(factory(tnn))
