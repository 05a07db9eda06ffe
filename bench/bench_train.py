"""CPU training speed: tinygrad_cnn vs PyTorch (NCHW, channels_last) vs a NumPy reference, one run.

Run from the repo root:  python bench/bench_train.py [--repeats 7] [--threads 2] [--quick]
                         [--models simple-cnn,lenet5] [--skip-torch] [--skip-numpy]
A training step is forward, cross-entropy loss, backward and an Adam step, at batch 100 of
real digits from the bundled MNIST sample, float32. Every framework is pinned to --threads.
Images/s is the median of --repeats rounds, after warm-up; in each round every framework runs
a block of steps of about a second, and a 2048^3 sgemm runs too, so a slow spell of this noisy
machine hits them alike, and the sgemm tells which rounds were quiet. Also printed: ratios to
each torch layout, model GFLOP/s as a % of that sgemm, where
tinygrad_cnn's step time goes (each op, forward and backward, by tc.profiler), each framework's
peak memory, and the numba cold and warm start of a first SimpleCNN training step.
"""
import argparse
import os
import sys

MODEL_NAMES = ("simple-cnn", "lenet5")
FRAMEWORKS = ("tinygrad_cnn", "torch NCHW", "torch channels_last", "numpy reference")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per figure (median)")
    p.add_argument("--threads", type=int, default=2, help="BLAS, numba and torch threads")
    p.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated subset of "
                   + ",".join(MODEL_NAMES))
    p.add_argument("--batch", type=int, default=100, help="batch size")
    p.add_argument("--skip-torch", action="store_true", help="leave out both torch layouts")
    p.add_argument("--skip-numpy", action="store_true", help="leave out the NumPy reference")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 3 short blocks, no cold start (not for the record)")
    p.add_argument("--child-memory", nargs=2, metavar=("FRAMEWORK", "MODEL"),
                   help=argparse.SUPPRESS)  # internal: the peak-memory subprocess
    p.add_argument("--child-torch", metavar="MODEL",
                   help=argparse.SUPPRESS)  # internal: torch timed under its own defaults
    args = p.parse_args()
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or any(m not in MODEL_NAMES for m in args.models):
        p.error(f"--models takes a subset of {','.join(MODEL_NAMES)}, got {args.models}")
    if args.quick:
        args.repeats = min(args.repeats, 3)
    return args


# BLAS, OpenMP and numba read their thread counts when first imported, so this precedes numpy.
ARGS = parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, installed or not
SAMPLE = REPO / "tinygrad_cnn" / "data" / "mnist_sample.npz"

# tinygrad_cnn sets its thread-policy default (OPENBLAS_THREAD_TIMEOUT) at import; it only
# takes effect when it comes before numpy and torch. It applies to torch in this process too,
# so a child process also times torch with the environment as it was before. (Until
# 2026-11-23 tinygrad_cnn also set OMP_WAIT_POLICY=PASSIVE for its numba threads, which slowed
# torch's OpenMP pool in this process; its kernels no longer use OpenMP.) A child that measures torch or the NumPy reference does not
# import tinygrad_cnn, so its footprint is not counted there.
ENV_BEFORE_TINYGRAD = dict(os.environ)
# This process alternates short blocks of tinygrad_cnn and torch steps. Torch's OpenMP threads
# keep spinning after each op by default, into the next tinygrad_cnn block, so here they wait
# passively (unless the caller chose a policy); the child above times torch's own default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# No compile-ahead helper (kernels/warmup.py): after a code change it would go on compiling the
# manifest's other kernels on the second core while the first figures are timed.
os.environ.setdefault("TINYGRAD_CNN_WARMUP", "0")
_CHILD = ARGS.child_memory[0] if ARGS.child_memory else "torch" if ARGS.child_torch else None
if _CHILD in (None, "tinygrad_cnn"):
    import tinygrad_cnn as tc  # noqa: E402
    from tinygrad_cnn import models as tc_models  # noqa: E402
    from tinygrad_cnn.nn import functional as F  # noqa: E402

