"""Softmax, log-softmax and the classification losses, numerically stable."""
from tinygrad_cnn.function import Function


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis=-1):
        out = ctx.backend.softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (s,) = ctx.backend, ctx.saved
        inner = be.sum(be.mul(grad, s), axis=ctx.axis, keepdims=True)
        return be.mul(s, be.sub(grad, inner))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis=-1):
        out = ctx.backend.log_softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (logp,) = ctx.backend, ctx.saved
        total = be.sum(grad, axis=ctx.axis, keepdims=True)
        return be.sub(grad, be.mul(be.exp(logp), total))


def _reduce(be, per_sample, reduction, weight_total):
    if reduction == "none":
        return per_sample
    total = be.sum(per_sample)
    return be.div(total, per_sample.dtype.type(weight_total)) if reduction == "mean" else total


def _row_grads(be, grad, n, reduction, dtype):
    """The gradient each sample's loss receives from the reduced loss."""
    if reduction == "none":
        return grad
    g = be.mul(be.full((n,), 1, dtype), grad)
    return be.div(g, dtype.type(n)) if reduction == "mean" else g


class CrossEntropy(Function):
    """Fused log-softmax + NLL over (N, C) logits and integer targets (a constant)."""

    @staticmethod
    def forward(ctx, logits, target=None, reduction="mean", label_smoothing=0.0):
        be = ctx.backend
        per_sample, logp = be.cross_entropy_forward(logits, target, label_smoothing)
        ctx.save_for_backward(logp, target)
        ctx.conf = reduction, label_smoothing
        return _reduce(be, per_sample, reduction, logits.shape[0])

    @staticmethod
    def backward(ctx, grad):
        be, (logp, target) = ctx.backend, ctx.saved
        reduction, smoothing = ctx.conf
        rows = _row_grads(be, grad, logp.shape[0], reduction, logp.dtype)
        return be.cross_entropy_backward(rows, logp, target, smoothing)


class NLLLoss(Function):
    """-logp[n, target[n]] over (N, C) log-probabilities."""

    @staticmethod
    def forward(ctx, logp, target=None, reduction="mean"):
        be = ctx.backend
        n = logp.shape[0]
        index = (be.arange(n), target)
        per_sample = be.neg(be.getitem(logp, index))
        ctx.shape, ctx.index, ctx.reduction = logp.shape, index, reduction
        return _reduce(be, per_sample, reduction, n)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        n = ctx.shape[0]
        rows = _row_grads(be, grad, n, ctx.reduction, grad.dtype)
        return be.index_add(ctx.shape, ctx.index, be.neg(rows))
