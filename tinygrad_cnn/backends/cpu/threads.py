"""Fork-join over the CPU's cores for the CPU backend's @njit kernels.

The kernels are serial loops (``@njit(nogil=True)``) over whatever images, row blocks or
elements they are handed. ``run(body, n)`` splits range(n) into one contiguous range per
thread, calls ``body(lo, hi)`` for every range at once (the first on the calling thread,
the others on persistent worker threads) and returns when all are done. The kernels
release the GIL, so the ranges run in parallel.

Hand-offs poll rather than sleep at first (kernels/cpu/spin.py): a worker that finished a
range polls its flag for the next one (settings.spin_polls polls, about 2 ms) before it
blocks on its queue, and the caller polls the workers' flags for their end before it blocks
on a condition. A step's ops come one after another, so the next range usually arrives
while the worker still polls; blocking at each hand-off cost 45-60 us a run(), and more
when the VM was slow (bench/RESULTS.md, session 17). park() stops the polls before NumPy's
multi-threaded BLAS, whose own threads then have the cores.

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
from tinygrad_cnn.kernels.cpu import spin

_POSTED, _PARKED, _FINISHED, _NEVER = 0, 4, 8, 12
"""A worker's flags (int64, 0 or 1): a range waits in its queue, it should not poll
(park()), it finished its range (64 bytes from the others), and one that stays 0 (the
caller's polls for the end have no stop flag). They are hints: the queue and _Call decide,
so a stale flag (a Ctrl-C between a post and its flag, a worker that cleared _POSTED
before the caller raised it) costs one wait in the queue, never a range."""


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


def park():
    """Stop the workers' polls for their next range (they block on their queues at once):
    before work that runs other threads on these cores, NumPy's multi-threaded BLAS."""
    for worker in _pool:
        worker.flags[_PARKED] = 1


def per_image(shape):
    """Elements per image of an array of this shape (also when the batch is empty)."""
    return int(np.prod(shape[1:]))


def over_images(body, N, per_image):
    """run() over N images of ``per_image`` elements (or multiply-adds) of work each."""
    run(body, N, grain=-(-settings.part_elements // (per_image or 1)))


def _run_split(body, n, parts):
    workers = _workers(parts - 1)[:parts - 1]
    bounds = [n * t // parts for t in range(parts + 1)]
    call = _Call(parts - 1)
    for t, worker in enumerate(workers, start=1):
        worker.post((call, body, bounds[t], bounds[t + 1]))
    errors = []
    try:                            # raised flags: only hints, so after the posts
        for worker in workers:
            worker.raise_posted()
        body(bounds[0], bounds[1])
    except BaseException as e:      # noqa: B902 (re-raised below, once the workers are done)
        errors.append(e)
    polls = settings.spin_polls // len(workers)        # one budget for all the polls
    while True:
        try:
            for worker in workers:
                worker.poll_finished(polls)
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


class _Worker:
    """A persistent worker thread, its queue of ranges, and its flags (_POSTED, _PARKED,
    _FINISHED). Only the run() that holds _active posts to it, one range at a time."""

    def __init__(self, name):
        self.inbox, self.flags = queue.SimpleQueue(), np.zeros(16, np.int64)
        threading.Thread(target=self._serve, daemon=True, name=name).start()

    def post(self, task):
        """Queue a range (raise_posted then says so)."""
        self.flags[_FINISHED] = self.flags[_PARKED] = 0
        self.inbox.put(task)

    def raise_posted(self):
        """Raise _POSTED: the range posted is in the queue."""
        spin.publish(self.flags, _POSTED, 1)

    def poll_finished(self, polls):
        """Poll, for at most ``polls`` polls, until its range has finished."""
        spin.wait_while(self.flags, _FINISHED, 0, _NEVER, polls)

    def _serve(self):
        """The worker's loop. It drops its task before waiting for the next: a body's
        closure holds the arrays of its op (a conv's output gradient), which would
        otherwise live on until the next task reached this worker."""
        spin.wait_while(self.flags, _POSTED, 0, _PARKED, settings.spin_polls)
        while True:
            call, body, lo, hi = self.inbox.get()
            self.flags[_POSTED] = 0
            try:
                body(lo, hi)
            except BaseException as e:  # noqa: B902 (handed to the caller)
                error = e
            else:
                error = None
            body = None
            call.finish(error)
            call = error = None
            spin.publish_then_wait(self.flags, _FINISHED, 1, _POSTED, 0, _PARKED,
                                   settings.spin_polls)


def _workers(count):
    """At least ``count`` workers, started on first use (the polls' kernels loaded first,
    on this thread: numba's first call imports modules, which a Ctrl-C landing in two
    threads' imports at once could deadlock)."""
    if not _pool:
        flags = np.zeros(16, np.int64)
        spin.publish_then_wait(flags, _FINISHED, 1, _POSTED, 0, _PARKED, 0)
        spin.publish(flags, _POSTED, 0)
        spin.wait_while(flags, _POSTED, 0, _NEVER, 0)
    while len(_pool) < count:
        _pool.append(_Worker(f"tinygrad_cnn-cpu-{len(_pool) + 1}"))
    return _pool


def _reset_after_fork():
    """A forked child has none of its parent's threads: start afresh."""
    global _active, _pool
    _active, _pool = threading.Lock(), []


_active = _pool = None
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
