"""New losses and cross_entropy/nll_loss's weight=, ignore_index and other target forms,
against torch (float64, values and gradients) and float64 central differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from strategies import arrays, seeds, small_shapes
from torch_compare import compare_fn, gradcheck_fn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _probs(shape, seed):
    return 1 / (1 + np.exp(-arrays(shape, seed, scale=2)))


@settings(max_examples=10)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=small_shapes(), seed=seeds)
def test_regression_losses(reduction, shape, seed):
    x, t = arrays(shape, seed, scale=2), arrays(shape, seed + 1, scale=2)
    for ours, theirs in [
            (nn.L1Loss(reduction=reduction), torch.nn.L1Loss(reduction=reduction)),
            (nn.SmoothL1Loss(reduction=reduction), torch.nn.SmoothL1Loss(reduction=reduction)),
            (nn.SmoothL1Loss(reduction=reduction, beta=0.5),
             torch.nn.SmoothL1Loss(reduction=reduction, beta=0.5)),
            (nn.SmoothL1Loss(reduction=reduction, beta=0.0),
             torch.nn.SmoothL1Loss(reduction=reduction, beta=0.0)),
            (nn.HuberLoss(reduction=reduction), torch.nn.HuberLoss(reduction=reduction)),
            (nn.HuberLoss(reduction=reduction, delta=0.3),
             torch.nn.HuberLoss(reduction=reduction, delta=0.3)),
            (nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction))]:
        compare_fn(ours, theirs, [x, t])
        gradcheck_fn(ours, [x, t])


@settings(max_examples=10)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=small_shapes(), seed=seeds, weighted=st.booleans())
def test_binary_cross_entropy(reduction, shape, seed, weighted):
    p, t = _probs(shape, seed), _probs(shape, seed + 1)
    w = np.abs(arrays(shape[-1:], seed + 2)) if weighted else None
    ours = nn.BCELoss(weight=None if w is None else tc.Tensor(w, dtype=np.float64),
                      reduction=reduction)
    theirs = torch.nn.BCELoss(weight=None if w is None else torch.tensor(w), reduction=reduction)
    compare_fn(ours, theirs, [p, t])
    gradcheck_fn(ours, [p, t])


@settings(max_examples=10)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=small_shapes(), seed=seeds, weighted=st.booleans())
def test_bce_with_logits(reduction, shape, seed, weighted):
    x, t = arrays(shape, seed, scale=4), _probs(shape, seed + 1)
    w = np.abs(arrays(shape[-1:], seed + 2)) if weighted else None
    pw = np.abs(arrays(shape[-1:], seed + 3)) + 0.5
    for pos in (None, pw):
        kw_ours = dict(reduction=reduction,
                       weight=None if w is None else tc.Tensor(w, dtype=np.float64),
                       pos_weight=None if pos is None else tc.Tensor(pos, dtype=np.float64))
        kw_torch = dict(reduction=reduction, weight=None if w is None else torch.tensor(w),
                        pos_weight=None if pos is None else torch.tensor(pos))
        ours = nn.BCEWithLogitsLoss(**kw_ours)
        compare_fn(ours, torch.nn.BCEWithLogitsLoss(**kw_torch), [x, t])
        gradcheck_fn(ours, [x, t])


def test_bce_with_logits_gradient_at_zero_and_large_logits():
    x = np.array([0.0, 0.0, 80.0, -80.0, 1e-3])
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    compare_fn(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
               lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"), [x, t])


def test_bce_rejects_values_outside_zero_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tc.Tensor([0.5, 1.5]), tc.Tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"target size \(3,\) must be the same as input size"):
        F.binary_cross_entropy(tc.Tensor([0.5, 0.5]), tc.Tensor([0.0, 1.0, 1.0]))


@pytest.mark.filterwarnings("ignore:.*divides the total loss:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
@given(shape=small_shapes(min_dims=2), seed=seeds)
def test_kl_div(reduction, log_target, shape, seed):
    x = np.log(_probs(shape, seed))
    t = _probs(shape, seed + 1)
    t[(0,) * len(shape)] = 0.0                                 # 0 * log 0 = 0
    if log_target:
        t = np.log(t + 0.1)
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    compare_fn(ours, torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), [x, t],
               grads=[True, False])
    gradcheck_fn(ours, [x, t], grads=[True, False])


# ---- cross-entropy and nll ------------------------------------------------------------------
@st.composite
def class_problems(draw):
    """(scores shape, targets shape, C): (N, C) or (N, C, d1[, d2]) or unbatched (C,)."""
    C = draw(st.integers(2, 5))
    kind = draw(st.sampled_from(["flat", "spatial", "unbatched"]))
    if kind == "unbatched":
        return (C,), (), C
    N = draw(st.integers(1, 4))
    extra = draw(small_shapes(min_dims=1, max_dims=2, max_side=3)) if kind == "spatial" else ()
    return (N, C) + extra, (N,) + extra, C


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problems(), seed=seeds, weighted=st.booleans(), ignore=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_weight_ignore_index(reduction, problem, seed, weighted, ignore,
                                           smoothing):
    xshape, tshape, C = problem
    rng = np.random.default_rng(seed)
    x = arrays(xshape, seed)
    target = rng.integers(0, C, tshape)
    ignore_index = -100
    if ignore and target.size > 1:
        ignore_index = int(target.reshape(-1)[0])              # an in-range class ignored
    w = np.abs(arrays((C,), seed + 1)) + 0.1 if weighted else None
    tw = None if w is None else torch.tensor(w)
    ow = None if w is None else tc.Tensor(w, dtype=np.float64)
    tt = torch.tensor(target)
    ours = nn.CrossEntropyLoss(weight=ow, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=smoothing)
    theirs = torch.nn.CrossEntropyLoss(weight=tw, ignore_index=ignore_index,
                                       reduction=reduction, label_smoothing=smoothing)
    compare_fn(lambda a: ours(a, tc.Tensor(target)), lambda a: theirs(a, tt), [x])
    if reduction != "mean" or np.any(target != ignore_index):   # all ignored: a nan mean
        gradcheck_fn(lambda a: ours(a, tc.Tensor(target)), [x])
    logp = x - np.log(np.exp(x).sum(axis=0 if len(xshape) == 1 else 1, keepdims=True))
    compare_fn(lambda a: F.nll_loss(a, tc.Tensor(target), weight=ow, ignore_index=ignore_index,
                                    reduction=reduction),
               lambda a: TF.nll_loss(a, tt, weight=tw, ignore_index=ignore_index,
                                     reduction=reduction), [logp])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(problem=class_problems(), seed=seeds, weighted=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.3]))
def test_cross_entropy_with_class_probabilities(reduction, problem, seed, weighted, smoothing):
    xshape, _, C = problem
    x = arrays(xshape, seed)
    dim = 0 if len(xshape) == 1 else 1
    p = np.exp(arrays(xshape, seed + 1))
    p /= p.sum(axis=dim, keepdims=True)
    w = np.abs(arrays((C,), seed + 2)) + 0.1 if weighted else None
    compare_fn(lambda a, b: F.cross_entropy(a, b, None if w is None else tc.Tensor(
                   w, dtype=np.float64), reduction=reduction, label_smoothing=smoothing),
               lambda a, b: TF.cross_entropy(a, b, None if w is None else torch.tensor(w),
                                             reduction=reduction, label_smoothing=smoothing),
               [x, p])


def test_cross_entropy_module_keeps_weight_as_a_buffer_and_errors():
    loss = nn.CrossEntropyLoss(weight=tc.Tensor([1.0, 2.0, 3.0]))
    assert list(loss.state_dict()) == list(torch.nn.CrossEntropyLoss(
        weight=torch.ones(3)).state_dict()) == ["weight"]
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(tc.Tensor.zeros(2, 4), tc.Tensor([0, 1]), weight=tc.Tensor.ones(3))
    with pytest.raises(TypeError, match="pass reduction= by keyword"):
        F.cross_entropy(tc.Tensor.zeros(2, 4), tc.Tensor([0, 1]), "sum")
    with pytest.raises(TypeError, match="pass reduction= by keyword"):
        F.mse_loss(tc.Tensor.zeros(2), tc.Tensor.zeros(2), "sum")
    with pytest.raises(ValueError, match=r"target 7 is outside \[0, 4\) classes \(ignore_index=0\)"):
        F.cross_entropy(tc.Tensor.zeros(2, 4), tc.Tensor([0, 7]), ignore_index=0)
    with pytest.warns(UserWarning, match="size_average and reduce are deprecated"):
        assert nn.L1Loss(reduce=False).reduction == "none"


def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradients_as_torch():
    x = np.random.default_rng(3).standard_normal((3, 4))
    target = np.full(3, 2)
    for smoothing in (0.0, 0.2):
        a = tc.tensor(x, requires_grad=True)
        loss = F.cross_entropy(a, tc.tensor(target), ignore_index=2, label_smoothing=smoothing)
        at = torch.tensor(x, requires_grad=True)
        lt = torch.nn.functional.cross_entropy(at, torch.tensor(target), ignore_index=2,
                                               label_smoothing=smoothing)
        assert np.isnan(loss.item()) and np.isnan(lt.item())
        loss.backward()
        lt.backward()
        np.testing.assert_array_equal(a.grad.numpy(), at.grad.numpy())
