"""Cold start of every digit model: a fresh interpreter with an empty numba cache, from
``import tinygrad_cnn`` to the end of the first training step, and to the end of the first
inference batch (a served model never trains, and compiles other kernels).

Run from the repo root:  python bench/cold_start.py [--models lenet5,resnet,...] [--threads 2]
Each figure is one fresh process per model and kind, with NUMBA_CACHE_DIR set to a new empty
directory, so every kernel the model reaches compiles; batch 100 of the bundled MNIST sample;
the training step is forward, loss, backward and Adam (GoogLeNet with its aux losses), the
inference batch eval mode under no_grad. "cold" is the default, with the compile-ahead helper
(kernels/warmup.py) compiling on a second core; "alone" is a first step with
TINYGRAD_CNN_WARMUP=0, every kernel compiled by the process itself. "warm" repeats the
process with the cache the cold run left.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = REPO / "tinygrad_cnn" / "data" / "mnist_sample.npz"

SNIPPET = """
import sys, time
t0 = time.perf_counter()
import tinygrad_cnn as tc
from tinygrad_cnn import models
from tinygrad_cnn.train import training_loss
import numpy as np
t1 = time.perf_counter()
with np.load(sys.argv[1]) as z:
    x = tc.Tensor(z["images"][:100].astype(np.float32)[:, None] / np.float32(255))
    y = tc.Tensor(z["labels"][:100].astype(np.int64))
model = models.get_model(sys.argv[2])
if sys.argv[3] == "train":
    opt = tc.optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad()
    training_loss(model(x), y)[1].backward()
    opt.step()
else:
    model.eval()
    with tc.no_grad():
        model(x)
print(t1 - t0, time.perf_counter() - t0)
"""


def seconds(model, kind, cache_dir, threads, helper=True):
    """(import s, import-to-end-of-first-step s) of a fresh interpreter; ``helper`` False
    turns the compile-ahead helper off."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(REPO),
               NUMBA_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               TINYGRAD_CNN_WARMUP="1" if helper else "0")
    done = subprocess.run([sys.executable, "-c", SNIPPET, str(SAMPLE), model, kind], env=env,
                          cwd=REPO, capture_output=True, text=True, check=True)
    return tuple(map(float, done.stdout.split()))


def main():
    from machine import load_average, print_machine_header
    from tinygrad_cnn.models import MODELS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    p.add_argument("--threads", type=int, default=2, help="numba and BLAS threads")
    args = p.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {','.join(MODELS)}")
    print_machine_header()
    print(f"load     average {load_average()} (1, 5, 15 min) at start\n")
    print(f"{'model':<16}{'kind':<7}{'import s':>9}{'cold s':>8}{'alone s':>9}{'warm s':>8}")
    for name in names:
        for kind in ("train", "infer"):
            with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
                alone = seconds(name, kind, cache, args.threads, helper=False)[1]
            with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
                imported, cold = seconds(name, kind, cache, args.threads)
                warm = seconds(name, kind, cache, args.threads)[1]
            print(f"{name:<16}{kind:<7}{imported:>9.2f}{cold:>8.1f}{alone:>9.1f}{warm:>8.2f}",
                  flush=True)
    print(f"\nload     average {load_average()} (1, 5, 15 min) at the end")


if __name__ == "__main__":
    main()
