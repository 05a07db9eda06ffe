"""Conv and max-pool of SimpleCNN: ours vs torch CPU vs a same-size sgemm, in one process.

Run from the repo root:  python bench/bench_kernels.py [--repeats 7] [--batch 100] [--threads 2]
Times are medians of --repeats runs after 2 warm-up runs; backward computes input and weight
grads. Also prints where our conv time goes, and numba's cold-compile and warm-cache start.
"""
import argparse
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="timed runs per figure (median)")
    p.add_argument("--batch", type=int, default=100, help="batch size N")
    p.add_argument("--threads", type=int, default=2, help="BLAS, numba and torch threads")
    return p.parse_args()


# BLAS and numba read their thread counts when first imported, so this precedes numpy.
ARGS = parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
# Torch's and our stages alternate: torch's OpenMP threads wait passively between its ops
# instead of spinning into our next stage (unless the caller chose a policy).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# No compile-ahead helper (kernels/warmup.py): after a code change it would go on compiling the
# manifest's other kernels on the second core while the first figures are timed.
os.environ.setdefault("TINYGRAD_CNN_WARMUP", "0")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, installed or not

# tinygrad_cnn first: its thread settings (OPENBLAS_THREAD_TIMEOUT) only apply before numpy.
from tinygrad_cnn import Tensor  # noqa: E402
from machine import print_machine_header  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_cnn.backends.cpu import conv, conv_grad, layout, patches, threads  # noqa: E402
from tinygrad_cnn.backends.cpu.plan import plan_conv  # noqa: E402
from tinygrad_cnn.backends.cpu.settings import settings  # noqa: E402
from tinygrad_cnn.kernels.cpu import conv as kernels  # noqa: E402
from tinygrad_cnn.kernels.geometry import ConvGeometry  # noqa: E402
from tinygrad_cnn.nn import functional as F  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(ARGS.threads)
except ImportError:
    pass
try:
    import torch
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None

WARMUP = 2
SETTLE_S = 0.3  # OpenBLAS worker threads busy-wait ~0.1 s after each call (THREAD_TIMEOUT 28)


@dataclass(frozen=True)
class Case:
    """One layer shape: a stride-1 conv (w_shape, padding) or a square max-pool (pool)."""
    name: str
    x_shape: tuple
    w_shape: tuple = None
    padding: int = 0
    pool: int = 0

    @property
    def is_conv(self):
        return self.w_shape is not None

    def out_shape(self):
        N, C, H, W = self.x_shape
        if self.is_conv:
            O, _, KH, KW = self.w_shape
            return N, O, H + 2 * self.padding - KH + 1, W + 2 * self.padding - KW + 1
        return N, C, H // self.pool, W // self.pool

    def gemm_mkn(self):
        """(M, K, N) of the forward GEMM cols (N*OH*OW, C*KH*KW) @ W.T (C*KH*KW, O)."""
        N, O, OH, OW = self.out_shape()
        _, C, KH, KW = self.w_shape
        return N * OH * OW, C * KH * KW, O

    def forward_flops(self):
        M, K, N = self.gemm_mkn()
        return 2 * M * K * N

    def pool_bytes(self):
        """float32 bytes read + written by one pass (input + output; argmax not counted)."""
        return 4 * (np.prod(self.x_shape) + np.prod(self.out_shape()))


def simple_cnn_cases(N):
    return [Case("conv1", (N, 1, 28, 28), (32, 1, 3, 3), padding=1),
            Case("conv2", (N, 32, 14, 14), (64, 32, 3, 3), padding=1),
            Case("maxpool1", (N, 32, 28, 28), pool=2),
            Case("maxpool2", (N, 64, 14, 14), pool=2)]


