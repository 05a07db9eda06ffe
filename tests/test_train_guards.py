"""Training runs that go wrong: non-finite values, resume order and mismatches, the dataset
record, and a command line that answers every foreseeable failure with one `error:` line."""
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import train
from tinygrad_cnn.__main__ import main as cli
from tinygrad_cnn.train import TrainConfig, fit, latest_checkpoint
from tinygrad_cnn.train_guards import (COMPILING, CompileNotice, NonFiniteError, TrainError,
                                       checkpoints, first_nonfinite_grad)

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--no-progress", "--no-plots"]


def _config(out, **kw):
    base = dict(model="simple-cnn", dataset="mnist-sample", epochs=1, batch_size=20, lr=1e-3,
                seed=7, out=str(out), steps_per_epoch=2, progress=False, plots=False)
    base.update(kw)
    return TrainConfig(**base)


def _run(capsys, *args):
    """(exit status, stdout, stderr) of the train command, run in this process."""
    code = cli(["train", "--dataset", "mnist-sample", "--steps-per-epoch", "2",
                "--batch-size", "20", *QUIET, *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err):
    """The single `error: ...` line of stderr, which must be its last line, with no traceback."""
    lines = err.strip().splitlines()
    errors = [l for l in lines if l.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0] and errors[0].startswith("error: "), err
    assert "Traceback" not in err
    return errors[0]


class _Digits:
    """100 float images in [0, 1] (one holds a NaN when poisoned) and labels 0..9."""

    def __init__(self, poisoned):
        rng = np.random.default_rng(0)
        self.images = rng.random((100, 28, 28), dtype=np.float32)
        if poisoned:
            self.images[37, 3, 3] = np.nan
        self.labels = np.arange(100) % 10
        self.source = "test digits"

    def __len__(self):
        return 100


# ---- non-finite values -------------------------------------------------------------
def test_diverging_run_stops_naming_epoch_step_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = _run(capsys, "--lr", "1e20", "--optimizer", "sgd", "--epochs", "3",
                        "--out", out)
    line = _one_error_line(err)
    assert code == 1
    assert "non-finite value at epoch 1, step 2: the loss is nan" in line
    assert "no checkpoint was written yet" in line and "--nonfinite skip" in line
    assert checkpoints(out) == []


def test_nan_stop_names_the_last_good_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "load_datasets", lambda *a, **k: (_Digits(False), _Digits(False)))
    fit(_config(tmp_path, epochs=1, batch_size=10, steps_per_epoch=None), log=lambda *_: None)
    monkeypatch.setattr(train, "load_datasets", lambda *a, **k: (_Digits(True), _Digits(False)))
    before = (tmp_path / "checkpoint_epoch001.tgc").read_bytes()
    with pytest.raises(NonFiniteError) as e:
        fit(_config(tmp_path, epochs=2, batch_size=10, steps_per_epoch=None, resume=True),
            log=lambda *_: None)
    msg = str(e.value)
    assert "at epoch 2, step " in msg and "the loss is nan" in msg
    assert f"the last good checkpoint is {tmp_path / 'checkpoint_epoch001.tgc'}" in msg
    assert [p.name for _, p in checkpoints(tmp_path)] == ["checkpoint_epoch001.tgc"]
    assert (tmp_path / "checkpoint_epoch001.tgc").read_bytes() == before


def test_skip_mode_skips_the_poisoned_step_like_a_grad_scaler(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "load_datasets", lambda *a, **k: (_Digits(True), _Digits(False)))
    lines = []
    history = fit(_config(tmp_path, epochs=2, batch_size=10, steps_per_epoch=None,
                          nonfinite="skip"), log=lines.append)
    assert [h["skipped_steps"] for h in history] == [1, 1]
    assert all(np.isfinite(h["train_loss"]) for h in history)
    assert sum("skipped (the loss is nan)" in l for l in lines) == 2
    for _, path in checkpoints(tmp_path):
        for name, w in tc.load(path)["model"].items():
            assert np.isfinite(w).all(), name


def test_a_checkpoint_with_nonfinite_weights_is_never_written(tmp_path):
    from tinygrad_cnn.data import DataLoader
    from tinygrad_cnn.models import SimpleCNN

    model = SimpleCNN()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    name = next(k for k in state if k.endswith("weight"))
    state[name][0] = np.nan
    model.load_state_dict(state)
    opt = train.make_optimizer("adam", model.parameters(), 1e-3)
    with pytest.raises(NonFiniteError, match=f"end of epoch 4: weight {name} holds nan"):
        train.save_checkpoint(tmp_path / "ck.tgc", _config(tmp_path), model, opt,
                              DataLoader(_Digits(False), 10), 4, [])
    assert os.listdir(tmp_path) == []


