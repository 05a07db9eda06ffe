"""torch.utils.data's names: datasets, samplers, collation and the DataLoader.

    from tinygrad_cnn.utils.data import DataLoader, TensorDataset, random_split
"""
from tinygrad_cnn.utils.data.collate import default_collate, default_convert  # noqa: F401
from tinygrad_cnn.utils.data.dataloader import DataLoader, get_worker_info  # noqa: F401
from tinygrad_cnn.utils.data.dataset import (  # noqa: F401
    ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split,
)
from tinygrad_cnn.utils.data.sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
           "get_worker_info", "random_split"]