def case_arrays(case):
    """Fixed float32 input, weight (or None) and output gradient."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.x_shape, dtype=np.float32)
    w = rng.standard_normal(case.w_shape, dtype=np.float32) if case.is_conv else None
    grad = rng.standard_normal(case.out_shape(), dtype=np.float32)
    return x, w, grad


# ---- timing ------------------------------------------------------------------------
def settle():
    """Let the previous block's spinning BLAS/OpenMP threads park, so they do not steal a core."""
    time.sleep(SETTLE_S)


def median_ms(fn, repeats):
    settle()
    times = []
    for k in range(WARMUP + repeats):
        t0 = time.perf_counter()
        fn()
        if k >= WARMUP:
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def fwd_bwd_ms(forward, backward, repeats):
    """Median (forward ms, backward ms); each backward runs on the forward just before it."""
    settle()
    fwd, bwd = [], []
    for k in range(WARMUP + repeats):
        t0 = time.perf_counter()
        out = forward()
        t1 = time.perf_counter()
        backward(out)
        if k >= WARMUP:
            fwd.append(t1 - t0)
            bwd.append(time.perf_counter() - t1)
    return 1e3 * statistics.median(fwd), 1e3 * statistics.median(bwd)


def channels_last(a):
    """The same NCHW values with channels-last memory, as our conv and pool layers hand them on."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def time_ours(case, x_np, w_np, grad_np, repeats):
    # inside SimpleCNN every conv/pool after the first conv gets channels-last input
    x = Tensor(channels_last(x_np), requires_grad=True)
    w = Tensor(w_np, requires_grad=True) if case.is_conv else None
    grad = Tensor(grad_np)

    def forward():
        x.grad = None
        if w is not None:
            w.grad = None
        if case.is_conv:
            return F.conv2d(x, w, padding=case.padding)
        return F.max_pool2d(x, case.pool, case.pool)

    return fwd_bwd_ms(forward, lambda out: out.backward(grad), repeats)


def time_torch(case, x_np, w_np, grad_np, repeats):
    x = torch.from_numpy(x_np).requires_grad_()
    w = torch.from_numpy(w_np).requires_grad_() if case.is_conv else None
    grad = torch.from_numpy(grad_np)

    def forward():
        x.grad = None
        if w is not None:
            w.grad = None
        if case.is_conv:
            return torch.nn.functional.conv2d(x, w, padding=case.padding)
        return torch.nn.functional.max_pool2d(x, case.pool, case.pool)

    return fwd_bwd_ms(forward, lambda out: out.backward(grad), repeats)


def sgemm_gflops(M, K, N, repeats):
    """GFLOP/s of numpy float32 (M, K) @ (K, N)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((K, N), dtype=np.float32)
    return 2 * M * K * N / median_ms(lambda: a @ b, repeats) / 1e6


def case_plan(case, x, w):
    """The geometry of a conv case and the ConvPlan (backends/cpu/plan.plan_conv) the
    backend takes for it."""
    p = case.padding
    geometry = ConvGeometry.of(x.shape, w.shape, (1, 1), (p, p, p, p), (1, 1), 1, x.itemsize)
    return geometry, plan_conv(geometry, settings)


