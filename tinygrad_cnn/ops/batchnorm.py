"""Batch normalisation as one fused op: per-channel (axis 1) statistics over every other axis."""
from tinygrad_cnn.function import Function


def _layout(shape):
    """Reduction axes (all but 1), the broadcast shape of a (C,) vector, values per channel."""
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
    count = 1
    for a in axes:
        count *= shape[a]
    return axes, bshape, count


def channel_stats(be, x):
    """Per-channel mean and biased variance of ``x``, each shaped (C,), in x's dtype."""
    axes, bshape, count = _layout(x.shape)
    n = x.dtype.type(count)
    mean = be.div(be.sum(x, axis=axes), n)
    centred = be.sub(x, be.reshape(mean, bshape))
    var = be.div(be.sum(be.mul(centred, centred), axis=axes), n)
    return mean, var


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.

    ``mean`` and ``var`` are constants passed in: the batch's own statistics when
    ``batch_stats`` (training; backward then includes their dependence on x) or the running
    statistics (evaluation; a per-channel affine map). With xhat the normalised input,
    N values per channel and g = dy * weight:
      dx = inv_std / N * (N g - sum(g) - xhat sum(g xhat)),  dweight = sum(dy xhat),
      dbias = sum(dy).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, eps=1e-5, batch_stats=True):
        be, dt = ctx.backend, x.dtype.type
        _, bshape, _ = _layout(x.shape)
        inv_std = be.div(dt(1), be.sqrt(be.add(be.astype(var, x.dtype), dt(eps))))  # (C,)
        centred = be.sub(x, be.reshape(be.astype(mean, x.dtype), bshape))
        xhat = be.mul(centred, be.reshape(inv_std, bshape))
        out = xhat
        if weight is not None:
            out = be.add(be.mul(xhat, be.reshape(weight, bshape)), be.reshape(bias, bshape))
        ctx.save_for_backward(xhat, inv_std, weight)
        ctx.batch_stats = batch_stats
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (xhat, inv_std, weight) = ctx.backend, ctx.saved
        axes, bshape, count = _layout(xhat.shape)
        dbias = be.sum(grad, axis=axes)                            # (C,)
        dweight = be.sum(be.mul(grad, xhat), axis=axes)            # (C,)
        scale = inv_std if weight is None else be.mul(inv_std, weight)
        if ctx.batch_stats:
            n = xhat.dtype.type(count)
            inner = be.sub(be.sub(be.mul(grad, n), be.reshape(dbias, bshape)),
                           be.mul(xhat, be.reshape(dweight, bshape)))
            dx = be.mul(inner, be.reshape(be.div(scale, n), bshape))
        else:
            dx = be.mul(grad, be.reshape(scale, bshape))
        if weight is None:
            return dx
        needs = ctx.needs_input_grad
        return dx, dweight if needs[1] else None, dbias if needs[2] else None
