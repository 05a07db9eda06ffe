"""Kernels tested under the simulator also compile for a real GPU.

The simulator runs kernels as Python, so it accepts code that numba's CUDA compiler
would reject (a type that does not unify, an unsupported call). This test records every
launch of a workload that touches each kernel in float32 and float64, then compiles each
distinct (kernel, argument types) to PTX for sm_80 in a subprocess without the simulator,
and checks that float32 kernels do their arithmetic in float32 (no f64 instructions).
It is skipped where libNVVM is missing, and on a real GPU, where the kernels really run.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn.nn.functional as F
from cuda_helpers import backend, dev, simulated
from strategies import arrays
from tinygrad_cnn import Tensor
from tinygrad_cnn.backends.cuda import launch as rt

HERE = Path(__file__).parent


def _spec(value):
    if hasattr(value, "copy_to_host"):             # a (simulated) device array
        layout = "C" if value.is_c_contiguous() else "A"
        return ["array", np.dtype(value.dtype).str, value.ndim, layout]
    if isinstance(value, tuple):
        return ["tuple", [_spec(v) for v in value]]
    if isinstance(value, (bool, np.bool_)):
        return ["boolean"]
    if isinstance(value, int):
        return ["scalar", "int64"]
    if isinstance(value, float):
        return ["scalar", "float64"]
    return ["scalar", np.dtype(type(value)).str]


def _workload(dtype):
    """Every backend function, so that every kernel launches with this dtype."""
    be = backend()
    a, b = dev(arrays((3, 4), 0, dtype)), dev(arrays((4,), 1, dtype))
    for f in (be.add, be.sub, be.mul, be.div, be.maximum, be.minimum, be.equal,
              be.not_equal, be.less, be.less_equal, be.greater, be.greater_equal):
        f(a, b)
        f(a, dtype(2))
    be.power(be.abs(a), b)
    for f in (be.neg, be.exp, be.log, be.sqrt, be.abs, be.tanh, be.sign, be.sigmoid, be.relu):
        f(a)
    be.clip(a, -0.5, None), be.leaky_relu(a, 0.1), be.elu(a, 1.0)
    be.relu_backward(a, a), be.leaky_relu_backward(a, a, 0.1), be.elu_backward(a, a, 1.0)
    be.where(be.greater(a, b), a, dtype(0))
    big = dev(arrays((2, 70, 3), 2, dtype))
    be.sum(big, axis=1), be.sum(big, axis=2), be.max(big, axis=(0, 1)), be.argmax(a, axis=1)
    be.sum(be.greater(a, b)), be.max(dev(np.arange(6)), axis=0), be.astype(a, np.int64)
    be.softmax(a, 0), be.log_softmax(a, 1), be.full((2,), 1, dtype), be.arange(3)
    target = dev(np.array([0, 3, 1]))
    loss, logp = be.cross_entropy_forward(a, target, 0.1)
    be.cross_entropy_backward(loss, logp, target, 0.1)
    be.getitem(a, (slice(None), 1)), be.getitem(a, (be.arange(3), target))
    be.getitem(a, (slice(None), np.array([0, 0])))
    be.index_add((3, 4), (be.arange(3), target), loss), be.index_add((3, 4), 1, b)
    be.concatenate([a, a], 1), be.broadcast_to(b, (2, 4)), be.matmul(a, be.transpose(a, (1, 0)))
    x = Tensor(arrays((2, 2, 5, 5), 3), dtype=dtype, requires_grad=True, device="cuda")
    w = Tensor(arrays((4, 1, 3, 3), 4), dtype=dtype, requires_grad=True, device="cuda")
    bias = Tensor(arrays((4,), 5), dtype=dtype, requires_grad=True, device="cuda")
    y = F.conv2d(x, w, bias, padding=1, groups=2)
    z = F.max_pool2d(y, 2) + F.avg_pool2d(y, 2) + F.adaptive_avg_pool2d(y, 2)
    F.max_pool2d(y, 2, return_indices=True)
    z.sum().backward()
    p = a
    be.sgd_update(p, a, None, 0.1, 0.9, 0, True, 0.01), be.sgd_update(p, a, None, 0.1, 0, 0, False, 0)
    be.adam_update(p, a, be.zeros((3, 4), dtype), be.zeros((3, 4), dtype), 1, 1e-3, 0.9, 0.999,
                   1e-8, 0.01, True)


def test_every_launched_kernel_compiles_to_ptx():
    if not simulated():
        pytest.skip("on a GPU the kernels really run; this check is for the simulator")
    with rt.recording() as calls:
        for dtype in (np.float32, np.float64):
            _workload(dtype)
    seen = {}
    for kernel, args in calls:
        fn = getattr(kernel, "fn", None) or kernel.py_func
        entry = [fn.__module__, fn.__name__, [_spec(a) for a in args]]
        seen[json.dumps(entry)] = entry
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(HERE / "ptx_check.py")], input=json.dumps(list(
        seen.values())), capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode == 77:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(seen) > 40     # the workload reached the kernels
