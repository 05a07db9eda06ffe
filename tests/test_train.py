"""End to end: training learns the bundled digits, checkpoints round trip, resume is exact."""
import json

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor, optim
from tinygrad_cnn.__main__ import main as cli
from tinygrad_cnn.data import DataLoader, MNISTSample
from tinygrad_cnn.models import DeepCNN, LeNet5, ResNet, SimpleCNN
from tinygrad_cnn.train import TrainConfig, evaluate, fit, latest_checkpoint


def test_a_few_hundred_steps_learn_the_bundled_digits():
    """300 Adam steps of LeNet-5 (batch 32) on the 4,000 sample digits: held-out accuracy >= 0.90."""
    tc.manual_seed(1)
    model = LeNet5()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(MNISTSample(train=True), batch_size=32, shuffle=True, seed=1)
    steps = 0
    while steps < 300:
        for images, labels in loader:
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
            steps += 1
            if steps == 300:
                break
    _, acc = evaluate(model, DataLoader(MNISTSample(train=False), batch_size=500))
    assert acc >= 0.90


def _config(out, **kw):
    base = dict(model="simple-cnn", dataset="mnist-sample", epochs=2, batch_size=50, lr=1e-3,
                seed=7, out=str(out), steps_per_epoch=6, progress=False, plots=False)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    full = fit(_config(tmp_path / "full", epochs=3), log=lambda *_: None)
    fit(_config(tmp_path / "split", epochs=1), log=lambda *_: None)
    resumed = fit(_config(tmp_path / "split", epochs=3, resume=True), log=lambda *_: None)
    assert [h["epoch"] for h in resumed] == [1, 2, 3]
    for a, b in zip(full, resumed):
        assert a["train_loss"] == b["train_loss"] and a["test_acc"] == b["test_acc"]


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    fit(_config(tmp_path, epochs=1), log=lambda *_: None)
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        fit(_config(tmp_path, epochs=2), log=lambda *_: None)


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path):
    tc.manual_seed(3)
    model = DeepCNN()
    model.eval()
    x = Tensor(np.random.default_rng(0).random((4, 1, 28, 28)), dtype=np.float32)
    tc.save(model.state_dict(), tmp_path / "deep.tgc")
    tc.manual_seed(4)
    other = DeepCNN()
    other.eval()
    assert not np.array_equal(other(x).numpy(), model(x).numpy())
    other.load_state_dict(tc.load(tmp_path / "deep.tgc"))
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    fit(_config(tmp_path, epochs=1), log=lambda *_: None)
    with pytest.raises(ValueError, match="holds a 'simple-cnn' model, but this run trains 'lenet5'"):
        fit(_config(tmp_path, model="lenet5", epochs=2, resume=True), log=lambda *_: None)
    sd = tc.load(latest_checkpoint(tmp_path))["model"]
    with pytest.raises(RuntimeError, match="layer1.0.weight|features"):
        LeNet5().load_state_dict(sd)


def test_cli_writes_checkpoints_metrics_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    code = cli(["train", "--model", "lenet5", "--dataset", "mnist-sample", "--epochs", "1",
                "--batch-size", "64", "--steps-per-epoch", "5", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "bundled MNIST sample" in printed and "epoch 1:" in printed
    assert (out / "checkpoint_epoch001.tgc").exists()
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert len(history) == 1 and 0 <= history[0]["test_acc"] <= 1
    assert (out / "metrics.csv").read_text().startswith("epoch,train_loss")
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "curves.png" in pngs and "filters.png" in pngs and any(p.startswith("feature_maps") for p in pngs)
    assert cli(["train", "--model", "lenet5", "--dataset", "mnist-sample", "--epochs", "1",
                "--out", str(out), "--no-progress"]) == 2     # refuses to overwrite without --resume


def test_default_dataset_falls_back_to_the_sample_and_says_why(tmp_path, monkeypatch):
    """No MNIST files and a dead mirror: the run trains on the bundled sample, saying so."""
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYGRAD_CNN_MNIST_MIRRORS", "http://127.0.0.1:9/")
    lines = []
    fit(_config(tmp_path / "run", dataset="mnist", epochs=1, steps_per_epoch=2), log=lines.append)
    assert any("full MNIST is not available" in l and "bundled" in l for l in lines)


@pytest.mark.parametrize("model,params", [(SimpleCNN, 50186), (LeNet5, 61706)])
def test_summary_counts(model, params, capsys):
    report = tc.summary(model(), (1, 1, 28, 28))
    assert report.total_params == params
    assert "Total params: " + f"{params:,}" in capsys.readouterr().out
    assert report.rows[-1].output_shape == (1, 10)


def test_models_shapes_and_resnet_pieces():
    x = Tensor(np.zeros((2, 1, 28, 28), np.float32))
    for m in (LeNet5(), SimpleCNN(), DeepCNN(), ResNet()):
        assert m(x).shape == (2, 10)
    names = [n for n, _ in ResNet().named_modules()]
    assert any(n.endswith("shortcut.0") for n in names)             # the 1x1 projection
    kinds = {type(m).__name__ for m in ResNet().modules()}
    assert {"BatchNorm2d", "AdaptiveAvgPool2d"} <= kinds


def test_ctrl_c_leaves_the_last_complete_checkpoint_intact(tmp_path):
    """SIGINT in the middle of a run: exit 130, every checkpoint on disk loads, no temp files."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_cnn", "train", "--model", "lenet5", "--dataset",
         "mnist-sample", "--epochs", "1000", "--batch-size", "50", "--steps-per-epoch", "3",
         "--out", str(out), "--no-progress", "--no-plots"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("checkpoint_epoch*.tgc"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "last complete checkpoint is" in err
    saved = sorted(out.glob("checkpoint_epoch*.tgc"))
    assert len(saved) >= 2
    for path in saved:
        assert tc.load(path)["format"] == "tinygrad_cnn.train/1"
    leftovers = [p.name for p in out.iterdir() if not p.name.startswith(("checkpoint_epoch", "metrics"))
                 and p.name != "model.safetensors"]
    assert leftovers == [], leftovers
    assert set(tc.load(out / "model.safetensors")) == set(tc.load(saved[-1])["model"])
    assert os.path.getsize(saved[-1]) > 0
