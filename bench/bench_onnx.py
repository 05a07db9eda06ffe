"""Inference speed of SimpleCNN: tinygrad_cnn vs onnxruntime (the exported graph) vs PyTorch.

Run from the repo root:  python bench/bench_onnx.py [--repeats 7] [--threads 2]
The model is SimpleCNN with the weights of a fixed seed, in eval mode, float32, on real
digits from the bundled MNIST sample; tinygrad_cnn's graph is written by
tinygrad_cnn.onnx.export and run by onnxruntime's CPU provider; torch runs the same weights
(loaded strict) under inference_mode. Every framework is pinned to --threads; torch also
runs on one thread, since its OpenMP pool waits at every op's barrier for a thread that
the shared machine has descheduled. Each figure is
the median over --repeats rounds of a block of forwards lasting about 0.5 s, the frameworks
taking turns in every round, so a slow spell of the shared machine hits them alike.
Batch 100 (throughput) and batch 1 (latency of one image).
"""
import argparse
import os
import sys

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--repeats", type=int, default=7)
p.add_argument("--threads", type=int, default=2)
ARGS = p.parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

import tinygrad_cnn as tc  # noqa: E402
import tinygrad_cnn.onnx as tonnx  # noqa: E402
from machine import load_average, print_machine_header  # noqa: E402
from tinygrad_cnn.data import MNISTSample  # noqa: E402
from tinygrad_cnn.models import SimpleCNN  # noqa: E402


class TorchSimpleCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.layer1 = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.fc = nn.Linear(7 * 7 * 64, 10)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(x)).flatten(1))


def runners(model, session, tmodel):
    def ours(x):
        with tc.no_grad():
            return model(x["tc"]).numpy()

    def onnxruntime(x):
        return session.run(None, {"input": x["np"]})[0]

    def pytorch(x):
        torch.set_num_threads(ARGS.threads)
        with torch.inference_mode():
            return tmodel(x["torch"]).numpy()

    def pytorch_one_thread(x):
        torch.set_num_threads(1)
        with torch.inference_mode():
            return tmodel(x["torch"]).numpy()

    return {"tinygrad_cnn": ours, "onnxruntime": onnxruntime, "torch": pytorch,
            "torch 1 thread": pytorch_one_thread}


def time_block(fn, x, seconds=0.5):
    """Seconds per call over a block of calls lasting about ``seconds``."""
    calls, start = 0, time.perf_counter()
    while True:
        fn(x)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls


def main():
    torch.set_num_threads(ARGS.threads)
    print_machine_header(torch, f"; onnxruntime {ort.__version__}, threads {ARGS.threads}")
    tc.manual_seed(0)
    model = SimpleCNN().eval()
    tmodel = TorchSimpleCNN().eval()
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    images = MNISTSample(train=False).images[:100, None].astype(np.float32) / 255
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "simple_cnn.onnx"
        tonnx.export(model, images[:1], path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = ARGS.threads, 1
        # ORT threads spin after each run by default, taking the cores from the framework
        # timed next; they wait passively here, as torch's and ours do between calls.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    fns = runners(model, session, tmodel)
    print(f"load     {load_average()} (1/5/15 min) before timing")
    for batch in (100, 1):
        x = {"np": np.ascontiguousarray(images[:batch])}
        x["tc"], x["torch"] = tc.Tensor(x["np"]), torch.from_numpy(x["np"])
        outs = {name: fn(x) for name, fn in fns.items()}               # warm-up and check
        for name, out in outs.items():
            np.testing.assert_allclose(out, outs["tinygrad_cnn"], rtol=1e-4, atol=1e-4,
                                       err_msg=name)
        rounds = {name: [] for name in fns}
        for _ in range(ARGS.repeats):
            for name, fn in fns.items():
                rounds[name].append(time_block(fn, x))
        print(f"\nbatch {batch}: median of {ARGS.repeats} rounds (outputs agree within 1e-4)")
        print(f"  {'framework':<16}{'ms/batch':>10}{'images/s':>12}{'vs ours':>9}")
        ours = statistics.median(rounds["tinygrad_cnn"])
        for name, times in rounds.items():
            t = statistics.median(times)
            print(f"  {name:<16}{t * 1e3:>10.3f}{batch / t:>12,.0f}{ours / t:>8.2f}x")
    print(f"\nload     {load_average()} (1/5/15 min) after timing")


if __name__ == "__main__":
    main()
