"""SGD, Adam and AdamW against torch.optim: the same parameters and gradients for 5 steps."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim

try:
    import torch
except ImportError:
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

SHAPES = [(3, 4), (4,), (2, 1, 3, 3)]
STEPS = 5


def _data(dtype, seed=0):
    """Initial parameter values and one gradient per step per parameter."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _run_both(make_ours, make_theirs, dtype):
    """Step both optimizers with identical gradients; yield (ours, theirs) after each step."""
    init, grads = _data(dtype)
    ours = [nn.Parameter(tc.Tensor(a.copy(), dtype=dtype)) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt_o, opt_t = make_ours(ours), make_theirs(theirs)
    for step in range(STEPS):
        opt_o.zero_grad()
        opt_t.zero_grad()
        for p, q, g in zip(ours, theirs, grads[step]):
            p.grad = tc.Tensor(g.copy(), dtype=dtype)
            q.grad = torch.tensor(g.copy())
        opt_o.step()
        opt_t.step()
        yield [p.numpy() for p in ours], [q.detach().numpy() for q in theirs]


SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02),
]
ADAM_CONFIGS = [
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.3, eps=1e-4)),
]
TOLS = {np.float64: dict(rtol=1e-6, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", SGD_CONFIGS,
                         ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_sgd_matches_torch(cfg, dtype):
    for ours, theirs in _run_both(lambda ps: optim.SGD(ps, **cfg),
                                  lambda ps: torch.optim.SGD(ps, **cfg), dtype):
        for a, b in zip(ours, theirs):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **TOLS[dtype])


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, cfg", ADAM_CONFIGS, ids=lambda c: str(c))
def test_adam_family_matches_torch(name, cfg, dtype):
    for ours, theirs in _run_both(lambda ps: getattr(optim, name)(ps, **cfg),
                                  lambda ps: getattr(torch.optim, name)(ps, **cfg), dtype):
        for a, b in zip(ours, theirs):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **TOLS[dtype])


@requires_torch
def test_adamw_defaults_match_torch():
    p = nn.Parameter(np.ones(2))
    assert optim.AdamW([p]).defaults["weight_decay"] == torch.optim.AdamW(
        [torch.ones(2, requires_grad=True)]).defaults["weight_decay"] == 0.01


@requires_torch
def test_param_groups_with_their_own_lr():
    init, grads = _data(np.float64)
    ours = [nn.Parameter(tc.Tensor(a.copy(), dtype=np.float64)) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt_o = optim.SGD([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.5}], lr=0.1,
                      momentum=0.5)
    opt_t = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.5}], lr=0.1,
                            momentum=0.5)
    assert [g["lr"] for g in opt_o.param_groups] == [0.1, 0.5]
    for step in range(3):
        for p, q, g in zip(ours, theirs, grads[step]):
            p.grad, q.grad = tc.Tensor(g, dtype=np.float64), torch.tensor(g)
        opt_o.step()
        opt_t.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps)])
def test_parameters_without_grad_are_skipped(make):
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(3))
    opt = make([a, b])
    a.grad = tc.Tensor(np.full(3, 0.5, np.float32))
    opt.step()
    assert np.array_equal(b.numpy(), np.ones(3))  # untouched, even by weight decay
    assert not np.array_equal(a.numpy(), np.ones(3))
    assert b not in opt.state


def test_zero_grad_sets_grads_to_none():
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    p.grad = tc.Tensor(np.ones(2, np.float32))
    opt.zero_grad()
    assert p.grad is None


def test_training_a_linear_model_reduces_the_loss():
    tc.manual_seed(0)
    model = nn.Linear(3, 1)
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((64, 3)).astype(np.float32))
    y = tc.Tensor((x.numpy() @ np.array([[1.0], [-2.0], [0.5]])).astype(np.float32))
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]


@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), r"invalid learning rate: -0.1"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), r"invalid momentum: -0.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), r"invalid weight_decay: -1.0"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), r"Nesterov momentum requires a momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     r"zero dampening, got momentum=0.9, dampening=0.1"),
    (lambda ps: optim.Adam(ps, lr=-1e-3), r"invalid learning rate: -0.001"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), r"beta parameter at index 0: 1.0 .*< 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), r"beta parameter at index 1: -0.1"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), r"invalid epsilon value: -1e-08"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.01), r"invalid weight_decay value: -0.01"),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), r"betas must be a pair"),
])
def test_bad_hyper_parameters_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make([nn.Parameter(np.ones(2))])


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Adam got an empty parameter list"):
        optim.Adam(iter([]))
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(nn.Parameter(np.ones(2)), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, got ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="appear more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="learning rate must be a number"):
        optim.SGD([p], lr="0.1")


def test_backend_updates_keep_float32():
    from tinygrad_cnn.backends import cpu

    param, grad = np.ones(4, np.float32), np.full(4, 0.5, np.float32)
    buf = cpu.sgd_update(param, grad, None, 0.1, 0.9, 0.0, True, 0.01)
    assert param.dtype == np.float32 and buf.dtype == np.float32
    assert buf is not grad and np.array_equal(grad, np.full(4, 0.5))  # grad never written
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    cpu.adam_update(param, grad, m, v, 1, 1e-3, 0.9, 0.999, 1e-8, 0.01, True)
    assert param.dtype == m.dtype == v.dtype == np.float32
    np.testing.assert_allclose(m, 0.05, rtol=1e-6)
    np.testing.assert_allclose(v, 0.00025, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("size", [7, 300_000])
def test_adam_kernel_is_numpys_arithmetic_to_the_bit(dtype, decoupled, weight_decay, size):
    """The CPU backend's one-pass Adam kernel (contiguous arrays; 300,000 elements: split
    over the threads) against its NumPy form (a strided gradient takes it) over three
    steps: the same parameters and moments, bit for bit, as on torch's arithmetic."""
    from tinygrad_cnn.backends.cpu import optim as cpu_optim
    rng = np.random.default_rng(size)
    state = [rng.standard_normal(size).astype(dtype) for _ in range(2)] + \
        [np.zeros(size, dtype), np.zeros(size, dtype)]
    fast, slow = [a.copy() for a in state], [a.copy() for a in state]
    for step in (1, 2, 3):
        grad = rng.standard_normal(size).astype(dtype)
        strided = np.repeat(grad, 2)[::2]                   # the same values, not contiguous
        assert not strided.flags.c_contiguous
        args = (step, 1e-3, 0.9, 0.999, 1e-8, weight_decay, decoupled)
        cpu_optim.adam_update(fast[0], grad, fast[2], fast[3], *args)
        cpu_optim.adam_update(slow[0], strided, slow[2], slow[3], *args)
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(fast[0], state[0])
