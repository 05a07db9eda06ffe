"""The autograd node: a Function records its inputs and knows its backward."""
from __future__ import annotations

from tinygrad_cnn import grad_mode


class Context:
    """What forward keeps for backward: saved arrays and any settings."""

    __slots__ = ("saved", "needs_input_grad", "backend", "__dict__")

    def __init__(self, backend, needs_input_grad):
        self.backend = backend
        self.needs_input_grad = needs_input_grad
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """One differentiable op: static forward(ctx, *arrays, **kw) and backward(ctx, grad).

    forward and backward work on backend arrays (never Tensors); backward returns one
    gradient array (or None) per Tensor input, and never writes into ``grad``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *tensors, **kwargs):
        """Run forward on the tensors' arrays and, when grad is on, record the node."""
        from tinygrad_cnn.tensor import Tensor, check_same_device

        device = check_same_device(cls.__name__, tensors)
        backend = tensors[0].backend
        needs = tuple(t.requires_grad for t in tensors)
        track = grad_mode.is_enabled() and any(needs)
        ctx = Context(backend, needs)
        out = cls.forward(ctx, *[t._array for t in tensors], **kwargs)
        result = Tensor._wrap(out, device=device, requires_grad=track)
        if track:
            result._ctx = Node(cls, ctx, tensors)
        return result


class Node:
    """A recorded application: the Function, its context and its parent tensors."""

    __slots__ = ("fn", "ctx", "parents")

    def __init__(self, fn, ctx, parents):
        self.fn = fn
        self.ctx = ctx
        self.parents = parents