def conv_stages_ms(case, x, w, grad, repeats):
    """Our conv split into the steps the CPU backend runs for it (stride 1), by the routes
    plan_conv names, each over the whole batch: the fused routes or the GEMM ones. The
    input gradients are timed although a first layer's is not needed in training.

    Each step is timed alone, so the sum leaves out what steps cost each other (threads
    of one pool still parked when the next kernel starts).
    """
    g, plan = case_plan(case, x, w)
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    OH, OW = g.OH, g.OW
    xp = patches.zero_padded(x, g)
    K = C * KH * KW
    cols_t = np.empty((K + 1, N * OH * OW), np.float32)         # patches, plus the bias row

    def patch_columns():                                         # on every thread, as the backend
        threads.over_images(lambda lo, hi: kernels.patch_columns(
            xp, *patches.column_args(g), cols_t[:K], lo, hi), N, K * OH * OW)
    patch_columns()
    cols_t[K] = 1
    wmat = w.reshape(O, -1)                                      # (O, C*KH*KW)
    wb = np.concatenate([wmat, np.zeros((O, 1), np.float32)], axis=1)
    g_nhwc = np.ascontiguousarray(grad.transpose(0, 2, 3, 1))   # (N, OH, OW, O)
    gm = g_nhwc.reshape(N * OH * OW, O)
    stages = {}
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    workspace = conv.ConvWorkspace(plan)
    weight_grad = (f"bwd  dW, db: {plan.weight_grad}",
                   lambda: conv_grad.conv2d_weight_grad(
                       layout.as_nchw(g_nhwc), layout.as_nchw(x_nhwc), g, workspace, True, True))
    if plan.forward != "gemm":
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 2, 3, 0)).reshape(C, -1)
        stages[f"fwd  fused kernel ({plan.forward})"] = lambda: conv.fused_conv(
            x_nhwc, conv.weight_rows(w), None, g, plan.forward == "tiles")
        stages[f"bwd  dx: {plan.input_grad}"] = lambda: conv.fused_conv(
            g_nhwc, flipped, None, g.transposed(), plan.input_grad == "transposed-tiles")
        stages[weight_grad[0]] = weight_grad[1]
        return {name: median_ms(fn, repeats) for name, fn in stages.items()}
    dcols_t = wmat.T @ gm.T
    stages["fwd  patch_columns"] = patch_columns
    stages["fwd  GEMM patches @ W.T"] = lambda: cols_t.T @ wb.T
    stages["bwd  GEMM W.T @ g.T (dcols)"] = lambda: wmat.T @ gm.T
    dxp = np.empty_like(xp)
    stages["bwd  patch_columns_add"] = lambda: threads.over_images(
        lambda lo, hi: kernels.patch_columns_add(dcols_t, *patches.column_args(g), dxp, lo, hi),
        N, K * OH * OW)
    stages["bwd  GEMM (patches @ g).T (dW, db)"] = lambda: (cols_t @ gm).T
    stages["also " + weight_grad[0][5:] + " (training)"] = weight_grad[1]   # not in the sums
    return {name: median_ms(fn, repeats) for name, fn in stages.items()}


# ---- numba start-up ----------------------------------------------------------------
STARTUP_SNIPPET = """
import time
t0 = time.perf_counter()
import tinygrad_cnn
from tinygrad_cnn.nn import functional as F
import numpy as np
t1 = time.perf_counter()
x = tinygrad_cnn.Tensor(np.ones((2, 3, 8, 8), np.float32), requires_grad=True)
w = tinygrad_cnn.Tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
y = F.max_pool2d(F.conv2d(x, w, padding=1), 2, 2)
y.backward(tinygrad_cnn.Tensor(np.ones(y.shape, np.float32)))
print(t1 - t0, time.perf_counter() - t0)
"""


