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
import sys
import threading
import weakref

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
    if parts < 2 or not _claim():
        if n > 0:
            body(0, n)
        return
    try:
        _run_split(body, n, parts)
    finally:
        _active.release()


def _claim():
    """Take _active for this thread's run(): False while another thread's run() holds it,
    or when this call comes from within one of this thread's ranges.

    A Ctrl-C landing between the acquire and the ``try`` above, or between the ``finally``
    and its release, leaves this thread holding _active with no run() under way; the next
    run() on this thread takes it over (it is an RLock, which knows its owner)."""
    if _active._is_owned():
        return not _within_split()
    return _active.acquire(blocking=False)


def _within_split():
    """Whether this thread is inside _run_split (calling its first range)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not _run_split.__code__:
        frame = frame.f_back
    return frame is not None


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
    tasks = [(call, body, bounds[t], bounds[t + 1]) for t in range(1, parts)]
    errors, posted, first = [], 0, True
    polls = settings.spin_polls // len(workers)        # one budget for all the polls
    while True:         # one try, so that a Ctrl-C anywhere in it still waits (see _Call)
        try:
            while posted < len(workers):
                workers[posted].post(tasks[posted])
                posted += 1
            if first and not errors:
                first = False
                for worker in workers:  # raised flags: only hints, so after the posts
                    worker.raise_posted()
                body(bounds[0], bounds[1])
            for worker in workers:
                worker.poll_finished(polls)
            call.wait()
            break
        except BaseException as e:  # noqa: B902 (re-raised below, once the workers are done)
            errors.append(e)
    errors += call.errors
    if errors:
        raise errors[0]


class _Call:
    """One run()'s ranges out on the workers: how many have not finished, and their errors.

    The caller thread takes Python's signals (Ctrl-C), which raise at any bytecode, so each
    step of the caller's side is one it can repeat after an interrupt:

    - A post is repeated when an interrupt lands after the queue took it but before the
      caller counted it. A worker runs a call's range once and drops a second copy
      (``_Worker.ran``).
    - The wait is a plain lock, ``done``, that the worker finishing the last range releases
      after it set ``pending`` to 0. An interrupted acquire does not take the lock, and an
      interrupt after the acquire finds ``pending`` at 0, so the wait is simply entered
      again. A condition would not do: an interrupt inside Condition.wait can leave its
      lock released, and the ``with`` then fails with "cannot release un-acquired lock"
      (seen in CI's SIGINT test). A queue of answers lost the answer taken just before an
      interrupt, and run() then waited for ever.

    Workers take no signals, so their side can use an ordinary lock.
    """

    def __init__(self, pending):
        self.pending, self.errors = pending, []
        self.lock, self.done = threading.Lock(), threading.Lock()
        self.done.acquire()

    def finish(self, error):
        """A worker's range ended (``error``: what it raised, or None)."""
        with self.lock:
            if error is not None:
                self.errors.append(error)
            self.pending -= 1
            last = self.pending == 0
        if last:
            self.done.release()

    def wait(self):
        """Return once every range has finished."""
        while self.pending:
            self.done.acquire()


class _Worker:
    """A persistent worker thread, its queue of ranges, and its flags (_POSTED, _PARKED,
    _FINISHED). Only the run() that holds _active posts to it, one range at a time."""

    def __init__(self, name):
        self.inbox, self.flags = queue.SimpleQueue(), np.zeros(16, np.int64)
        # The _Call whose range this worker ran last, to drop a second copy of it; weak,
        # since a call's errors hold tracebacks, and they hold arrays.
        self.ran = None
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
            if self.ran is not None and self.ran() is call:
                call = body = None          # a repeated post of the range just run
                continue
            self.ran = weakref.ref(call)
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
    _active, _pool = threading.RLock(), []


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
