"""tc.save / tc.load with a .safetensors path: PyTorch reads what we write, we read what it writes."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import models
from tinygrad_cnn.checkpoint import CheckpointError

safetensors = pytest.importorskip("safetensors")
torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
try:   # the PyTorch twins of our models, shared with the benchmarks
    import torch_gallery  # noqa: E402
finally:
    sys.path.pop(0)

PAIRS = [(models.SimpleCNN, torch_gallery.SimpleCNN), (models.ResNet, torch_gallery.NotesResNet)]


def trained_a_little(model, seed=0):
    """A few train-mode forwards (moving BN statistics and num_batches_tracked) and random
    weights, so a round trip that dropped a buffer would show."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
        model.train()
        for _ in range(3):
            model(torch.randn(8, 1, 28, 28))
    return model.eval()
X = np.random.default_rng(0).standard_normal((6, 1, 28, 28)).astype(np.float32)


def _ours_trained_a_little(cls):
    """Random weights and batch-norm statistics moved by a few train-mode forwards."""
    tc.manual_seed(1)
    model = cls()
    rng = np.random.default_rng(2)
    model.load_state_dict({k: np.abs(rng.standard_normal(v.shape) * 0.2).astype(v.dtype)
                           if v.dtype.kind == "f" else v.numpy()
                           for k, v in model.state_dict().items()})
    model.train()
    with tc.no_grad():
        for _ in range(2):
            model(tc.Tensor(rng.standard_normal((8, 1, 28, 28)).astype(np.float32)))
    return model.eval()


def _logits_ours(model):
    with tc.no_grad():
        return model(tc.Tensor(X)).numpy()


def _logits_torch(model):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("ours_cls, torch_cls", PAIRS, ids=["simple-cnn", "resnet"])
def test_ours_to_torch_strict_with_equal_predictions(ours_cls, torch_cls, tmp_path):
    ours = _ours_trained_a_little(ours_cls)
    path = tmp_path / "model.safetensors"
    tc.save(ours.state_dict(), path)
    theirs = torch_cls()
    state = load_file(str(path))
    assert list(theirs.load_state_dict(state, strict=True).missing_keys) == []
    theirs.eval()
    for key, value in ours.state_dict().items():          # num_batches_tracked included
        assert state[key].dtype == getattr(torch, str(value.dtype)), key
        assert tuple(state[key].shape) == value.shape, key
        np.testing.assert_array_equal(state[key].numpy(), value.numpy(), err_msg=key)
    np.testing.assert_allclose(_logits_torch(theirs), _logits_ours(ours), rtol=1e-4, atol=1e-5)
    assert (_logits_torch(theirs).argmax(1) == _logits_ours(ours).argmax(1)).all()


@pytest.mark.parametrize("ours_cls, torch_cls", PAIRS, ids=["simple-cnn", "resnet"])
def test_torch_to_ours_strict_with_equal_predictions(ours_cls, torch_cls, tmp_path):
    theirs = trained_a_little(torch_cls())
    path = tmp_path / "torch.safetensors"
    save_file(theirs.state_dict(), str(path))
    ours = ours_cls()
    state = tc.load(path)
    assert set(state) == set(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert state[key].shape == tuple(value.shape), key
    ours.load_state_dict(state, strict=True)
    for key, value in ours.state_dict().items():           # num_batches_tracked included
        np.testing.assert_array_equal(value.numpy(), theirs.state_dict()[key].numpy())
    ours.eval()
    np.testing.assert_allclose(_logits_ours(ours), _logits_torch(theirs), rtol=1e-4, atol=1e-5)


def test_round_trip_keeps_values_and_dtypes(tmp_path):
    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(5, np.int64),
             "d": np.ones(2, np.float64), "m": np.array([True, False]),
             "t": tc.Tensor([1.5, 2.5])}
    tc.save(state, tmp_path / "x.SAFETENSORS")
    back = tc.load(tmp_path / "x.SAFETENSORS")
    assert set(back) == set(state)
    for key, value in state.items():
        value = value.numpy() if isinstance(value, tc.Tensor) else value
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key], value)


@pytest.mark.parametrize("state, message", [
    ({"model": {"w": np.ones(2)}}, "'model' holds dict"),
    ({"lr": 0.1}, "'lr' holds float"),
    ([np.ones(2)], "dict of name"),
    ({1: np.ones(2)}, "names must be str"),
])
def test_nested_or_non_tensor_values_are_a_clear_error_and_write_nothing(state, message,
                                                                         tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match=message):
        tc.save(state, path)
    assert not path.exists()


def _written(tmp_path):
    path = tmp_path / "good.safetensors"
    tc.save(models.SimpleCNN().state_dict(), path)
    return path, path.read_bytes()


@pytest.mark.parametrize("damage", [
    lambda b: b[:len(b) // 2],                      # truncated data
    lambda b: b[:6],                                 # truncated header length
    lambda b: b[:8] + b"{not json" + b[17:],        # corrupt header
    lambda b: (10 ** 12).to_bytes(8, "little") + b[8:],   # absurd header length
    lambda b: b"",
])
def test_truncated_and_corrupt_files_raise_checkpoint_error(damage, tmp_path):
    path, data = _written(tmp_path)
    path.write_bytes(damage(data))
    with pytest.raises(CheckpointError, match="good.safetensors"):
        tc.load(path)


def test_a_tgc_path_still_writes_the_zip_checkpoint(tmp_path):
    tc.save({"nested": {"a": np.ones(2)}}, tmp_path / "c.tgc")
    assert tc.load(tmp_path / "c.tgc")["nested"]["a"].tolist() == [1.0, 1.0]


def test_the_readmes_direct_torch_one_liners():
    """ours -> torch with the documented one-liner (copies), torch -> ours with torch tensors."""
    ours = _ours_trained_a_little(models.ResNet)
    theirs = torch_gallery.NotesResNet()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()},
                           strict=True)
    theirs.eval()
    np.testing.assert_allclose(_logits_torch(theirs), _logits_ours(ours), rtol=1e-4, atol=1e-5)
    back = models.ResNet()
    back.load_state_dict(trained_a_little(theirs).state_dict())
    back.eval()
    np.testing.assert_allclose(_logits_ours(back), _logits_torch(theirs), rtol=1e-4, atol=1e-5)
