"""Optimizer state_dict: torch's layout, saved to a checkpoint file, resumed bit-for-bit."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
from tinygrad_cnn.checkpoint import load, save
from tinygrad_cnn.optim import lr_scheduler


def _model():
    tc.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _batches(n):
    rng = np.random.default_rng(1)
    return [(tc.Tensor(rng.standard_normal((5, 3)).astype(np.float32)),
             tc.Tensor(rng.integers(0, 2, 5))) for _ in range(n)]


def _train(model, opt, batches, sched=None):
    for x, y in batches:
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
    lambda ps: optim.AdamW(ps, lr=0.01),
]


@pytest.mark.parametrize("make_opt", OPTIMIZERS, ids=["sgd", "adam", "adamw"])
@pytest.mark.parametrize("with_scheduler", [False, True])
def test_resume_from_file_equals_uninterrupted_training(tmp_path, make_opt, with_scheduler):
    batches = _batches(6)
    make_sched = (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=6)) \
        if with_scheduler else (lambda o: None)

    straight = _model()
    opt = make_opt(straight.parameters())
    _train(straight, opt, batches, make_sched(opt))

    first = _model()
    opt = make_opt(first.parameters())
    sched = make_sched(opt)
    _train(first, opt, batches[:3], sched)
    save({"model": first.state_dict(), "optim": opt.state_dict(),
          "sched": sched.state_dict() if sched else None}, tmp_path / "ckpt")

    ckpt = load(tmp_path / "ckpt")
    resumed = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    resumed.load_state_dict(ckpt["model"])
    opt = make_opt(resumed.parameters())
    sched = make_sched(opt)
    opt.load_state_dict(ckpt["optim"])
    if sched:
        sched.load_state_dict(ckpt["sched"])
    _train(resumed, opt, batches[3:], sched)

    for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
        assert np.array_equal(a.numpy(), b.numpy()), name


def test_state_dict_layout_is_torch_like():
    model = _model()
    opt = optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(),
                                                          "lr": 0.5}], lr=0.1, momentum=0.9)
    _train(model, opt, _batches(1))
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    buf = sd["state"][2]["momentum_buffer"]
    assert isinstance(buf, np.ndarray) and buf.shape == (2, 4) and buf.dtype == np.float32
    assert buf is not opt.state[model[2].weight]["momentum_buffer"]  # a copy


def test_adam_state_holds_step_and_moments():
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p])
    for _ in range(2):
        p.grad = tc.Tensor(np.ones(3, np.float32))
        opt.step()
    state = opt.state_dict()["state"][0]
    assert state["step"] == 2
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}


def test_loading_does_not_alias_the_saved_arrays():
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tc.Tensor(np.ones(2, np.float32))
    opt.step()
    sd = opt.state_dict()
    q = nn.Parameter(np.ones(2))
    other = optim.SGD([q], lr=0.1, momentum=0.9)
    other.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][:] = 99
    assert np.array_equal(other.state[q]["momentum_buffer"], [1, 1])


def test_load_errors_are_clear_and_change_nothing():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="has 1 parameters, this optimizer's has 2"):
        opt.load_state_dict(optim.SGD([a], lr=0.2).state_dict())
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        opt.load_state_dict(optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.2).state_dict())
    bad = {"state": {1: {"momentum_buffer": np.zeros(5)}},
           "param_groups": [{"lr": 0.3, "momentum": 0.9, "dampening": 0.0,
                             "weight_decay": 0.0, "nesterov": False, "params": [0, 1]}]}
    with pytest.raises(ValueError, match=r"state\[1\]\['momentum_buffer'\] has shape \(5,\), "
                                         r"its parameter has shape \(3,\)"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state == {}
