"""Data-parallel training over MPI: throughput, the share of a step in Allreduce, link speed.

Run from the repo root:  python bench/bench_distributed.py [--model simple-cnn] [--steps 30]
                         [--batch 100] [--rounds 3]
It starts, one after another:
  1. one process with NUMBA_NUM_THREADS=2 training at batch --batch (SGD, the bundled digits);
  2. mpiexec -n 2, each rank NUMBA_NUM_THREADS=1 at batch --batch / 2 (the same global
     batch) under DistributedDataParallel, its timed blocks alternating between reducing each
     bucket during backward and after it (reduce_during_backward=True / False);
  (1 and 2 alternate --runs times, so the load of a shared machine hits them alike)
  3. mpiexec -n 2 timing an in-place Allreduce of float32 buffers from 4 B to 64 MB, and a
     least-squares fit t = latency + bytes / bandwidth (for 2 ranks a ring moves
     2(N-1)/N x bytes = bytes per rank);
  4. the paper model: step time and scaling efficiency at 4, 16 and 64 ranks for SimpleCNN,
     ResNet-18 and DenseNet-121 from that latency and bandwidth (--paper: other figures).
Images/s is the median over --rounds blocks of --steps steps after warm-up; "in allreduce" is
the time a step spends inside DDP's reduction calls (blocked in Allreduce/Wait, which includes
waiting for the slower rank, plus copying gradients into and out of the buckets), as a share
of the step.
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
    p.add_argument("--rounds", type=int, default=3, help="timed blocks per run (median)")
    p.add_argument("--runs", type=int, default=3, help="alternating runs of each configuration")
    p.add_argument("--bucket-mb", type=float, default=0.05,
                   help="DDP bucket size in MB (small, so a bucket can leave during backward)")
    p.add_argument("--paper", nargs=4, type=float, metavar=("LATENCY_US", "BANDWIDTH_GBS",
                   "GFLOPS_PER_RANK", "BATCH"), help="only print the paper model for these figures")
    p.add_argument("--worker", choices=["train", "allreduce"], help=argparse.SUPPRESS)
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
        _time_reducer(ddp._Reducer, comm_time)     # before DDP registers its hooks
        net = dist.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
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
    modes = (True, False) if world > 1 else (None,)
    rates, shares = {m: [] for m in modes}, {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:       # the two reduction modes alternate, so load hits both alike
            if mode is not None:
                net._ddp.overlap = mode
            comm_time[0] = 0.0
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            elapsed = time.perf_counter() - start
            rates[mode].append(args.batch * args.steps / elapsed)
            shares[mode].append(comm_time[0] / elapsed)
    if rank == 0:
        names = {None: "single", True: "during", False: "after"}
        print(json.dumps({names[m]: {"images_per_s": statistics.median(rates[m]),
                                     "reduce_share": statistics.median(shares[m])}
                          for m in modes} | {"params": sum(p.numel() for p in model.parameters())}))


def _time_reducer(reducer_class, total):
    """Add the time spent in the reducer's gradient hook to total[0] (bench only). The hook
    packs a finished bucket, starts or polls its reduction, and calls _finish (waiting for
    every bucket and unpacking) after the last gradient, so it holds all of DDP's work."""
    original = reducer_class._grad_ready

    def timed(self, param):
        start = time.perf_counter()
        try:
            return original(self, param)
        finally:
            total[0] += time.perf_counter() - start

    reducer_class._grad_ready = timed


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


# ---- the paper model -------------------------------------------------------------------
# (parameters, training FLOP per image): SimpleCNN at 28x28 as bench_train.py counts it;
# ResNet-18 and DenseNet-121 at 224x224: 3 x forward (forward, input grad, weight grad) x
# 2 FLOP per multiply-add, from torchvision's 1.81 and 2.83 GMAC forward passes.
PAPER_MODELS = {"SimpleCNN (28x28)": (50_186, 22.8e6),
                "ResNet-18 (224x224)": (11_689_512, 6 * 1.81e9),
                "DenseNet-121 (224x224)": (7_978_856, 6 * 2.83e9)}