from machine import load_average, print_machine_header  # noqa: E402
import numpy as np  # noqa: E402

import numpy_reference  # noqa: E402  (bench/ is sys.path[0] when this script runs)

torch = None
if not ARGS.skip_torch and _CHILD in (None, "torch", "torch NCHW", "torch channels_last"):
    try:
        import torch
        torch.set_num_threads(ARGS.threads)
    except ImportError:
        pass

WARMUP = 3                                         # steps before timing (JIT, allocator, caches)
BLOCK_S = 0.25 if ARGS.quick else 1.0              # each timed block runs steps for about this long
PROFILE_STEPS = 4 if ARGS.quick else 20
MEMORY_STEPS = 3
QUIET = 0.8                                        # a quiet round's sgemm: >= this x the best
SETTLE_S = 0.1                                     # let the last block's thread pools go idle
SGEMM_N = 2048                                     # the %sgemm reference: a 2048^3 float32 sgemm
# SimpleCNN training MFLOP per image: the GEMMs of forward (7.74) and weight grads (7.74) and
# the input grads of every layer but the first conv, which has no use for one (7.29).
SIMPLE_CNN_MFLOP = 22.8


# ---- one training step per framework -------------------------------------------------
def sample_batch(n):
    """The first n digits of the bundled sample: float32 (n, 1, 28, 28) in [0, 1], int64 labels."""
    with np.load(SAMPLE) as z:
        images, labels = z["images"][:n], z["labels"][:n]
    return images.astype(np.float32)[:, None] / np.float32(255), labels.astype(np.int64)


def tinygrad_parts(model_name, x_np, y_np):
    """(forward and backward, optimizer step): closures over one model, batch and Adam."""
    tc.manual_seed(777)
    model = {"simple-cnn": tc_models.SimpleCNN, "lenet5": tc_models.LeNet5}[model_name]()
    opt = tc.optim.Adam(model.parameters(), lr=1e-3)
    x, y = tc.Tensor(x_np), tc.Tensor(y_np)

    def forward_backward():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
    return forward_backward, opt.step


def tinygrad_step(model_name, x_np, y_np):
    """A closure running one tinygrad_cnn training step on a fixed batch."""
    forward_backward, optimizer_step = tinygrad_parts(model_name, x_np, y_np)

    def step():
        forward_backward()
        optimizer_step()
    return step


def torch_model(model_name):
    """SimpleCNN / LeNet-5 in torch, layer for layer as tinygrad_cnn.models builds them."""
    nn = torch.nn
    if model_name == "simple-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2, 2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def torch_step(model_name, x_np, y_np, channels_last):
    torch.manual_seed(777)
    model = torch_model(model_name)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def numpy_step(model_name, x_np, y_np):
    net = numpy_reference.MODELS[model_name]()
    opt = numpy_reference.Adam(lr=1e-3)

    def step():
        net.gradient(x_np, y_np)
        opt.update(net.params, net.grads)
    return step


def make_step(framework, model_name, x, y):
    if framework == "tinygrad_cnn":
        return tinygrad_step(model_name, x, y)
    if framework.startswith("torch"):
        return torch_step(model_name, x, y, channels_last=framework.endswith("channels_last"))
    return numpy_step(model_name, x, y)


def frameworks():
    chosen = ["tinygrad_cnn"]
    if torch is not None:
        chosen += ["torch NCHW", "torch channels_last"]
    if not ARGS.skip_numpy:
        chosen.append("numpy reference")
    return chosen


