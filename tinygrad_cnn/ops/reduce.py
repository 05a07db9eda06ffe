"""Reductions: sum and max over axes (mean and var are built from them in tensor.py)."""
from tinygrad_cnn.function import Function


def _expand_back(be, grad, in_shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if axis is None:
        return be.reshape(grad, (1,) * len(in_shape))
    if keepdims:
        return grad
    shape = [1 if i in axis else n for i, n in enumerate(in_shape)]
    return be.reshape(grad, tuple(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.in_shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return ctx.backend.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        g = _expand_back(be, grad, ctx.in_shape, ctx.axis, ctx.keepdims)
        return be.copy(be.broadcast_to(g, ctx.in_shape))


class Max(Function):
    """Max over axes; the gradient is shared equally among tied maxima (as torch.amax)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        be = ctx.backend
        out = be.max(a, axis=axis, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (a, out) = ctx.backend, ctx.saved
        out_b = _expand_back(be, out, a.shape, ctx.axis, ctx.keepdims)
        g = _expand_back(be, grad, a.shape, ctx.axis, ctx.keepdims)
        hit = be.astype(be.equal(a, out_b), a.dtype)
        count = be.sum(hit, axis=ctx.axis, keepdims=True)
        return be.mul(hit, be.div(g, count))
