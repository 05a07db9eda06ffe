"""Compile-ahead at a cold start: while this process compiles the kernels of its first step
one after another (numba compiles on the calling thread, one kernel at a time, so the other
cores wait), a helper process compiles on another core the kernels that the step is likely
to reach later, into the same on-disk cache, where this process then finds them.

Which kernels come later is read from warmup_manifest.json: for each model of the gallery
(models.MODELS), the kernels its first training step and its first inference batch compile,
float32, in that order (recorded by bench/warmup_manifest.py), for AVX2 and, where they
differ, for AVX-512 (its row tiles and turned-over weight gradients): the runs of the ISA
the kernels compile for. This process tells the helper
whether its first step seems to train (the grad mode: "train" or "infer", a first line on
the helper's stdin), then each manifest kernel it starts to compile (its index in the
manifest, a line, from a numba:compile listener); kernels/warmup_worker.py keeps the runs of
that kind that share the most kernels with those and compiles from their other end (a
training step's weight gradients and optimizer while this process compiles the forward), so
that the two meet in the middle. Where they meet, this
process reaching the kernel the helper is compiling waits for it (kernels/jit.Kernel calls
await_helper before each compile) and loads it from the cache, rather than compile it too.

The helper starts at the first compile of a manifest kernel, so never when the cache already
holds everything. It runs at a lower priority, compiles only what the manifest names, and
ends when this process does. ``TINYGRAD_CNN_WARMUP=0`` turns it off. Results never depend on
it: a kernel it has not compiled is compiled here, as without it. bench/cold_start.py times
the first step with and without it.
"""
import atexit
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from numba.core import event, sigutils, types

from tinygrad_cnn.kernels.cpu.isa import compiles_for_avx512

ENV = "TINYGRAD_CNN_WARMUP"
"""Set to 0 to run no helper (the helper itself runs with it set, so it starts no other)."""

MANIFEST = Path(__file__).with_name("warmup_manifest.json")

_SCALARS = {name: getattr(types, name) for name in ("int64", "int32", "float32", "float64")}
_SCALARS["bool"] = types.boolean
_DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")


def type_spec(t):
    """A JSON-able description of the numba type ``t`` of a kernel argument, or None when
    the manifest has no form for it: ["array", dtype, ndim, layout, readonly] or
    ["scalar", name]."""
    if isinstance(t, types.Array) and str(t.dtype) in _DTYPES:
        return ["array", str(t.dtype), t.ndim, t.layout, not t.mutable]
    if str(t) in _SCALARS:
        return ["scalar", str(t)]
    return None


def spec_type(spec):
    """The numba type that type_spec described; ValueError for anything else (the manifest
    is read as data: names are looked up in fixed tables, never evaluated)."""
    if spec[0] == "scalar" and len(spec) == 2 and spec[1] in _SCALARS:
        return _SCALARS[spec[1]]
    if spec[0] == "array" and len(spec) == 5 and spec[1] in _DTYPES and spec[3] in "CFA" \
            and isinstance(spec[2], int) and 1 <= spec[2] <= 8:
        dtype = types.boolean if spec[1] == "bool" else getattr(types, spec[1])
        return types.Array(dtype, spec[2], spec[3], readonly=bool(spec[4]))
    raise ValueError(f"warmup manifest: unknown argument type {spec!r}")


