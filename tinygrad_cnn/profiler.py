"""tc.profiler: the time of every op, forward and backward, as torch.profiler and tinygrad's DEBUG.

``with tc.profiler.profile() as prof:`` records one ``Event`` for each Function applied
(its forward) and each graph node that backward runs; ``print(prof)`` prints them summed per
op. TINYGRAD_CNN_PROFILE=1 in the environment profiles the whole process and prints that
table to stderr at exit.

Profilers may nest or overlap, in one thread or in several: each one records every op that
any thread of the process runs between its start and its stop. Off, ``Function.apply`` and
the backward loop test ``active`` (an empty tuple) and do nothing else.
"""
import atexit
import os
import sys
import threading
import time
from typing import NamedTuple, Optional

active = ()   # the running profilers, read once per op by Function.apply and autograd
_lock = threading.Lock()
SORT_KEYS = ("total", "calls", "mean", "name")


class Event(NamedTuple):
    """One op run: Function name, phase, input shapes, device, kernel route (or None), ms.

    ``shapes`` are the op's input tensors' shapes; a backward event has those of the forward
    it reverses. ``route`` is what the op set as ``ctx.route`` (the kernels a plan chose).
    """

    op: str
    phase: str          # "forward" or "backward"
    shapes: tuple
    device: str
    route: Optional[str]
    ms: float

    @property
    def name(self):
        return _name(self.op, self.phase)


class OpTotal(NamedTuple):
    """The events of one op and phase (and input shapes, when grouped by them), summed."""

    name: str
    op: str
    phase: str
    shapes: Optional[tuple]   # None unless the totals were grouped by input shapes
    calls: int
    ms: float
    routes: tuple             # the routes seen, in order of first appearance

    @property
    def mean_ms(self):
        return self.ms / self.calls


def timed(fn, phase, ctx, tensors, run):
    """run(), timed as an event of every active profiler: Function ``fn``'s forward or
    backward on context ``ctx`` over input ``tensors``.

    On CUDA the device is synchronized before each clock reading, so the time is the
    kernels' and not their launch's.
    """
    device = tensors[0].device
    on_gpu = device == "cuda"
    if on_gpu:
        _synchronize()
    t0 = time.perf_counter()
    out = run()
    if on_gpu:
        _synchronize()
    ms = 1e3 * (time.perf_counter() - t0)
    event = Event(fn.__name__, phase, tuple(t.shape for t in tensors), str(device),
                  ctx.__dict__.get("route"), ms)
    for prof in active:
        prof.add(event)
    return out


def _synchronize():
    from numba import cuda  # only reached for a CUDA op, where numba.cuda is loaded already

    cuda.synchronize()


class profile:  # noqa: N801 - torch.profiler.profile's name
    """Record the ops run while active: a ``with`` block, or start() and stop().

    ``keep_events=False`` keeps only the sums that ``table()`` prints (for a long run);
    ``events`` then stays empty.
    """

    def __init__(self, keep_events=True):
        self.keep_events = keep_events
        self.events = []
        self._sums = {}   # (op, phase, shapes) -> [calls, ms, routes]

    def start(self):
        """Begin recording; returns the profiler."""
        global active
        with _lock:
            if self in active:
                raise RuntimeError("this profiler is already recording; make a new "
                                   "tc.profiler.profile() for a second block")
            active = active + (self,)
        return self

    def stop(self):
        """End recording (again is a no-op); the events stay readable."""
        global active
        with _lock:
            active = tuple(p for p in active if p is not self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def add(self, event):
        """Record one event (ops in several threads may add at once)."""
        with _lock:
            if self.keep_events:
                self.events.append(event)
            entry = self._sums.setdefault((event.op, event.phase, event.shapes), [0, 0.0, []])
            entry[0] += 1
            entry[1] += event.ms
            if event.route is not None and event.route not in entry[2]:
                entry[2].append(event.route)

    def totals(self, group_by_shape=False):
        """One OpTotal per op and phase (and input shapes), in order of first appearance."""
        merged = {}
        with _lock:
            sums = [(key, (calls, ms, list(routes)))
                    for key, (calls, ms, routes) in self._sums.items()]
        for (op, phase, shapes), (calls, ms, routes) in sums:
            key = (op, phase, shapes if group_by_shape else None)
            entry = merged.setdefault(key, [0, 0.0, []])
            entry[0] += calls
            entry[1] += ms
            entry[2] += [r for r in routes if r not in entry[2]]
        return [OpTotal(_name(op, phase), op, phase, shapes, calls, ms, tuple(routes))
                for (op, phase, shapes), (calls, ms, routes) in merged.items()]

    def table(self, sort_by="total", top=None, group_by_shape=False):
        """The totals as text, one row per op and phase: calls, total and mean ms, share of
        all recorded time, routes; sorted by "total", "calls", "mean" or "name"."""
        if sort_by not in SORT_KEYS:
            raise ValueError(f"table(sort_by={sort_by!r}): expected one of {', '.join(SORT_KEYS)}")
        rows = self.totals(group_by_shape)
        key = {"total": lambda r: -r.ms, "calls": lambda r: -r.calls,
               "mean": lambda r: -r.mean_ms, "name": lambda r: r.name}[sort_by]
        rows.sort(key=key)
        all_ms = sum(r.ms for r in rows)
        all_calls = sum(r.calls for r in rows)
        shown = rows if top is None else rows[:top]
        head = "op (input shapes)" if group_by_shape else "op"
        labels = [r.name + (" " + _shapes_text(r.shapes) if group_by_shape else "") for r in shown]
        width = max(len(label) for label in [head, "total"] + labels)
        lines = [f"{head:{width}} {'calls':>7} {'total ms':>10} {'mean ms':>9} {'share':>6}  "
                 f"routes"]
        for label, r in zip(labels, shown):
            share = 100 * r.ms / all_ms if all_ms else 0.0
            routes = ", ".join(r.routes) or "-"
            lines.append(f"{label:{width}} {r.calls:7d} {r.ms:10.3f} {r.mean_ms:9.3f} "
                         f"{share:5.1f}%  {routes}")
        if len(shown) < len(rows):
            lines.append(f"({len(rows) - len(shown)} more rows)")
        lines.append(f"{'total':{width}} {all_calls:7d} {all_ms:10.3f}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _name(op, phase):
    """torch's naming: "Conv2d" for a forward, "Conv2dBackward" for its backward."""
    return op if phase == "forward" else op + "Backward"


def _shapes_text(shapes):
    """(100, 1, 28, 28), (32,) -> "[100x1x28x28, 32]"."""
    return "[" + ", ".join("x".join(map(str, s)) or "scalar" for s in shapes) + "]"


def _profile_process():
    """TINYGRAD_CNN_PROFILE=1: one profiler for the whole process, its table on stderr at exit."""
    prof = profile(keep_events=False).start()

    def report():
        prof.stop()
        print("tinygrad_cnn profile (TINYGRAD_CNN_PROFILE=1), every op of this process:\n"
              + prof.table(), file=sys.stderr)
    atexit.register(report)


if os.environ.get("TINYGRAD_CNN_PROFILE", "0") not in ("", "0"):
    _profile_process()
