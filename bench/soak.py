"""Soak test: many SimpleCNN training steps on the bundled MNIST sample; does anything grow?

Run from the repo root:  python bench/soak.py [--steps 20000] [--every 500] [--batch-size 100]
Every --every steps it prints the resident set size (RSS, from /proc/self/statm), the mean
step time and mean loss of that window, and the Python heap's live bytes (tracemalloc is NOT
used: it would slow every step; gc object counts stand in). The summary compares the first
window after warm-up (the first 2 windows: numba compiles and caches settle) with the last:
a leak shows as RSS or object-count growth, a slowdown as a rising step time.
"""
import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.nn.functional as F  # noqa: E402
from tinygrad_cnn import optim  # noqa: E402
from tinygrad_cnn.data import DataLoader, MNISTSample  # noqa: E402
from tinygrad_cnn.models import SimpleCNN  # noqa: E402

WARM_WINDOWS = 2


def rss_mib():
    """Resident set size of this process in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def batches(loader):
    """The loader's batches, epoch after epoch, for ever."""
    while True:
        yield from loader


def soak(steps, every, batch_size, seed):
    """Train; returns one record per window: (step, rss MiB, ms/step, mean loss, gc objects)."""
    tc.manual_seed(seed)
    model = SimpleCNN()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(MNISTSample(train=True), batch_size, shuffle=True, seed=seed)
    records, losses, start = [], [], time.perf_counter()
    print(f"{'step':>7} {'RSS MiB':>8} {'ms/step':>8} {'loss':>7} {'gc objects':>11}", flush=True)
    for step, (images, labels) in enumerate(batches(loader), start=1):
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % every == 0:
            now = time.perf_counter()
            rec = (step, rss_mib(), 1e3 * (now - start) / every, sum(losses) / len(losses),
                   len(gc.get_objects()))
            records.append(rec)
            print(f"{rec[0]:>7} {rec[1]:>8.1f} {rec[2]:>8.2f} {rec[3]:>7.4f} {rec[4]:>11,}",
                  flush=True)
            losses, start = [], time.perf_counter()
        if step >= steps:
            return records


def summary(records):
    """Growth from the first window after warm-up to the last."""
    if len(records) <= WARM_WINDOWS:
        return "too few windows for a summary (raise --steps)"
    first, last = records[WARM_WINDOWS], records[-1]
    peak = max(r[1] for r in records[WARM_WINDOWS:])
    return (f"after warm-up (step {first[0]} -> {last[0]}): RSS {first[1]:.1f} -> {last[1]:.1f} MiB "
            f"({last[1] - first[1]:+.1f} MiB, peak {peak:.1f}); step time {first[2]:.2f} -> "
            f"{last[2]:.2f} ms; gc objects {first[4]:,} -> {last[4]:,} "
            f"({last[4] - first[4]:+,}); loss {first[3]:.4f} -> {last[3]:.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20000, help="training steps in all")
    p.add_argument("--every", type=int, default=500, help="steps per recorded window")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.steps < 1 or args.every < 1 or args.batch_size < 1:
        p.error("--steps, --every and --batch-size must be >= 1")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from machine import print_machine_header

    print_machine_header()
    print(summary(soak(args.steps, args.every, args.batch_size, args.seed)))


if __name__ == "__main__":
    main()
