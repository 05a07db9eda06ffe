"""Matrix product with NumPy's matmul semantics (batched, 1-D promotion)."""
from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import unbroadcast


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        be, (a, b) = ctx.backend, ctx.saved
        a2 = be.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = be.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = be.reshape(g, g.shape[:-1] + (1,) + g.shape[-1:]) if b.ndim > 1 else be.reshape(g, (1,) + g.shape)
        if b.ndim == 1:
            g = be.reshape(g, g.shape + (1,))
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = be.matmul(g, be.transpose(b2, _swap_last(b2.ndim)))
            ga = be.reshape(unbroadcast(be, ga, a2.shape), a.shape)
        if ctx.needs_input_grad[1]:
            gb = be.matmul(be.transpose(a2, _swap_last(a2.ndim)), g)
            gb = be.reshape(unbroadcast(be, gb, b2.shape), b.shape)
        return ga, gb


def _swap_last(ndim):
    """Permutation that swaps the last two axes."""
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)