def ring_allreduce_s(nbytes, ranks, latency, bandwidth, buckets):
    """Ring Allreduce: 2(N-1)/N x bytes / bandwidth, plus 2(N-1) latencies per bucket."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency * buckets


def paper_model(latency, bandwidth, flops_per_rank, batch, bucket_mb=25.0):
    """Print step time and weak-scaling efficiency at 4/16/64 ranks, no overlap assumed, and
    the per-rank batch from which the Allreduce costs under 10% of the compute."""
    print(f"\npaper model: latency {latency * 1e6:.0f} us, bandwidth {bandwidth / 1e9:.3f} GB/s, "
          f"{flops_per_rank / 1e9:.0f} GFLOP/s per rank, per-rank batch {batch}, "
          f"{bucket_mb:g} MB buckets, no overlap")
    print(f"{'model':24s} {'compute ms':>10s}" + "".join(
        f" {f'N={n} step ms':>13s} {'eff':>5s}" for n in (4, 16, 64)) + f" {'batch for 90% at N=64':>22s}")
    for name, (params, flop) in PAPER_MODELS.items():
        nbytes = 4 * params
        buckets = max(1, -(-nbytes // int(bucket_mb * 2**20)))
        compute = batch * flop / flops_per_rank
        row = f"{name:24s} {1e3 * compute:10.1f}"
        for n in (4, 16, 64):
            comm = ring_allreduce_s(nbytes, n, latency, bandwidth, buckets)
            row += f" {1e3 * (compute + comm):13.1f} {compute / (compute + comm):5.2f}"
        comm64 = ring_allreduce_s(nbytes, 64, latency, bandwidth, buckets)
        per_image = flop / flops_per_rank
        row += f" {max(1, -(-comm64 * 9 // per_image)):22,.0f}"
        print(row)


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
    if args.paper:
        latency_us, gbs, gflops, batch = args.paper
        return paper_model(latency_us * 1e-6, gbs * 1e9, gflops * 1e9, int(batch))
    sys.path.insert(0, str(REPO / "bench"))
    from machine import load_average, print_machine_header

    print_machine_header()
    mpiexec = str(Path(sys.executable).with_name("mpiexec"))
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--model", args.model, "--steps", str(args.steps), "--batch", str(args.batch),
              "--rounds", str(args.rounds), "--bucket-mb", str(args.bucket_mb)]
    print(f"load     {load_average()} (a shared 2-core machine: other jobs ran alongside)")
    results = {"single": [], "during": [], "after": []}
    for _ in range(args.runs):   # one process and the MPI job alternate, each --runs times
        single = _run(me + ["--worker", "train"] + common, threads=2)
        ranks = _run([mpiexec, "-n", "2"] + me + ["--worker", "train"] + common, 1)
        for name, got in (("single", single["single"]), ("during", ranks["during"]),
                          ("after", ranks["after"])):
            results[name].append(got)
    link = _run([mpiexec, "-n", "2"] + me + ["--worker", "allreduce"], 1)
    print(f"\n{args.model}: {single['params']:,} parameters, global batch {args.batch}, "
          f"{args.runs} runs x {args.rounds} rounds x {args.steps} steps (median of the runs' "
          f"medians; min-max of the runs)")
    print(f"{'configuration':44s} {'images/s':>9s} {'(min-max)':>11s} {'step ms':>8s} "
          f"{'in allreduce':>13s}")
    for key, name in (("single", "1 process x 2 threads"),
                      ("during", "2 ranks x 1 thread, reduce during backward"),
                      ("after", "2 ranks x 1 thread, reduce after backward")):
        rate = [r["images_per_s"] for r in results[key]]
        share = statistics.median(r["reduce_share"] for r in results[key])
        share = f"{100 * share:.1f}%" if key != "single" else "-"
        print(f"{name:44s} {statistics.median(rate):9.0f} {min(rate):5.0f}-{max(rate):<5.0f} "
              f"{1000 * args.batch / statistics.median(rate):8.1f} {share:>13s}")
    print(f"\nin-place Allreduce, 2 ranks (median):")
    for size, t in link:
        print(f"  {size:>10,d} B  {1e6 * t:10.1f} us  {size / t / 1e9:7.3f} GB/s")
    latency, bandwidth = fit_link(link)
    print(f"fit: latency {1e6 * latency:.1f} us, bandwidth {bandwidth / 1e9:.2f} GB/s")
    paper_model(latency, bandwidth, 84e9, 32)   # a rank = one quiet 2-core machine like this
    print(f"load     {load_average()}")


if __name__ == "__main__":
    main()
