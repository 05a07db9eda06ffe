"""DataLoader: batch shapes, dtypes and ranges, drop_last, seeded shuffling, normalize, fallback."""
import numpy as np
import pytest

from tinygrad_cnn.data import DataLoader
from tinygrad_cnn.tensor import Tensor


class ArrayDataset:
    """A dataset with .images/.labels arrays: the loader's fast path."""

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        self.images[:, 0, 0] = np.arange(n) % 256  # tag pixel
        self.labels = (np.arange(n) % 10).astype(np.int64)

    def __len__(self):
        return len(self.labels)


class ItemDataset:
    """Only __len__ and __getitem__: the loader's fallback path."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        return self.arrays.images[i][None].astype(np.float32) / np.float32(255), int(self.arrays.labels[i])


def _ids(loader):
    """Every label id in the order the loader yields them, one list per batch."""
    return [y.numpy().tolist() for _, y in loader]


def test_batch_shapes_dtypes_ranges():
    ds = ArrayDataset(25)
    batches = list(DataLoader(ds, batch_size=10))
    assert [x.shape for x, _ in batches] == [(10, 1, 28, 28), (10, 1, 28, 28), (5, 1, 28, 28)]
    x, y = batches[0]
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64 and y.shape == (10,)
    xs = x.numpy()
    assert 0.0 <= xs.min() and xs.max() <= 1.0
    np.testing.assert_array_equal(xs[:, 0], ds.images[:10].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y.numpy(), ds.labels[:10])


@pytest.mark.parametrize("n, b, drop, expect", [(25, 10, False, 3), (25, 10, True, 2),
                                                (20, 10, True, 2), (5, 10, True, 0), (1, 1, False, 1)])
def test_len_and_drop_last(n, b, drop, expect):
    loader = DataLoader(ArrayDataset(n), batch_size=b, drop_last=drop)
    assert len(loader) == expect
    sizes = [len(y.numpy()) for _, y in loader]
    assert len(sizes) == expect and all(s == b for s in sizes[:-1] if drop)
    assert sum(sizes) == (n // b * b if drop else n)


def test_seeded_shuffle_reproducible_and_new_each_epoch():
    ds = ArrayDataset(50)
    ds.labels = np.arange(50, dtype=np.int64)  # labels double as sample ids
    a, b = DataLoader(ds, 8, shuffle=True, seed=7), DataLoader(ds, 8, shuffle=True, seed=7)
    a1, a2, b1, b2 = _ids(a), _ids(a), _ids(b), _ids(b)
    assert a1 == b1 and a2 == b2 and a1 != a2
    for epoch in (a1, a2):
        flat = [i for batch in epoch for i in batch]
        assert sorted(flat) == list(range(50))  # every sample exactly once
    assert _ids(DataLoader(ds, 8, shuffle=True, seed=8)) != a1
    assert [i for batch in _ids(DataLoader(ds, 8)) for i in batch] == list(range(50))


def test_images_follow_their_labels_when_shuffled():
    ds = ArrayDataset(30)
    ds.labels = np.arange(30, dtype=np.int64)
    for x, y in DataLoader(ds, 7, shuffle=True, seed=1):
        np.testing.assert_array_equal(np.rint(x.numpy()[:, 0, 0, 0] * 255), y.numpy())


def test_rng_state_save_and_restore():
    ds = ArrayDataset(40)
    ds.labels = np.arange(40, dtype=np.int64)
    loader = DataLoader(ds, 16, shuffle=True, seed=3)
    _ids(loader)
    state = loader.state_dict()
    expected = _ids(loader)
    fresh = DataLoader(ds, 16, shuffle=True, seed=99)
    fresh.load_state_dict(state)
    assert _ids(fresh) == expected


def test_rng_state_survives_a_checkpoint(tmp_path):
    from tinygrad_cnn import checkpoint
    ds = ArrayDataset(40)
    ds.labels = np.arange(40, dtype=np.int64)
    loader = DataLoader(ds, 16, shuffle=True, seed=3)
    checkpoint.save({"loader": loader.state_dict()}, tmp_path / "ck")
    expected = _ids(loader)
    fresh = DataLoader(ds, 16, shuffle=True)
    fresh.load_state_dict(checkpoint.load(tmp_path / "ck")["loader"])
    assert _ids(fresh) == expected


def test_normalize():
    ds = ArrayDataset(12)
    mean, std = 0.1307, 0.3081
    (x, _), = list(DataLoader(ds, 12, normalize=(mean, std)))
    want = (ds.images.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.numpy()[:, 0], want, rtol=1e-6, atol=1e-6)


def test_getitem_fallback_matches_fast_path():
    arrays = ArrayDataset(23)
    fast = list(DataLoader(arrays, 5, shuffle=True, seed=2))
    slow = list(DataLoader(ItemDataset(arrays), 5, shuffle=True, seed=2))
    assert len(fast) == len(slow) == 5
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xs.shape == xf.shape and xs.dtype == np.float32 and ys.dtype == np.int64
        np.testing.assert_array_equal(xs.numpy(), xf.numpy())
        np.testing.assert_array_equal(ys.numpy(), yf.numpy())


def test_real_sample_dataset():
    from tinygrad_cnn.data import MNISTSample
    loader = DataLoader(MNISTSample(train=False), batch_size=100, shuffle=True, seed=0)
    assert len(loader) == 10
    seen = np.concatenate([y.numpy() for _, y in loader])
    np.testing.assert_array_equal(np.bincount(seen), np.full(10, 100))


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        DataLoader(ArrayDataset(3), batch_size=0)
    with pytest.raises(ValueError, match="std must be non-zero"):
        DataLoader(ArrayDataset(3), normalize=(0.5, 0))