def startup_seconds(cache_dir):
    """(import s, total s) of a fresh interpreter: import, conv+pool forward and backward."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", STARTUP_SNIPPET], env=env, cwd=REPO,
                          capture_output=True, text=True, check=True)
    imp, total = map(float, done.stdout.split())
    return imp, total


# ---- report ------------------------------------------------------------------------
def print_header():
    print_machine_header(torch)
    print(f"setting  batch {ARGS.batch}, threads {ARGS.threads}, median of {ARGS.repeats} "
          f"after {WARMUP} warm-up, float32\n")


def num(value, width=8, digits=2):
    """A right-aligned number, or '-' when there is none (torch not installed)."""
    return "-".rjust(width) if value is None else f"{value:{width}.{digits}f}"


def print_row(name, label, ours_ms, torch_ms, work, unit, tail=""):
    """ms for both, x torch speed, then work/s for both (work in flops or bytes)."""
    speed = None if torch_ms is None else torch_ms / ours_ms
    torch_rate = None if torch_ms is None else work / torch_ms / 1e6
    print(f"{name:9} {label}  {num(ours_ms)} {num(torch_ms)} {num(speed, 6)}x "
          f"{num(work / ours_ms / 1e6, 8, 1)} {num(torch_rate, 7, 1)} {unit:7}{tail}")


def print_conv_rows(case, ours, ref, fwd_sgemm, bwd_sgemm, peak):
    for i, label, flops, sgemm in ((0, "fwd", case.forward_flops(), fwd_sgemm),
                                   (1, "bwd", 2 * case.forward_flops(), bwd_sgemm)):
        gflops = flops / ours[i] / 1e6
        print_row(case.name, label, ours[i], ref and ref[i], flops, "GFLOP/s",
                  f" {sgemm:7.1f} {100 * gflops / sgemm:5.0f}% {100 * gflops / peak:5.0f}%")


def print_pool_rows(case, ours, ref):
    for i, label in ((0, "fwd"), (1, "bwd")):
        print_row(case.name, label, ours[i], ref and ref[i], case.pool_bytes(), "GB/s")


def bwd_sgemm_gflops(case, repeats):
    """GFLOP/s of the backward's two GEMMs together: g @ W and g.T @ cols."""
    M, K, N = case.gemm_mkn()
    dcols_ms = 2 * M * K * N / sgemm_gflops(M, N, K, repeats) / 1e6
    dw_ms = 2 * M * K * N / sgemm_gflops(N, M, K, repeats) / 1e6
    return 4 * M * K * N / (dcols_ms + dw_ms) / 1e6


def print_stages(name, parts, measured):
    fwd = sum(ms for stage, ms in parts.items() if stage.startswith("fwd"))
    bwd = sum(ms for stage, ms in parts.items() if stage.startswith("bwd"))
    print(f"\n{name} steps, each timed alone (ms): sum fwd {fwd:.2f} / bwd {bwd:.2f}, "
          f"measured in F.conv2d {measured[0]:.2f} / {measured[1]:.2f}")
    for stage, ms in parts.items():
        print(f"  {stage:50} {ms:7.2f}")


def print_startup():
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = startup_seconds(cache), startup_seconds(cache)
    print(f"\nnumba start (import + conv & max-pool fwd/bwd, fresh NUMBA_CACHE_DIR): "
          f"cold {cold[1]:.1f} s (import {cold[0]:.2f} s), "
          f"warm {warm[1]:.2f} s (import {warm[0]:.2f} s)")


def main():
    print_header()
    peak = sgemm_gflops(2048, 2048, 2048, ARGS.repeats)
    print(f"numpy sgemm 2048x2048x2048: {peak:.1f} GFLOP/s (the peak below)\n")
    print("case      pass  ours ms torch ms x torch     ours   torch unit      "
          "  sgemm  %same %peak")
    stages = {}
    for case in simple_cnn_cases(ARGS.batch):
        x, w, grad = case_arrays(case)
        ours = time_ours(case, x, w, grad, ARGS.repeats)
        ref = time_torch(case, x, w, grad, ARGS.repeats) if torch else None
        if not case.is_conv:
            print_pool_rows(case, ours, ref)
            continue
        print(f"{case.name:9s} plan  {case_plan(case, x, w)[1].route()}")
        fwd_sgemm = sgemm_gflops(*case.gemm_mkn(), ARGS.repeats)
        print_conv_rows(case, ours, ref, fwd_sgemm, bwd_sgemm_gflops(case, ARGS.repeats), peak)
        stages[case.name] = conv_stages_ms(case, x, w, grad, ARGS.repeats), ours
    print("\n(x torch = torch ms / ours ms; sgemm = numpy sgemm of the conv's GEMM shapes;\n"
          " %same / %peak = our conv GFLOP/s as % of that sgemm / of the 2048 sgemm)")
    for name, (parts, measured) in stages.items():
        print_stages(name, parts, measured)
    print_startup()


if __name__ == "__main__":
    main()
