"""MultiStepLR, ExponentialLR, LambdaLR, LinearLR, CosineAnnealingWarmRestarts and
ReduceLROnPlateau: the lr sequences equal torch's, per param group, and state_dicts resume."""
import math
import warnings

import numpy as np
import pytest

from tinygrad_cnn import nn, optim
from tinygrad_cnn.optim import lr_scheduler

torch = pytest.importorskip("torch")
STEPS = 40


def _pair(opt_name="SGD", groups=2):
    """Our and torch's optimizer over ``groups`` param groups with different lrs."""
    ps = [nn.Parameter(np.ones(2)) for _ in range(groups)]
    qs = [torch.ones(2, requires_grad=True) for _ in range(groups)]
    make = lambda xs: [{"params": [x], "lr": 0.1 * (k + 1)} for k, x in enumerate(xs)]  # noqa: E731
    return getattr(optim, opt_name)(make(ps), lr=0.1), getattr(torch.optim, opt_name)(
        make(qs), lr=0.1)


CASES = [
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e) ** 0.5)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 + (e % 3)])),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=12)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01)),
]


def _run(opt, sched, steps=STEPS):
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            lrs.append(sched.get_last_lr())
            opt.step()
            sched.step()
    return lrs


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_matches_torch(name, kwargs):
    opt_o, opt_t = _pair()
    ours = _run(opt_o, getattr(lr_scheduler, name)(opt_o, **kwargs))
    theirs = _run(opt_t, getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs))
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_with_fractional_epochs(T_mult):
    opt_o, opt_t = _pair(groups=1)
    s_o = lr_scheduler.CosineAnnealingWarmRestarts(opt_o, T_0=2, T_mult=T_mult)
    s_t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt_t, T_0=2, T_mult=T_mult)
    for epoch in range(7):
        for i in range(4):
            s_o.step(epoch + i / 4)
            s_t.step(epoch + i / 4)
            assert s_o.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=2),
                                    dict(threshold_mode="abs", threshold=0.05, cooldown=2,
                                         patience=1, min_lr=[0.02, 0.05])])
def test_reduce_on_plateau_matches_torch(kwargs):
    opt_o, opt_t = _pair("Adam")
    s_o = lr_scheduler.ReduceLROnPlateau(opt_o, **kwargs)
    s_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kwargs)
    rng = np.random.default_rng(0)
    metric = 1.0
    for _ in range(60):
        metric = metric * 0.995 + rng.normal() * 0.02       # improving, then noisy
        s_o.step(metric)
        s_t.step(metric)
        assert [g["lr"] for g in opt_o.param_groups] == pytest.approx(
            [g["lr"] for g in opt_t.param_groups], rel=1e-12)
        assert s_o.num_bad_epochs == s_t.num_bad_epochs and s_o.best == s_t.best
    assert s_o.get_last_lr() == pytest.approx(s_t.get_last_lr())


@pytest.mark.parametrize("name,kwargs", CASES[:1] + CASES[2:3] + CASES[5:])
def test_state_dict_resumes(name, kwargs):
    def make():
        opt, _ = _pair()
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)
    opt_a, sched_a = make()
    _run(opt_a, sched_a, 9)
    opt_b, sched_b = make()
    opt_b.load_state_dict(opt_a.state_dict())
    state = sched_a.state_dict()
    assert not any(callable(v) for v in state.values())
    sched_b.load_state_dict(state)
    assert _run(opt_a, sched_a, 12) == _run(opt_b, sched_b, 12)


def test_argument_errors():
    opt, _ = _pair()
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="lr_lambda has 3 values, the optimizer has 2"):
        lr_scheduler.LambdaLR(opt, [math.cos] * 3)
    with pytest.raises(ValueError, match="T_mult >= 1"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)


def test_reduce_on_plateau_takes_a_loss_tensor():
    opt, _ = _pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    import tinygrad_cnn as tc
    sched.step(tc.Tensor(1.0))
    sched.step(tc.Tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.02])