def test_first_nonfinite_grad_names_the_parameter():
    from tinygrad_cnn.models import SimpleCNN

    model = SimpleCNN()
    params = list(model.named_parameters())
    assert first_nonfinite_grad(params) is None
    for _, p in params:
        p.grad = tc.Tensor(np.zeros(p.shape, np.float32))
    params[2][1].grad = tc.Tensor(np.full(params[2][1].shape, np.inf, np.float32))
    assert first_nonfinite_grad(params) == (params[2][0], np.inf)


# ---- resume --------------------------------------------------------------------------
def test_resume_orders_checkpoints_by_epoch_number(tmp_path):
    for epoch in (2, 999, 1000, 10):
        (tmp_path / f"checkpoint_epoch{epoch:03d}.tgc").write_bytes(b"")
    (tmp_path / "checkpoint_epochX.tgc").write_bytes(b"")
    assert [e for e, _ in checkpoints(tmp_path)] == [2, 10, 999, 1000]
    assert latest_checkpoint(tmp_path).name == "checkpoint_epoch1000.tgc"


def test_resume_of_a_corrupt_checkpoint_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(capsys, "--epochs", "1", "--out", out)[0] == 0
    path = out / "checkpoint_epoch001.tgc"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))
    code, _, err = _run(capsys, "--epochs", "2", "--resume", "--out", out)
    line = _one_error_line(err)
    assert code == 1 and f"cannot resume: {path}" in line and "Move that file away" in line
    assert path.read_bytes() == bytes(data) and not (out / "checkpoint_epoch002.tgc").exists()


def test_resume_with_another_architecture_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(capsys, "--epochs", "1", "--out", out)[0] == 0
    code, _, err = _run(capsys, "--epochs", "2", "--resume", "--model", "lenet5", "--out", out)
    assert code == 1
    assert "holds a 'simple-cnn' model, but this run trains 'lenet5'" in _one_error_line(err)


def test_resume_with_other_data_is_refused(tmp_path, monkeypatch):
    fit(_config(tmp_path), log=lambda *_: None)
    monkeypatch.setattr(train, "load_datasets", _fake_loader("fashion-mnist"))
    with pytest.raises(TrainError, match="was trained on mnist-sample, but this run's data is "
                                         "fashion-mnist"):
        fit(_config(tmp_path, epochs=2, resume=True), log=lambda *_: None)


def _fake_loader(used):
    def load(name, data_dir=None, log=print, record=None):
        record.update(dataset=used, dataset_requested=name)
        return _Digits(False), _Digits(False)
    return load


# ---- what the records say ------------------------------------------------------------
def test_metrics_and_checkpoint_record_the_fallback_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYGRAD_CNN_MNIST_MIRRORS", "http://127.0.0.1:9/")
    fit(_config(tmp_path / "run", dataset="mnist"), log=lambda *_: None)
    for config in (json.loads((tmp_path / "run" / "metrics.json").read_text())["config"],
                   tc.load(latest_checkpoint(tmp_path / "run"))["config"]):
        assert config["dataset"] == "mnist-sample" and config["dataset_requested"] == "mnist"
        assert "full MNIST is not available" in config["dataset_reason"]
        assert "mnist_sample.npz" in config["dataset_source"]


