"""F.batch_norm: PyTorch's functional batch normalisation over the fused ops.BatchNorm."""
from tinygrad_cnn.ops.batchnorm import BatchNorm, channel_stats
from tinygrad_cnn.tensor import Tensor


def _check(x, running_mean, running_var, weight, bias, training):
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of at least 2 dimensions (N, C, ...), "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm expects a float32 or float64 input, got {x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"batch_norm {name} has shape {t.shape}, expected ({C},) for "
                             f"input shape {x.shape} with {C} channels")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"batch_norm {name} dtype {t.dtype} differs from input dtype {x.dtype}")
    if training and x.numel() // max(C, 1) <= 1:
        raise ValueError(f"expected more than 1 value per channel when training, got input "
                         f"shape {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm with training=False needs running_mean and running_var")


def _update_running(running, stat, momentum):
    """running = (1 - momentum) * running + momentum * stat, on the running tensor itself."""
    be, dt = running.backend, running.dtype.type
    keep = be.mul(running._array, dt(1 - momentum))
    running._array = be.add(keep, be.mul(be.astype(stat, running.dtype), dt(momentum)))


def _affine_pair(weight, bias, x):
    """(weight, bias) both Tensors or both None; a missing one becomes a constant 1 or 0."""
    if weight is None and bias is None:
        return None, None
    C = x.shape[1]
    if weight is None:
        weight = Tensor.ones(C, dtype=x.dtype, device=x.device)
    if bias is None:
        bias = Tensor.zeros(C, dtype=x.dtype, device=x.device)
    return weight, bias


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1) as torch.nn.functional.batch_norm.

    training: normalise with the batch's mean and biased variance, and blend the batch mean
    and unbiased variance into running_mean / running_var (when given) with ``momentum``.
    Otherwise normalise with the running statistics.
    """
    _check(x, running_mean, running_var, weight, bias, training)
    if training:
        mean, var = channel_stats(x.backend, x._array)
        count = x.numel() // x.shape[1]
        if running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if running_var is not None:
            unbiased = x.backend.mul(var, x.dtype.type(count / (count - 1)))
            _update_running(running_var, unbiased, momentum)
    else:
        mean, var = running_mean._array, running_var._array
    weight, bias = _affine_pair(weight, bias, x)
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*inputs, mean=mean, var=var, eps=float(eps), batch_stats=bool(training))
