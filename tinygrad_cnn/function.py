"""The autograd node: a Function records its inputs and knows its backward."""
from __future__ import annotations

from tinygrad_cnn import grad_mode, profiler, tracing
from tinygrad_cnn.device import check_same_device


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
        device = check_same_device(cls.__name__, tensors)
        backend = tensors[0].backend
        needs = tuple(t.requires_grad for t in tensors)
        track = grad_mode.is_enabled() and any(needs)
        if track:
            _check_views_current(cls, tensors)
        # ctx.needs_input_grad says what backward will need: nothing when no node is recorded
        ctx = Context(backend, needs if track else (False,) * len(needs))
        arrays = [t._array for t in tensors]
        if profiler.active:
            out = profiler.timed(cls, "forward", ctx, tensors,
                                 lambda: cls.forward(ctx, *arrays, **kwargs))
        else:
            out = cls.forward(ctx, *arrays, **kwargs)
        result = tensors[0]._wrap_plain(out, device=device, requires_grad=track)
        if track:
            node = Node(cls, ctx, tensors, needs)
            if ctx.saved:
                node.saved_versions = _saved_versions(cls, ctx.saved, tensors, result, backend)
            result._ctx = node
        recorder = tracing.current()  # an exporter's trace (tinygrad_cnn.onnx); else None
        if recorder is not None:
            recorder(cls, tensors, kwargs, result)
        return result


class Node:
    """A recorded application: the Function, its context, its parents and the graph node
    each parent had at that moment (an in-place op later gives the tensor a new node; this
    one keeps pointing at the old).

    A parent is the input tensor itself only where backward accumulates into it: a leaf
    that requires grad. For any other input the node keeps an Input (its shape, device and
    backend), as PyTorch's graph keeps no input it did not save: an activation is freed as
    soon as the ops after it are done with it (what forward saves lives in the context),
    not held by the graph until backward reaches it. SimpleCNN's first conv output (10 MB
    at batch 100), read only by the max pool, no longer outlives the pool."""

    __slots__ = ("fn", "ctx", "parents", "parent_nodes", "needs", "saved_versions")

    def __init__(self, fn, ctx, parents, needs):
        self.fn = fn
        self.ctx = ctx
        self.parents = tuple(t if need and t._ctx is None else Input(t)
                             for t, need in zip(parents, needs))
        self.parent_nodes = tuple(t._ctx for t in parents)
        self.needs = needs
        self.saved_versions = ()

    def check_versions(self):
        """Raise, as torch does, when a tensor that forward saved was changed in place since."""
        for counter, expected, shape, dtype, producer in self.saved_versions:
            if counter.value != expected:
                made_by = f", which is output 0 of {producer.__name__}Backward," if producer else ""
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{dtype} tensor of shape {list(shape)}]{made_by} is "
                    f"at version {counter.value}; expected version {expected} instead. Hint: the "
                    f"tensor was saved by {self.fn.__name__}Backward; clone() it before changing "
                    f"it in place, or do the in-place op before the forward that uses it.")


class Input:
    """What a Node keeps of an input it never accumulates into: what backward checks its
    gradient against and adds with (shape, backend) and what the profiler reports."""

    __slots__ = ("shape", "device", "backend")

    def __init__(self, tensor):
        self.shape, self.device, self.backend = tensor.shape, tensor.device, tensor.backend


def _saved_versions(fn, saved, tensors, result, backend):
    """(version counter, version now, shape, dtype, producing Function) of every tensor whose
    storage forward saved: an input, or the output itself. Arrays forward made for itself
    are never visible to the user and need no check."""
    found = []
    for arr in _arrays(saved):
        if arr is result._array:
            found.append((result._version_counter, result._version_counter.value, result.shape, result.dtype, fn))
            continue
        owner = next((t for t in tensors if arr is t._array), None)   # the usual case
        if owner is None:
            owner = next((t for t in tensors if backend.shares_memory(arr, t._array)), None)
        if owner is not None:
            producer = owner._ctx.fn if owner._ctx is not None else None
            found.append((owner._version_counter, owner._version_counter.value, owner.shape,
                          owner.dtype, producer))
    return tuple(found)


def _arrays(saved):
    """The arrays in ``saved``, looking inside tuples (a backend may save (x, extra))."""
    for item in saved:
        if isinstance(item, (tuple, list)):
            yield from _arrays(item)
        elif hasattr(item, "dtype") and hasattr(item, "shape"):
            yield item


def _check_views_current(cls, tensors):
    """Refuse a view in the graph whose base was changed in place after the view was taken:
    its graph node would send gradients through the old values (torch rebases such a view;
    here it must be taken again)."""
    for t in tensors:
        seen = getattr(t, "_view_version", None)
        if seen is not None and t._ctx is not None and t._version_counter.value != seen:
            raise RuntimeError(
                f"{cls.__name__}: an input is a view (view/reshape/indexing/transpose) of a "
                f"tensor that was changed in place after the view was taken (version {seen} "
                f"-> {t._version_counter.value}); take the view again after the in-place op, "
                f"or make it independent with clone() before")
