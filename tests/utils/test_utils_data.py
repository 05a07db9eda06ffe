"""tinygrad_cnn.utils.data against torch.utils.data: datasets, splits, collation, the
DataLoader's options and errors, seeded shuffling, and background loading in threads."""
import collections
import threading
import time

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import transforms as T
from tinygrad_cnn.data import MNISTSample
from tinygrad_cnn.utils.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler, Subset,
    TensorDataset, WeightedRandomSampler, default_collate, get_worker_info, random_split,
)

torch = pytest.importorskip("torch")
tud = torch.utils.data
Pair = collections.namedtuple("Pair", "x y")


class Items(Dataset):
    """Item i: (float64 array, int, float, dict, str, namedtuple) - every collate branch."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return (np.full((2, 3), i, np.float64), i, i / 2, {"a": np.int32(i), "b": [i, -i]},
                f"s{i}", Pair(i, np.float32(i)))


class TorchItems(tud.Dataset):
    def __init__(self, n=10):
        self.items = Items(n)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _flatten(batch):
    """Nested batch -> list of (type name, dtype or value) leaves, to compare both libraries."""
    if isinstance(batch, (tc.Tensor, torch.Tensor)):
        return [(np.asarray(batch.numpy()).dtype.name, batch.numpy().tolist())]
    if isinstance(batch, dict):
        return [leaf for k in sorted(batch) for leaf in [k] + _flatten(batch[k])]
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], str):
        return [list(batch)]
    if isinstance(batch, (list, tuple)):
        return [type(batch).__name__] + [leaf for b in batch for leaf in _flatten(b)]
    return [batch]


@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=4, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=3, num_workers=2)])
def test_batches_and_collation_equal_torch(kwargs):
    ours = list(DataLoader(Items(), **kwargs))
    theirs = list(tud.DataLoader(TorchItems(), **{k: v for k, v in kwargs.items()
                                                  if k != "num_workers"}))
    assert len(ours) == len(theirs) == len(DataLoader(Items(), **kwargs))
    for a, b in zip(ours, theirs):
        assert _flatten(a) == _flatten(b)


def test_default_collate_rules():
    batch = default_collate([(1.5, True), (2.5, False)])
    assert isinstance(batch, list) and batch[0].dtype == np.float64 and batch[1].dtype == np.bool_
    with pytest.raises(TypeError, match="add transforms.ToTensor"):
        default_collate([object(), object()])
    t = default_collate([tc.Tensor([1.0, 2.0]), tc.Tensor([3.0, 4.0])])
    assert t.shape == (2, 2) and t.dtype == np.float32


def test_tensor_dataset_subset_concat_like_torch():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ours = TensorDataset(tc.Tensor(x), tc.Tensor(y))
    theirs = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(theirs) == 6
    assert ours[4][0].tolist() == theirs[4][0].tolist() and ours[4][1].item() == 4
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(tc.Tensor(x), tc.Tensor(np.arange(5)))
    sub = Subset(ours, [5, 0, 3])
    assert len(sub) == 3 and sub[0][1].item() == 5
    cat = ConcatDataset([sub, ours])
    tcat = tud.ConcatDataset([tud.Subset(theirs, [5, 0, 3]), theirs])
    assert len(cat) == len(tcat) == 9
    for i in (-9, -1, 0, 2, 3, 8):
        assert cat[i][1].item() == tcat[i][1].item()
    with pytest.raises(IndexError):
        cat[9]
    assert len(sub + ours) == 9


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5, 0]])
def test_random_split_sizes_equal_torch_and_reproducible(lengths):
    ds = list(range(10))
    ours = random_split(ds, lengths, generator=tc.Generator().manual_seed(3))
    theirs = tud.random_split(ds, lengths, generator=torch.Generator().manual_seed(3))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(10))
    again = random_split(ds, lengths, generator=tc.Generator().manual_seed(3))
    assert [s.indices for s in again] == [s.indices for s in ours]
    tc.manual_seed(1)
    a = random_split(ds, lengths)
    tc.manual_seed(1)
    assert [s.indices for s in random_split(ds, lengths)] == [s.indices for s in a]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])


def _order(loader):
    return [int(v) for _, y in loader for v in y.numpy()]


def test_shuffle_follows_manual_seed_and_generator():
    ds = TensorDataset(tc.Tensor(np.zeros((20, 1))), tc.Tensor(np.arange(20)))
    tc.manual_seed(0)
    first = _order(DataLoader(ds, batch_size=6, shuffle=True))
    second = _order(DataLoader(ds, batch_size=6, shuffle=True))
    tc.manual_seed(0)
    assert _order(DataLoader(ds, batch_size=6, shuffle=True)) == first
    tc.manual_seed(0)
    assert _order(DataLoader(ds, batch_size=6, shuffle=True, num_workers=3)) == first
    assert first != second and sorted(first) == list(range(20))
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=tc.Generator().manual_seed(5))
    epoch1, epoch2 = _order(loader), _order(loader)
    assert epoch1 != epoch2                                # a new permutation every epoch
    again = DataLoader(ds, batch_size=6, shuffle=True, generator=tc.Generator().manual_seed(5))
    tc.manual_seed(123)                                    # the global seed plays no part
    assert _order(again) == epoch1


def test_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    g = tc.Generator().manual_seed(0)
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) <= set(range(5))
    counts = collections.Counter(RandomSampler(range(4), num_samples=9, generator=g))
    assert sorted(counts.values()) == [2, 2, 2, 3]        # two whole permutations, then one more
    picks = list(WeightedRandomSampler([0, 1, 0, 3], 400, generator=g))
    assert set(picks) == {1, 3} and 0.15 < picks.count(1) / 400 < 0.35
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, True)) == [[0, 1], [2, 3]]
    loader = DataLoader(Items(), batch_sampler=BatchSampler(range(10), 4, False))
    assert [len(b[1]) for b in loader] == [4, 4, 2]


@pytest.mark.parametrize("kwargs", [
    dict(batch_sampler=BatchSampler(range(4), 2, False), batch_size=2),
    dict(sampler=SequentialSampler(range(4)), shuffle=True),
    dict(batch_size=None, drop_last=True),
    dict(num_workers=-1),
    dict(persistent_workers=True),
    dict(prefetch_factor=2),
])
def test_option_errors_are_torch_errors(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(TorchItems(), **{k: (tud.BatchSampler(range(4), 2, False)
                                            if k == "batch_sampler" else
                                            tud.SequentialSampler(range(4)) if k == "sampler"
                                            else v) for k, v in kwargs.items()})
    with pytest.raises(ValueError):
        DataLoader(Items(), **kwargs)
    with pytest.raises(ValueError, match="threads"):
        DataLoader(Items(), num_workers=1, multiprocessing_context="spawn")


class Slow(Dataset):
    """Records which thread loaded each item; item 8 announces itself."""

    def __init__(self, delay=0.0):
        self.delay, self.seen, self.loaded_ahead = delay, [], threading.Event()

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        self.seen.append((i, threading.current_thread().name, None if info is None else info.id))
        if i == 8:
            self.loaded_ahead.set()
        time.sleep(self.delay)
        return np.float32(i)


def test_num_workers_loads_ahead_in_background_threads():
    ds = Slow()
    started = []
    loader = DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=started.append)
    batches = iter(loader)
    first = next(batches)                         # while we hold batch 0, batch 2 gets loaded
    assert ds.loaded_ahead.wait(timeout=10), "the third batch was not loaded in the background"
    assert first.tolist() == [0, 1, 2, 3]
    assert [b.tolist() for b in batches] == [[4, 5, 6, 7], [8, 9, 10, 11]]
    assert sorted(started) == [0, 1]
    assert all(name.startswith("DataLoader") and wid in (0, 1) for _, name, wid in ds.seen)
    assert get_worker_info() is None
    assert loader._pool is None                   # not persistent: the threads are gone


def test_persistent_workers_keep_their_threads_and_errors_propagate():
    loader = DataLoader(Slow(), batch_size=4, num_workers=2, persistent_workers=True)
    list(loader)
    pool = loader._pool
    list(loader)
    assert loader._pool is pool and pool is not None
    loader._shutdown()

    class Broken(Slow):
        def __getitem__(self, i):
            raise KeyError(f"item {i} is corrupt")
    with pytest.raises(KeyError, match="item 0 is corrupt"):
        list(DataLoader(Broken(), batch_size=4, num_workers=2))
    with pytest.raises(RuntimeError, match="timed out after 0.05 seconds"):
        list(DataLoader(Slow(delay=0.2), batch_size=4, num_workers=1, timeout=0.05))


def test_mnist_with_transforms_through_the_loader_matches_torchvision():
    from tv import torchvision_functional
    TVF = torchvision_functional()
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNISTSample(None, False, transform=pipeline, target_transform=lambda y: y + 100)
    images, labels = next(iter(DataLoader(ds, batch_size=8, num_workers=2, pin_memory=True)))
    assert images.shape == (8, 1, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and (labels.numpy() >= 100).all()
    raw = MNISTSample(train=False)
    for k in range(8):
        pil = Image_from(raw.images[k])
        ref = TVF.normalize(TVF.to_tensor(pil), (0.1307,), (0.3081,)).numpy()
        np.testing.assert_allclose(images.numpy()[k], ref, rtol=1e-6, atol=1e-6)
    assert raw[0][0].shape == (1, 28, 28)         # no transform: the float array, as before


def Image_from(arr):
    from PIL import Image
    return Image.fromarray(arr, mode="L")


def test_old_data_loader_honours_dataset_transforms():
    from tinygrad_cnn.data import DataLoader as OldLoader
    flip = MNISTSample(train=False, transform=lambda im: np.asarray(im)[:, ::-1].copy())
    images, _ = next(iter(OldLoader(flip, batch_size=2)))
    plain = MNISTSample(train=False)
    np.testing.assert_allclose(images.numpy()[0, 0], plain[0][0][0][:, ::-1], rtol=1e-6)


def test_reachable_as_torch_scripts_spell_it():
    assert tc.utils.data.DataLoader is DataLoader
    assert isinstance(tc.Generator().manual_seed(0), tc.Generator)


def test_mnist_exposes_torchvision_data_and_targets():
    ds = MNISTSample(train=False)
    assert ds.data.shape == (1000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64 and ds.targets.numpy().tolist() == ds.labels.tolist()
