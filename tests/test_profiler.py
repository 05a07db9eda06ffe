"""tc.profiler: events of forward and backward ops, their table, nesting, the env var, and
the Function.apply seam importing nothing above it."""
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, profiler
from tinygrad_cnn.function import Function

REPO = Path(__file__).resolve().parent.parent


def _conv_net():
    tc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def _train_step(model):
    x, y = tc.randn(2, 1, 8, 8), tc.tensor([0, 2])
    F.cross_entropy(model(x), y).backward()


class _Routed(Function):
    """Identity that names a route, as a planned op does."""

    @staticmethod
    def forward(ctx, x):
        ctx.route = "test-route"
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_conv_net_records_conv_forward_and_backward_with_shapes_and_device():
    model = _conv_net()
    with profiler.profile() as prof:
        _train_step(model)
    conv = [e for e in prof.events if e.op == "Conv2d"]
    assert [e.phase for e in conv] == ["forward", "backward"]
    assert [e.name for e in conv] == ["Conv2d", "Conv2dBackward"]
    for e in conv:
        assert e.shapes == ((2, 1, 8, 8), (4, 1, 3, 3), (4,))
        assert e.device == "cpu" and e.ms >= 0
    # the ReLU runs inside the MaxPool2d op (nn/fusion.py: a ReLU then a max pool)
    assert {e.op for e in prof.events} >= {"Conv2d", "MaxPool2d", "MatMul", "CrossEntropy"}
    forward_ops = [e.op for e in prof.events if e.phase == "forward"]
    backward_ops = [e.op for e in prof.events if e.phase == "backward"]
    assert forward_ops[0] == "Conv2d" and backward_ops[-1] == "Conv2d"   # backward in reverse


def test_route_the_op_sets_is_recorded_else_none():
    x = tc.ones(3, requires_grad=True)
    with profiler.profile() as prof:
        _Routed.apply(x).sum().backward()
    routed = [e for e in prof.events if e.op == "_Routed"]
    assert [(e.phase, e.route) for e in routed] == [("forward", "test-route"),
                                                    ("backward", "test-route")]
    assert all(e.route is None for e in prof.events if e.op == "Sum")
    assert "test-route" in prof.table()


def test_table_sums_match_the_events():
    with profiler.profile() as prof:
        _train_step(_conv_net())
        _train_step(_conv_net())
    totals = prof.totals()
    assert sum(r.calls for r in totals) == len(prof.events)
    for r in totals:
        mine = [e for e in prof.events if e.op == r.op and e.phase == r.phase]
        assert r.calls == len(mine) and r.calls % 2 == 0   # two steps, the same ops
        assert r.ms == pytest.approx(sum(e.ms for e in mine))
        assert r.mean_ms == pytest.approx(r.ms / r.calls)
    by_shape = prof.totals(group_by_shape=True)
    assert sum(r.ms for r in by_shape) == pytest.approx(sum(e.ms for e in prof.events))
    text = prof.table()
    assert str(prof) == text
    last = text.splitlines()[-1].split()
    assert last[0] == "total" and int(last[1]) == len(prof.events)
    assert float(last[2]) == pytest.approx(sum(e.ms for e in prof.events), abs=1e-3)
    rows = text.splitlines()[1:-1]
    assert len(rows) == len(totals) and "Conv2dBackward" in text
    ms = [float(row.split()[2]) for row in rows]
    assert ms == sorted(ms, reverse=True)   # sort_by="total"


def test_table_options():
    with profiler.profile() as prof:
        _train_step(_conv_net())
    short = prof.table(top=2, sort_by="calls")
    assert "more rows" in short and len(short.splitlines()) == 1 + 2 + 1 + 1
    names = [line.split()[0] for line in prof.table(sort_by="name").splitlines()[1:-1]]
    assert names == sorted(names)
    assert "[2x1x8x8, 4x1x3x3, 4]" in prof.table(group_by_shape=True)
    with pytest.raises(ValueError, match="sort_by='fastest'"):
        prof.table(sort_by="fastest")


