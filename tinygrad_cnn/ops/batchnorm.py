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
    same pass; saves what input_grad needs. With ``relu``, ctx.relu_of keeps the (scale,
    shift) of that pass: backward recomputes the affine values from x to find where the
    ReLU passed the gradient, exactly where forward's were above 0."""
    be, dt = ctx.backend, x.dtype.type
    mean = be.copy(be.astype(mean, x.dtype))     # not the running buffer: backward reads it
    inv_std = be.div(dt(1), be.sqrt(be.add(be.astype(var, x.dtype), dt(eps))))  # (C,)
    scale = inv_std if weight is None else be.mul(inv_std, weight)
    shift = be.zeros(inv_std.shape, x.dtype) if bias is None else be.copy(bias)
    ctx.save_for_backward(x, mean, inv_std, weight)
    ctx.relu_of = (scale, shift) if relu else None
    return be.channel_affine(x, mean, scale, shift, relu)


def input_grad(ctx, grad, sum_grad, sum_grad_centred, count, batch_stats):
    """dx of normalise(): with xhat = (x - mean) * inv_std, N = count and s = inv_std * weight,
    dx = s / N * (N dy - sum(dy) - xhat sum(dy xhat)) when the statistics are the batch's
    (sum_grad, sum_grad_centred: sums of dy and of dy (x - mean), over every rank for
    SyncBatchNorm), and dx = s dy for running statistics. After a fused ReLU (ctx.relu_of)
    dy is the gradient where the ReLU passed it, masked in the same pass."""
    be, (x, mean, inv_std, weight) = ctx.backend, ctx.saved
    relu_of = ctx.relu_of
    scale = inv_std if weight is None else be.mul(inv_std, weight)
    zeros = be.zeros(scale.shape, x.dtype)
    if not batch_stats:                  # dx = s dy, whatever x holds (inf, NaN): as torch
        if relu_of is not None:
            grad = be.relu_backward(grad, be.channel_affine(x, mean, *relu_of))
        return be.channel_affine(grad, zeros, scale, zeros)
    n = x.dtype.type(count)
    b = be.neg(be.div(be.mul(be.mul(scale, be.mul(inv_std, inv_std)), sum_grad_centred), n))
    d = be.neg(be.div(be.mul(scale, sum_grad), n))
    return be.batch_norm_input_grad(grad, x, mean, scale, b, d, relu_of)


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.

    ``mean`` and ``var`` are constants passed in: the batch's own statistics when
    ``batch_stats`` (training; backward then includes their dependence on x) or the running
    statistics (evaluation; a per-channel affine map). dweight = sum(dy xhat),
    dbias = sum(dy); dx in input_grad(). With ``relu``, its ReLU in the same pass
    (nn/fusion.py's batch norm and ReLU), and backward masks dy where the ReLU passed
    nothing in the passes it makes anyway: neither the ReLU's output nor a pass of its
    own.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, eps=1e-5, batch_stats=True,
                relu=False):
        ctx.batch_stats = batch_stats
        return normalise(ctx, x, weight, bias, mean, var, eps, relu)

    @staticmethod
    def backward(ctx, grad):
        be, (x, mean, inv_std, weight) = ctx.backend, ctx.saved
        needs = ctx.needs_input_grad
        sum_grad = sum_grad_centred = None
        if ctx.batch_stats or (weight is not None and any(needs[1:])):
            sum_grad, sum_grad_centred = be.channel_grad_sums(grad, x, mean, ctx.relu_of)
        dx = None
        if needs[0]:
            dx = input_grad(ctx, grad, sum_grad, sum_grad_centred, values_per_channel(x.shape),
                            ctx.batch_stats)
        if weight is None:
            return dx
        dweight = be.mul(sum_grad_centred, inv_std) if needs[1] else None
        return dx, dweight, sum_grad if needs[2] else None
