"""Record tinygrad_cnn/kernels/warmup_manifest.json: for every model of the gallery, the
kernels its first training step and its first inference batch compile, in order.

Run from the repo root:  python bench/warmup_manifest.py [--threads 2]
Each model and kind runs in a fresh interpreter with an empty NUMBA_CACHE_DIR and no
compile-ahead helper (TINYGRAD_CNN_WARMUP=0): bench/cold_start.py's own first step, batch 100
of the bundled MNIST sample, under a numba:compile listener that notes each outermost compile
of a tinygrad_cnn kernel with its argument types (kernels/warmup.type_spec). Rerun it when a
model's kernels change; tests/kernels/test_warmup.py checks that every entry still names a
kernel and types it compiles for.

The routes, and so the kernels, depend on the ISA in one place: AVX-512's channel-rows
weight gradient (settings.channel_rows_max_outputs). The manifest is recorded for AVX2, where
a cold start is slowest and the helper matters most (on an AVX-512 machine:
``bash bench/emulate_avx2.sh python bench/warmup_manifest.py``); an AVX-512 machine compiles
the channel-rows kernel in its own process (its cold start: bench/RESULTS.md, session 14).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from cold_start import REPO, SAMPLE, SNIPPET  # the first step cold_start.py times

RECORDER = """
import json
from numba.core import event
from tinygrad_cnn.kernels.warmup import type_spec
compiled, depth = [], [0]

class Record(event.Listener):
    def on_start(self, ev):
        depth[0] += 1
        fn = ev.data["dispatcher"].py_func
        if depth[0] == 1 and fn.__module__.startswith("tinygrad_cnn."):
            specs = [type_spec(t) for t in ev.data["args"]]
            if None not in specs:
                compiled.append([fn.__module__, fn.__qualname__, specs])

    def on_end(self, ev):
        depth[0] -= 1

event.register("numba:compile", Record())
"""
"""Prepended to cold_start.SNIPPET (the first step it times), whose output ends with the
recorded kernels as one JSON line."""


def record(model, kind, threads):
    """[[module, qualname, specs], ...] of one fresh first step."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(REPO),
                   NUMBA_NUM_THREADS=str(threads), TINYGRAD_CNN_WARMUP="0")
        script = RECORDER + SNIPPET + "print(json.dumps(compiled))\n"
        done = subprocess.run([sys.executable, "-c", script, str(SAMPLE), model, kind],
                              env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main():
    from tinygrad_cnn.kernels.warmup import MANIFEST
    from tinygrad_cnn.models import MODELS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    kernels, runs = [], {}
    for model in MODELS:
        for kind in ("train", "infer"):
            run = []
            for entry in record(model, kind, args.threads):
                if entry not in kernels:
                    kernels.append(entry)
                run.append(kernels.index(entry))
            runs[f"{model} {kind}"] = run
            print(f"{model:16} {kind}  {len(run)} kernels", flush=True)
    lines = ",\n  ".join(json.dumps(k) for k in kernels)        # a kernel a line
    named = ",\n  ".join(f"{json.dumps(name)}: {json.dumps(run)}" for name, run in runs.items())
    text = f'{{"kernels": [\n  {lines}\n ],\n "runs": {{\n  {named}\n }}\n}}\n'
    json.loads(text)
    MANIFEST.write_text(text, encoding="utf-8")
    print(f"{len(kernels)} kernels -> {MANIFEST.relative_to(REPO)}")


if __name__ == "__main__":
    main()
