"""RMSprop, Adagrad, Adadelta and Adam(amsgrad) on "cuda" equal the same steps on "cpu"
(their update rules go through be.copy_into and the elementwise functions on each device)."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim

CONFIGS = [("RMSprop", dict(lr=0.02, momentum=0.5, centered=True, weight_decay=0.1)),
           ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2)),
           ("Adadelta", dict(weight_decay=0.05)),
           ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
           ("AdamW", dict(lr=0.01, amsgrad=True))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_optimizer_on_cuda_equals_cpu(name, kwargs, dtype):
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 5)).astype(dtype)
    grads = [rng.standard_normal((3, 5)).astype(dtype) for _ in range(4)]
    results = []
    for device in ("cpu", "cuda"):
        p = nn.Parameter(tc.Tensor(init.copy(), dtype=dtype).to(device))
        opt = getattr(optim, name)([p], **kwargs)
        for g in grads:
            p.grad = tc.Tensor(g, dtype=dtype).to(device)
            opt.step()
        assert p.device == device and p.dtype == dtype
        results.append(p.numpy())
    tol = dict(rtol=1e-12) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[1], results[0], **tol)
