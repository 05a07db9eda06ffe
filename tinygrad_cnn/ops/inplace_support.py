"""Ops behind clone, dtype casts, gathers along a dim, and the fill/copy in-place ops."""
import numpy as np

from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import unbroadcast


class Clone(Function):
    """A copy with its own storage; the gradient passes through."""

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.copy(a)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Cast(Function):
    """Conversion between float dtypes; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.in_dtype = a.dtype
        return ctx.backend.astype(a, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.astype(grad, ctx.in_dtype)


def along_axis_index(be, index, shape, axis):
    """The advanced index that picks ``index`` (same ndim as ``shape``) along ``axis``:
    broadcast positions on every other axis, so a[full] == np.take_along_axis(a, index)."""
    ndim = len(shape)
    full = []
    for d in range(ndim):
        if d == axis:
            full.append(index)
        else:
            pos = np.arange(shape[d], dtype=np.int64).reshape([-1 if i == d else 1
                                                               for i in range(ndim)])
            full.append(be.from_numpy(pos))
    return tuple(full)


class TakeAlongDim(Function):
    """out = take_along_axis(a, index, axis); the gradient goes to the picked positions only
    (as torch's max(dim)/sort/topk values, where each output has one source)."""

    @staticmethod
    def forward(ctx, a, index=None, axis=0):
        ctx.in_shape = a.shape
        ctx.full = along_axis_index(ctx.backend, index, a.shape, axis)
        return ctx.backend.getitem(a, ctx.full)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.index_add(ctx.in_shape, ctx.full, grad)


class Fill(Function):
    """A tensor of ``a``'s shape and dtype holding ``value`` (the result of fill_/zero_);
    ``a`` gets a zero gradient, as torch's FillBackward."""

    @staticmethod
    def forward(ctx, a, value=0):
        return ctx.backend.full(a.shape, value, a.dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.zeros(grad.shape, grad.dtype)


class CopyFrom(Function):
    """``b`` broadcast to ``a``'s shape in ``a``'s dtype (the result of a.copy_(b)); the
    gradient goes to ``b``; the overwritten ``a`` gets zeros, as torch's CopyBackwards."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.b_shape, ctx.b_dtype = b.shape, b.dtype
        be = ctx.backend
        out = be.empty(a.shape, a.dtype)
        be.assign(out, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        be = ctx.backend
        ga = be.zeros(grad.shape, grad.dtype) if ctx.needs_input_grad[0] else None
        gb = be.astype(unbroadcast(be, grad, ctx.b_shape), ctx.b_dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


class ToDevice(Function):
    """A copy on another device. Its node is made by Tensor.to (Function.apply keeps one
    device); backward moves the gradient back to the source device ``ctx.source``."""

    @staticmethod
    def backward(ctx, grad):
        return get_backend(ctx.source).from_numpy(ctx.backend.to_numpy(grad))
