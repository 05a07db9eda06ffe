"""python -m tinygrad_cnn export: the architecture from the checkpoint, ONNX or safetensors out."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import models, optim
from tinygrad_cnn.__main__ import main as cli
from tinygrad_cnn.data import DataLoader, MNISTSample
from tinygrad_cnn.train import TrainConfig, save_checkpoint

from onnx_helpers import assert_matches, ort, randomise


def _checkpoint(tmp_path, name):
    """A training checkpoint of ``name`` with random weights, written as the train command does."""
    model = randomise(models.get_model(name), seed=5)
    opt = optim.Adam(model.parameters())
    loader = DataLoader(MNISTSample(train=False), 10)
    path = tmp_path / "checkpoint_epoch003.tgc"
    save_checkpoint(path, TrainConfig(model=name, out=str(tmp_path)), model, opt, loader, 3, [])
    return path, model.eval()


@pytest.mark.parametrize("name", ["resnet", "deep-cnn"])
def test_export_onnx_from_a_checkpoint(name, tmp_path, capsys):
    path, model = _checkpoint(tmp_path, name)
    out = tmp_path / "model.onnx"
    assert cli(["export", "--checkpoint", str(path), "--format", "onnx", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert_matches(model, session, MNISTSample(train=False).images[:7, None].astype(np.float32) / 255)


def test_export_safetensors_from_a_run_directory(tmp_path, capsys):
    path, model = _checkpoint(tmp_path, "resnet")
    out = tmp_path / "weights.safetensors"
    assert cli(["export", "--checkpoint", str(tmp_path), "--format", "safetensors",
                "--out", str(out)]) == 0
    weights = tc.load(out)
    assert list(sorted(weights)) == sorted(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(weights[key], value.numpy())


def test_export_errors_are_one_line(tmp_path, capsys):
    assert cli(["export", "--checkpoint", str(tmp_path / "nope.tgc"), "--format", "onnx",
                "--out", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nope.tgc" in err[0]
    path, _ = _checkpoint(tmp_path, "lenet5")
    assert cli(["export", "--checkpoint", str(path), "--format", "safetensors",
                "--out", str(tmp_path / "w.bin")]) == 1
    assert ".safetensors" in capsys.readouterr().err
    assert not (tmp_path / "w.bin").exists() and not (tmp_path / "m.onnx").exists()
