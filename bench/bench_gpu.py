"""GPU benchmark: tinygrad_cnn on "cuda" beside PyTorch + cuDNN on the same GPU, one process.

Prints, side by side:
- training images/s of SimpleCNN and LeNet-5 (forward, cross-entropy, backward, Adam step,
  batch moved host -> device each step as the DataLoader's batches are) at batch 100 and 512;
- kernel launches per training step of ours, by kernel (backends/cuda/launch.LAUNCHES);
- GEMM TFLOP/s at SimpleCNN's conv GEMM shapes: our tiled @cuda.jit kernel, cuBLAS through
  CuPy when installed, and torch.matmul.

Run from the repo root:  python bench/bench_gpu.py [--steps 20] [--batches 100 512]
Prove the code path without a GPU (tiny shapes, numba's CUDA simulator):
    NUMBA_ENABLE_CUDASIM=1 python bench/bench_gpu.py --smoke
Without a GPU (and without --smoke under the simulator) it exits with status 2 and says why.
"""
import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # benchmark this checkout, installed or not

MODELS = ("simple-cnn", "lenet5")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batches", nargs="+", type=int, default=[100, 512])
    p.add_argument("--steps", type=int, default=20, help="timed training steps per figure")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (JIT compile)")
    p.add_argument("--gemm-repeats", type=int, default=20)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    p.add_argument("--smoke", action="store_true",
                   help="tiny shapes and one step: proves the code path (simulator or GPU)")
    return p.parse_args(argv)


# ---- environment -------------------------------------------------------------------
def simulated():
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def torch_cuda():
    """torch when it is installed with CUDA and sees a GPU, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def describe(torch):
    from numba import cuda

    if simulated():
        name = "none: numba's CUDA simulator (timings mean nothing)"
    else:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    lines = [f"GPU: {name}",
             f"python {platform.python_version()}, numpy {np.__version__}, "
             f"numba {__import__('numba').__version__} ({getattr(cuda, 'implementation', '?')} "
             f"CUDA target)"]
    if torch is not None:
        lines.append(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()} on "
                     f"{torch.cuda.get_device_name()}")
    from tinygrad_cnn.backends.cuda.gemm import cupy_module

    cp = cupy_module()
    lines.append(f"CuPy {cp.__version__} (cuBLAS GEMM path)" if cp else "CuPy not installed: "
                 "our GEMM is the tiled @cuda.jit kernel")
    return "\n".join(lines)


def sync():
    from numba import cuda

    cuda.synchronize()


# ---- models ------------------------------------------------------------------------
def our_model(name, smoke):
    from tinygrad_cnn import nn
    from tinygrad_cnn.models import LeNet5, SimpleCNN

    if not smoke:
        return {"simple-cnn": SimpleCNN, "lenet5": LeNet5}[name]()
    # the same layer types on 6x6 inputs, small enough for the simulator
    pool = nn.MaxPool2d if name == "simple-cnn" else nn.AvgPool2d
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), pool(2, 2),
                         nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), pool(2, 2),
                         nn.Flatten(), nn.Linear(3, 10))


def torch_model(name, torch):
    tnn = torch.nn
    if name == "simple-cnn":
        return tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                              tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                              tnn.Flatten(), tnn.Linear(7 * 7 * 64, 10))
    return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.AvgPool2d(2, 2),
                          tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.AvgPool2d(2, 2), tnn.Flatten(),
                          tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                          tnn.Linear(84, 10))


def batches(batch, hw, count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, 1, hw, hw), dtype=np.float32), rng.integers(0, 10, batch))
            for _ in range(count)]


# ---- training throughput -----------------------------------------------------------
def ours_images_per_s(name, batch, args):
    """(images/s, launches in one step by kernel) of train.train_step on device "cuda"."""
    import tinygrad_cnn as tc
    from tinygrad_cnn import optim
    from tinygrad_cnn.backends.cuda.launch import LAUNCHES
    from tinygrad_cnn.train import train_step

    tc.manual_seed(0)
    model = our_model(name, args.smoke).to("cuda")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    data = batches(batch, 6 if args.smoke else 28, args.warmup + args.steps)

    def step(images, labels):
        # moved once per step, as train.py moves each DataLoader batch
        return train_step(model, opt, tc.Tensor(images).to("cuda"), tc.Tensor(labels).to("cuda"))

    for images, labels in data[:args.warmup]:
        step(images, labels)
    LAUNCHES.clear()
    step(*data[0])
    per_step = dict(LAUNCHES)
    sync()
    start = time.perf_counter()
    for images, labels in data[args.warmup:]:
        step(images, labels)              # .item() inside train_step synchronises
    sync()
    return batch * args.steps / (time.perf_counter() - start), per_step


def torch_images_per_s(name, batch, args, torch):
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = torch_model(name, torch).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = batches(batch, 28, args.warmup + args.steps)

    def step(images, labels):
        x, y = torch.from_numpy(images).cuda(), torch.from_numpy(labels).cuda()
        opt.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        return loss.item(), int((logits.argmax(1) == y).sum().item())

    for images, labels in data[:args.warmup]:
        step(images, labels)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for images, labels in data[args.warmup:]:
        step(images, labels)
    torch.cuda.synchronize()
    return batch * args.steps / (time.perf_counter() - start)


def training_table(args, torch):
    print("\n== training throughput (images/s; Adam; batch moved to the GPU each step) ==")
    print(f"{'model':<12}{'batch':>7}{'ours':>12}{'torch+cuDNN':>14}{'ratio':>8}{'launches/step':>15}")
    launches = {}
    for name in args.models:
        for batch in args.batches:
            ours, per_step = ours_images_per_s(name, batch, args)
            theirs = torch_images_per_s(name, batch, args, torch) if torch else None
            launches[(name, batch)] = per_step
            ratio = f"{ours / theirs:7.2f}x" if theirs else "       -"
            print(f"{name:<12}{batch:>7}{ours:>12,.0f}"
                  f"{(f'{theirs:,.0f}' if theirs else '-'):>14}{ratio:>8}"
                  f"{sum(per_step.values()):>15}")
    print("\n== kernel launches in one training step of ours, by kernel ==")
    for (name, batch), per_step in launches.items():
        top = ", ".join(f"{k} {v}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1]))
        print(f"{name} batch {batch}: {top}")


# ---- GEMM --------------------------------------------------------------------------
def gemm_shapes(batch, smoke):
    """(label, B, M, N, K) of SimpleCNN's conv GEMMs as backends/cuda/conv.py issues them."""
    if smoke:
        return [("tiny", 2, 5, 7, 9)]
    P1, P2 = 28 * 28, 14 * 14
    return [("conv1 fwd  W@cols^T", batch, 32, P1, 9),
            ("conv2 fwd  W@cols^T", batch, 64, P2, 288),
            ("conv2 dX   g^T@W", batch, P2, 288, 64),
            ("conv2 dW   (one chunk)", 1, 64, 288, 2048),
            ("linear fwd", 1, batch, 10, 3136)]


