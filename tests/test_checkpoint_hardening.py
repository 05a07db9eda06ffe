"""Hostile and careless checkpoints: each raises a CheckpointError naming file and member,
allocates no more than a small multiple of the file's size, and leaves every file intact."""
import io
import json
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import checkpoint
from tinygrad_cnn.atomic_file import temp_name
from tinygrad_cnn.checkpoint import CheckpointError, load, save

MiB = 1 << 20


def _refused(path, *words, factor=4):
    """load(path) raises CheckpointError naming path (and `words`), allocating at most
    factor x the file's size + 256 KiB; the file is unchanged afterwards."""
    before = path.read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as e:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(e.value)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert peak <= factor * len(before) + 256 * 1024, (peak, len(before))
    assert path.read_bytes() == before
    return str(e.value)


def _doc(root, arrays=None, version=1):
    doc = {"format": checkpoint.FORMAT, "version": version, "root": root}
    if arrays is not None:
        doc["arrays"] = arrays
    return json.dumps(doc)


def _zip(path, members, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


# ---- one flipped header bit is never silent ------------------------------------------
@pytest.mark.parametrize("new", [b"(1000, 240)", b"(0000, 250)"])
def test_flipped_shape_in_npy_header_is_caught_by_crc(tmp_path, new):
    path = tmp_path / "ck"
    save({"w": np.ones((1000, 250), np.float32)}, path)
    data = path.read_bytes()
    assert data.count(b"(1000, 250)") == 1
    path.write_bytes(data.replace(b"(1000, 250)", new))
    _refused(path, "arrays/0.npy")


@pytest.mark.parametrize("new", [b"(1000, 240)", b"(0000, 250)"])
@pytest.mark.parametrize("version", [1, 2])
def test_flipped_shape_with_a_matching_crc_is_caught_by_the_size_check(tmp_path, new, version):
    """A rewritten member whose CRC is right: version 1 (no manifest) still compares shape x
    dtype with the member's size; version 2 also with the manifest."""
    good = _npy(np.ones((1000, 250), np.float32))
    bad = good.replace(b"(1000, 250)", new)
    arrays = None if version == 1 else [{"dtype": "<f4", "shape": [1000, 250], "fortran": False,
                                         "sha256": "0" * 64}]
    path = _zip(tmp_path / "ck", {"checkpoint.json": _doc({"t": "array", "a": 0}, arrays, version),
                                  "arrays/0.npy": bad})
    msg = _refused(path, "arrays/0.npy")
    assert ("1000000 bytes of data" in msg) if version == 1 else ("manifest" in msg)


def test_changed_array_bytes_with_matching_crc_fail_the_sha256(tmp_path):
    path = tmp_path / "ck"
    save({"w": np.arange(100.0)}, path)
    members = _members(path)
    data = bytearray(members["arrays/0.npy"])
    data[-1] ^= 0x01
    members["arrays/0.npy"] = bytes(data)
    _zip(path, members)                       # a fresh zip: CRCs are right again
    _refused(path, "arrays/0.npy", "SHA-256")


# ---- small files never make large allocations -----------------------------------------
def _bomb_zip(path, name, payload_size, head=b"", tail=b""):
    """A zip whose member `name` inflates to payload_size bytes, built without holding them."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as f:
            f.write(head)
            for _ in range(payload_size // MiB):
                f.write(b" " * MiB)
            f.write(tail)
    return path


def test_deflated_whitespace_json_is_refused_before_inflating(tmp_path):
    path = _bomb_zip(tmp_path / "ck", "checkpoint.json", 64 * MiB, head=b'{"format":',
                     tail=b'"x"}')
    assert path.stat().st_size < MiB
    _refused(path, "checkpoint.json is compressed")


def test_deflated_npy_is_refused_before_inflating(tmp_path):
    with zipfile.ZipFile(tmp_path / "ck", "w") as zf:
        zf.writestr("checkpoint.json", _doc({"t": "array", "a": 0}))
        zf.writestr("arrays/0.npy", _npy(np.zeros(32 * MiB, np.uint8)),
                    compress_type=zipfile.ZIP_DEFLATED)
    assert (tmp_path / "ck").stat().st_size < MiB
    _refused(tmp_path / "ck", "arrays/0.npy is compressed")


def test_one_array_referenced_many_times_is_refused(tmp_path):
    root = {"t": "list", "v": [{"t": "array", "a": 0}] * 128}
    path = _zip(tmp_path / "ck", {"checkpoint.json": _doc(root),
                                  "arrays/0.npy": _npy(np.zeros(100_000, np.uint8))})
    _refused(path, "array 0 is referenced twice")


def test_huge_declared_shape_is_refused_before_allocating(tmp_path):
    npy = _npy(np.zeros(4, np.uint8)).replace(b"(4,)", b"(1000000000000,)")
    path = _zip(tmp_path / "ck", {"checkpoint.json": _doc({"t": "array", "a": 0}),
                                  "arrays/0.npy": npy})
    _refused(path, "arrays/0.npy declares shape (1000000000000,)")


def test_members_larger_than_the_file_are_refused(tmp_path):
    path = tmp_path / "ck"
    save({"w": np.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    # the central directory's uncompressed size of arrays/0.npy: make it huge
    cd = data.rfind(b"PK\x01\x02arrays") if b"PK\x01\x02arrays" in data else data.find(b"PK\x01\x02")
    assert cd > 0
    data[cd + 24:cd + 28] = (0x7FFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    _refused(path)


# ---- crafted JSON --------------------------------------------------------------------
@pytest.mark.parametrize("tree, words", [
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"t": "array", "a": Infinity}}',
     "constant Infinity is not allowed"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"t": "array", "a": NaN}}',
     "constant NaN is not allowed"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"t": "array", "a": 1e400}}',
     "array node references array inf"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1e400, "root": {"t": "none"}}',
     "format version inf"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nests JSON more than"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": ' + '{"t": "list", "v": [' * 200
     + "]}" * 200 + "}", "nests JSON more than"),
    (b'{"format": "\xff"}', "checkpoint.json is not UTF-8"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"t": "dict", "v": [[1]]}}',
     "not a [key, value] pair"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 1, "root": {"t": "float", "v": 1.5}}',
     "float node holds 1.5"),
    ('{"format": "tinygrad_cnn.checkpoint", "version": 2, "root": {"t": "none"}, "arrays": [{}]}',
     "malformed manifest entry for array 0"),
])
def test_crafted_json_is_a_named_error(tmp_path, tree, words):
    path = _zip(tmp_path / "ck", {"checkpoint.json": tree})
    _refused(path, words)


def test_save_refuses_nesting_that_load_would_refuse(tmp_path):
    deep = {}
    for _ in range(checkpoint.MAX_NESTING - 1):     # dicts cost the most JSON levels
        deep = {"k": deep}
    save(deep, tmp_path / "ok")
    assert load(tmp_path / "ok") == deep
    with pytest.raises(ValueError, match="nested more than"):
        save([deep], tmp_path / "deep")
    assert not (tmp_path / "deep").exists()


def test_encrypted_member_is_refused(tmp_path):
    path = tmp_path / "ck"
    save({"a": 1}, path)
    data = bytearray(path.read_bytes())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        while at >= 0:
            data[at + flag_at] |= 0x01
            at = data.find(sig, at + 1)
    path.write_bytes(bytes(data))
    _refused(path, "encrypted")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing")


# ---- old files still load --------------------------------------------------------------
def _save_version1(obj, path):
    """The version 1 writer: the tree first, then the arrays, no manifest."""
    arrays = []
    root = checkpoint._encode(obj, arrays, "obj", [])
    text = json.dumps({"format": checkpoint.FORMAT, "version": 1, "root": root}).replace(
        '"t": "tensor"', '"t": "array"')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("checkpoint.json", text)
        for k, a in enumerate(arrays):
            with zf.open(f"arrays/{k}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asarray(a.numpy() if hasattr(a, "numpy") else a))


def test_version1_checkpoints_still_load(tmp_path):
    from tinygrad_cnn.models import SimpleCNN

    model = SimpleCNN()
    obj = {"model": model.state_dict(), "epoch": 3, "f": np.asfortranarray(np.ones((2, 3))),
           "s": np.float32(2.5)}
    _save_version1(obj, tmp_path / "v1.tgc")
    got = load(tmp_path / "v1.tgc")
    assert got["epoch"] == 3 and got["s"] == np.float32(2.5) and got["f"].flags.f_contiguous
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(got["model"][k], v.numpy())
    SimpleCNN().load_state_dict(got["model"])


def test_written_files_are_version2_with_a_manifest(tmp_path):
    save({"w": np.arange(3.0), "t": tc.Tensor(np.ones(2, np.float32))}, tmp_path / "ck")
    with zipfile.ZipFile(tmp_path / "ck") as zf:
        doc = json.loads(zf.read("checkpoint.json"))
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    assert doc["version"] == 2 and len(doc["arrays"]) == 2
    assert {a["shape"][0] for a in doc["arrays"]} == {3, 2}


# ---- permissions and names ---------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        save({"a": 1}, tmp_path / "ck")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "ck").st_mode) == mode


def test_overwritten_files_keep_their_mode(tmp_path):
    save({"a": 1}, tmp_path / "ck")
    os.chmod(tmp_path / "ck", 0o640)
    save({"a": 2}, tmp_path / "ck")
    assert stat.S_IMODE(os.stat(tmp_path / "ck").st_mode) == 0o640 and load(tmp_path / "ck") == {"a": 2}


def test_longest_valid_name_can_be_saved(tmp_path):
    name = "c" * 244 + ".tgc"
    assert len(name) <= os.pathconf(tmp_path, "PC_NAME_MAX")
    save({"a": 1}, tmp_path / name)
    assert load(tmp_path / name) == {"a": 1} and os.listdir(tmp_path) == [name]
    name = "d" * (os.pathconf(tmp_path, "PC_NAME_MAX"))
    save({"a": 2}, tmp_path / name)
    assert load(tmp_path / name) == {"a": 2}


@pytest.mark.parametrize("name", ["a", "ck.tgc", "x" * 15, "y" * 16, "z" * 255])
@pytest.mark.parametrize("suffix", [".tmp", ".part"])
def test_temp_names_are_no_longer_than_the_target(name, suffix):
    t = temp_name(name, suffix)
    assert t.startswith(".") and t.endswith(suffix) and t != name
    assert len(t) <= max(len(name), 2 + 8 + len(suffix))
    assert temp_name(name, suffix) != t


# ---- load_state_dict / map_location / weights_only -----------------------------------------
def test_load_state_dict_of_a_file_name_says_what_to_do(tmp_path):
    from tinygrad_cnn.models import SimpleCNN

    with pytest.raises(TypeError, match=r"^expected a state dict \(a mapping of names to "
                                        r"tensors\), got str \(to read the file, pass "
                                        r"tc.load\('simple.tgc'\)\)$"):
        SimpleCNN().load_state_dict("simple.tgc")
    with pytest.raises(TypeError, match="got list"):
        SimpleCNN().load_state_dict([("a", 1)])
    opt = tc.optim.SGD(SimpleCNN().parameters(), lr=0.1)
    with pytest.raises(TypeError, match="expected an optimizer state dict"):
        opt.load_state_dict("opt.tgc")


def test_map_location_and_weights_only(tmp_path):
    from tinygrad_cnn.models import SimpleCNN

    model = SimpleCNN()
    save({"model": model.state_dict(), "raw": np.arange(3)}, tmp_path / "ck")
    plain = load(tmp_path / "ck")
    assert all(isinstance(v, np.ndarray) for v in plain["model"].values())
    for where in ("cpu", tc.Tensor(np.zeros(1)).device):
        got = load(tmp_path / "ck", map_location=where, weights_only=True)
        t = next(iter(got["model"].values()))
        assert isinstance(t, tc.Tensor) and t.device == "cpu"
        assert isinstance(got["raw"], np.ndarray)       # saved as an array: stays one
        SimpleCNN().load_state_dict(got["model"])
    seen = []
    got = load(tmp_path / "ck", map_location=lambda a, loc: seen.append(loc) or a * 0)
    assert seen and set(seen) == {"cpu"}
    assert all(not v.any() for v in got["model"].values())
    assert load(tmp_path / "ck", weights_only=False)["raw"].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="map_location 'tpu'"):
        load(tmp_path / "ck", map_location="tpu")
    with pytest.raises(TypeError, match="map_location=dict"):
        load(tmp_path / "ck", map_location={"cuda:0": "cpu"})
    with pytest.raises(TypeError, match="weights_only must be"):
        load(tmp_path / "ck", weights_only="yes")


def test_map_location_cuda_without_a_gpu_says_why(tmp_path):
    from tinygrad_cnn.backends import cuda_unavailable_reason

    if cuda_unavailable_reason() is None:
        pytest.skip("CUDA is usable here")
    save({"w": tc.Tensor(np.ones(2, np.float32))}, tmp_path / "ck")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        load(tmp_path / "ck", map_location="cuda")
