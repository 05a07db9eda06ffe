"""StepLR, CosineAnnealingLR and OneCycleLR: the lr (and momentum) sequence equals torch's."""
import warnings

import numpy as np
import pytest

from tinygrad_cnn import nn, optim
from tinygrad_cnn.optim import lr_scheduler

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
STEPS = 30


def _pair(opt_name, opt_kwargs):
    p, q = nn.Parameter(np.ones(2)), torch.ones(2, requires_grad=True)
    return (getattr(optim, opt_name)([p], **opt_kwargs),
            getattr(torch.optim, opt_name)([q], **opt_kwargs))


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def _sequences(opt_name, opt_kwargs, sched_name, sched_kwargs, steps=STEPS):
    """Per-step (lr, momentum) from ours and torch, stepping each optimizer before its scheduler."""
    opt_o, opt_t = _pair(opt_name, opt_kwargs)
    s_o = getattr(lr_scheduler, sched_name)(opt_o, **sched_kwargs)
    s_t = getattr(torch.optim.lr_scheduler, sched_name)(opt_t, **sched_kwargs)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            ours.append((s_o.get_last_lr()[0], _momentum(opt_o.param_groups[0])))
            theirs.append((s_t.get_last_lr()[0], _momentum(opt_t.param_groups[0])))
            opt_o.step()
            opt_t.step()
            s_o.step()
            s_t.step()
    return ours, theirs


CASES = [
    ("SGD", dict(lr=0.1), "StepLR", dict(step_size=7)),
    ("SGD", dict(lr=0.1), "StepLR", dict(step_size=4, gamma=0.5)),
    ("Adam", dict(lr=0.01), "CosineAnnealingLR", dict(T_max=10)),
    ("SGD", dict(lr=0.1), "CosineAnnealingLR", dict(T_max=8, eta_min=0.001)),
    ("SGD", dict(lr=0.1, momentum=0.9), "OneCycleLR", dict(max_lr=0.5, total_steps=STEPS + 1)),
    ("Adam", dict(lr=0.01), "OneCycleLR", dict(max_lr=0.05, epochs=4, steps_per_epoch=8)),
    ("Adam", dict(), "OneCycleLR", dict(max_lr=0.05, total_steps=STEPS + 1,
                                        anneal_strategy="linear", three_phase=True)),
    ("SGD", dict(lr=0.1, momentum=0.9), "OneCycleLR",
     dict(max_lr=0.3, total_steps=STEPS + 1, pct_start=0.25, div_factor=10.0,
          final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9)),
    ("SGD", dict(lr=0.1), "OneCycleLR", dict(max_lr=0.3, total_steps=STEPS + 1,
                                             cycle_momentum=False)),
]


@requires_torch
@pytest.mark.parametrize("opt_name, opt_kwargs, sched_name, sched_kwargs", CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_matches_torch(opt_name, opt_kwargs, sched_name, sched_kwargs):
    ours, theirs = _sequences(opt_name, opt_kwargs, sched_name, sched_kwargs)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12, atol=1e-15)


def test_one_cycle_defaults_and_shape():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(99):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[0] == pytest.approx(1.0 / 25)             # div_factor 25
    assert max(lrs) == pytest.approx(1.0, rel=1e-3)      # peak near pct_start 0.3
    assert int(np.argmax(lrs)) in (29, 30)
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)      # final_div_factor 1e4
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)


def test_one_cycle_refuses_to_step_past_total():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times; .* total steps is 3"):
        sched.step()


def test_scheduler_argument_errors():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="total_steps or both epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start between 0 and 1, got 1.5"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Optimizer([nn.Parameter(np.ones(1))], {"lr": 0.1}),
                                max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="positive integer step_size, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)


@pytest.mark.parametrize("sched_name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=20)),
])
def test_scheduler_state_dict_round_trip_continues_identically(sched_name, kwargs):
    def make():
        opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
        return opt, getattr(lr_scheduler, sched_name)(opt, **kwargs)

    opt_a, sched_a = make()
    for _ in range(6):
        sched_a.step()
    opt_b, sched_b = make()
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    for _ in range(8):
        sched_a.step()
        sched_b.step()
        assert sched_a.get_last_lr() == sched_b.get_last_lr()
        assert opt_a.param_groups[0]["momentum"] == opt_b.param_groups[0]["momentum"]
