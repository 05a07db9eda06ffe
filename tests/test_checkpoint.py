"""checkpoint.save / load: exact round trips, atomic writes, corrupt files, and no pickle."""
import json
import math
import os
import zipfile

import numpy as np
import pytest

from tinygrad_cnn import checkpoint
from tinygrad_cnn.checkpoint import CheckpointError, load, save


class FakeTensor:
    """Anything with .numpy() is stored as an array (the core's Tensor is one)."""

    def __init__(self, a):
        self.a = a

    def numpy(self):
        return self.a


class FailingTensor:
    """A tensor whose device-to-host copy fails, as a CUDA error would."""

    def numpy(self):
        raise RuntimeError("device copy failed")


def _same(a, b):
    """Exact equality including types, dtypes, container kinds and dict order."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b and repr(a) == repr(b)


def test_round_trip_all_types(tmp_path):
    obj = {
        "z": None, "t": True, "f": False, "i": -7, "big": 2 ** 300 + 1, "neg_big": -(3 ** 100),
        "pi": 3.141592653589793, "tiny": 5e-324, "negzero": -0.0, "inf": float("inf"),
        "nan": float("nan"), "s": "héllo ✓", "empty": "",
        "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64),
                   np.zeros((0, 4), np.float64), np.array(3.5, np.float16), np.array([True, False]),
                   np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(10, dtype=np.uint8)[::3]],
        "scalars": (np.float32(1.25), np.int64(-3), np.bool_(True), np.float64(0.1)),
        "nested": ((1, (2.0, [3])), [], (), {}),
        5: "int key", 2.5: "float key", (1, "a"): "tuple key", None: "none key", False: "bool key",
    }
    save(obj, tmp_path / "ck")
    _same(obj, load(tmp_path / "ck"))


def test_dict_order_kept(tmp_path):
    obj = {k: i for i, k in enumerate(["b", "a", "layer.10", "layer.2", "c"])}
    save(obj, tmp_path / "ck")
    assert list(load(tmp_path / "ck")) == list(obj)


def test_objects_with_numpy_method_become_arrays(tmp_path):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    save({"weight": FakeTensor(a)}, tmp_path / "ck")
    got = load(tmp_path / "ck")["weight"]
    assert type(got) is np.ndarray and got.dtype == np.float32
    np.testing.assert_array_equal(got, a)


def test_rng_state_round_trip(tmp_path):
    rng = np.random.default_rng(12345)
    rng.standard_normal(3)
    save({"rng": rng.bit_generator.state}, tmp_path / "ck")
    restored = np.random.default_rng()
    restored.bit_generator.state = load(tmp_path / "ck")["rng"]
    np.testing.assert_array_equal(restored.standard_normal(5), rng.standard_normal(5))


def test_huge_int_beyond_str_digit_limit(tmp_path):
    n = 7 ** 20000  # ~17,000 decimal digits: past Python's int/str conversion limit
    save([n], tmp_path / "ck")
    assert load(tmp_path / "ck") == [n]


def test_overwrite_replaces_and_leaves_no_temp(tmp_path):
    save({"v": 1}, tmp_path / "ck")
    save({"v": 2}, tmp_path / "ck")
    assert load(tmp_path / "ck") == {"v": 2}
    assert os.listdir(tmp_path) == ["ck"]


@pytest.mark.parametrize("bad, error, words", [
    ({"ok": np.zeros(3), "bad": {1, 2}}, TypeError, "cannot store set at obj['bad']"),
    ({"w": np.array([1, "a"], dtype=object)}, TypeError, "dtype object at obj['w']"),
    ({"t": FakeTensor(np.array([None]))}, TypeError, "dtype object"),
    ({"t": FailingTensor()}, RuntimeError, "device copy failed"),
    ([np.zeros(2), FakeTensor(np.ones(1_000_000)), FailingTensor()], RuntimeError, "device copy failed"),
])
def test_failed_save_leaves_no_file_and_old_file_intact(tmp_path, bad, error, words):
    with pytest.raises(error) as e:
        save(bad, tmp_path / "new")
    assert words in str(e.value)
    assert os.listdir(tmp_path) == []
    save({"epoch": 3}, tmp_path / "old")
    with pytest.raises(error):
        save(bad, tmp_path / "old")
    assert load(tmp_path / "old") == {"epoch": 3} and os.listdir(tmp_path) == ["old"]


def test_cycle_refused(tmp_path):
    a = [1]
    a.append(a)
    with pytest.raises(ValueError, match=r"obj\[1\] contains itself"):
        save(a, tmp_path / "ck")


def test_array_dict_key_refused(tmp_path):
    with pytest.raises(TypeError, match="must be a plain Python"):
        save({np.int64(1): 2}, tmp_path / "ck")


def test_not_a_zip(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match=f"{path} is not a valid tinygrad_cnn checkpoint"):
        load(path)


def test_truncated_file(tmp_path):
    save({"w": np.arange(1000.0)}, tmp_path / "ck")
    data = (tmp_path / "ck").read_bytes()
    (tmp_path / "ck").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=str(tmp_path / "ck")):
        load(tmp_path / "ck")


def test_flipped_array_bytes_fail_the_crc(tmp_path):
    save({"w": np.arange(1000.0)}, tmp_path / "ck")
    data = bytearray((tmp_path / "ck").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "ck").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(tmp_path / "ck")):
        load(tmp_path / "ck")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_plain_npz_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="the zip has no checkpoint.json"):
        load(tmp_path / "x.npz")


@pytest.mark.parametrize("doc, words", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "other", "version": 1, "root": {}}), "lacks format"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 99, "root": {"t": "none"}}),
     "format version 99, this tinygrad_cnn reads versions 1 to 2"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 1, "root": {"t": "exec"}}),
     "unknown node type 'exec'"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 1, "root": {"t": "array", "a": 0}}),
     "arrays/0.npy is missing"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 1, "root": {"t": "int", "v": "zz"}}),
     "corrupt checkpoint structure"),
])
def test_bad_documents(tmp_path, doc, words):
    path = _zip(tmp_path / "ck", {"checkpoint.json": doc})
    with pytest.raises(CheckpointError) as e:
        load(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_pickled_array_inside_is_refused(tmp_path):
    import io
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    doc = json.dumps({"format": checkpoint.FORMAT, "version": 1, "root": {"t": "array", "a": 0}})
    path = _zip(tmp_path / "ck", {"checkpoint.json": doc, "arrays/0.npy": buf.getvalue()})
    with pytest.raises(CheckpointError, match="arrays/0.npy cannot be read.*allow_pickle=False"):
        load(path)


def test_checkpoint_error_is_value_error():
    assert issubclass(CheckpointError, ValueError)
