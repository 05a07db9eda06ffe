"""DataLoader: batches of (images, labels) Tensors from a dataset, with seeded shuffling.

The same machinery as tinygrad_cnn.utils.data.DataLoader (its sampler, batch sampler and
iteration), with a fetch of its own that batches MNIST-like datasets by indexing arrays.
"""
import numpy as np

from tinygrad_cnn.tensor import Tensor
from tinygrad_cnn.utils.data.dataloader import DataLoader as _TorchStyleLoader


class DataLoader(_TorchStyleLoader):
    """Yield (images (B, 1, H, W) float32, labels (B,) int64) Tensors, shuffled by its own generator.

    Datasets with `.images` (uint8 (N, H, W) or (N, 1, H, W)) and `.labels` arrays (and no
    transforms) are batched by indexing those arrays, so only the batch is converted; other
    datasets go through `dataset[i] -> (image, label)`. Pixels are scaled to [0, 1], then
    `(x - mean) / std` when `normalize=(mean, std)`. Each `iter(loader)` with shuffle=True draws
    a new permutation from `loader.generator` (a numpy Generator seeded by `seed`); save and
    restore it with `state_dict()` / `load_state_dict()`. `sampler=` (any iterable of indices
    with a length, such as a DistributedSampler) gives the order instead, as torch's; it
    excludes shuffle=True.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 normalize=None, sampler=None):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if normalize is not None:
            mean, std = normalize
            if float(std) == 0.0:
                raise ValueError(f"normalize std must be non-zero, got {normalize}")
            normalize = (np.float32(mean), np.float32(std))
        super().__init__(dataset, int(batch_size), bool(shuffle), sampler=sampler,
                         drop_last=bool(drop_last), generator=np.random.default_rng(seed))
        self.shuffle = bool(shuffle)
        self.normalize = normalize
        self._fast = _has_arrays(dataset)

    def _epoch_seed(self):
        return 0          # no workers, so no worker seed: each epoch draws only its permutation

    def _fetch(self, idx):
        images, labels = self._arrays(np.asarray(idx, dtype=np.int64))
        return Tensor(images), Tensor(labels)

    def _arrays(self, idx):
        """Return (float32 (B, 1, H, W), int64 (B,)) NumPy arrays for dataset indices idx."""
        if self._fast:
            images = self.dataset.images[idx]
            labels = np.asarray(self.dataset.labels[idx], dtype=np.int64)
        else:
            items = [self.dataset[int(i)] for i in idx]
            images = np.stack([_as_numpy(x) for x, _ in items])
            labels = np.array([int(_as_numpy(y)) for _, y in items], dtype=np.int64)
        images = _to_float(images)
        if images.ndim == 3:
            images = images[:, None]  # (B, H, W) -> (B, 1, H, W)
        if self.normalize is not None:
            mean, std = self.normalize
            images -= mean  # in place: images is already a fresh copy of just this batch
            images /= std
        return np.ascontiguousarray(images, dtype=np.float32), labels

    def state_dict(self):
        """The shuffling RNG state (a dict of ints and strings), for a training checkpoint.

        With a sampler that has state_dict(), its state too, under "sampler"; its "generator"
        entry (a DistributedSampler's) stands for the loader's, so either kind resumes it.
        """
        if self.sampler is not None and hasattr(self.sampler, "state_dict"):
            state = self.sampler.state_dict()
            return {"generator": state.get("generator", self.generator.bit_generator.state),
                    "sampler": state}
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state):
        """Restore the shuffling RNG state (and a sampler's state) saved by state_dict()."""
        self.generator.bit_generator.state = state["generator"]
        if "sampler" in state and hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state["sampler"])


def _has_arrays(dataset):
    """True when the dataset exposes .images and .labels arrays of matching length."""
    images, labels = getattr(dataset, "images", None), getattr(dataset, "labels", None)
    if getattr(dataset, "transform", None) is not None or getattr(
            dataset, "target_transform", None) is not None:
        return False                                   # items must go through the transforms
    return (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)
            and len(images) == len(labels) == len(dataset))


def _to_float(images):
    """uint8 pixels -> float32 in [0, 1]; float images are kept as float32."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


def _as_numpy(x):
    """A NumPy view of an array, a number, or anything with .numpy() (a Tensor)."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)
