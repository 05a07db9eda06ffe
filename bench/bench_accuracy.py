"""The notes' SimpleCNN protocol, tinygrad_cnn vs PyTorch CPU in one run: test accuracy per epoch.

Run from the repo root:  python bench/bench_accuracy.py [--dataset fashion-mnist] [--epochs 15]
                         [--model simple-cnn|alexnet|vgg11|googlenet|resnet18|...]
                         [--steps-per-epoch N]
--model picks one of the gallery's digit variants instead of SimpleCNN; PyTorch then trains
its twin from bench/torch_gallery.py (same layers, same keys) with the same loss (GoogLeNet:
loss + 0.3 * both aux losses). --steps-per-epoch N trains each epoch on the first N batches of
that epoch's shuffled order (both frameworks the same images), to fit a slow machine.
Protocol (notes 004): SimpleCNN, Adam lr 1e-3, batch 100, seed 777, Xavier-uniform fc weight.
Both frameworks read the same uint8 arrays, scaled to [0, 1] the same way, in the same
shuffled order (one permutation per epoch from numpy's default_rng(seed), as DataLoader
draws it); only the weight initialisation differs, each framework drawing from its own
seeded generator. Seconds per epoch count the training pass only, not the evaluation.
"""
import argparse
import os
import sys

FRAMEWORKS = ("tinygrad_cnn", "torch")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist",
                   choices=("fashion-mnist", "mnist-sample", "mnist"),
                   help="fashion-mnist: full size, offline from Debian's package; mnist-sample: "
                        "the bundled 4,000/1,000 digits; mnist: full MNIST if found or "
                        "downloadable")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--model", default="simple-cnn",
                   choices=("simple-cnn", "alexnet", "vgg11", "googlenet", "resnet18",
                            "preact-resnet18", "densenet"))
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="train on the first N batches of each epoch's order (default: all)")
    p.add_argument("--same-init", action="store_true",
                   help="torch starts from tinygrad_cnn's initial weights (gallery models)")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help=f"comma-separated subset of {','.join(FRAMEWORKS)}")
    p.add_argument("--skip-torch", action="store_true",
                   help="same as leaving torch out of --frameworks")
    p.add_argument("--threads", type=int, default=2, help="BLAS, numba and torch threads")
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--data-dir", default=None, help="where to look for the IDX files first")
    args = p.parse_args()
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    if args.skip_torch and "torch" in args.frameworks:
        args.frameworks.remove("torch")
    unknown = [f for f in args.frameworks if f not in FRAMEWORKS]
    if unknown or not args.frameworks:
        p.error(f"--frameworks takes a subset of {','.join(FRAMEWORKS)}, got {args.frameworks}")
    return args


# BLAS and numba read their thread counts when first imported, so this precedes numpy.
ARGS = parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, installed or not

# tinygrad_cnn sets its thread-policy default (OPENBLAS_THREAD_TIMEOUT) at import; it only
# takes effect if it is imported before numpy and torch. Torch keeps its own OpenMP defaults.
import tinygrad_cnn  # noqa: E402,F401
import tinygrad_cnn.models  # noqa: E402,F401
from tinygrad_cnn.train import TrainConfig, fit, load_datasets  # noqa: E402

from machine import load_average, print_machine_header  # noqa: E402
import numpy as np  # noqa: E402

try:
    import torch
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None

BATCH, LR, EVAL_BATCH = 100, 1e-3, 1000


# ---- tinygrad_cnn: the package's own training loop -----------------------------------
def run_tinygrad(epochs):
    """[(test accuracy, train seconds)] per epoch, from tinygrad_cnn.train.fit."""
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(model=ARGS.model, dataset=ARGS.dataset, epochs=epochs,
                             batch_size=BATCH, lr=LR, optimizer="adam", seed=ARGS.seed,
                             out=out, data_dir=ARGS.data_dir, progress=False, plots=False,
                             steps_per_epoch=ARGS.steps_per_epoch)
        history = fit(config, log=lambda msg: print(f"  tinygrad_cnn  {msg}", flush=True))
    return [(h["test_acc"], h["seconds"]) for h in history]


# ---- PyTorch: the notes' model and loop, on the same arrays ----------------------------
def torch_simple_cnn():
    """The notes' SimpleCNN in torch, with their Xavier-uniform fc weight."""
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),      # (N, 32, 14, 14)
        nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),     # (N, 64, 7, 7)
        nn.Flatten(), nn.Linear(7 * 7 * 64, 10, bias=True))            # (N, 3136) -> (N, 10)
    nn.init.xavier_uniform_(model[-1].weight)
    return model