def time_ours(B, M, N, K, mode, repeats):
    """(seconds per GEMM, max abs error) of backends/cuda/gemm.gemm in ``mode``."""
    from tinygrad_cnn.backends.cuda import launch as rt
    from tinygrad_cnn.backends.cuda import settings as cuda_settings
    from tinygrad_cnn.backends.cuda.gemm import gemm

    rng = np.random.default_rng(1)
    a = rng.standard_normal((B, M, K), dtype=np.float32)
    b = rng.standard_normal((B, K, N), dtype=np.float32)
    da, db, out = rt.upload(a), rt.upload(b), rt.empty((B, M, N), np.float32)
    args = (rt.flat(da), (0, M * K, K, 1), rt.flat(db), (0, K * N, N, 1), rt.flat(out),
            (0, M * N, N, 1), (B, M, N, K))
    with cuda_settings.override(gemm=mode):
        gemm(*args)
        sync()
        start = time.perf_counter()
        for _ in range(repeats):
            gemm(*args)
        sync()
        seconds = (time.perf_counter() - start) / repeats
    err = float(np.abs(out.copy_to_host() - a @ b).max())
    return seconds, err


def time_torch(B, M, N, K, repeats, torch):
    a = torch.randn(B, M, K, device="cuda")
    b = torch.randn(B, K, N, device="cuda")
    torch.matmul(a, b)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def gemm_table(args, torch):
    from tinygrad_cnn.backends.cuda.gemm import cupy_module

    print("\n== GEMM TFLOP/s (float32) at SimpleCNN's conv GEMM shapes ==")
    print(f"{'shape':<24}{'B x M x N x K':>24}{'ours':>9}{'cuBLAS/CuPy':>13}{'torch':>9}"
          f"{'max err':>10}")
    repeats = 1 if args.smoke else args.gemm_repeats
    batch = args.batches[0]
    for label, B, M, N, K in gemm_shapes(batch, args.smoke):
        flops = 2.0 * B * M * N * K
        ours, err = time_ours(B, M, N, K, "numba", repeats)
        cublas = time_ours(B, M, N, K, "cublas", repeats)[0] if cupy_module() else None
        theirs = time_torch(B, M, N, K, repeats, torch) if torch else None
        fmt = lambda s: f"{flops / s / 1e12:.2f}" if s else "-"  # noqa: E731
        print(f"{label:<24}{f'{B}x{M}x{N}x{K}':>24}{fmt(ours):>9}{fmt(cublas):>13}"
              f"{fmt(theirs):>9}{err:>10.1e}")


def main(argv=None):
    args = parse_args(argv)
    from tinygrad_cnn.backends import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"bench_gpu.py needs a CUDA GPU: {reason}\n(to prove the code path without one: "
              f"NUMBA_ENABLE_CUDASIM=1 python bench/bench_gpu.py --smoke)", file=sys.stderr)
        return 2
    if simulated() and not args.smoke:
        print("bench_gpu.py: numba's CUDA simulator is on; timings would be meaningless. "
              "Pass --smoke to only prove the code path.", file=sys.stderr)
        return 2
    if args.smoke:
        from tinygrad_cnn.backends.cuda import settings as cuda_settings

        args.batches, args.steps, args.warmup = [2], 1, 1
        if simulated():
            cuda_settings.configure(threads_per_block=8, max_blocks=4, reduce_threads=8,
                                    gemm_threads=2, max_gemm_blocks=2, split_k_depth=16)
    torch = None if args.no_torch else torch_cuda()
    print(describe(torch))
    if torch is None and not args.no_torch:
        print("PyTorch with CUDA is not available here: its columns are left empty")
    training_table(args, torch)
    gemm_table(args, torch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
