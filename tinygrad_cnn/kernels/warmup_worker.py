"""The helper process of kernels/warmup.py: compile, into numba's on-disk cache, the manifest
kernels that the process which started it is likely to reach later in its first step.

Run as ``python -m tinygrad_cnn.kernels.warmup_worker [manifest.json]`` with the starting
process on stdin: a line "train" or "infer" (whether its first step seems to train), then
one line per kernel that process has started to compile, its index K in the manifest. On
stdout it says "start K" and "done K" around each kernel it compiles, so that the starting
process, reaching that kernel, waits for it rather than compile it too. The helper ends
when its stdin closes.

Which kernel next (next_kernel): the manifest's runs (one model's training step or inference
batch) that share the most kernels with those announced are the likely ones; of their
kernels, neither announced nor compiled here, the one latest in them. Runs of the kind the
starting process said go first: for a training step, its backward kernels and optimizer,
which the starting process reaches last (taking its forward kernels first made it wait for
the helper at its next layer: LeNet-5 waited 2.2 s for the image-tiles forward); without a
kind, the inference runs, whose kernels serve both. Nothing is chosen before the first
kernel is announced: every run is as likely then.
"""
import importlib
import os
import sys
import threading

from tinygrad_cnn.kernels.warmup import MANIFEST, load_manifest, spec_type


def next_kernel(runs, announced, done, kind=None):
    """The index of the kernel to compile next, or None when the likely runs have none left.

    runs: {"model kind": [kernel indices in compile order]}; announced: the indices the
    starting process has begun to compile; done: those compiled (or failed) here; kind:
    "train" or "infer", the runs to take first (None: "infer"). A kernel's score is the sum,
    over the likely runs of a kind that contain it, of its position in the run (1/len for
    the first, 1 for the last)."""
    overlap = {name: len(announced.intersection(run)) for name, run in runs.items()}
    best = max(overlap.values(), default=0)
    likely = [name for name in runs if overlap[name] == best]
    for kind in (("train", "infer") if kind == "train" else ("infer", "train")):
        scores = {}
        for name in likely:
            if not name.endswith(" " + kind):
                continue
            run = runs[name]
            for position, k in enumerate(run):
                if k not in announced and k not in done:
                    scores[k] = scores.get(k, 0.0) + (position + 1) / len(run)
        if scores:
            return max(scores, key=lambda k: (scores[k], -k))
    return None


def compile_kernel(module, qualname, specs):
    """Compile the njit kernel ``module.qualname`` for the argument types ``specs``; its
    dispatcher writes the result to the cache (cache=True). Returns False when the manifest
    entry names no such kernel, or the types are not ones it compiles for."""
    try:
        target = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        if not hasattr(target, "py_func"):
            return False
        target.compile(tuple(spec_type(s) for s in specs))
    except Exception:                       # noqa: BLE001 (a helper: the caller compiles it)
        return False
    return True


class _Inbox:
    """The starting process's announcements, read on a thread: the kind of its step, the
    kernel indices, and whether stdin has closed."""

    def __init__(self, stream, count):
        self.announced, self.closed, self.kind = set(), False, None
        self._count, self._changed = count, threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            word = line.strip()
            if word in ("train", "infer"):
                self.kind = word
            elif word.isdigit() and int(word) < self._count:
                k = int(word)
                with self._changed:
                    self.announced.add(k)
                    self._changed.notify()
        with self._changed:
            self.closed = True
            self._changed.notify()

    def snapshot(self):
        with self._changed:
            return set(self.announced), self.closed, self.kind

    def wait(self, seen):
        """Block until more than ``seen`` kernels are announced or stdin closes."""
        with self._changed:
            while len(self.announced) <= seen and not self.closed:
                self._changed.wait()


def sole_helper():
    """True when no other helper works on this numba cache: an exclusive lock on a file in
    the cache's directory for kernels/jit.py, held until this process ends (the ranks of an
    MPI job, each starting a helper, then share one). True also where there is no lock to
    take (no fcntl, no cache directory)."""
    try:
        import fcntl

        from tinygrad_cnn.kernels.jit import fill
        handle = open(os.path.join(fill._cache._cache_path, "tinygrad_cnn-warmup.lock"), "a")
    except (ImportError, AttributeError, OSError):
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _held.append(handle)
    return True


_held = []


def main(argv):
    kernels, runs = load_manifest(argv[1] if len(argv) > 1 else MANIFEST)
    if not sole_helper():
        return
    try:
        os.nice(10)
    except (AttributeError, OSError):
        pass
    inbox, done = _Inbox(sys.stdin, len(kernels)), set()
    while True:
        announced, closed, kind = inbox.snapshot()
        if closed:
            return
        if not announced:                       # the first line is on its way: choosing
            inbox.wait(0)                       # before it would guess among every run
            continue
        k = next_kernel(runs, announced, done, kind)
        if k is None:
            inbox.wait(len(announced))
            continue
        try:
            print(f"start {k}", flush=True)     # the starting process waits for this one
            compile_kernel(*kernels[k])
            done.add(k)
            print(f"done {k}", flush=True)
        except BrokenPipeError:                 # the starting process has ended
            return


if __name__ == "__main__":
    main(sys.argv)
