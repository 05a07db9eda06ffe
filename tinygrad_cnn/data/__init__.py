"""Datasets (MNIST, Fashion-MNIST, the shipped MNIST sample) and the DataLoader.

MNIST is by Yann LeCun and Corinna Cortes, CC BY-SA 3.0.
"""
from .download import DownloadError
from .idx import IDXFormatError, read_images, read_labels, write_idx
from .loader import DataLoader
from .mnist import MNIST, DatasetNotFoundError, FashionMNIST, MNISTSample, cache_dir

__all__ = ["MNIST", "FashionMNIST", "MNISTSample", "DataLoader", "DownloadError",
           "IDXFormatError", "DatasetNotFoundError", "read_images", "read_labels", "write_idx",
           "cache_dir"]
