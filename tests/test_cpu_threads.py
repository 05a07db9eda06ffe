"""backends/cpu/threads.run: every index once, in parallel where it pays, errors after all
ranges finished, and a working pool after errors, nesting and fork."""
import os
import threading
import time

import pytest
from hypothesis import given, strategies as st

from tinygrad_cnn.backends.cpu import threads as cpu_threads

MANY = cpu_threads.thread_count() >= 2
needs_threads = pytest.mark.skipif(not MANY, reason="one thread here (NUMBA_NUM_THREADS=1)")


def _record(n, grain=1):
    """[(lo, hi, thread name)] of the calls run() made over range(n)."""
    calls, lock = [], threading.Lock()

    def body(lo, hi):
        with lock:
            calls.append((lo, hi, threading.current_thread().name))
    cpu_threads.run(body, n, grain)
    return calls


@given(n=st.integers(0, 10_000), grain=st.integers(1, 5_000))
def test_ranges_cover_every_index_once(n, grain):
    calls = _record(n, grain)
    covered = sorted(i for lo, hi, _ in calls for i in range(lo, hi))
    assert covered == list(range(n))
    assert all(lo < hi for lo, hi, _ in calls)                 # no empty calls
    assert len(calls) <= max(1, min(cpu_threads.thread_count(), n // grain))


def test_small_work_stays_on_the_caller():
    calls = _record(99, grain=50)
    assert [(lo, hi) for lo, hi, _ in calls] == [(0, 99)]
    assert calls[0][2] == threading.current_thread().name
    assert _record(0) == []


@needs_threads
def test_large_work_runs_on_several_threads_at_once():
    """Each range waits until every other range has started: only concurrent threads pass."""
    parts = cpu_threads.thread_count()
    started = threading.Barrier(parts, timeout=10)
    names = []

    def body(lo, hi):
        names.append(threading.current_thread().name)
        started.wait()
    cpu_threads.run(body, parts)
    assert len(set(names)) == parts


@needs_threads
def test_worker_error_is_raised_after_every_range_finished():
    finished = []

    def body(lo, hi):
        if lo > 0:
            raise ValueError(f"range {lo}-{hi} failed")
        time.sleep(0.05)                                       # the caller's range is slower
        finished.append(lo)
    with pytest.raises(ValueError, match="failed"):
        cpu_threads.run(body, 10)
    assert finished == [0]
    assert sorted(i for lo, hi, _ in _record(10) for i in range(lo, hi)) == list(range(10))


def test_callers_error_waits_for_the_workers():
    finished = []

    def body(lo, hi):
        if lo == 0:
            raise KeyError("caller's range")
        time.sleep(0.05)
        finished.append(lo)
    with pytest.raises(KeyError):
        cpu_threads.run(body, 10)
    assert len(finished) == min(cpu_threads.thread_count(), 10) - 1    # every worker finished


def test_nested_run_stays_on_its_thread():
    inner = []

    def body(lo, hi):
        inner.extend(_record(hi - lo))
    cpu_threads.run(body, 1000)
    assert len(inner) == min(cpu_threads.thread_count(), 1000)
    assert all((lo, hi) == (0, hi) for lo, hi, _ in inner)   # each inner run in one call


@needs_threads
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_pool_works_in_a_forked_child():
    _record(100)                                               # the parent's workers exist
    pid = os.fork()
    if pid == 0:                                               # child: exit 0 when all is well
        try:
            calls = _record(100)
            ok = sorted(i for lo, hi, _ in calls for i in range(lo, hi)) == list(range(100))
            os._exit(0 if ok and len(calls) == cpu_threads.thread_count() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0



def _child_stdout(script, threads, timeout, lost):
    """The stdout of ``python -c script`` with NUMBA_NUM_THREADS=threads, which must exit 0
    within ``timeout`` seconds (else the test fails: run() still waiting, ``lost``)."""
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"run() still waiting after {timeout} s: {lost}")
    assert done.returncode == 0, done.stderr
    return done.stdout


CTRL_C_WHILE_WAITING = """
import _thread, random, threading, time
from tinygrad_cnn.backends.cpu import threads as cpu_threads
rng, interrupted, caught_with_worker_running = random.Random(0), 0, 0
cpu_threads.run(lambda lo, hi: None, 2)      # workers started, their kernels compiled:
#   an interrupt inside a first numba compile can corrupt llvmlite's objects (numba's own)
for _ in range({rounds}):
    running = []

    def body(lo, hi):
        if lo > 0:
            running.append(lo)
            time.sleep(rng.random() * 2e-4)
            running.remove(lo)

    timer = threading.Timer(rng.random() * 3e-4, _thread.interrupt_main)
    try:                                     # one interrupt per round, wherever it lands
        timer.start()
        cpu_threads.run(body, 2)
        timer.join()
    except KeyboardInterrupt:
        interrupted += 1
        caught_with_worker_running += bool(running)   # run() must not raise before that
        timer.join()
print(caught_with_worker_running, interrupted)
"""


@needs_threads
def test_ctrl_c_while_waiting_for_the_workers_never_hangs():
    """Ctrl-C (interrupt_main) at random moments of many two-range runs, in a child process
    with a time limit: an interrupt that landed just as the caller took a worker's answer
    from a queue once lost that answer, and run() waited for ever."""
    stdout = _child_stdout(CTRL_C_WHILE_WAITING.format(rounds=2000), cpu_threads.thread_count(),
                           60, "a worker's answer was lost")
    caught_with_worker_running, interrupted = map(int, stdout.split())
    assert caught_with_worker_running == 0           # raised only once every range finished
    assert interrupted > 0


INTERRUPT_AT_EVERY_OPCODE = """
import sys, threading, time
import numpy as np
from tinygrad_cnn.backends.cpu import threads as cpu_threads
parts = cpu_threads.thread_count()
counts, lock, running = np.zeros(parts, np.int64), threading.Lock(), [0]
on_caller = np.zeros(parts, bool)

def body(lo, hi):
    with lock:
        running[0] += 1
        counts[lo:hi] += 1
        on_caller[lo:hi] = threading.current_thread() is threading.main_thread()
    time.sleep(1e-3 if lo > 0 else 0)
    with lock:
        running[0] -= 1

def interrupting_at(k):
    seen = [0]
    def local(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            seen[0] += 1
            if seen[0] == k:
                raise KeyboardInterrupt
        return local
    def tracer(frame, event, arg):       # only the caller's frames in threads.py
        return local if frame.f_code.co_filename == cpu_threads.__file__ else None
    return tracer

cpu_threads.run(body, parts)             # workers started, kernels compiled
k = interrupted = 0
while True:
    k += 1
    counts[:] = 0
    sys.settrace(interrupting_at(k))
    try:
        cpu_threads.run(body, parts)
    except KeyboardInterrupt:
        interrupted += 1
    finally:
        sys.settrace(None)
    assert running[0] == 0, (k, "raised while a range ran")
    assert counts.max() <= 1, (k, "a range ran twice", counts)
    if interrupted < k:                  # the k-th opcode came after run() returned
        assert (counts == 1).all(), (k, counts)
        break
    counts[:] = 0
    cpu_threads.run(body, parts)         # and the pool still works, in parallel
    assert (counts == 1).all(), (k, "after the interrupt", counts)
    assert not on_caller[1:].any(), (k, "ran on the caller alone after the interrupt")
print(interrupted)
"""


@needs_threads
@pytest.mark.parametrize("threads", [2, 4])
def test_an_interrupt_at_any_opcode_of_the_caller_loses_nothing(threads):
    """A KeyboardInterrupt raised at each bytecode of run()'s caller side in turn (a tracer
    raises it at the k-th opcode in threads.py, for every k): run() raises it only once no
    range is running, never runs a range twice, and the pool works afterwards. Ctrl-C
    inside Condition.wait once left its lock released, and run() then raised RuntimeError
    ("cannot release un-acquired lock") instead of KeyboardInterrupt."""
    stdout = _child_stdout(INTERRUPT_AT_EVERY_OPCODE, threads, 120, "after an interrupt")
    assert int(stdout) > 100                # interrupted at every one of its opcodes


def test_workers_drop_the_task_they_ran():
    """A worker thread lets go of its last body (and the arrays it captured) when it is done,
    not when its next task arrives: a conv's output gradient is freed after the step."""
    import gc
    import weakref

    import numpy as np
    def filling(a):                     # a closure that holds the array itself
        return lambda lo, hi: a[lo:hi].fill(1.0)
    big = np.zeros(1 << 16)
    kept = weakref.ref(big)
    cpu_threads.run(filling(big), 1 << 16, grain=1)
    assert big.sum() == 1 << 16
    del big
    gc.collect()
    assert kept() is None



@needs_threads
@pytest.mark.parametrize("polls", [0, 1, None])
def test_back_to_back_runs_see_every_workers_writes(polls):
    """Many short runs in a row, the hand-offs by polling (settings.spin_polls; None: the
    default), by blocking (0), or mixed (1 poll): every value a worker wrote is there when
    run() returns, and the next run's ranges see the last run's values."""
    import numpy as np

    from tinygrad_cnn.backends.cpu.settings import override
    a = np.zeros(64, dtype=np.int64)

    def bump(lo, hi):
        a[lo:hi] += 1
    with override(**({} if polls is None else {"spin_polls": polls})):
        for k in range(1, 2001):
            cpu_threads.run(bump, a.size)
            assert a[0] == k and a[-1] == k, (k, a[0], a[-1])


@needs_threads
def test_runs_after_park_still_reach_the_workers():
    """park() (before NumPy's BLAS) sends polling workers to their queues; the next run()
    wakes them there and runs on several threads at once."""
    _record(100)
    cpu_threads.park()
    workers = cpu_threads._workers(0)
    assert all(w.flags[cpu_threads._PARKED] == 1 for w in workers)
    time.sleep(0.01)
    parts = cpu_threads.thread_count()
    started, names = threading.Barrier(parts, timeout=10), []

    def body(lo, hi):
        names.append(threading.current_thread().name)
        started.wait()
    cpu_threads.run(body, parts)
    assert len(set(names)) == parts
    assert all(w.flags[cpu_threads._PARKED] == 0 for w in workers[:parts - 1])   # poll again
