"""Batch normalisation as one fused op: per-channel (axis 1) statistics over every other axis.

The backend does each sweep over the activation in one pass (backend.batch_norm_stats,
channel_affine, channel_grad_sums, batch_norm_input_grad); this file holds the per-channel
(C,) arithmetic between them, shared with SyncBatchNorm (nn/sync_batchnorm.py).
"""
from tinygrad_cnn.function import Function


def values_per_channel(shape):
    """How many values each channel (axis 1) of an array of ``shape`` holds."""
    count = shape[0]
    for size in shape[2:]:
        count *= size
    return count


def normalise(ctx, x, weight, bias, mean, var, eps, relu=False):
    """(x - mean) / sqrt(var + eps) * weight + bias in one pass, with ``relu`` its ReLU in the
    same pass; saves what input_grad needs."""
    be, dt = ctx.backend, x.dtype.type
    mean = be.copy(be.astype(mean, x.dtype))     # not the running buffer: backward reads it
    inv_std = be.div(dt(1), be.sqrt(be.add(be.astype(var, x.dtype), dt(eps))))  # (C,)
    scale = inv_std if weight is None else be.mul(inv_std, weight)
    shift = be.zeros(inv_std.shape, x.dtype) if bias is None else bias
    ctx.save_for_backward(x, mean, inv_std, weight)
    return be.channel_affine(x, mean, scale, shift, relu)


def input_grad(ctx, grad, sum_grad, sum_grad_centred, count, batch_stats):
    """dx of normalise(): with xhat = (x - mean) * inv_std, N = count and s = inv_std * weight,
    dx = s / N * (N dy - sum(dy) - xhat sum(dy xhat)) when the statistics are the batch's
    (sum_grad, sum_grad_centred: sums of dy and of dy (x - mean), over every rank for
    SyncBatchNorm), and dx = s dy for running statistics."""
    be, (x, mean, inv_std, weight) = ctx.backend, ctx.saved
    scale = inv_std if weight is None else be.mul(inv_std, weight)
    zeros = be.zeros(scale.shape, x.dtype)
    if not batch_stats:
        return be.channel_affine(grad, zeros, scale, zeros)
    n = x.dtype.type(count)
    b = be.neg(be.div(be.mul(be.mul(scale, be.mul(inv_std, inv_std)), sum_grad_centred), n))
    d = be.neg(be.div(be.mul(scale, sum_grad), n))
    return be.batch_norm_input_grad(grad, x, mean, scale, b, d)


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.

    ``mean`` and ``var`` are constants passed in: the batch's own statistics when
    ``batch_stats`` (training; backward then includes their dependence on x) or the running
    statistics (evaluation; a per-channel affine map). dweight = sum(dy xhat),
    dbias = sum(dy); dx in input_grad(). With ``relu``, its ReLU in the same pass (inference
    only: nn/fusion.py's fused batch norm, which nothing differentiates).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, eps=1e-5, batch_stats=True,
                relu=False):
        if relu and any(ctx.needs_input_grad):
            raise RuntimeError("a batch norm with its ReLU fused has no backward: call "
                               "batch_norm and relu separately where a gradient is needed")
        ctx.batch_stats = batch_stats
        return normalise(ctx, x, weight, bias, mean, var, eps, relu)

    @staticmethod
    def backward(ctx, grad):
        be, (x, mean, inv_std, weight) = ctx.backend, ctx.saved
        needs = ctx.needs_input_grad
        sum_grad = sum_grad_centred = None
        if ctx.batch_stats or (weight is not None and any(needs[1:])):
            sum_grad, sum_grad_centred = be.channel_grad_sums(grad, x, mean)
        dx = None
        if needs[0]:
            dx = input_grad(ctx, grad, sum_grad, sum_grad_centred, values_per_channel(x.shape),
                            ctx.batch_stats)
        if weight is None:
            return dx
        dweight = be.mul(sum_grad_centred, inv_std) if needs[1] else None
        return dx, dweight, sum_grad if needs[2] else None