def as_batch(images, labels):
    """uint8 (B, 28, 28) -> float32 (B, 1, 28, 28) in [0, 1], as DataLoader scales them."""
    x = images.astype(np.float32)[:, None] / np.float32(255)
    return torch.from_numpy(x), torch.from_numpy(np.asarray(labels, dtype=np.int64))


def torch_accuracy(model, test):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test.labels), EVAL_BATCH):
            stop = start + EVAL_BATCH
            x, y = as_batch(test.images[start:stop], test.labels[start:stop])
            correct += int((model(x).argmax(1) == y).sum())
    model.train()
    return correct / len(test.labels)


def run_torch(epochs):
    """[(test accuracy, train seconds)] per epoch of the same protocol in PyTorch."""
    train, test = load_datasets(ARGS.dataset, ARGS.data_dir, log=lambda msg: None)
    torch.manual_seed(ARGS.seed)
    if ARGS.model == "simple-cnn":
        model, loss_fn = torch_simple_cnn(), torch.nn.CrossEntropyLoss()
    else:
        import torch_gallery
        model = torch_gallery.TWINS[ARGS.model]()
        if ARGS.same_init:  # the weights fit() starts from: manual_seed(seed), then get_model
            tinygrad_cnn.manual_seed(ARGS.seed)
            start = tinygrad_cnn.models.get_model(ARGS.model).state_dict()
            model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                   for k, v in start.items()})
        loss_fn = lambda out, y: torch_gallery.training_loss(out, y)[1]  # noqa: E731
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order_rng = np.random.default_rng(ARGS.seed)   # DataLoader(shuffle=True, seed=seed) draws these
    history = []
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(train.labels))
        if ARGS.steps_per_epoch is not None:
            order = order[:ARGS.steps_per_epoch * BATCH]
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            x, y = as_batch(train.images[idx], train.labels[idx])
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        acc = torch_accuracy(model, test)
        print(f"  torch         epoch {epoch}: test acc {acc:.4f} | {seconds:.1f} s", flush=True)
        history.append((acc, seconds))
    return history


# ---- report ------------------------------------------------------------------------
def print_header():
    print_machine_header(torch)
    print(f"load     average {load_average()} at start")
    steps = "all" if ARGS.steps_per_epoch is None else ARGS.steps_per_epoch
    if ARGS.same_init:
        print("init     torch starts from tinygrad_cnn's initial weights (--same-init)")
    print(f"protocol {ARGS.model}, Adam lr {LR:g}, batch {BATCH}, {ARGS.epochs} epochs of "
          f"{steps} steps, seed {ARGS.seed}, dataset {ARGS.dataset}, threads {ARGS.threads}\n",
          flush=True)


def cell(history, epoch):
    if history is None or epoch >= len(history):
        return f"{'-':>8} {'-':>7}"
    acc, seconds = history[epoch]
    return f"{acc:8.4f} {seconds:7.1f}"


def print_table(results):
    names = list(results)
    print("\n       " + "  ".join(f"{n:>16}" for n in names))
    print("epoch  " + "  ".join(f"{'test acc':>8} {'s':>7}" for _ in names))
    for e in range(ARGS.epochs):
        print(f"{e + 1:5}  " + "  ".join(cell(results[n], e) for n in names))
    finals = {n: h[-1][0] for n, h in results.items() if h}
    totals = {n: sum(s for _, s in h) for n, h in results.items() if h}
    print("\nfinal   " + ", ".join(f"{n} {finals[n]:.4f} ({totals[n]:.0f} s training, "
                                    f"{totals[n] / len(results[n]):.1f} s/epoch)" for n in finals))
    if len(finals) == 2:
        diff = 100 * (finals["tinygrad_cnn"] - finals["torch"])
        print(f"diff    tinygrad_cnn - torch = {diff:+.2f} points of test accuracy")


def main():
    print_header()
    if "torch" in ARGS.frameworks and torch is None:
        print("torch is not installed: running tinygrad_cnn only")
        ARGS.frameworks.remove("torch")
    runners = {"tinygrad_cnn": run_tinygrad, "torch": run_torch}
    results = {}
    for name in ARGS.frameworks:
        print(f"{name}:", flush=True)
        results[name] = runners[name](ARGS.epochs)
    print_table(results)


if __name__ == "__main__":
    main()
