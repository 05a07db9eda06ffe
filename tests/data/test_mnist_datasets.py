"""MNIST / FashionMNIST: finding files on disk, downloading from a local server, and checks."""
import gzip
import hashlib
import os

import numpy as np
import pytest

from tinygrad_cnn.data import (MNIST, DatasetNotFoundError, DownloadError, FashionMNIST,
                               IDXFormatError)

DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


def test_files_in_root(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(30)
    root = isolated_env / "root"
    helpers.write_split(root, images, labels, "train")
    ds = MNIST(root=root, train=True, download=False)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (30, 28, 28)
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (30,)
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert len(ds) == 30
    assert str(root / "train-images-idx3-ubyte.gz") in ds.source
    assert "found locally, IDX structure checked" in ds.source


def test_getitem(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(12)
    helpers.write_split(isolated_env / "r", images, labels, "t10k")
    ds = MNIST(root=isolated_env / "r", train=False, download=False)
    x, y = ds[11]
    assert x.dtype == np.float32 and x.shape == (1, 28, 28)
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x[0], images[11].astype(np.float32) / np.float32(255))
    assert type(y) is int and y == labels[11]
    assert ds.classes[3] == "3 - three" and len(ds.classes) == 10


def test_root_subdirectory_and_env_var(isolated_env, helpers, monkeypatch):
    images, labels = helpers.synthetic_mnist(10)
    helpers.write_split(isolated_env / "root" / "mnist", images, labels)
    assert len(MNIST(root=isolated_env / "root", download=False)) == 10
    helpers.write_split(isolated_env / "env" / "mnist", images[:4], labels[:4])
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(isolated_env / "env"))
    ds = MNIST(download=False)
    assert len(ds) == 4 and str(isolated_env / "env" / "mnist") in ds.source


def test_cache_dir_from_xdg(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(5)
    helpers.write_split(isolated_env / "xdg-cache" / "tinygrad_cnn" / "mnist", images, labels)
    assert len(MNIST(download=False)) == 5


def test_fashion_does_not_take_mnist_files(isolated_env, helpers, monkeypatch):
    images, labels = helpers.synthetic_mnist(5)
    helpers.write_split(isolated_env / "env" / "mnist", images, labels)
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(isolated_env / "env"))
    assert "fashion-mnist" in FashionMNIST.search_dirs()[0]
    assert all("/mnist" not in d for d in FashionMNIST.search_dirs())


def test_missing_without_download_says_where(isolated_env, monkeypatch):
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(isolated_env / "env"))
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST(root=isolated_env / "nothing", download=False)
    msg = str(e.value)
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        assert name in msg
    for d in (isolated_env / "nothing", isolated_env / "env" / "mnist",
              isolated_env / "xdg-cache" / "tinygrad_cnn" / "mnist"):
        assert str(d) in msg


def test_image_label_count_mismatch(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(10)
    helpers.write_split(isolated_env, images, labels[:9])
    with pytest.raises(IDXFormatError, match="has 10 images but .* has 9 labels"):
        MNIST(root=isolated_env, download=False)


def test_label_out_of_range(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(10)
    labels[3] = 12
    helpers.write_split(isolated_env, images, labels)
    with pytest.raises(IDXFormatError, match="label 12 out of range for 10 classes"):
        MNIST(root=isolated_env, download=False)


def test_wrong_image_size(isolated_env, helpers):
    helpers.write_split(isolated_env, np.zeros((2, 14, 14), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(IDXFormatError, match="images are 14x14"):
        MNIST(root=isolated_env, download=False)


def test_corrupt_local_file_names_it(isolated_env, helpers):
    images, labels = helpers.synthetic_mnist(10)
    helpers.write_split(isolated_env, images, labels)
    path = isolated_env / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(IDXFormatError, match=str(path)):
        MNIST(root=isolated_env, download=False)


class _ServedMNIST(MNIST):
    """MNIST whose expected md5s are those of the synthetic files the test serves."""
    md5 = {}


def _serve_split(server, prefix, helpers, n, split="train"):
    images, labels = helpers.synthetic_mnist(n, seed=1)
    for name, arr in ((f"{split}-images-idx3-ubyte.gz", images), (f"{split}-labels-idx1-ubyte.gz", labels)):
        data = gzip.compress(helpers.idx_bytes(arr), mtime=0)
        server.routes[f"{prefix}/{name}"] = ("ok", data)
        _ServedMNIST.md5[name] = hashlib.md5(data).hexdigest()
    return images, labels


def test_download_from_local_mirror(isolated_env, helpers, http_server, capsys):
    server, base = http_server
    images, labels = _serve_split(server, "/mirror", helpers, 20)
    ds = _ServedMNIST(root=isolated_env / "dl", mirrors=[base + "/nope", base + "/mirror/"])
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert "downloaded, md5 verified" in ds.source
    assert sorted(os.listdir(isolated_env / "dl")) == ["train-images-idx3-ubyte.gz",
                                                       "train-labels-idx1-ubyte.gz"]
    assert "Yann LeCun and Corinna Cortes, CC BY-SA 3.0" in capsys.readouterr().err
    again = _ServedMNIST(root=isolated_env / "dl", mirrors=[])  # found locally now
    assert "found locally" in again.source


def test_download_into_cache_with_env_mirrors(isolated_env, helpers, http_server, monkeypatch):
    server, base = http_server
    _serve_split(server, "/m", helpers, 10, split="t10k")
    monkeypatch.setenv("TINYGRAD_CNN_MNIST_MIRRORS", f"{base}/bad, {base}/m")
    ds = _ServedMNIST(train=False)
    assert len(ds) == 10
    cache = isolated_env / "xdg-cache" / "tinygrad_cnn" / "mnist"
    assert str(cache) in ds.source and len(os.listdir(cache)) == 2


def test_download_failure_says_how_to_install_by_hand(isolated_env, dead_port, http_server):
    server, base = http_server
    target = isolated_env / "dl"
    with pytest.raises(DownloadError) as e:
        MNIST(root=target, mirrors=[base, f"http://127.0.0.1:{dead_port}"], timeout=1)
    msg = str(e.value)
    assert f"{base}/train-images-idx3-ubyte.gz: HTTP 404" in msg
    assert f"http://127.0.0.1:{dead_port}/train-images-idx3-ubyte.gz: connection failed" in msg
    assert f"put these files in {target}" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert not target.exists()            # no partial files, and no folder made for nothing


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION),
                    reason="Debian's dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("train, n", [(True, 60000), (False, 10000)])
def test_fashion_mnist_from_debian(isolated_env, train, n):
    ds = FashionMNIST(train=train, download=False)
    assert ds.images.shape == (n, 28, 28) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=10), np.full(10, n // 10))
    assert DEBIAN_FASHION in ds.source
    assert ds.classes[9] == "Ankle boot"
