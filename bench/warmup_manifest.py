"""Record tinygrad_cnn/kernels/warmup_manifest.json: for every model of the gallery, the
kernels its first training step and its first inference batch compile, in order.

Run from the repo root:  python bench/warmup_manifest.py [--threads 2]
Each model and kind runs in a fresh interpreter with an empty NUMBA_CACHE_DIR and no
compile-ahead helper (TINYGRAD_CNN_WARMUP=0): bench/cold_start.py's own first step, batch 100
of the bundled MNIST sample, under a numba:compile listener that notes each outermost compile
of a tinygrad_cnn kernel with its argument types (kernels/warmup.type_spec). Rerun it when a
model's kernels change; tests/kernels/test_warmup.py checks that every entry still names a
kernel and types it compiles for.

The routes, and so the kernels, depend on the ISA: AVX-512 turns small convs' weight
gradients over (settings.channel_rows_max_outputs) and takes the row tiles for any conv of
one unit of outputs (settings.row_tiles_deep_max_outputs). A run records the runs of the ISA
numba compiles for, "runs" for AVX2 and "runs_avx512" for AVX-512, and keeps the other ISA's
runs from the existing manifest (kernels/warmup.load_manifest reads the runs of its own
ISA). On an AVX-512 machine, record both:
``bash bench/emulate_avx2.sh python bench/warmup_manifest.py`` and
``python bench/warmup_manifest.py``.
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


def _index(kernels, entry):
    """The index of ``entry`` in ``kernels``, appended if new."""
    if entry not in kernels:
        kernels.append(entry)
    return kernels.index(entry)


def main():
    from tinygrad_cnn.kernels.warmup import MANIFEST
    from tinygrad_cnn.models import MODELS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    from tinygrad_cnn.kernels.cpu.isa import compiles_for_avx512
    key = "runs_avx512" if compiles_for_avx512() else "runs"
    kernels, runs, kept = [], {}, {}
    if MANIFEST.exists():                   # the other ISA's runs, re-indexed
        old = json.loads(MANIFEST.read_text(encoding="utf-8"))
        for other in {"runs", "runs_avx512"} - {key}:
            if other in old:
                kept[other] = {name: [_index(kernels, old["kernels"][k]) for k in run]
                               for name, run in old[other].items()}
    for model in MODELS:
        for kind in ("train", "infer"):
            run = []
            for entry in record(model, kind, args.threads):
                run.append(_index(kernels, entry))
            runs[f"{model} {kind}"] = run
            print(f"{model:16} {kind}  {len(run)} kernels", flush=True)
    kept[key] = runs
    lines = ",\n  ".join(json.dumps(k) for k in kernels)        # a kernel a line
    groups = "".join(
        f',\n "{name}": {{\n  ' + ",\n  ".join(f"{json.dumps(run_name)}: {json.dumps(run)}"
                                               for run_name, run in kept[name].items()) + "\n }"
        for name in ("runs", "runs_avx512") if name in kept)
    text = f'{{"kernels": [\n  {lines}\n ]{groups}\n}}\n'
    assert "runs" in json.loads(text), "record the AVX2 runs first (bench/emulate_avx2.sh)"
    MANIFEST.write_text(text, encoding="utf-8")
    print(f"{len(kernels)} kernels -> {MANIFEST.relative_to(REPO)}")


if __name__ == "__main__":
    main()
