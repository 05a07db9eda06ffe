"""The compile-ahead helper (kernels/warmup.py, warmup_worker.py): its manifest names real
kernels and types, it picks the kernels a step reaches later, it compiles them into the
cache a fresh process then loads, and it starts only when a manifest kernel compiles."""
import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tinygrad_cnn.kernels import warmup
from tinygrad_cnn.kernels.warmup_worker import compile_kernel, next_kernel
from tinygrad_cnn.models import MODELS

REPO = Path(__file__).resolve().parents[2]
F32 = ["array", "float32", 1, "C", False]


@pytest.mark.parametrize("avx512", [False, True])
def test_manifest_names_kernels_with_their_arity_and_types_it_can_build(avx512):
    kernels, runs = warmup.load_manifest(avx512=avx512)
    assert {f"{m} {k}" for m in MODELS for k in ("train", "infer")} == set(runs)
    for module, qualname, specs in kernels:
        target = __import__(module, fromlist=[qualname])
        dispatcher = getattr(target, qualname)
        assert hasattr(dispatcher, "py_func"), (module, qualname)
        assert len(inspect.signature(dispatcher.py_func).parameters) == len(specs), qualname
        assert [warmup.type_spec(warmup.spec_type(s)) for s in specs] == specs
    for name, run in runs.items():
        assert run and len(set(run)) == len(run) and all(0 <= k < len(kernels) for k in run)


def test_manifest_runs_are_those_of_the_isa(tmp_path):
    """AVX-512's runs where numba compiles for it and the manifest has them, else AVX2's
    (a manifest recorded for AVX2 alone serves both)."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"kernels": [], "runs": {"a train": [0]},
                                    "runs_avx512": {"a train": [1]}}))
    assert warmup.load_manifest(manifest, avx512=True)[1] == {"a train": [1]}
    assert warmup.load_manifest(manifest, avx512=False)[1] == {"a train": [0]}
    manifest.write_text(json.dumps({"kernels": [], "runs": {"a train": [0]}}))
    assert warmup.load_manifest(manifest, avx512=True)[1] == {"a train": [0]}
    real = json.loads(warmup.MANIFEST.read_text())
    assert set(real) == {"kernels", "runs", "runs_avx512"}


@pytest.mark.parametrize("spec", [
    ["scalar", "__import__('os').system('true')"], ["scalar", "float16"],
    ["array", "object", 1, "C", False], ["array", "float32", 1, "X", False],
    ["array", "float32", 0, "C", False], ["tuple", "int64"]])
def test_manifest_types_are_looked_up_never_evaluated(spec):
    with pytest.raises(ValueError, match="unknown argument type"):
        warmup.spec_type(spec)


def test_next_kernel_works_back_from_the_end_of_the_likely_runs():
    runs = {"a train": [0, 1, 2, 3, 4], "a infer": [0, 1], "b train": [0, 5, 6],
            "b infer": [0, 5]}
    # kernel 0 is in every run: the inference runs' latest kernels come first, then the
    # training runs' (the latest in most of them)
    assert next_kernel(runs, {0}, set()) in {1, 5}
    # kernel 2 announced: only "a train" holds both, so its end, 4, then 3
    assert next_kernel(runs, {0, 2}, set()) == 4
    assert next_kernel(runs, {0, 2}, {4}) == 3
    assert next_kernel(runs, {0, 2, 3}, {4}) == 1
    assert next_kernel(runs, {0, 1, 2, 3, 4}, set()) is None
    # an inference batch of "b": its forward before b's training kernels
    assert next_kernel(runs, {0, 5}, set()) == 6
    assert next_kernel(runs, {0, 5}, {6}) is None
    # nothing announced that a run holds: every run is as likely, the inference runs first
    assert next_kernel(runs, {9}, set()) in {0, 1, 5}


def test_next_kernel_takes_the_runs_of_the_kind_said_first():
    runs = {"a train": [0, 1, 2, 3, 4], "a infer": [0, 1], "b train": [0, 5, 6],
            "b infer": [0, 5]}
    # a training step: the training runs' latest kernels (their backward), not the forward
    # kernels that the starting process reaches next
    assert next_kernel(runs, {0}, set(), "train") in {4, 6}
    assert next_kernel(runs, {0, 2}, set(), "train") == 4
    assert next_kernel(runs, {0, 2}, {4}, "train") == 3
    # an inference batch: the inference runs' first, as without a kind
    assert next_kernel(runs, {0}, set(), "infer") in {1, 5}
    assert next_kernel(runs, {0}, set(), "infer") == next_kernel(runs, {0}, set())
    # the training runs exhausted: the inference runs' kernels that are left
    assert next_kernel({"a train": [0, 1], "a infer": [0, 2]}, {0}, {1}, "train") == 2


def test_the_step_kind_follows_the_grad_mode_set_on_any_thread():
    import tinygrad_cnn as tc
    assert warmup._step_kind() == "train"
    seen = []
    with tc.no_grad():                  # kernels compile on the backend's worker threads,
        worker = threading.Thread(target=lambda: seen.append(warmup._step_kind()))
        worker.start()                  # where this thread's mode does not apply
        worker.join()
    assert seen == ["infer"] and warmup._step_kind() == "train"


def test_compile_kernel_refuses_what_is_not_a_kernel():
    assert not compile_kernel("tinygrad_cnn.kernels.warmup", "load_manifest", [])
    assert not compile_kernel("tinygrad_cnn.kernels.jit", "no_such_kernel", [F32])
    assert not compile_kernel("tinygrad_cnn.kernels.jit", "fill", [["scalar", "float128"]])


def _index_files(cache, name):
    """numba's index files of kernel ``name`` under ``cache`` ("jit.fill-25.py311.nbi")."""
    return [f for f in cache.rglob("*.nbi") if f.name.split("-")[0].split(".")[-1] == name]


