"""Every digit model, tinygrad_cnn vs PyTorch's better layout, in one process: a speed matrix.

Run from the repo root:  python bench/bench_models.py [--repeats 5] [--threads 2] [--quick]
                         [--models lenet5,simple-cnn,...] [--modes train,infer100,infer1]
Models: the notes' LeNet5, SimpleCNN, DeepCNN, ResNet and the gallery's digit variants
(tinygrad_cnn.models.MODELS), against their PyTorch twins (bench/torch_gallery.py) holding
the same weights. Modes: a training step at batch 100 (forward, loss, backward, Adam; GoogLeNet
with its aux losses), inference at batch 100 and at batch 1 (eval mode, no autograd), float32
on the first digits of the bundled MNIST sample. For each model and mode, tinygrad_cnn, torch
NCHW and torch channels_last take turns in blocks of about --block seconds; a figure is the
median over --repeats rounds, and "x torch" is the median over rounds of the ratio to the
better torch layout (the one with the higher median) in the same round.
"""
import argparse
import os
import sys

MODES = ("train", "infer100", "infer1")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per figure (median)")
    p.add_argument("--threads", type=int, default=2, help="BLAS, numba and torch threads")
    p.add_argument("--block", type=float, default=0.5, help="seconds per timed block")
    p.add_argument("--models", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--modes", default=",".join(MODES), help=f"subset of {','.join(MODES)}")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 3 rounds of 0.2 s blocks (not for the record)")
    args = p.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or any(m not in MODES for m in args.modes):
        p.error(f"--modes takes a subset of {','.join(MODES)}, got {args.modes}")
    if args.quick:
        args.repeats, args.block = min(args.repeats, 3), 0.2
    return args


# BLAS, OpenMP and numba read their thread counts when first imported, so this precedes numpy.
ARGS = parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
# Blocks of the frameworks alternate: torch's OpenMP threads wait passively (unless the caller
# chose a policy), so they do not spin into tinygrad_cnn's blocks (see bench_train.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# No compile-ahead helper (kernels/warmup.py): after a code change it would go on compiling the
# manifest's other kernels on the second core while the first figures are timed.
os.environ.setdefault("TINYGRAD_CNN_WARMUP", "0")

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, installed or not
SAMPLE = REPO / "tinygrad_cnn" / "data" / "mnist_sample.npz"

import tinygrad_cnn as tc  # noqa: E402  (before numpy and torch: its thread-policy default)
from tinygrad_cnn import models as tc_models  # noqa: E402
from tinygrad_cnn.train import training_loss as tc_training_loss  # noqa: E402

from machine import load_average, print_machine_header  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import torch_gallery  # noqa: E402  (bench/ is sys.path[0] when this script runs)

torch.set_num_threads(ARGS.threads)
WARMUP = 2
SETTLE_S = 0.05
FRAMEWORKS = ("tinygrad_cnn", "torch NCHW", "torch channels_last")


def sample_batch(n):
    """The first n digits of the bundled sample: float32 (n, 1, 28, 28) in [0, 1], int64 labels."""
    with np.load(SAMPLE) as z:
        images, labels = z["images"][:n], z["labels"][:n]
    return images.astype(np.float32)[:, None] / np.float32(255), labels.astype(np.int64)


# ---- one step per framework, model and mode ------------------------------------------
def tinygrad_step(model, mode, x_np, y_np):
    x, y = tc.Tensor(x_np), tc.Tensor(y_np)
    if mode != "train":
        model.eval()

        def infer():
            with tc.no_grad():
                model(x)
        return infer
    model.train()
    opt = tc.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        tc_training_loss(model(x), y)[1].backward()
        opt.step()
    return step


def torch_step(model, mode, x_np, y_np, channels_last):
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if mode != "train":
        model.eval()

        def infer():
            with torch.no_grad():
                model(x)
        return infer
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        torch_gallery.training_loss(model(x), y)[1].backward()
        opt.step()
    return step


def make_steps(name, mode):
    """{framework: step}, every framework starting from the same weights."""
    batch = 1 if mode == "infer1" else 100
    x, y = sample_batch(batch)
    tc.manual_seed(777)
    ours = tc_models.get_model(name)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    steps = {"tinygrad_cnn": tinygrad_step(ours, mode, x, y)}
    for framework in FRAMEWORKS[1:]:
        twin = torch_gallery.TWINS[name]()
        twin.load_state_dict(state)
        steps[framework] = torch_step(twin, mode, x, y, framework.endswith("channels_last"))
    return steps, batch


# ---- timing ------------------------------------------------------------------------
def images_per_s(steps, batch):
    """{framework: [images/s per round]}; the frameworks' blocks take turns in every round."""
    sizes = {}
    for name, step in steps.items():
        times = []
        for _ in range(WARMUP):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        sizes[name] = max(1, math.ceil(ARGS.block / min(times)))
    rates = {name: [] for name in steps}
    for _ in range(ARGS.repeats):
        for name, step in steps.items():
            time.sleep(SETTLE_S)
            t0 = time.perf_counter()
            for _ in range(sizes[name]):
                step()
            rates[name].append(batch * sizes[name] / (time.perf_counter() - t0))
    return rates


def paired_median(a, b):
    return statistics.median(x / y for x, y in zip(a, b))


# ---- report ------------------------------------------------------------------------
def forward_mflop(name):
    report = tc.summary(tc_models.get_model(name), (1, 1, 28, 28), print_fn=None)
    return report.total_flops / 1e6, report.total_params


def main():
    names = list(tc_models.MODELS) if ARGS.models is None else [
        m.strip() for m in ARGS.models.split(",") if m.strip()]
    unknown = [n for n in names if n not in tc_models.MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; choose from {', '.join(tc_models.MODELS)}")
    print_machine_header(torch, " (OMP_WAIT_POLICY=PASSIVE unless set: the blocks alternate)")
    print(f"setting  threads {ARGS.threads}, median of {ARGS.repeats} rounds of ~{ARGS.block:g} s "
          f"blocks after {WARMUP} warm-up steps, float32")
    print(f"load     average {load_average()} (1, 5, 15 min) at start\n", flush=True)
    head = (f"{'model':16} {'params':>9} {'fwd MFLOP':>9} {'mode':9} {'tinygrad_cnn':>12} "
            f"{'torch NCHW':>11} {'torch CL':>11} {'better':>8} {'x torch':>8}")
    print("images/s (median); x torch = tinygrad_cnn / the better torch layout, paired by round")
    print(head + "\n" + "-" * len(head), flush=True)
    for name in names:
        mflop, params = forward_mflop(name)
        for mode in ARGS.modes:
            steps, batch = make_steps(name, mode)
            rates = images_per_s(steps, batch)
            med = {f: statistics.median(r) for f, r in rates.items()}
            better = max(FRAMEWORKS[1:], key=med.get)
            ratio = paired_median(rates["tinygrad_cnn"], rates[better])
            print(f"{name:16} {params:>9,} {mflop:>9.2f} {mode:9} {med['tinygrad_cnn']:>12,.0f} "
                  f"{med['torch NCHW']:>11,.0f} {med['torch channels_last']:>11,.0f} "
                  f"{'NCHW' if better == 'torch NCHW' else 'CL':>8} {ratio:>7.2f}x", flush=True)
    print(f"\nload     average {load_average()} (1, 5, 15 min) at the end")


if __name__ == "__main__":
    main()