def test_off_records_nothing():
    a, b = tc.ones(2), tc.ones(2)
    prof = profiler.profile()
    a + b                     # never started
    with prof:
        a + b
    a + b                     # stopped
    assert [e.op for e in prof.events] == ["Add"]
    assert prof not in profiler.active


def test_keep_events_false_keeps_only_the_sums():
    with profiler.profile(keep_events=False) as prof:
        tc.ones(2) + tc.ones(2)
    assert prof.events == [] and [(r.name, r.calls) for r in prof.totals()] == [("Add", 1)]


def test_nested_and_overlapping_profilers_each_see_their_span():
    a = tc.ones(2)
    with profiler.profile() as outer:
        a + a
        with profiler.profile() as inner:
            a * a
        a - a
    assert [e.op for e in outer.events] == ["Add", "Mul", "Sub"]
    assert [e.op for e in inner.events] == ["Mul"]
    late = profiler.profile().start()
    with pytest.raises(RuntimeError, match="already recording"):
        late.start()
    late.stop()
    late.stop()               # again is a no-op
    assert not {outer, inner, late} & set(profiler.active)


def test_ops_of_other_threads_are_recorded():
    with profiler.profile() as prof:
        worker = threading.Thread(target=lambda: tc.ones(2) * tc.ones(2))
        worker.start()
        worker.join()
    assert [e.op for e in prof.events] == ["Mul"]


def test_an_exception_in_the_block_ends_profiling():
    with pytest.raises(ZeroDivisionError):
        with profiler.profile() as prof:
            tc.ones(2) + tc.ones(2)
            1 / 0
    assert prof not in profiler.active
    tc.ones(2) + tc.ones(2)
    assert len(prof.events) == 1


def test_env_var_profiles_the_process_and_prints_the_table_at_exit():
    script = ("import tinygrad_cnn as tc\n"
              "a = tc.ones(2, 3, requires_grad=True)\n"
              "(a @ tc.ones(3, 2)).sum().backward()\n")
    env = dict(os.environ, TINYGRAD_CNN_PROFILE="1", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "TINYGRAD_CNN_PROFILE=1" in done.stderr
    for name in ("MatMul", "MatMulBackward", "Sum", "SumBackward", "total"):
        assert name in done.stderr
    quiet = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                           text=True, timeout=300,
                           env=dict(os.environ, TINYGRAD_CNN_PROFILE="0", PYTHONPATH=str(REPO)))
    assert quiet.returncode == 0 and "total" not in quiet.stderr


def test_function_and_autograd_import_nothing_above_them():
    """The op seam (Function.apply, backward) sits below Tensor: importing it alone, with a
    bare package (no __init__), loads neither tensor.py nor nn/."""
    script = ("import importlib, sys, types\n"
              "pkg = types.ModuleType('tinygrad_cnn'); pkg.__path__ = ['tinygrad_cnn']\n"
              "sys.modules['tinygrad_cnn'] = pkg\n"
              "importlib.import_module('tinygrad_cnn.function')\n"
              "importlib.import_module('tinygrad_cnn.autograd')\n"
              "print(' '.join(sorted(m for m in sys.modules if m.startswith('tinygrad_cnn'))))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "tinygrad_cnn.function" in loaded and "tinygrad_cnn.autograd" in loaded
    assert not loaded & {"tinygrad_cnn.tensor", "tinygrad_cnn.nn", "tinygrad_cnn.ops"}


def test_results_stay_plain_tensors_and_gradients_reach_leaves():
    w = nn.Parameter(tc.ones(3))
    out = w * 2
    assert type(out) is tc.Tensor
    out.sum().backward()
    assert type(w.grad) is tc.Tensor
    np.testing.assert_array_equal(w.grad.numpy(), [2, 2, 2])
    x = tc.ones(2, requires_grad=True)
    (x * 3).backward(gradient=tc.tensor([1.0, 2.0]))
    (x * 3).backward(gradient=np.array([1.0, 1.0], np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), [6, 9])
