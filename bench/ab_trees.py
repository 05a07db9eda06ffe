"""One code tree's training step and inference, for comparing two checkouts of tinygrad_cnn.

Run from anywhere:  python bench/ab_trees.py REPO MODEL[,MODEL...] [SECONDS]
REPO is the checkout to import tinygrad_cnn from; run it for each checkout in turn, several
rounds alternating, and compare medians (bench/RESULTS.md, "Session 6"). Prints per model the
training step (batch 100: forward, cross-entropy, backward, Adam) and eval inference at batch
100 in images/s (medians of 5 blocks over SECONDS), and the time from import to the first
finished step (with an empty NUMBA_CACHE_DIR: the cold start). AB_FUSED=1 runs the tree with
the CPU settings' blas_convs off, the conv kernels chosen before the BLAS routes.
"""
import sys, time
repo, models = sys.argv[1], sys.argv[2].split(",")
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 4
t_import = time.perf_counter()
sys.path.insert(0, repo)
import numpy as np
import tinygrad_cnn as tc
from tinygrad_cnn.models import get_model
from tinygrad_cnn.nn import functional as F
import os
if os.environ.get("AB_FUSED"):            # the new tree with the old kernel choice (no blas_convs)
    from tinygrad_cnn.backends.cpu import settings as _s
    _s.configure(blas_convs=False)
rng = np.random.default_rng(0)
x = tc.tensor(rng.random((100, 1, 28, 28), dtype=np.float32))
y = tc.tensor(rng.integers(0, 10, 100))
for name in models:
    tc.manual_seed(0)
    m = get_model(name)
    opt = tc.optim.Adam(m.parameters(), lr=1e-3)
    def step():
        opt.zero_grad(); loss = F.cross_entropy(m(x), y); loss.backward(); opt.step()
    step()
    first = time.perf_counter() - t_import
    rates = []
    for _ in range(5):
        t = time.perf_counter(); n = 0
        while time.perf_counter() - t < secs / 5:
            step(); n += 1
        rates.append(100 * n / (time.perf_counter() - t))
    m.eval()
    with tc.no_grad():
        m(x)
        irates = []
        for _ in range(5):
            t = time.perf_counter(); n = 0
            while time.perf_counter() - t < secs / 5:
                m(x); n += 1
            irates.append(100 * n / (time.perf_counter() - t))
    print(f"{name:12s} train {np.median(rates):7.0f} img/s  infer {np.median(irates):7.0f} img/s  first step at {first:5.1f} s", flush=True)