# ---- timing ------------------------------------------------------------------------
def images_per_s(steps, batch, repeats):
    """{framework: [images/s of each block]}; blocks of all frameworks take turns.

    An entry named "sgemm" counts one item per call (sgemms per second).
    """
    sizes = {}
    for name, step in steps.items():
        per_step = []
        for _ in range(WARMUP):
            t0 = time.perf_counter()
            step()
            per_step.append(time.perf_counter() - t0)
        sizes[name] = max(2, math.ceil(BLOCK_S / min(per_step)))  # the first steps load kernels
    rates = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            time.sleep(SETTLE_S)
            t0 = time.perf_counter()
            for _ in range(sizes[name]):
                step()
            items = 1 if name == "sgemm" else batch
            rates[name].append(items * sizes[name] / (time.perf_counter() - t0))
    return rates, sizes


def sgemm_step():
    """One numpy float32 2048^3 sgemm, timed in the same rotation as the training steps."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((SGEMM_N, SGEMM_N), dtype=np.float32)
    b = rng.standard_normal((SGEMM_N, SGEMM_N), dtype=np.float32)
    return lambda: a @ b


def mflop_per_image(model_name):
    """Training MFLOP per image: SimpleCNN's GEMM count above; other models 3x tc.summary's
    forward FLOPs (which also counts bias, ReLU and pooling)."""
    if model_name == "simple-cnn":
        return SIMPLE_CNN_MFLOP
    model = tc_models.LeNet5()
    report = tc.summary(model, (1, 1, 28, 28), print_fn=None)
    return 3 * report.total_flops / 1e6


# ---- where tinygrad_cnn's step goes ----------------------------------------------------
def profile_tinygrad(model_name, x, y):
    """(step s, optimizer s, steps kept, [tc.profiler.OpTotal per op and input shapes, ms
    summed over the kept steps]): the faster half of the profiled steps is kept, so steps
    slowed by another process are left out. Forward and backward run under tc.profiler;
    the optimizer step, which calls the backend directly (no Function), is timed whole."""
    forward_backward, optimizer_step = tinygrad_parts(model_name, x, y)
    for _ in range(WARMUP):
        forward_backward()
        optimizer_step()
    time.sleep(SETTLE_S)
    steps = []
    for _ in range(PROFILE_STEPS):
        t0 = time.perf_counter()
        with tc.profiler.profile() as prof:
            forward_backward()
        t1 = time.perf_counter()
        optimizer_step()
        t2 = time.perf_counter()
        steps.append((t2 - t0, t2 - t1, prof.events))
    kept = sorted(steps, key=lambda s: s[0])[:max(1, PROFILE_STEPS // 2)]
    merged = tc.profiler.profile(keep_events=False)
    for _, _, events in kept:
        for event in events:
            merged.add(event)
    return (statistics.fmean(s[0] for s in kept), statistics.fmean(s[1] for s in kept),
            len(kept), merged.totals(group_by_shape=True))


# ---- peak memory: one subprocess per framework and model --------------------------------
# Peak RSS cannot be reset for one part of a process by getrusage, and tracemalloc misses
# what numpy's, torch's and numba's allocators take outside Python. So each figure comes from
# a fresh interpreter that imports only its own framework, builds the model and the batch,
# reads VmRSS ("setup"), runs a few steps of the same model on a 2-image batch and reads
# VmRSS again ("warm": numba has loaded its compiled kernels, torch its oneDNN and MKL code,
# a one-time cost of each framework's code), runs the warm-up steps at full batch and reads
# VmHWM ("first steps"), then resets the kernel's high-water mark (writing "5" to
# /proc/self/clear_refs), runs more steps and reads VmHWM again ("later steps": the steady
# training peak). Training memory = later - setup (code loading included); step memory =
# later - warm: what one training step at this batch needs of a warmed-up framework.
def proc_status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child_memory(framework, model_name):
    x, y = sample_batch(ARGS.batch)
    step = make_step(framework, model_name, x, y)
    tiny = make_step(framework, model_name, x[:2], y[:2])
    setup = proc_status_kib("VmRSS")
    for _ in range(WARMUP):
        tiny()
    warm = proc_status_kib("VmRSS")
    for _ in range(WARMUP):
        step()
    first = proc_status_kib("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")
    for _ in range(MEMORY_STEPS):
        step()
    print(json.dumps({"setup": setup, "warm": warm, "first": first,
                      "later": proc_status_kib("VmHWM")}))


def measure_memory(framework, model_name):
    """MiB {"setup", "first", "later"} (see above), or None when the child failed."""
    cmd = [sys.executable, __file__, "--threads", str(ARGS.threads), "--batch", str(ARGS.batch),
           "--child-memory", framework, model_name]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  ({framework} {model_name}: memory child failed: "
              f"{done.stderr.strip().splitlines()[-1:]})")
        return None
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: kib / 1024 for k, kib in got.items()}


# ---- torch under its own thread defaults --------------------------------------------------
def child_torch(model_name):
    x, y = sample_batch(ARGS.batch)
    steps = {name: make_step(name, model_name, x, y)
             for name in ("torch NCHW", "torch channels_last")}
    rates, _ = images_per_s(steps, ARGS.batch, ARGS.repeats)
    print(json.dumps(rates))


def print_torch_own_defaults(model_name, ours):
    """torch's images/s in a process without tinygrad_cnn's thread settings, beside ours."""
    cmd = [sys.executable, __file__, "--threads", str(ARGS.threads), "--batch", str(ARGS.batch),
           "--repeats", str(ARGS.repeats), "--child-torch", model_name] + ["--quick"] * ARGS.quick
    done = subprocess.run(cmd, cwd=REPO, env=ENV_BEFORE_TINYGRAD, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  (torch child failed: {done.stderr.strip().splitlines()[-1:]})")
        return
    rates = json.loads(done.stdout.strip().splitlines()[-1])
    policy = ENV_BEFORE_TINYGRAD.get("OMP_WAIT_POLICY", "torch's default")
    print(f"{model_name}: torch in its own process, OMP_WAIT_POLICY {policy} (timed after the "
          f"rounds above,\n so its ratio is of medians, not paired):")
    for name, r in rates.items():
        med = statistics.median(r)
        print(f"  {name + ' (own)':26} {med:9.0f} {min(r):6.0f}-{max(r):<6.0f} "
              f"{1e3 * ARGS.batch / med:8.1f}   tinygrad_cnn / this {ours / med:5.2f}x")
    print()


# ---- cold and warm start ----------------------------------------------------------------
START_SNIPPET = """
import sys, time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
import numpy as np
with np.load(sys.argv[1]) as z:
    x_np = z["images"][:{batch}].astype(np.float32)[:, None] / np.float32(255)
    y_np = z["labels"][:{batch}].astype(np.int64)
{step}
print(t1 - t0, time.perf_counter() - t0)
"""
TINYGRAD_START = dict(
    imports="import tinygrad_cnn as tc\nfrom tinygrad_cnn.models import SimpleCNN\n"
            "from tinygrad_cnn.nn import functional as F",
    step="model = SimpleCNN()\nopt = tc.optim.Adam(model.parameters(), lr=1e-3)\n"
         "opt.zero_grad()\nF.cross_entropy(model(tc.Tensor(x_np)), tc.Tensor(y_np)).backward()\n"
         "opt.step()")
TORCH_START = dict(
    imports="import torch",
    step="torch.set_num_threads({threads})\nnn = torch.nn\n"
         "model = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),\n"
         "    nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),\n"
         "    nn.Linear(3136, 10))\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
         "opt.zero_grad()\nloss = nn.functional.cross_entropy(model(torch.from_numpy(x_np)),\n"
         "    torch.from_numpy(y_np))\nloss.backward()\nopt.step()")


def start_seconds(parts, cache_dir):
    """(import s, import-to-end-of-first-step s) of a fresh interpreter."""
    code = START_SNIPPET.format(imports=parts["imports"], batch=ARGS.batch,
                                step=parts["step"].format(threads=ARGS.threads))
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(REPO))
    if "TINYGRAD_CNN_WARMUP" not in ENV_BEFORE_TINYGRAD:
        del env["TINYGRAD_CNN_WARMUP"]             # a user's start: with the helper
    done = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True)
    return tuple(map(float, done.stdout.split()))


# ---- report ------------------------------------------------------------------------
def print_header():
    print_machine_header(torch, " (torch and the NumPy reference run under the same settings)")
    print(f"setting  batch {ARGS.batch}, threads {ARGS.threads}, median of {ARGS.repeats} "
          f"rounds of ~{BLOCK_S:g} s blocks after {WARMUP} warm-up steps, float32")
    print(f"load     average {load_average()} (1, 5, 15 min) at start\n")


def paired_median(a, b):
    """Median over rounds of a[i] / b[i]: each ratio compares blocks run moments apart."""
    return statistics.median(x / y for x, y in zip(a, b))


def sgemm_gflops(rates):
    """GFLOP/s of each round's sgemm block (its rate counts sgemms per second)."""
    return [2 * SGEMM_N ** 3 * r / 1e9 for r in rates["sgemm"]]


