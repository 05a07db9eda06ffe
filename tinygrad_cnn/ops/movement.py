"""Ops that move elements without arithmetic: reshape, permute, index, concatenate."""
from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import unbroadcast


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return ctx.backend.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.reshape(grad, ctx.in_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, perm=None):
        ctx.perm = perm
        return ctx.backend.transpose(a, perm)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.perm)
        for i, p in enumerate(ctx.perm):
            inverse[p] = i
        return ctx.backend.transpose(grad, tuple(inverse))


class Expand(Function):
    """Broadcast to a larger shape; backward sums over the stretched axes."""

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return ctx.backend.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(ctx.backend, grad, ctx.in_shape)


class GetItem(Function):
    """x[index] for ints, slices, None, Ellipsis and integer/boolean arrays."""

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.in_shape, ctx.index = a.shape, index
        return ctx.backend.getitem(a, index)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.index_add(ctx.in_shape, ctx.index, grad)


class Cat(Function):
    """Concatenate along ``axis``; backward hands each input its slice."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return ctx.backend.concatenate(arrays, axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(ctx.backend.split(grad, ctx.sizes, ctx.axis))
