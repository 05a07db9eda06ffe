"""Hypothesis over byte flips and truncations of a real checkpoint and real IDX files: the
loader raises its named error (or, where the change is harmless, returns the same data),
allocates at most a small multiple of the file's size, and touches no file."""
import gzip
import os
import tempfile
import tracemalloc

import numpy as np
from hypothesis import given, settings, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn.checkpoint import CheckpointError
from tinygrad_cnn.data import MNISTSample
from tinygrad_cnn.data.idx import IDXFormatError, read_images, read_labels, write_idx
from tinygrad_cnn.models import SimpleCNN

_DIR = tempfile.TemporaryDirectory(prefix="tgc-fuzz-")


def _real_checkpoint():
    tc.manual_seed(0)
    model = SimpleCNN()
    path = os.path.join(_DIR.name, "real.tgc")
    tc.save({"model": model.state_dict(), "epoch": 3, "history": [{"loss": 0.5}]}, path)
    with open(path, "rb") as f:
        return f.read(), tc.load(path)


def _real_idx():
    sample = MNISTSample(train=False)
    out = {}
    for name, array in (("images.gz", sample.images[:60]), ("labels.gz", sample.labels[:60].astype(np.uint8)),
                        ("images", sample.images[:20])):
        path = os.path.join(_DIR.name, name)
        write_idx(path, array)
        with open(path, "rb") as f:
            out[name] = f.read()
    return out


CHECKPOINT, ORIGINAL = _real_checkpoint()
IDX = _real_idx()
KEEP = os.path.join(_DIR.name, "keep.tgc")
with open(KEEP, "wb") as _f:
    _f.write(CHECKPOINT)


def _mutations(size):
    """(byte flips [(position, xor)], truncation length or None)."""
    flips = st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), max_size=4)
    return st.tuples(flips, st.one_of(st.none(), st.integers(0, size - 1)))


def _mutate(data, mutation):
    flips, cut = mutation
    b = bytearray(data)
    for pos, x in flips:
        b[pos] ^= x
    return bytes(b if cut is None else b[:cut])


def _same(a, b):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    else:
        assert a == b


def _traced(fn):
    """(result or exception, peak traced bytes) of fn()."""
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as e:        # judged by the caller
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _listing():
    return sorted(os.listdir(_DIR.name))


@settings(max_examples=60)
@given(_mutations(len(CHECKPOINT)))
def test_mutated_checkpoints_fail_by_name_or_load_unchanged(mutation):
    data = _mutate(CHECKPOINT, mutation)
    path = os.path.join(_DIR.name, "mutant.tgc")
    with open(path, "wb") as f:
        f.write(data)
    before = _listing()
    got, peak = _traced(lambda: tc.load(path))
    if isinstance(got, Exception):
        assert isinstance(got, CheckpointError), repr(got)
        assert path in str(got)
    else:
        _same(got, ORIGINAL)                  # the change hit bytes no reader uses
    assert peak <= 4 * len(data) + 256 * 1024, (peak, len(data))
    assert _listing() == before
    with open(path, "rb") as f:
        assert f.read() == data
    with open(KEEP, "rb") as f:
        assert f.read() == CHECKPOINT


@settings(max_examples=60)
@given(st.sampled_from(sorted(IDX)), st.data())
def test_mutated_idx_files_fail_by_name_or_parse(name, draw):
    original = IDX[name]
    mutation = draw.draw(_mutations(len(original)))
    data = _mutate(original, mutation)
    path = os.path.join(_DIR.name, "mutant-" + name)
    with open(path, "wb") as f:
        f.write(data)
    read = read_labels if name.startswith("labels") else read_images
    raw_size = len(gzip.decompress(original)) if name.endswith(".gz") else len(original)
    got, peak = _traced(lambda: read(path))
    if isinstance(got, Exception):
        assert isinstance(got, IDXFormatError), repr(got)
        assert path in str(got)
    else:
        assert got.dtype == np.uint8 and got.size <= raw_size
    assert peak <= 4 * raw_size + 2 * (1 << 20), (peak, raw_size)
    with open(path, "rb") as f:
        assert f.read() == data