def load_manifest(path=MANIFEST, avx512=None):
    """(kernels, runs): kernels a list of [module, qualname, [type specs]], runs a dict of
    "model kind" -> the indices of its kernels in compile order, those recorded for AVX-512
    ("runs_avx512") where ``avx512`` (default: numba compiles for it) and the manifest has
    them, else those recorded for AVX2 ("runs")."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if avx512 is None:
        avx512 = compiles_for_avx512()
    return data["kernels"], data.get("runs_avx512", data["runs"]) if avx512 else data["runs"]


def kernel_key(fn, args):
    """(module, qualname, JSON of the type specs) of the Python function ``fn`` of a kernel
    compiled for the numba types ``args``; None when an argument has no spec."""
    specs = [type_spec(t) for t in args]
    return None if None in specs else (fn.__module__, fn.__qualname__, json.dumps(specs))


class _Helper(event.Listener):
    """numba:compile listener: the first time this process starts compiling a kernel of the
    manifest for the argument types the manifest gives it (outermost compiles only; the
    kernels they call follow from them), start the helper; tell it each such compile.
    Other compiles (float64, a user's own numba code) start nothing.

    The helper's stdout says which kernel it is compiling ("start K", "done K"), read on a
    thread, so that await_kernel can wait for that kernel instead of compiling it twice."""

    def __init__(self, keys):
        self._index = {key: k for k, key in enumerate(keys)}    # kernel_key -> manifest index
        self._depth = threading.local()
        self._lock = threading.Lock()
        self._process, self._failed = None, False
        self._changed = threading.Condition()
        self._busy = None                   # the index the helper is compiling

    def on_start(self, ev):
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth:
            return
        fn = ev.data["dispatcher"].py_func
        if not fn.__module__.startswith("tinygrad_cnn."):
            return
        k = self._index.get(kernel_key(fn, ev.data["args"]))
        if k is not None:
            self._send(str(k))

    def on_end(self, ev):
        self._depth.n -= 1

    def _send(self, line):
        with self._lock:
            if self._failed:
                return
            try:
                if self._process is None:
                    self._process = _start_helper()
                    threading.Thread(target=self._listen, args=(self._process.stdout,),
                                     daemon=True, name="tinygrad_cnn-warmup").start()
                    self._process.stdin.write(_step_kind() + "\n")
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
            except (OSError, ValueError):          # no interpreter to start, or it ended
                self._failed = True

    def _listen(self, stream):
        try:
            for line in stream:
                word, _, k = line.partition(" ")
                with self._changed:
                    self._busy = int(k) if word == "start" and k.strip().isdigit() else None
                    self._changed.notify_all()
        except (OSError, ValueError):       # closed by _stop at exit
            pass
        with self._changed:
            self._busy = None
            self._changed.notify_all()

    def await_kernel(self, fn, args, timeout):
        """Wait (at most ``timeout`` s) while the helper compiles this kernel for these
        argument types."""
        busy = self._busy
        if busy is None or self._index.get(kernel_key(fn, args)) != busy:
            return
        with self._changed:
            self._changed.wait_for(lambda: self._busy != busy, timeout=timeout)


def _step_kind():
    """"train" when the grad mode last set (on any thread: kernels compile on the backend's
    worker threads too) records gradients, else "infer": which of a model's runs the helper
    takes first."""
    from tinygrad_cnn import grad_mode
    return "train" if grad_mode.last_set() else "infer"


def await_helper(fn, sig):
    """Called by kernels/jit.Kernel before it compiles ``fn`` for the signature ``sig``:
    when the helper is compiling that very kernel, wait for it (then numba finds it in the
    cache) rather than compile it a second time on this core."""
    helper = _installed
    if helper is not None and helper._process is not None:
        helper.await_kernel(fn, sigutils.normalize_signature(sig)[0], timeout=120)


def _start_helper():
    """The helper process, ended when this one exits (numba writes each cache entry to a
    temporary file and renames it, so a helper stopped mid-compile leaves no partial one)."""
    env = dict(os.environ, **{ENV: "0"})
    helper = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_cnn.kernels.warmup_worker"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, close_fds=True)
    atexit.register(_stop, helper)
    return helper


def _stop(helper):
    try:
        helper.stdin.close()
    except OSError:                         # it had ended: the pipe is broken
        pass
    helper.terminate()
    try:
        helper.wait(timeout=5)
    except subprocess.TimeoutExpired:
        helper.kill()
    helper.stdout.close()


_installed = None


def install():
    """Listen for this process's kernel compiles (once), unless TINYGRAD_CNN_WARMUP=0, this
    process may run on one core only (the helper would take its time), the interpreter
    cannot start another (sys.executable empty) or there is no manifest."""
    global _installed
    if _installed is not None or os.environ.get(ENV, "1") == "0" or not sys.executable \
            or _cores() < 2:
        return
    try:
        kernels, _ = load_manifest()
    except (OSError, ValueError, KeyError):
        return
    _installed = _Helper([(module, name, json.dumps(specs)) for module, name, specs in kernels])
    event.register("numba:compile", _installed)


def _cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                  # no affinity on this OS
        return os.cpu_count() or 1
