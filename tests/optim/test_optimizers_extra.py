"""RMSprop, Adagrad, Adadelta and Adam(amsgrad) against torch.optim step by step (same
parameters, same gradients, many steps), per-group options, and state_dict round trips."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (2, 1, 3, 3)]
STEPS = 25
TOLS = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}

CONFIGS = [
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.02, alpha=0.9, eps=1e-6, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3,
                     eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.05, maximize=True)),
    ("Adam", dict(amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.99), amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.3)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _data(dtype, steps=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _params(init, dtype):
    return ([nn.Parameter(tc.Tensor(a.copy(), dtype=dtype)) for a in init],
            [torch.tensor(a.copy(), requires_grad=True) for a in init])


def _step(opt_o, opt_t, ours, theirs, grads, dtype):
    for p, q, g in zip(ours, theirs, grads):
        p.grad = tc.Tensor(g.copy(), dtype=dtype)
        q.grad = torch.tensor(g.copy())
    opt_o.step()
    opt_t.step()


def _assert_same(ours, theirs, dtype, step):
    for k, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), **TOLS[dtype],
                                   err_msg=f"parameter {k} after step {step}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_step_by_step(name, kwargs, dtype):
    init, grads = _data(dtype)
    ours, theirs = _params(init, dtype)
    opt_o, opt_t = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs,
                                                                                   **kwargs)
    for step in range(STEPS):
        _step(opt_o, opt_t, ours, theirs, grads[step], dtype)
        _assert_same(ours, theirs, dtype, step)
        assert all(p.dtype == dtype for p in ours)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_parameter_groups_take_their_own_options(name, kwargs):
    init, grads = _data(np.float64)
    ours, theirs = _params(init, np.float64)
    extra = {"lr": 0.003, "weight_decay": 0.2}
    make = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], **extra}]  # noqa: E731
    opt_o, opt_t = getattr(optim, name)(make(ours), **kwargs), getattr(torch.optim, name)(
        make(theirs), **kwargs)
    assert opt_o.param_groups[1]["lr"] == 0.003 and opt_o.param_groups[0]["lr"] != 0.003
    for step in range(10):
        _step(opt_o, opt_t, ours, theirs, grads[step], np.float64)
    _assert_same(ours, theirs, np.float64, 10)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    init, grads = _data(np.float64)
    ours, theirs = _params(init, np.float64)
    opt_o, opt_t = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs,
                                                                                   **kwargs)
    for step in range(5):
        _step(opt_o, opt_t, ours, theirs, grads[step], np.float64)
    saved = opt_o.state_dict()
    mine, torchs = saved["state"][0], opt_t.state_dict()["state"][0]
    assert set(mine) == set(torchs), f"state keys differ: {sorted(mine)} vs {sorted(torchs)}"
    for key, value in torchs.items():
        np.testing.assert_allclose(np.asarray(mine[key], dtype=np.float64),
                                   np.asarray(value, dtype=np.float64), rtol=1e-9, err_msg=key)
    copies = [nn.Parameter(tc.Tensor(p.numpy().copy(), dtype=np.float64)) for p in ours]
    restored = getattr(optim, name)(copies, **kwargs)
    restored.load_state_dict(saved)
    for step in range(5, 10):
        _step(opt_o, opt_t, ours, theirs, grads[step], np.float64)
        for p, g in zip(copies, grads[step]):
            p.grad = tc.Tensor(g.copy(), dtype=np.float64)
        restored.step()
    for p, q in zip(copies, ours):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_hyper_parameter_errors():
    p = [nn.Parameter(tc.Tensor.zeros(2))]
    with pytest.raises(ValueError, match="invalid learning rate: -1.0"):
        optim.RMSprop(p, lr=-1.0)
    with pytest.raises(ValueError, match="invalid rho value: 1.5"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="differentiable=True. is not supported"):
        optim.Adagrad(p, differentiable=True)
