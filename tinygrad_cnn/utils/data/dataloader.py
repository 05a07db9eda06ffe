"""DataLoader with torch.utils.data.DataLoader's arguments.

num_workers > 0 loads batches in background THREADS (not processes): up to
prefetch_factor * num_workers batches are fetched ahead while the training step runs,
and come back in order. NumPy, Pillow and the framework's kernels release the GIL, so
loading overlaps compute; pure-Python transforms still share one core. Each worker thread
sees get_worker_info() and runs worker_init_fn(worker_id) once when it starts.
"""
import itertools
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from concurrent.futures import TimeoutError as FutureTimeout

from tinygrad_cnn import random as tc_random
from tinygrad_cnn.utils.data.collate import default_collate, default_convert
from tinygrad_cnn.utils.data.dataset import IterableDataset
from tinygrad_cnn.utils.data.sampler import (
    BatchSampler, RandomSampler, SequentialSampler,
)

_worker = threading.local()


class WorkerInfo:
    """What get_worker_info() returns inside a worker: id, num_workers, seed, dataset."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """The current worker's WorkerInfo inside a DataLoader worker thread, else None."""
    return getattr(_worker, "info", None)


class DataLoader:
    """Batches from a dataset: sampler -> batch of indices -> dataset[i] -> collate_fn."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        _check_options(num_workers, timeout, prefetch_factor, persistent_workers,
                       multiprocessing_context)
        self.dataset, self.num_workers, self.timeout = dataset, num_workers, timeout
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.in_order = in_order
        self.persistent_workers, self.worker_init_fn = persistent_workers, worker_init_fn
        self.multiprocessing_context, self.generator = multiprocessing_context, generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, "
                             "sampler and batch_sampler options")
        if self._iterable and num_workers:
            raise ValueError("an IterableDataset with num_workers > 0 is not supported (the "
                             "workers here are threads sharing one iterator); use num_workers=0")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.batch_size, self.drop_last = batch_size, bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None
            else default_convert)
        self._pool = None

    # ---- iteration ---------------------------------------------------------------------
    def __len__(self):
        if self._iterable:
            raise TypeError("an IterableDataset has no len() here")
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _index_batches(self):
        """Lists of indices, or single indices when batch_size=None (no auto-batching)."""
        return iter(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _fetch(self, indices):
        if self.batch_sampler is None:                               # batch_size=None
            return self.collate_fn(self.dataset[indices])
        fetch_many = getattr(self.dataset, "__getitems__", None)
        samples = fetch_many(indices) if fetch_many else [self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def __iter__(self):
        # as torch: each epoch first draws a base seed (the workers' seeds), then the
        # sampler draws its shuffle, so the order does not depend on num_workers
        self._base_seed = self._epoch_seed()
        if self._iterable:
            return self._iterate_stream()
        batches = self._index_batches()
        if not self.num_workers:
            return (self._fetch(b) for b in batches)
        return self._background(batches)

    def _epoch_seed(self):
        return int(tc_random.numpy_generator(self.generator).integers(2**63))

    def _iterate_stream(self):
        items = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(x) for x in items)
            return
        while True:
            chunk = list(itertools.islice(items, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield self.collate_fn(chunk)

    # ---- background threads --------------------------------------------------------------
    def _workers(self):
        if self._pool is None:
            base_seed = self._base_seed
            ids = itertools.count()
            lock = threading.Lock()

            def start():
                with lock:
                    wid = next(ids)
                _worker.info = WorkerInfo(wid, self.num_workers, base_seed + wid, self.dataset)
                if self.worker_init_fn is not None:
                    self.worker_init_fn(wid)
            self._pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="DataLoader",
                                            initializer=start)
        return self._pool

    def _background(self, batches):
        pool = self._workers()
        ahead = deque()
        try:
            for indices in itertools.islice(batches, self.prefetch_factor * self.num_workers):
                ahead.append(pool.submit(self._fetch, indices))
            while ahead:
                try:
                    batch = ahead.popleft().result(timeout=self.timeout or None)
                except FutureTimeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") \
                        from None
                for indices in itertools.islice(batches, 1):
                    ahead.append(pool.submit(self._fetch, indices))
                yield batch
        finally:
            for f in ahead:
                f.cancel()
            if not self.persistent_workers:
                self._shutdown()

    def _shutdown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _check_options(num_workers, timeout, prefetch_factor, persistent_workers, context):
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers option should be non-negative; use num_workers=0 to "
                         f"disable multiprocessing (got {num_workers!r})")
    if timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got {timeout}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError(f"prefetch_factor option should be >= 1, got {prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if context is not None:
        raise ValueError(f"multiprocessing_context={context!r}: the workers here are threads, "
                         f"not processes; leave it None")
