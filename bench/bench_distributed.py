"""Data-parallel training over MPI: throughput, the share of a step in Allreduce, link speed.

Run from the repo root:  python bench/bench_distributed.py [--model simple-cnn] [--steps 30]
                         [--batch 100] [--rounds 3]
It starts, one after another:
  1. one process with NUMBA_NUM_THREADS=2 training at batch --batch (SGD, the bundled digits);
  2. mpiexec -n 2, each rank NUMBA_NUM_THREADS=1 at batch --batch / 2 (the same global
     batch) under DistributedDataParallel, once reducing each bucket during backward and
     once after it (reduce_during_backward=True / False);
  3. mpiexec -n 2 timing an in-place Allreduce of float32 buffers from 4 B to 64 MB, and a
     least-squares fit t = latency + bytes / bandwidth (for 2 ranks a ring moves
     2(N-1)/N x bytes = bytes per rank).
Images/s is the median over --rounds blocks of --steps steps after warm-up; "in allreduce" is
the time a step spends inside DDP's reduction calls (blocked in Allreduce/Wait, plus copying
gradients into and out of the buckets), as a share of the step.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="simple-cnn")
    p.add_argument("--steps", type=int, default=30, help="steps per timed block")
    p.add_argument("--batch", type=int, default=100, help="global batch (halved per rank)")
    p.add_argument("--rounds", type=int, default=3, help="timed blocks (median)")
    p.add_argument("--bucket-mb", type=float, default=0.05,
                   help="DDP bucket size in MB (small, so a bucket can leave during backward)")
    p.add_argument("--worker", choices=["train", "allreduce"], help=argparse.SUPPRESS)
    p.add_argument("--overlap", type=int, default=1, help=argparse.SUPPRESS)
    return p.parse_args()


# ---- workers (run in the child processes) ---------------------------------------------
def train_worker(args):
    """Time training steps; print one JSON line (rank 0) with images/s and the reduce share."""
    import numpy as np

    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn import optim
    from tinygrad_cnn.data import MNISTSample
    from tinygrad_cnn.distributed import process_group
    from tinygrad_cnn.models import get_model

    world, rank, comm_time = 1, 0, [0.0]
    tc.manual_seed(0)
    net = model = get_model(args.model)
    if process_group.launched_by_mpi():
        from tinygrad_cnn import distributed as dist
        from tinygrad_cnn.distributed import ddp

        dist.init()
        world, rank = dist.get_world_size(), dist.get_rank()
        net = dist.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb,
                                           reduce_during_backward=bool(args.overlap))
        _time_reducer(ddp._Reducer, comm_time)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = MNISTSample(train=True)
    per_rank = args.batch // world
    images = (data.images[:args.batch].astype(np.float32) / 255)[:, None]
    x = tc.Tensor(images[rank * per_rank:(rank + 1) * per_rank])
    y = tc.Tensor(data.labels[:args.batch].astype(np.int64)[rank * per_rank:(rank + 1) * per_rank])

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    rates, shares = [], []
    for _ in range(args.rounds):
        comm_time[0] = 0.0
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        elapsed = time.perf_counter() - start
        rates.append(args.batch * args.steps / elapsed)
        shares.append(comm_time[0] / elapsed)
    if rank == 0:
        print(json.dumps({"images_per_s": statistics.median(rates),
                          "reduce_share": statistics.median(shares),
                          "step_ms": 1000 * args.batch / statistics.median(rates),
                          "params": sum(p.numel() for p in model.parameters())}))


def _time_reducer(reducer_class, total):
    """Add the time spent in the reducer's hook and finish to total[0] (bench only)."""
    for name in ("_grad_ready", "_finish"):
        original = getattr(reducer_class, name)

        def timed(self, *a, _original=original):
            start = time.perf_counter()
            try:
                return _original(self, *a)
            finally:
                if _original.__name__ == "_grad_ready" or not self.pending:
                    total[0] += time.perf_counter() - start

        setattr(reducer_class, name, timed)


def allreduce_worker(args):
    """Median in-place Allreduce time per size; rank 0 prints one JSON line."""
    import numpy as np
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rows = []
    for exponent in range(0, 25, 2):                  # 1 .. 16M float32 = 4 B .. 64 MB
        n = 2 ** exponent
        buf = np.ones(n, np.float32)
        repeats = max(3, min(200, int(2e7 // max(n, 1))))
        times = []
        for _ in range(repeats + 2):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - start)
        rows.append((4 * n, statistics.median(times[2:])))
    if comm.Get_rank() == 0:
        print(json.dumps(rows))


# ---- the driver ------------------------------------------------------------------------
def _run(cmd, threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(REPO),
               MPIEXEC_TIMEOUT="600")
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_link(rows):
    """Least-squares (latency s, bandwidth B/s) of t = latency + bytes / bandwidth."""
    import numpy as np

    sizes = np.array([r[0] for r in rows], float)
    times = np.array([r[1] for r in rows], float)
    A = np.stack([np.ones_like(sizes), sizes], axis=1)
    (latency, per_byte), *_ = np.linalg.lstsq(A, times, rcond=None)
    small = float(np.median(times[sizes <= 256]))    # the latency a tiny message sees
    return max(latency, small), 1.0 / per_byte


def main():
    args = parse_args()
    if args.worker == "train":
        return train_worker(args)
    if args.worker == "allreduce":
        return allreduce_worker(args)
    sys.path.insert(0, str(REPO / "bench"))
    from machine import load_average, print_machine_header

    print_machine_header()
    mpiexec = str(Path(sys.executable).with_name("mpiexec"))
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--model", args.model, "--steps", str(args.steps), "--batch", str(args.batch),
              "--rounds", str(args.rounds), "--bucket-mb", str(args.bucket_mb)]
    print(f"load     {load_average()} (a shared 2-core machine: other jobs ran alongside)")
    single = _run(me + ["--worker", "train"] + common, threads=2)
    overlap = _run([mpiexec, "-n", "2"] + me + ["--worker", "train", "--overlap", "1"] + common, 1)
    after = _run([mpiexec, "-n", "2"] + me + ["--worker", "train", "--overlap", "0"] + common, 1)
    link = _run([mpiexec, "-n", "2"] + me + ["--worker", "allreduce"], 1)
    print(f"\n{args.model}: {single['params']:,} parameters, global batch {args.batch}, "
          f"{args.steps} steps x {args.rounds} rounds (median)")
    print(f"{'configuration':44s} {'images/s':>9s} {'step ms':>8s} {'in allreduce':>13s}")
    for name, r in (("1 process x 2 threads", single),
                    ("2 ranks x 1 thread, reduce during backward", overlap),
                    ("2 ranks x 1 thread, reduce after backward", after)):
        share = f"{100 * r['reduce_share']:.1f}%" if name.startswith("2") else "-"
        print(f"{name:44s} {r['images_per_s']:9.0f} {r['step_ms']:8.1f} {share:>13s}")
    print(f"\nin-place Allreduce, 2 ranks (median):")
    for size, t in link:
        print(f"  {size:>10,d} B  {1e6 * t:10.1f} us  {size / t / 1e9:7.3f} GB/s")
    latency, bandwidth = fit_link(link)
    print(f"fit: latency {1e6 * latency:.1f} us, bandwidth {bandwidth / 1e9:.2f} GB/s")
    print(f"load     {load_average()}")


if __name__ == "__main__":
    main()
