"""In-place tensor ops (add_, mul_, +=, zero_, copy_, normal_, ...) and their autograd rules.

Every in-place op writes into the tensor's own storage and bumps its version counter,
which the tensor shares with its views and detach(); backward compares versions with
what each node saw when it saved a tensor (function.Node.check_versions). The rules are
torch's:
- on a leaf that requires grad, in-place ops raise unless grad mode is off (tc.no_grad());
- on any other tensor with grad on, the result joins the graph: the op runs out of place
  on a stand-in for the old value (a copy, when the op's backward needs that value) and
  the tensor takes the new graph node, so ``y = x * 2; y += 1`` differentiates as torch.
In-place ops on a view (reshape/transpose/expand/basic indexing) write through to its base
when both hold the same memory and no gradient is involved; otherwise they raise.
"""
import numpy as np

from tinygrad_cnn import grad_mode, ops
from tinygrad_cnn import random as tc_random
from tinygrad_cnn.tensor_shape import _index_arrays


class InplaceMethods:
    """Mixin of Tensor: the in-place ops."""

    __slots__ = ()

    # ---- the ops -----------------------------------------------------------------------
    def add_(self, other, *, alpha=1):
        """self += alpha * other."""
        return self._inplace(ops.Add, self._scaled(other, alpha))

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other."""
        return self._inplace(ops.Sub, self._scaled(other, alpha))

    def mul_(self, other):
        return self._inplace(ops.Mul, other, saves_self=True)

    def div_(self, other):
        return self._inplace(ops.Div, other, saves_self=True)

    def clamp_(self, min=None, max=None):  # noqa: A002 - torch's names
        if min is None and max is None:
            raise ValueError("clamp_ needs at least one of min and max")
        return self._inplace(ops.Clip, None, saves_self=True, lo=min, hi=max)

    def relu_(self):
        return self._inplace_kernel(ops.ReLUInPlace)

    def fill_(self, value):
        """Set every element to ``value`` (a number or a one-element tensor)."""
        if hasattr(value, "_array"):
            if value.numel() != 1:
                raise RuntimeError(f"fill_ only supports a 0-dimension value tensor, got shape "
                                   f"{value.shape}")
            value = value.item()
        return self._inplace(ops.Fill, None, value=value)

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (broadcast, converted to this dtype and device) into this tensor."""
        src = self._other(src) if not hasattr(src, "_array") else src
        if src.device != self.device:
            src = src.to(self.device)
        return self._inplace(ops.CopyFrom, src)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with N(mean, std^2) draws from the generator seeded by tc.manual_seed."""
        draws = tc_random.generator().normal(mean, std, self.shape)
        return self._fill_from_host(draws)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with U[a, b) draws from the generator seeded by tc.manual_seed."""
        draws = tc_random.generator().uniform(a, b, self.shape)
        return self._fill_from_host(draws)

    def __setitem__(self, index, value):
        """x[index] = value, in place, outside the autograd graph (as a write under no_grad);
        with grad on for a tensor or value that requires grad it raises."""
        value = self._inplace_operand(value)
        if grad_mode.is_enabled() and (self.requires_grad or value.requires_grad):
            raise RuntimeError("x[index] = value on a tensor or with a value that requires grad "
                               "is not supported by tinygrad_cnn; wrap it in tc.no_grad() to "
                               "change values, or build the result out of place with tc.where")
        self._check_inplace_allowed(False)
        self.backend.setitem(self._array, _index_arrays(index, self.backend), value._array)
        self._version_counter.value += 1

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- machinery -----------------------------------------------------------------------
    def _scaled(self, other, alpha):
        if alpha == 1:
            return other
        return self._other(other) * alpha

    def _fill_from_host(self, values):
        if self.dtype.kind != "f":
            raise TypeError(f"normal_/uniform_ need a float tensor, got {self.dtype}")
        src = type(self)._wrap(self.backend.from_numpy(np.asarray(values, self.dtype)),
                               self.device)
        return self._inplace(ops.CopyFrom, src)

    def _inplace_operand(self, other):
        """``other`` as a Tensor on this device in this tensor's dtype (an in-place op keeps
        self's dtype, as torch); a float into an integer tensor is an error."""
        other = self._other(other)
        if other.dtype == self.dtype:
            return other
        if not np.can_cast(other.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {other.dtype} can't be cast to the desired output "
                               f"type {self.dtype}")
        return other.to(self.dtype)

    def _inplace(self, fn, other, saves_self=False, **kwargs):
        """Run ``fn(self[, other], **kwargs)`` and write the result into self's storage."""
        operands = () if other is None else (self._inplace_operand(other),)
        track = grad_mode.is_enabled() and (self.requires_grad
                                            or any(o.requires_grad for o in operands))
        self._check_inplace_allowed(track)
        if not track:
            with grad_mode.no_grad():
                result = fn.apply(self, *operands, **kwargs)
            self._write(result._array)
            return self
        # the op's saved input: a copy in self's layout (a channels-last activation stays
        # channels-last, so the op's backward gets no layout to convert)
        copy = self.backend.clone(self._array) if saves_self else self._array
        old = type(self)._wrap(copy, self.device, self.requires_grad)
        old._ctx = self._ctx
        if not saves_self:
            old._version_counter = self._version_counter
        result = fn.apply(old, *operands, **kwargs)
        self._write(result._array)
        self._ctx, self.requires_grad = result._ctx, True
        return self

    def _inplace_kernel(self, fn):
        """Run ``fn(self)``, an op whose forward writes its result over its input's storage
        and saves only that result: one pass, no stand-in copy. Its node checks self's
        version from after the write, so a later in-place change of self before backward
        raises as for any saved tensor."""
        track = grad_mode.is_enabled() and self.requires_grad
        self._check_inplace_allowed(track)
        if not track:
            with grad_mode.no_grad():
                fn.apply(self)
            self._version_counter.value += 1
            return self
        old = type(self)._wrap(self._array, self.device, True)
        old._ctx, old._version_counter = self._ctx, self._version_counter
        node = fn.apply(old)._ctx
        self._version_counter.value += 1
        counter = self._version_counter
        node.saved_versions = tuple((counter, counter.value, *rest)
                                    for _, _, *rest in node.saved_versions)
        self._ctx = node
        return self

    def _check_inplace_allowed(self, track):
        if track and self.requires_grad and self._ctx is None and self._base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation. (Wrap it in tc.no_grad() to change its values, "
                               "e.g. for a manual SGD step.)")
        base = self._base
        if base is None:
            return
        if track:
            if base.requires_grad and base._ctx is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
            raise RuntimeError("an in-place operation on a view (the result of view/reshape/"
                               "transpose/expand/indexing) of a tensor in the autograd graph is "
                               "not supported by tinygrad_cnn; use the out-of-place form "
                               "(y = y + 1) or clone() the view first")
        if not self.backend.shares_memory(self._array, base._array):
            raise RuntimeError(f"this tensor is a view of another one, but on device "
                               f"'{self.device}' it holds a copy of the values (shape "
                               f"{self.shape} from {base.shape}), so an in-place change would "
                               f"not reach the base tensor; change the base tensor, or clone() "
                               f"the view to make it independent")
        flags = getattr(self._array, "flags", None)
        if flags is not None and not flags.writeable:
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location (an expand()ed "
                               "view); clone() it first")

    def _write(self, array):
        """Copy ``array`` into this tensor's storage and bump the version."""
        if tuple(array.shape) != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(array.shape)}")
        if not np.can_cast(array.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {np.dtype(array.dtype)} can't be cast to the "
                               f"desired output type {self.dtype}")
        if array is not self._array:
            self.backend.assign(self._array, array)
        self._version_counter.value += 1
