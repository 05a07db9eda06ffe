"""The PyTorch-compatibility data path: cross_entropy's checks, a loader epoch, worker threads.

Run from the repo root:  python bench/bench_data_path.py [--pairs 15]
Prints (1) what F.cross_entropy costs over the fused op it calls, (2) one epoch of
tinygrad_cnn.data.DataLoader over the bundled MNIST sample, (3) epochs of SimpleCNN training
with augmentation at num_workers 0 and 2 (skipped where tinygrad_cnn.utils._array is missing,
so the same script also runs on older checkouts for a before/after comparison).
"""
import argparse
import os
import statistics
import sys
import time
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn import ops, optim  # noqa: E402
from tinygrad_cnn.data import DataLoader, MNISTSample  # noqa: E402
from tinygrad_cnn.nn import functional as F  # noqa: E402


def cross_entropy_checks(pairs):
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((64, 10)).astype(np.float32), requires_grad=True)
    t = tc.Tensor(rng.integers(0, 10, 64))
    raw = lambda: ops.CrossEntropy.apply(x, target=t._array, reduction="mean",  # noqa: E731
                                         label_smoothing=0.0)
    full = lambda: F.cross_entropy(x, t)  # noqa: E731
    diffs = []
    for _ in range(pairs):
        a = min(timeit.repeat(raw, number=500, repeat=3)) / 500
        b = min(timeit.repeat(full, number=500, repeat=3)) / 500
        diffs.append((b - a) * 1e6)
    print(f"F.cross_entropy over ops.CrossEntropy, (64, 10): median {statistics.median(diffs):.1f} us "
          f"({pairs} interleaved pairs, best of 3x500 calls each)")


def loader_epoch(pairs):
    loader = DataLoader(MNISTSample(train=True), 64, shuffle=True, seed=0)
    list(loader)
    runs = []
    for _ in range(pairs):
        start = time.perf_counter()
        for _ in loader:
            pass
        runs.append((time.perf_counter() - start) * 1e3)
    print(f"data.DataLoader epoch, 4,000 digits, batch 64, shuffled: median "
          f"{statistics.median(runs):.2f} ms, min {min(runs):.2f} ms ({pairs} epochs)")


def worker_threads():
    try:
        from tinygrad_cnn import transforms as T
        from tinygrad_cnn.models import SimpleCNN
        from tinygrad_cnn.utils.data import DataLoader as TorchStyleLoader
    except ImportError:
        print("tinygrad_cnn.utils._array is not in this checkout: worker threads skipped")
        return
    aug = T.Compose([T.RandomAffine(10, translate=(0.1, 0.1)), T.ToTensor(),
                     T.Normalize((0.1307,), (0.3081,))])
    ds = MNISTSample(train=True, transform=aug)
    model = SimpleCNN()
    opt = optim.SGD(model.parameters(), lr=0.01)
    for workers in (0, 0, 2, 0, 2, 0, 2):                # the first run warms up
        tc.manual_seed(0)
        start = time.perf_counter()
        for x, y in TorchStyleLoader(ds, batch_size=64, shuffle=True, num_workers=workers):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        print(f"SimpleCNN epoch (63 steps) with RandomAffine/ToTensor/Normalize, "
              f"num_workers={workers}: {time.perf_counter() - start:.2f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=15, help="repetitions of the first two figures")
    args = p.parse_args()
    cross_entropy_checks(args.pairs)
    loader_epoch(args.pairs)
    worker_threads()


if __name__ == "__main__":
    main()
