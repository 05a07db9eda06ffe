"""DistributedSampler: each rank's share of a dataset's indices, as torch's.

Rank r takes ``indices[r::num_replicas]`` of the epoch's order, after the order is padded
(by repeating its start) or cut (drop_last) to a multiple of num_replicas, so every rank
gets the same number of samples. The shuffled order of epoch e is the very permutation that
``DataLoader(dataset, shuffle=True, seed=seed)`` draws on its (e+1)-th pass: rank r's
batch k of size B is then the r-th interleaved share of the single-process batch k of size
B * num_replicas, and data-parallel training sees the same global batches as one process.
(torch seeds each epoch with seed + epoch on its own generator; a NumPy Generator cannot
reproduce torch's randperm, so here the single-process loader's sequence is the reference.)
"""
import math

import numpy as np

from tinygrad_cnn.distributed.process_group import get_rank, get_world_size


class DistributedSampler:
    """Indices of this rank's shard, re-shuffled each epoch after set_epoch(epoch)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        if int(num_replicas) < 1:
            raise ValueError(f"num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {int(num_replicas) - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self._replay = None  # (epoch drawn, generator just after drawing it, that order)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Choose the epoch whose order the next iteration uses (call it before each epoch)."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)

    def __iter__(self):
        order = self._order()
        if not self.drop_last:
            pad = self.total_size - len(order)
            if pad > 0:  # repeat the start of the order, as often as needed
                order = np.concatenate([order, np.resize(order, pad)])
        else:
            order = order[:self.total_size]
        assert len(order) == self.total_size
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def _order(self):
        """The epoch's order of all indices: arange, or the loader's (epoch+1)-th permutation."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return self._permutation(n, self.epoch)[1]

    def _permutation(self, n, epoch):
        """(generator state after drawing, permutation) for ``epoch``, reusing the last draw."""
        if self._replay is not None and self._replay[0] == epoch:
            return self._replay[1].bit_generator.state, self._replay[2]
        if self._replay is not None and self._replay[0] < epoch:
            drawn, generator = self._replay[0], self._replay[1]
        else:
            drawn, generator = -1, np.random.default_rng(self.seed)
        for _ in range(epoch - drawn - 1):
            generator.permutation(n)
        order = generator.permutation(n)
        self._replay = (epoch, generator, order)
        return generator.bit_generator.state, order

    def state_dict(self):
        """The epoch and, when shuffling, the state a DataLoader(shuffle=True, seed) would hold
        after that epoch, so a checkpoint resumes in one process or in many."""
        state = {"epoch": self.epoch}
        if self.shuffle:
            state["generator"] = self._permutation(len(self.dataset), self.epoch)[0]
        return state

    def load_state_dict(self, state):
        """Restore the epoch saved by state_dict()."""
        self.set_epoch(state["epoch"])