def print_speed_table(model_name, rates, sizes, mflop, best_sgemm):
    rates = dict(rates)
    sgemm = sgemm_gflops(rates)
    del rates["sgemm"]
    quiet = [i for i, g in enumerate(sgemm) if g >= QUIET * best_sgemm]
    print(f"{model_name}: {mflop:.2f} MFLOP per image per training step; numpy sgemm "
          f"{SGEMM_N}^3 in the same rotation {statistics.median(sgemm):.0f} GFLOP/s "
          f"(min-max {min(sgemm):.0f}-{max(sgemm):.0f}); {len(quiet)} of {len(sgemm)} rounds quiet")
    med = {name: statistics.median(r) for name, r in rates.items()}
    refs = [name for name in med if name.startswith("torch")]
    head = "".join(f" {'x ' + r.split()[1]:>15}" for r in refs)
    print(f"  {'framework':20} {'images/s':>9} {'(min-max)':>13} {'ms/step':>8}{head} "
          f"{'GFLOP/s':>8} {'%sgemm':>7} {'quiet img/s':>11} {'steps/block':>11}")
    for name, r in rates.items():
        ratios = "".join(f" {paired_median(r, rates[ref]):14.2f}x" for ref in refs)
        gflops = [x * mflop / 1e3 for x in r]
        quiet_rate = f"{statistics.median(r[i] for i in quiet):11.0f}" if quiet else f"{'-':>11}"
        print(f"  {name:20} {med[name]:9.0f} {min(r):6.0f}-{max(r):<6.0f} "
              f"{1e3 * ARGS.batch / med[name]:8.1f}{ratios} {statistics.median(gflops):8.2f} "
              f"{100 * paired_median(gflops, sgemm):6.1f}% {quiet_rate} {sizes[name]:11d}")
    print()


