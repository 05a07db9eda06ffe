"""Training on the device: float64 gradcheck through a small CNN, one Adam step equal to the
CPU's, bit-identical reruns, and ``python -m tinygrad_cnn train --device cuda``."""
import json

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from strategies import arrays
from tinygrad_cnn import Tensor, nn, optim
from tinygrad_cnn.backends.cuda import settings as cuda_settings
from tinygrad_cnn.models import ResidualBlock


class TinyCNN(nn.Module):
    """SimpleCNN's layer types at simulator size: [conv, ReLU, max pool] x 2, linear."""

    def __init__(self, pool=nn.MaxPool2d, act=nn.ReLU, classes=3):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), act(), pool(2, 2))
        self.layer2 = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), act(), pool(2, 2))
        self.fc = nn.Linear(3, classes)

    def forward(self, x):                      # (N, 1, 4, 4) -> (N, 2, 2, 2) -> (N, 3, 1, 1)
        return self.fc(self.layer2(self.layer1(x)).flatten(1))


class TinyResNet(nn.Module):
    """Batch norm, a projected residual block, global average pooling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2),
                                  nn.ReLU())
        self.block = ResidualBlock(2, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(self.pool(self.block(self.stem(x))).flatten(1))


# gradcheck runs ~90 forward passes: fewer simulated threads make each one cheaper
FEWER_THREADS = dict(threads_per_block=4, max_blocks=2, reduce_threads=4, gemm_threads=1)


def test_gradcheck_through_a_small_cnn_on_the_device():
    tc.manual_seed(0)
    model = TinyCNN(classes=2).double().to("cuda")
    x = Tensor(arrays((1, 1, 4, 4), 1), dtype=np.float64).cuda()
    x.requires_grad = True
    target = Tensor(np.array([1])).cuda()
    params = [model.layer1[0].weight, model.layer2[0].bias, model.fc.weight]
    with cuda_settings.override(**FEWER_THREADS):
        assert tc.gradcheck(lambda x, *p: F.cross_entropy(model(x), target, reduction="sum"),
                            [x] + params)


def _train_step(model, device, batch, opt_name):
    model = model.to(device)
    opt = (optim.Adam(model.parameters(), lr=1e-2) if opt_name == "adam"
           else optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3))
    images, labels = (Tensor(a).to(device) for a in batch)
    opt.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    opt.step()
    return loss.item(), {k: v.numpy() for k, v in model.state_dict().items()}


def _batch(seed, hw=4, n=3):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, hw, hw), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("make,opt_name", [(lambda: TinyCNN(), "adam"),
                                           (lambda: TinyCNN(nn.AvgPool2d, nn.Tanh), "sgd"),
                                           (lambda: TinyResNet(), "adam")])
def test_one_training_step_equals_the_cpu_step(make, opt_name):
    batch = _batch(2)
    tc.manual_seed(7)
    cpu_loss, cpu_state = _train_step(make(), "cpu", batch, opt_name)
    tc.manual_seed(7)
    cuda_loss, cuda_state = _train_step(make(), "cuda", batch, opt_name)
    np.testing.assert_allclose(cuda_loss, cpu_loss, rtol=1e-5)
    assert cuda_state.keys() == cpu_state.keys()
    for key, value in cpu_state.items():
        np.testing.assert_allclose(cuda_state[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


def test_training_with_a_fixed_seed_is_bit_identical():
    runs = []
    for _ in range(2):
        tc.manual_seed(11)
        model = TinyCNN().to("cuda")
        opt = optim.Adam(model.parameters(), lr=1e-2)
        for step in range(2):
            images, labels = (Tensor(a).cuda() for a in _batch(step))
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
        runs.append([p.numpy().tobytes() for p in model.parameters()])
    assert runs[0] == runs[1]


class _Digits:
    """A 4-image dataset with the arrays DataLoader batches from."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
        self.labels = rng.integers(0, 3, 4)
        self.source = "test digits"

    def __len__(self):
        return len(self.labels)


def test_command_line_training_on_cuda(tmp_path, monkeypatch):
    from tinygrad_cnn import __main__ as cli
    from tinygrad_cnn import train

    monkeypatch.setattr(train, "load_datasets", lambda *a, **k: (_Digits(0), _Digits(1)))
    monkeypatch.setattr(train, "get_model", lambda name: TinyCNN())
    out = tmp_path / "run"
    code = cli.main(["train", "--device", "cuda", "--epochs", "1", "--batch-size", "2",
                     "--out", str(out), "--no-progress", "--no-plots"])
    assert code == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    assert (out / "checkpoint_epoch001.tgc").exists()
