"""log(sigmoid(x)), stable for large |x|, with the exact gradient 1 - sigmoid(x) everywhere.

Composing it from relu/abs would give a wrong gradient at x = 0 (both have derivative 0
there); BCEWithLogits and F.logsigmoid use this op instead.
"""
from tinygrad_cnn.function import Function


class LogSigmoid(Function):
    """y = -(max(-x, 0) + log(1 + exp(-|x|))); dy/dx = 1 - sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        be, dt = ctx.backend, x.dtype.type
        ctx.save_for_backward(x)
        softplus_neg = be.add(be.maximum(be.neg(x), dt(0)),
                              be.log(be.add(be.exp(be.neg(be.abs(x))), dt(1))))
        return be.neg(softplus_neg)

    @staticmethod
    def backward(ctx, grad):
        be, (x,) = ctx.backend, ctx.saved
        return (be.mul(grad, be.sub(x.dtype.type(1), be.sigmoid(x))),)