def print_breakdown(model_name, total, optimizer, kept, ops):
    print(f"tinygrad_cnn {model_name}: where one training step goes (tc.profiler: each op's "
          f"forward and backward by input shapes,\n mean of the faster {kept} of {PROFILE_STEPS} "
          f"profiled steps: {1e3 * total:.1f} ms/step with the profiler on)")
    step_ms, optimizer_ms = 1e3 * total, 1e3 * optimizer
    rows = [(_op_label(r), r.ms / kept, ", ".join(r.routes)) for r in ops]
    rows.append(("optimizer (Adam.step, timed whole)", optimizer_ms, ""))
    rest_ms = step_ms - sum(ms for _, ms, _ in rows)
    rows.append(("rest: Python, graph, grad accumulation", rest_ms, ""))
    width = max(len(label) for label, _, _ in rows)
    print(f"  {'op and input shapes':{width}} {'ms':>8} {'share':>6}  route")
    for label, ms, route in rows:
        print(f"  {label:{width}} {ms:8.2f} {100 * ms / step_ms:5.1f}%  {route}".rstrip())
    print()


def _op_label(row):
    """"Conv2dBackward 100x1x28x28 32x1x3x3 32": the op's name and its input shapes."""
    return " ".join([row.name] + ["x".join(map(str, s)) or "scalar" for s in row.shapes])


