"""The gallery's digit variants: one training step each, the command line's names, the
GoogLeNet training loss, and each against its PyTorch twin (bench/torch_gallery.py) with the
same weights."""
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import models, optim
from tinygrad_cnn.nn import functional as F
from tinygrad_cnn.train import train_step, training_loss

DIGIT_NAMES = ["alexnet", "vgg11", "googlenet", "resnet18", "preact-resnet18", "densenet"]
NOTES_NAMES = ["lenet5", "simple-cnn", "deep-cnn", "resnet"]
BENCH = Path(__file__).resolve().parents[2] / "bench"


def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, n).astype(np.int64))


def test_command_line_names():
    assert set(DIGIT_NAMES) <= set(models.MODELS)
    assert {"lenet5", "simple-cnn", "deep-cnn", "resnet"} <= set(models.MODELS)
    with pytest.raises(ValueError, match="unknown model 'vgg19'.*densenet"):
        models.get_model("vgg19")


@pytest.mark.parametrize("name", DIGIT_NAMES)
def test_one_training_step(name):
    """A step changes every parameter that gets a gradient, gives a finite loss, and eval
    mode returns (N, 10) logits."""
    tc.manual_seed(0)
    model = models.get_model(name)
    before = {k: p.numpy().copy() for k, p in model.named_parameters()}
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = _batch()
    loss, correct = train_step(model, opt, tc.Tensor(x), tc.Tensor(y))
    assert np.isfinite(loss) and 0 <= correct <= 4
    changed = [k for k, p in model.named_parameters() if not np.array_equal(p.numpy(), before[k])]
    assert len(changed) == len(before)
    model.eval()
    with tc.no_grad():
        assert model(tc.Tensor(x)).shape == (4, 10)


def test_googlenet_training_loss_weights_the_aux_heads():
    tc.manual_seed(0)
    model = models.get_model("googlenet").train()
    x, y = _batch()
    out = model(tc.Tensor(x))
    assert isinstance(out, models.GoogLeNetOutputs)
    logits, loss = training_loss(out, tc.Tensor(y))
    parts = [F.cross_entropy(o, tc.Tensor(y)).item() for o in out]
    assert logits is out.logits
    np.testing.assert_allclose(loss.item(), parts[0] + 0.3 * (parts[1] + parts[2]), rtol=1e-6)


@pytest.fixture(scope="module")
def torch_gallery():
    pytest.importorskip("torch")
    sys.path.insert(0, str(BENCH))
    try:
        import torch_gallery
    finally:
        sys.path.remove(str(BENCH))
    return torch_gallery


@pytest.mark.parametrize("name", DIGIT_NAMES + NOTES_NAMES)
def test_matches_torch_twin(name, torch_gallery):
    """Same keys and shapes as the PyTorch twin; with our weights, the same eval logits
    (float32) and, without dropout, the same training loss and first-conv gradient (float64)."""
    import torch
    tc.manual_seed(1)
    ours, twin = models.get_model(name), torch_gallery.TWINS[name]()
    state = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    assert {k: v.shape for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in twin.state_dict().items()}
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x, y = _batch(seed=2)
    ours.eval(), twin.eval()
    with tc.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(tc.Tensor(x)).numpy(), twin(torch.from_numpy(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
    if name in ("alexnet", "vgg11", "googlenet", "deep-cnn"):
        return  # their training forward draws dropout masks
    ours, twin = ours.double().train(), twin.double().train()
    loss = F.cross_entropy(ours(tc.Tensor(x, dtype=np.float64)), tc.Tensor(y))
    loss.backward()
    their_loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x).double()),
                                                   torch.from_numpy(y))
    their_loss.backward()
    np.testing.assert_allclose(loss.item(), their_loss.item(), rtol=1e-10)
    first = next(iter(state))
    np.testing.assert_allclose(dict(ours.named_parameters())[first].grad.numpy(),
                               dict(twin.named_parameters())[first].grad.numpy(),
                               rtol=1e-8, atol=1e-12)


def test_train_command_trains_googlenet_with_its_aux_heads(tmp_path, capsys):
    """`train --model googlenet`: the training loop takes the aux logits into the loss,
    evaluates on the logits alone, and checkpoints the model."""
    from tinygrad_cnn.__main__ import main as cli
    out = tmp_path / "run"
    code = cli(["train", "--model", "googlenet", "--dataset", "mnist-sample", "--epochs", "1",
                "--batch-size", "16", "--steps-per-epoch", "2", "--out", str(out),
                "--no-progress", "--no-plots"])
    assert code == 0
    assert "epoch 1:" in capsys.readouterr().out
    saved = tc.load(str(next(out.glob("checkpoint_epoch*.tgc"))))
    model = models.get_model("googlenet")
    model.load_state_dict(saved["model"])                      # strict: aux heads included
    assert any(k.startswith("aux1.") for k in saved["model"])
