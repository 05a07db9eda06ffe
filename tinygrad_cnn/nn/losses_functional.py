"""Loss functions with torch.nn.functional's signatures, argument order and defaults.

cross_entropy / nll_loss take the fused ops (ops.CrossEntropy / ops.NLLLoss) for the common
case, (N, C) scores and class indices with no class weights and no ignored target; the
general case (weight=, ignore_index hits, (N, C, d1, ...) inputs, class-probability
targets) is composed from differentiable tensor ops, with torch's normalisation.
"""
import warnings

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction, size_average=None, reduce=None, allowed=_REDUCTIONS):
    """The reduction, after torch's legacy size_average/reduce arguments (which warn)."""
    if isinstance(size_average, str) or isinstance(reduce, str):
        raise TypeError(f"pass reduction= by keyword, as torch's signature is (input, target, "
                        f"..., size_average, reduce, reduction): got "
                        f"{size_average if isinstance(size_average, str) else reduce!r} "
                        f"in a legacy argument's place")
    if size_average is not None or reduce is not None:
        warnings.warn("size_average and reduce are deprecated, use reduction= instead",
                      stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


def _as_tensor(value, like):
    """A Tensor on ``like``'s device (arrays and numbers converted, in like's float dtype)."""
    if isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    return Tensor(arr, dtype=like.dtype if arr.dtype.kind in "biuf" and like.dtype.kind == "f"
                  else None, device=like.device)


def _same_shape(what, input, target):
    if input.shape != target.shape:
        raise ValueError(f"{what}: target size {target.shape} must be the same as input size "
                         f"{input.shape}")


def _check_weight(weight, C, what, like):
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(f"{what}: the third argument is weight, as torch's; pass reduction= "
                        f"by keyword (got {weight!r})")
    weight = _as_tensor(weight, like)
    if weight.shape != (C,):
        raise ValueError(f"{what}: weight must have shape ({C},) (one per class), got "
                         f"{weight.shape}")
    return weight


# ---- classification ----------------------------------------------------------------------
def _class_rows(x, target, what):
    """(rows (M, C), labels (M,) host ints, out shape) of (N, C, d1, ...) scores."""
    if x.ndim < 1:
        raise ValueError(f"{what} expects (C,), (N, C) or (N, C, d1, ...) input, got a 0-d tensor")
    if x.ndim == 1:                                                   # unbatched (C,)
        return x.reshape(1, -1), target.reshape(1), ()
    N, C = x.shape[:2]
    rows = x if x.ndim == 2 else x.permute(0, *range(2, x.ndim), 1).reshape(-1, C)
    return rows, target.reshape(-1), (N,) + x.shape[2:]


def _index_target(x, target, what):
    """``target`` as a Tensor of class indices shaped as torch expects for input ``x``."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target))
    if target.dtype.kind not in "iu":
        raise TypeError(f"{what} target must hold integer class indices, got {target.dtype} "
                        f"(cross_entropy also takes class probabilities shaped as the input)")
    expected = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{what} target must have shape {expected}, got {target.shape} "
                         f"(input shape {x.shape})")
    return target


def _weighted_nll(logp, target, weight, ignore_index, reduction, what):
    """torch's nll_loss with class weights and ignore_index, composed: -w[y_i] logp[i, y_i],
    mean = sum / sum of the weights of the kept targets."""
    rows, labels_t, out_shape = _class_rows(logp, target, what)
    M, C = rows.shape
    labels = labels_t.numpy().astype(np.int64)
    keep = labels != ignore_index
    bad = labels[keep & ((labels < 0) | (labels >= C))]
    if bad.size:
        raise ValueError(f"{what} target {int(bad[0])} is outside [0, {C}) classes "
                         f"(ignore_index={ignore_index})")
    safe = np.where(keep, labels, 0)
    w_host = np.ones(C) if weight is None else weight.numpy().astype(np.float64)
    w_rows = w_host[safe] * keep                                      # (M,) weight per target
    picks = np.zeros((M, C), dtype=logp.dtype)
    picks[np.arange(M), safe] = w_rows
    loss = -(rows * Tensor(picks, dtype=logp.dtype, device=logp.device)).sum(1)          # (M,)
    if reduction == "none":
        return loss.reshape(out_shape)
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss, w_rows.sum(), logp.dtype)


def _weighted_mean(loss, total, dtype):
    """loss.sum() / total; when every target is ignored (total 0), torch's nan loss with zero
    gradients (a plain 0/0 would send nan gradients back)."""
    if total == 0:
        return loss.sum() * dtype.type(0) + dtype.type(np.nan)
    return loss.sum() / dtype.type(total)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities at the target classes, as torch's."""
    reduction = _reduction(reduction, size_average, reduce)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    weight = _check_weight(weight, C, "nll_loss", input)
    target = _index_target(input, target, "nll_loss")
    if input.ndim == 2 and weight is None and _plain(target, C, ignore_index, "nll_loss"):
        return ops.NLLLoss.apply(input, target=target._array, reduction=reduction)
    return _weighted_nll(input, target, weight, ignore_index, reduction, "nll_loss")


def _plain(target, C, ignore_index, what):
    """True when every target is a class in [0, C) and none is ignore_index (the fused op's
    case); False when some target is ignore_index; an error naming a target out of range."""
    labels = target.numpy()
    if not labels.size:
        return True
    lo, hi = labels.min(), labels.max()
    if lo <= ignore_index <= hi and np.any(labels == ignore_index):
        return False
    if lo < 0 or hi >= C:
        bad = labels[(labels < 0) | (labels >= C)][0]
        raise ValueError(f"{what} target {int(bad)} is outside [0, {C}) classes")
    return True


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy: class indices or class probabilities, as torch's."""
    reduction = _reduction(reduction, size_average, reduce)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    weight = _check_weight(weight, C, "cross_entropy", input)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    target = _index_target(input, target, "cross_entropy")
    if input.ndim == 2 and weight is None and _plain(target, C, ignore_index, "cross_entropy"):
        return ops.CrossEntropy.apply(input, target=target._array, reduction=reduction,
                                      label_smoothing=float(label_smoothing))
    logp = input.log_softmax(1 if input.ndim > 1 else 0)
    nll = _weighted_nll(logp, target, weight, ignore_index, reduction, "cross_entropy")
    if label_smoothing == 0:
        return nll
    return (1 - label_smoothing) * nll + _smooth_term(logp, target, weight, ignore_index,
                                                      reduction) * (label_smoothing / C)


def _smooth_term(logp, target, weight, ignore_index, reduction):
    """torch's label-smoothing term: -sum_c w_c logp_c per kept target, normalised like nll."""
    rows, labels_t, out_shape = _class_rows(logp, target, "cross_entropy")
    labels = labels_t.numpy()
    keep = (labels != ignore_index).astype(logp.dtype)
    w = np.ones(rows.shape[1], logp.dtype) if weight is None else weight.numpy()
    mask = keep[:, None] * w[None, :].astype(logp.dtype)               # (M, C)
    smooth = -(rows * Tensor(mask, dtype=logp.dtype, device=logp.device)).sum(1)
    if reduction == "none":
        return smooth.reshape(out_shape)
    if reduction == "sum":
        return smooth.sum()
    kept = labels[labels != ignore_index]
    denom = w[kept].sum() if weight is not None else len(kept)
    return _weighted_mean(smooth, denom, logp.dtype)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """Cross-entropy against class probabilities (target shaped as the input)."""
    _same_shape("cross_entropy", input, target)
    dim = 1 if input.ndim > 1 else 0
    C = input.shape[dim]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / C
    logp = input.log_softmax(dim)
    if weight is not None:
        shape = [1] * input.ndim
        shape[dim] = C
        logp = logp * weight.reshape(shape)
    loss = -(logp * target).sum(dim)
    if reduction == "mean":
        return loss.sum() / input.dtype.type(max(input.numel() // C, 1) if input.ndim > 1 else 1)
    return _reduce(loss, reduction)


# ---- regression and binary ---------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or summed) squared error."""
    reduction = _reduction(reduction, size_average, reduce)
    target = _as_tensor(target, input)
    _same_shape("mse_loss", input, target)
    d = input - target
    loss = d * d
    return _reduce(loss if weight is None else loss * _as_tensor(weight, input), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or summed) absolute error."""
    reduction = _reduction(reduction, size_average, reduce)
    target = _as_tensor(target, input)
    _same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _piecewise(input, target, beta, quadratic_scale, linear_scale):
    """where(|d| < beta, quadratic_scale * d^2, linear_scale * (|d| - beta / 2))."""
    d = input - target
    z = d.abs()
    small = (z < beta)._array
    return ops.Where.apply(d * d * quadratic_scale, (z - 0.5 * beta) * linear_scale, cond=small)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2; beta = 0 is the L1 loss."""
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    target = _as_tensor(target, input)
    _same_shape("smooth_l1_loss", input, target)
    if beta == 0:
        return _reduce((input - target).abs(), reduction)
    return _reduce(_piecewise(input, target, beta, 0.5 / beta, 1.0), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta * (|d| - delta / 2)."""
    reduction = _reduction(reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss delta must be positive, got {delta}")
    target = _as_tensor(target, input)
    _same_shape("huber_loss", input, target)
    loss = _piecewise(input, target, delta, 0.5, delta)
    return _reduce(loss if weight is None else loss * _as_tensor(weight, input), reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as torch's."""
    reduction = _reduction(reduction, size_average, reduce)
    target = _as_tensor(target, input)
    _same_shape("binary_cross_entropy", input, target)
    values = input.numpy()
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                         "(apply sigmoid first, or use binary_cross_entropy_with_logits)")
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def logsigmoid(input):
    """log(sigmoid(x)), computed stably."""
    return ops.LogSigmoid.apply(input)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """-w (p t log sigmoid(x) + (1 - t) log sigmoid(-x)), stable for any logit."""
    reduction = _reduction(reduction, size_average, reduce)
    target = _as_tensor(target, input)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    positive = target * logsigmoid(input)
    if pos_weight is not None:
        positive = positive * _as_tensor(pos_weight, input)
    loss = -(positive + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log target - input), input holding log-probabilities.

    reduction="batchmean" divides the sum by the batch size (the mathematically right KL);
    "mean", the default as in torch, divides by the number of elements.
    """
    reduction = _reduction(reduction, size_average, reduce,
                           allowed=("mean", "batchmean", "sum", "none"))
    target = _as_tensor(target, input)
    _same_shape("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:                                          # 0 * log 0 = 0, as torch's xlogy
        positive = Tensor(target.numpy() > 0, dtype=input.dtype, device=input.device)
        loss = target * ((target * positive + (1 - positive)).log() - input)
    if reduction == "mean":
        warnings.warn("kl_div reduction='mean' divides the total loss by both the batch size and "
                      "the support size; 'batchmean' divides only by the batch size, the KL "
                      "divergence's definition (torch gives the same warning)", stacklevel=2)
    if reduction == "batchmean":
        return loss.sum() / input.dtype.type(input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)