def print_memory(models, names):
    print(f"memory, MiB (a fresh process per row trains only that framework and model: resident "
          f"after setup,\n resident after {WARMUP} steps on 2 images (code loaded), peak over "
          f"the {WARMUP} first full steps, peak over {MEMORY_STEPS} later steps; training = "
          f"later - setup,\n step = later - warm: what a step needs beyond the loaded code)")
    print(f"  {'model':11} {'framework':20} {'setup':>7} {'warm':>7} {'first':>7} {'later':>7} "
          f"{'training':>9} {'step':>6}")
    for model_name in models:
        for name in names:
            m = measure_memory(name, model_name)
            if m:
                print(f"  {model_name:11} {name:20} {m['setup']:7.0f} {m['warm']:7.0f} "
                      f"{m['first']:7.0f} {m['later']:7.0f} {m['later'] - m['setup']:9.0f} "
                      f"{m['later'] - m['warm']:6.0f}")
    print()


def print_start():
    if ARGS.quick:
        print("cold/warm start: skipped (--quick)")
        return
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = start_seconds(TINYGRAD_START, cache), start_seconds(TINYGRAD_START, cache)
    print(f"start, import tinygrad_cnn to the end of the first SimpleCNN training step (fresh "
          f"interpreter):\n  cold (empty NUMBA_CACHE_DIR) {cold[1]:.1f} s "
          f"(import {cold[0]:.2f} s), "
          f"warm (the cache just filled) {warm[1]:.2f} s (import {warm[0]:.2f} s)")
    if torch is not None:
        ref = start_seconds(TORCH_START, tempfile.gettempdir())
        print(f"  reference: import torch to the end of its first step {ref[1]:.2f} s "
              f"(import {ref[0]:.2f} s)")


def main():
    if ARGS.child_memory:
        child_memory(*ARGS.child_memory)
        return
    if ARGS.child_torch:
        child_torch(ARGS.child_torch)
        return
    print_header()
    names = frameworks()
    x, y = sample_batch(ARGS.batch)
    measured = {}
    for model_name in ARGS.models:
        steps = {name: make_step(name, model_name, x, y) for name in names}
        steps["sgemm"] = sgemm_step()
        measured[model_name] = images_per_s(steps, ARGS.batch, ARGS.repeats)
    best_sgemm = max(max(sgemm_gflops(rates)) for rates, _ in measured.values())
    for model_name, (rates, sizes) in measured.items():
        print_speed_table(model_name, rates, sizes, mflop_per_image(model_name), best_sgemm)
    print("(images/s, GFLOP/s: medians over the rounds; x torch NCHW / x torch channels_last and "
          "%sgemm: medians\n of each round's ratio to that torch layout's images/s / to that "
          "round's sgemm GFLOP/s; above 1x is faster\n than torch; a round is quiet when its "
          f"sgemm reached {100 * QUIET:.0f}% of the run's best ({best_sgemm:.0f} GFLOP/s); "
          "quiet img/s is the median\n over the quiet rounds only)\n")
    if torch is not None:
        for model_name, (rates, _) in measured.items():
            print_torch_own_defaults(model_name, statistics.median(rates["tinygrad_cnn"]))
    for model_name in ARGS.models:
        print_breakdown(model_name, *profile_tinygrad(model_name, x, y))
    print_memory(ARGS.models, names)
    print_start()
    print(f"load     average {load_average()} at end")


if __name__ == "__main__":
    main()