# ---- the command line ------------------------------------------------------------------
@pytest.mark.parametrize("option, value, words", [
    ("--epochs", "0", "must be >= 1, got 0"),
    ("--batch-size", "0", "must be >= 1, got 0"),
    ("--steps-per-epoch", "0", "must be >= 1, got 0"),
    ("--lr", "-0.1", "must be a finite number > 0, got -0.1"),
    ("--lr", "inf", "must be a finite number > 0, got inf"),
    ("--lr", "nan", "must be a finite number > 0, got nan"),
    ("--seed", "-1", "must be >= 0, got -1"),
    ("--epochs", "ten", "expected an integer, got 'ten'"),
])
def test_argparse_checks_every_number(capsys, option, value, words):
    with pytest.raises(SystemExit) as e:
        cli(["train", option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {words}" in err and "Traceback" not in err


def test_fit_checks_numbers_too(tmp_path):
    with pytest.raises(TrainError, match="lr must be > 0 and finite, got -1.0"):
        fit(_config(tmp_path, lr=-1.0))


def test_device_cuda_without_a_gpu_is_one_error_line(tmp_path, capsys):
    from tinygrad_cnn.backends import cuda_unavailable_reason

    if cuda_unavailable_reason() is None:
        pytest.skip("a CUDA device is usable here")
    code, _, err = _run(capsys, "--device", "cuda", "--out", tmp_path / "run")
    line = _one_error_line(err)
    assert code == 1 and "--device cuda is not available" in line and "--device cpu" in line


def test_out_naming_a_file_is_one_error_line(tmp_path, capsys):
    (tmp_path / "file").write_text("keep me")
    code, _, err = _run(capsys, "--out", tmp_path / "file")
    assert code == 1 and "is a file, not a directory" in _one_error_line(err)
    assert (tmp_path / "file").read_text() == "keep me"


def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYGRAD_CNN_DATA", raising=False)
    for var in ("TINYGRAD_CNN_MNIST_MIRRORS", "TINYGRAD_CNN_FASHION_MNIST_MIRRORS"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/")


def test_offline_fashion_mnist_is_one_error_line(tmp_path, capsys, monkeypatch):
    from tinygrad_cnn.data import FashionMNIST

    _offline(monkeypatch, tmp_path)
    monkeypatch.setattr(FashionMNIST, "system_dirs", ())   # as if Debian's copy were absent
    code = cli(["train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "run"), *QUIET])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 1 and "Fashion-MNIST is not available" in line and "127.0.0.1:9" in line


def test_missing_data_dir_is_an_error_and_is_not_created(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch, tmp_path)
    missing = tmp_path / "no" / "such"
    code = cli(["train", "--data-dir", str(missing), "--out", str(tmp_path / "run"), *QUIET])
    out, err = capsys.readouterr()
    assert code == 1 and "does not exist: downloading MNIST into it" in out
    assert "MNIST is not available" in _one_error_line(err)
    assert not (tmp_path / "no").exists()


def _idx_gz(array):
    magic = 0x801 if array.ndim == 1 else 0x803
    return gzip.compress(struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes())


def test_missing_data_dir_is_downloaded_into(tmp_path, capsys, monkeypatch):
    from tinygrad_cnn.data import MNIST

    _offline(monkeypatch, tmp_path)
    mirror, md5 = tmp_path / "mirror", {}
    mirror.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))):
            name = f"{prefix}-{kind}-ubyte.gz"
            (mirror / name).write_bytes(_idx_gz(array))
            md5[name] = hashlib.md5((mirror / name).read_bytes()).hexdigest()
    monkeypatch.setattr(MNIST, "md5", md5)
    monkeypatch.setenv("TINYGRAD_CNN_MNIST_MIRRORS", mirror.as_uri() + "/")
    target = tmp_path / "new" / "mnist"
    code = cli(["train", "--data-dir", str(target), "--out", str(tmp_path / "run"),
                "--epochs", "1", "--batch-size", "20", *QUIET])
    out = capsys.readouterr().out
    assert code == 0 and f"--data-dir {target} does not exist: downloading MNIST into it" in out
    assert sorted(os.listdir(target)) == sorted(md5)


def test_compile_notice_shows_only_when_the_first_step_is_slow():
    said = []
    notice = CompileNotice(said.append, after=0.05)
    with notice.around():
        time.sleep(0.5)
    with notice.around():
        time.sleep(0.2)             # only the first step of a run is announced
    assert said == [COMPILING]
    quick = CompileNotice(said.append, after=5)
    with quick.around():
        pass
    assert said == [COMPILING]


def test_compile_notice_goes_on_the_progress_bar():
    class Bar:
        postfix = None

        def set_postfix_str(self, text):
            self.postfix = text

    bar = Bar()
    with CompileNotice(print, after=0.01).around(bar):
        time.sleep(0.3)
    assert bar.postfix == "compiling kernels (first run only)..."


def test_errors_print_no_traceback_unless_debug(tmp_path):
    """In a real process: one `error:` line and status 1; --debug adds the traceback."""
    (tmp_path / "file").write_text("")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "tinygrad_cnn", "train", "--dataset", "mnist-sample",
           "--out", str(tmp_path / "file"), *QUIET]
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        f"error: --out {tmp_path / 'file'} is a file, not a directory: choose another --out"]
    debug = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, env=env, timeout=300)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("error: --out")


def test_corrupt_idx_file_in_data_dir_is_one_error_line(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch, tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (data_dir / name).write_bytes(gzip.compress(b"\x00\x00\x08\x03 not idx"))
    code = cli(["train", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), *QUIET])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 1 and str(data_dir / "train-images-idx3-ubyte.gz") in line
    assert "delete or replace that file" in line
