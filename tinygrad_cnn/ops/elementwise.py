"""Elementwise ops with broadcasting; gradients are summed back to each input's shape."""
from tinygrad_cnn.function import Function


def unbroadcast(be, grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    out = be.sum(grad, axis=axes, keepdims=True) if axes else grad
    return be.reshape(out, shape)


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return ctx.backend.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (sa, sb) = ctx.backend, ctx.shapes
        return unbroadcast(be, grad, sa), unbroadcast(be, grad, sb)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return ctx.backend.sub(a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (sa, sb) = ctx.backend, ctx.shapes
        gb = unbroadcast(be, be.neg(grad), sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(be, grad, sa), gb


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.mul(a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (a, b) = ctx.backend, ctx.saved
        ga = unbroadcast(be, be.mul(grad, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(be, be.mul(grad, a), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.div(a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (a, b) = ctx.backend, ctx.saved
        ga = unbroadcast(be, be.div(grad, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = be.neg(be.div(be.mul(grad, a), be.mul(b, b)))
            gb = unbroadcast(be, gb, b.shape)
        return ga, gb


class Pow(Function):
    """a ** b; d/da = b a^(b-1), d/db = a^b log a."""

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.backend.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (a, b, out) = ctx.backend, ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            one = b.dtype.type(1)
            ga = unbroadcast(be, be.mul(grad, be.mul(b, be.power(a, be.sub(b, one)))), a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(be, be.mul(grad, be.mul(out, be.log(a))), b.shape)
        return ga, gb


class Where(Function):
    """cond ? a : b, with cond a constant (non-differentiable) array."""

    @staticmethod
    def forward(ctx, a, b, cond=None):
        ctx.cond, ctx.shapes = cond, (a.shape, b.shape)
        return ctx.backend.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (sa, sb) = ctx.backend, ctx.shapes
        zero = grad.dtype.type(0)
        ga = unbroadcast(be, be.where(ctx.cond, grad, zero), sa)
        gb = unbroadcast(be, be.where(ctx.cond, zero, grad), sb)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return ctx.backend.neg(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.neg(grad)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.mul(grad, ctx.saved[0])


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.log(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.div(grad, ctx.saved[0])


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (out,) = ctx.backend, ctx.saved
        return be.div(grad, be.mul(out, out.dtype.type(2)))


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.abs(a)

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        return be.mul(grad, be.sign(ctx.saved[0]))


class Clip(Function):
    """Clamp to [lo, hi]; gradient flows where the input was inside the range."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return ctx.backend.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        be, (a,) = ctx.backend, ctx.saved
        inside = be.equal(be.clip(a, ctx.lo, ctx.hi), a)
        return be.where(inside, grad, grad.dtype.type(0))


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.relu(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.relu_backward(grad, ctx.saved[0])


class ReLUInPlace(Function):
    """relu_: max(x, 0) written over x's own storage, which forward returns. The backward
    masks by the saved output, which is x's storage after the write: max(x, 0) > 0 exactly
    where x > 0 (NaN in both: no gradient), so the input's old values are not needed.
    Tensor.relu_ gives the node x's version counter (tensor_inplace.py)."""
    @staticmethod
    def forward(ctx, a):
        ctx.backend.relu_in_place(a)
        ctx.save_for_backward(a)
        return a

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.relu_backward(grad, ctx.saved[0])


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, a, slope=0.01):
        ctx.save_for_backward(a)
        ctx.slope = slope
        return ctx.backend.leaky_relu(a, slope)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.leaky_relu_backward(grad, ctx.saved[0], ctx.slope)


class ELU(Function):
    @staticmethod
    def forward(ctx, a, alpha=1.0):
        ctx.save_for_backward(a)
        ctx.alpha = alpha
        return ctx.backend.elu(a, alpha)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.elu_backward(grad, ctx.saved[0], ctx.alpha)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (s,) = ctx.backend, ctx.saved
        return be.mul(grad, be.mul(s, be.sub(s.dtype.type(1), s)))


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.backend.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        be, (t,) = ctx.backend, ctx.saved
        return be.mul(grad, be.sub(t.dtype.type(1), be.mul(t, t)))
