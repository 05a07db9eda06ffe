"""Fork-join over the CPU's cores for the CPU backend's @njit kernels.

The kernels are serial loops (``@njit(nogil=True)``) over whatever images, row blocks or
elements they are handed. ``run(body, n)`` splits range(n) into one contiguous range per
thread, calls ``body(lo, hi)`` for every range at once (the first on the calling thread,
the others on persistent worker threads) and returns when all are done. The kernels
release the GIL, so the ranges run in parallel.

Why not numba's ``prange``: a launch costs the same either way (both wake sleeping
threads), but numba compiles a parallel kernel several times slower than the same loops
serial (the loop body is optimised and emitted once on its own and again inside its
launcher), and every kernel of a model is compiled during its first training step.

Threads: NUMBA_NUM_THREADS (numba's own setting; default: the cores this process may use).
"""
import os
import queue
import threading

import numba
import numpy as np

from tinygrad_cnn.backends.cpu.settings import settings


def thread_count():
    """Ranges that run() splits work into at most (NUMBA_NUM_THREADS)."""
    return numba.config.NUMBA_NUM_THREADS


def run(body, n, grain=1):
    """Call ``body(lo, hi)`` over contiguous ranges that cover range(n), concurrently.

    ``grain`` is the smallest range worth a thread of its own: n < 2*grain runs as one call
    on the calling thread, with no hand-off. The ranges must not write the same memory.
    Exceptions raised by a range are re-raised here after every range has finished, so no
    thread is still writing when run() returns or raises. Calls from a range, or from a
    second thread while one run() is active, run on their caller alone.
    """
    parts = min(thread_count(), n // max(grain, 1))
    if parts < 2 or not _active.acquire(blocking=False):
        if n > 0:
            body(0, n)
        return
    try:
        _run_split(body, n, parts)
    finally:
        _active.release()


def per_image(shape):
    """Elements per image of an array of this shape (also when the batch is empty)."""
    return int(np.prod(shape[1:]))


def over_images(body, N, per_image):
    """run() over N images of ``per_image`` elements (or multiply-adds) of work each."""
    run(body, N, grain=-(-settings.part_elements // (per_image or 1)))


def _run_split(body, n, parts):
    inboxes = _workers(parts - 1)
    bounds = [n * t // parts for t in range(parts + 1)]
    call = _Call(parts - 1)
    for t in range(1, parts):
        inboxes[t - 1].put((call, body, bounds[t], bounds[t + 1]))
    errors = []
    try:
        body(bounds[0], bounds[1])
    except BaseException as e:      # noqa: B902 (re-raised below, once the workers are done)
        errors.append(e)
    while True:
        try:
            call.wait()
            break
        except BaseException as e:  # noqa: B902 (Ctrl-C: still wait for the workers, then raise)
            errors.append(e)
    errors += call.errors
    if errors:
        raise errors[0]


class _Call:
    """One run()'s ranges still out on the workers, and their errors.

    The count lives here, not in a queue of answers: a Ctrl-C landing just after the main
    thread took an answer from a queue lost that answer, and run() then waited for ever
    (seen in the suite's SIGINT test). A count under a condition loses nothing: the
    interrupted wait is simply entered again.
    """

    def __init__(self, pending):
        self.pending, self.errors = pending, []
        self.finished = threading.Condition()

    def finish(self, error):
        with self.finished:
            if error is not None:
                self.errors.append(error)
            self.pending -= 1
            self.finished.notify()

    def wait(self):
        with self.finished:
            while self.pending:
                self.finished.wait()


def _serve(inbox):
    """A worker's loop. It drops its task before waiting for the next: a body's closure
    holds the arrays of its op (a conv's output gradient), which would otherwise live on
    until the next task reached this worker."""
    while True:
        call, body, lo, hi = inbox.get()
        try:
            body(lo, hi)
        except BaseException as e:  # noqa: B902 (handed to the caller)
            error = e
        else:
            error = None
        body = None
        call.finish(error)
        call = error = None


def _workers(count):
    """Inboxes of at least ``count`` worker threads, started on first use."""
    while len(_inboxes) < count:
        inbox = queue.SimpleQueue()
        threading.Thread(target=_serve, args=(inbox,), daemon=True,
                         name=f"tinygrad_cnn-cpu-{len(_inboxes) + 1}").start()
        _inboxes.append(inbox)
    return _inboxes


def _reset_after_fork():
    """A forked child has none of its parent's threads: start afresh."""
    global _active, _inboxes
    _active, _inboxes = threading.Lock(), []


_active = _inboxes = None
_reset_after_fork()
os.register_at_fork(after_in_child=_reset_after_fork)


def summed(kernel, n, shapes, dtype, parts=None):
    """Arrays of ``shapes``, each the sum of the partials of one kernel(lo, hi, *partials) call
    per thread (``parts`` of them; default one per thread), each on its own share of range(n).
    Partials start at zero, so a kernel may add into them or overwrite them."""
    parts = parts or min(n, thread_count()) or 1
    partials = [np.zeros((parts, *shape), dtype=dtype) for shape in shapes]

    def parts_from(t0, t1):
        for t in range(t0, t1):
            kernel(n * t // parts, n * (t + 1) // parts, *(p[t] for p in partials))
    run(parts_from, parts)
    return tuple(p[0] if parts == 1 else p.sum(axis=0) for p in partials)