def test_worker_compiles_the_rest_of_the_likely_run_into_the_cache(tmp_path):
    kernels = [["tinygrad_cnn.kernels.cpu.elementwise", "relu_forward", [F32, F32]],
               ["tinygrad_cnn.kernels.jit", "fill", [F32, ["scalar", "float32"]]],
               ["tinygrad_cnn.kernels.cpu.elementwise", "relu_backward", [F32, F32, F32]]]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"kernels": kernels,
                                    "runs": {"toy train": [0, 1], "other train": [2]}}))
    cache = tmp_path / "cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), **{warmup.ENV: "0"})
    helper = subprocess.Popen([sys.executable, "-m", "tinygrad_cnn.kernels.warmup_worker",
                               str(manifest)], stdin=subprocess.PIPE, env=env, text=True,
                              cwd=REPO)
    try:
        helper.stdin.write("train\n0\n")                     # this process compiles relu
        helper.stdin.flush()
        deadline = time.monotonic() + 120
        while not _index_files(cache, "fill") and time.monotonic() < deadline:
            assert helper.poll() is None, "the helper ended before compiling"
            time.sleep(0.2)
        assert _index_files(cache, "fill"), "fill never reached the cache"
        time.sleep(1)                        # nothing else is likely: it waits, compiling none
        assert helper.poll() is None
    finally:
        helper.stdin.close()                 # this process ends: so does the helper
        code = helper.wait(timeout=60)
    assert code == 0
    assert not _index_files(cache, "relu_forward")      # announced: compiled by the caller
    assert not _index_files(cache, "relu_backward")     # another model's run
    probe = ("from numba.core import types\n"
             "from tinygrad_cnn.kernels.jit import fill\n"
             "sig = (types.Array(types.float32, 1, 'C'), types.float32)\n"
             "fill.compile(sig)\n"
             "print(fill.stats.cache_hits[sig])\n")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, text=True,
                          capture_output=True, check=True)
    assert done.stdout.split()[-1] == "1"


STARTS = """
import numpy as np
import tinygrad_cnn as tc
from tinygrad_cnn.kernels import warmup
tc.relu(tc.tensor(np.linspace(-1, 1, 8192)))                     # float64: not in the manifest
print(warmup._installed is not None and warmup._installed._process is None)
tc.relu(tc.tensor(np.linspace(-1, 1, 8192, dtype=np.float32)))
helper = warmup._installed and warmup._installed._process
print(helper is not None and helper.args[-1] == "tinygrad_cnn.kernels.warmup_worker")
"""


@pytest.mark.parametrize("setting, expected", [(None, ["True", "True"]),
                                               ("0", ["False", "False"])])
def test_a_manifest_compile_starts_the_helper_unless_turned_off(tmp_path, setting, expected):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop(warmup.ENV, None)
    if setting is not None:
        env[warmup.ENV] = setting
    done = subprocess.run([sys.executable, "-c", STARTS], env=env, cwd=REPO, text=True,
                          capture_output=True, check=True, timeout=300)
    assert done.stdout.split() == expected


def test_a_kernel_the_helper_is_compiling_is_waited_for_not_compiled_twice():
    kernels, _ = warmup.load_manifest()
    keys = [(m, q, json.dumps(s)) for m, q, s in kernels]
    helper = warmup._Helper(keys)
    module, qualname, specs = kernels[0]
    fn = getattr(__import__(module, fromlist=[qualname]), qualname).py_func
    args = [warmup.spec_type(s) for s in specs]
    other = getattr(__import__(kernels[1][0], fromlist=[kernels[1][1]]), kernels[1][1]).py_func
    helper._listen(iter(["start 0\n"]))             # its stdout closed: nothing is compiling
    assert helper._busy is None
    helper._busy = 0

    def finish():
        time.sleep(0.5)
        with helper._changed:
            helper._busy = None
            helper._changed.notify_all()
    t0 = time.monotonic()
    helper.await_kernel(other, args, 5)
    assert time.monotonic() - t0 < 0.2                  # another kernel: no wait
    threading.Thread(target=finish).start()
    helper.await_kernel(fn, args, 5)
    assert 0.4 < time.monotonic() - t0 < 4              # this one: until the helper is done


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_no_helper_on_one_core(tmp_path):
    script = ("import os\n"
              "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
              "import tinygrad_cnn\n"
              "from tinygrad_cnn.kernels import warmup\n"
              "print(warmup._installed is None)\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop(warmup.ENV, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, text=True,
                          capture_output=True, check=True, timeout=300)
    assert done.stdout.split() == ["True"]
