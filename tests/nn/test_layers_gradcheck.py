"""Every layer's input and parameter gradients against float64 central differences."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

# (name, layer factory, input shape); small shapes keep the element-by-element check fast
CASES = [
    ("conv", lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 4, 4)),
    ("conv_grouped_strided", lambda: nn.Conv2d(4, 2, (2, 3), stride=2, dilation=(1, 2),
                                               groups=2, bias=False), (1, 4, 5, 6)),
    ("linear", lambda: nn.Linear(4, 3), (3, 4)),
    ("maxpool", lambda: nn.MaxPool2d(2), (1, 2, 4, 4)),
    ("maxpool_pad", lambda: nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 5, 5)),
    ("avgpool", lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 5, 5)),
    ("adaptive", lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 5)),
    ("flatten", lambda: nn.Flatten(), (2, 3, 2, 2)),
    ("relu", lambda: nn.ReLU(), (3, 5)),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), (3, 5)),
    ("elu", lambda: nn.ELU(0.7), (3, 5)),
    ("sigmoid", lambda: nn.Sigmoid(), (3, 5)),
    ("tanh", lambda: nn.Tanh(), (3, 5)),
    ("softmax", lambda: nn.Softmax(dim=1), (3, 5)),
    ("log_softmax", lambda: nn.LogSoftmax(dim=0), (3, 5)),
    ("identity", lambda: nn.Identity(), (3, 5)),
    ("maxout", lambda: nn.Maxout(2), (2, 4, 3)),
    ("bn1d", lambda: nn.BatchNorm1d(3), (5, 3)),
    ("bn1d_3d", lambda: nn.BatchNorm1d(2), (3, 2, 4)),
    ("bn2d", lambda: nn.BatchNorm2d(2), (3, 2, 3, 3)),
    ("bn2d_no_affine", lambda: nn.BatchNorm2d(2, affine=False), (3, 2, 2, 3)),
    ("bn2d_no_bias", lambda: nn.BatchNorm2d(2, bias=False), (3, 2, 2, 3)),
    ("sequential", lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Tanh(),
                                         nn.Flatten(), nn.Linear(8, 2)), (2, 1, 4, 4)),
]


def _randomise(layer, rng):
    """Non-trivial float64 parameters (batch-norm starts at weight 1, bias 0)."""
    layer.double()
    for p in layer.parameters():
        p._array = rng.uniform(0.5, 1.5, p.shape)
    return list(layer.parameters())


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name, factory, shape", CASES, ids=[c[0] for c in CASES])
def test_layer_gradcheck(name, factory, shape, train):
    rng = np.random.default_rng(3)
    layer = factory()
    params = _randomise(layer, rng)
    if name.startswith("bn") and layer.running_var is not None:
        layer.running_mean._array = rng.uniform(-0.5, 0.5, layer.running_mean.shape)
        layer.running_var._array = rng.uniform(0.5, 2.0, layer.running_var.shape)
    layer.train(train)
    x = tc.Tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
    for p in params:
        assert p.dtype == np.float64
    assert tc.gradcheck(lambda x, *ps: layer(x), [x, *params], atol=1e-6, rtol=1e-4)


def test_batchnorm_gradcheck_without_running_stats():
    rng = np.random.default_rng(4)
    layer = nn.BatchNorm2d(2, track_running_stats=False).eval()  # eval still uses batch stats
    params = _randomise(layer, rng)
    x = tc.Tensor(rng.standard_normal((2, 2, 2, 2)), requires_grad=True, dtype=np.float64)
    assert tc.gradcheck(lambda x, *ps: layer(x), [x, *params], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(label_smoothing=0.2), nn.NLLLoss()])
def test_classification_loss_gradcheck(loss):
    rng = np.random.default_rng(5)
    x = tc.Tensor(rng.standard_normal((4, 3)), requires_grad=True, dtype=np.float64)
    target = tc.Tensor(rng.integers(0, 3, 4))
    assert tc.gradcheck(lambda x: loss(x, target), [x], atol=1e-6, rtol=1e-4)


def test_mse_loss_gradcheck():
    rng = np.random.default_rng(6)
    x = tc.Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    y = tc.Tensor(rng.standard_normal((3, 4)), dtype=np.float64)
    assert tc.gradcheck(lambda x: nn.MSELoss(reduction="sum")(x, y), [x], atol=1e-6, rtol=1e-4)


def test_dropout_gradcheck_with_fixed_mask():
    """With the generator reseeded before every call, dropout is a fixed linear map."""
    layer = nn.Dropout(0.4)
    rng = np.random.default_rng(7)
    x = tc.Tensor(rng.standard_normal((4, 5)), requires_grad=True, dtype=np.float64)

    def fn(x):
        tc.manual_seed(11)
        return layer(x)

    assert tc.gradcheck(fn, [x], atol=1e-6, rtol=1e-4)
