"""Module: the base of every layer; owns parameters, buffers and sub-modules, as torch.nn.Module."""
import os
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from tinygrad_cnn.nn.parameter import Parameter
from tinygrad_cnn.device import as_device
from tinygrad_cnn.hooks import RemovableHandle
from tinygrad_cnn.tensor import FLOAT_TYPES, Tensor

__all__ = ["Module", "Parameter", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class for layers and models: register parameters, buffers and children by assignment."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def register_forward_hook(self, hook):
        """Call hook(module, inputs, output) after every forward; a non-None result replaces output.

        Returns a handle whose remove() unregisters the hook.
        """
        return RemovableHandle(self._forward_hooks, hook)

    # ---- registration ----------------------------------------------------------------
    def _registries(self, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__})")
        return self._parameters, self._buffers, self._modules

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Module)):
            params, buffers, modules = self._registries(name)
            self._forget(name)
            (params if isinstance(value, Parameter) else modules)[name] = value
            return
        params, buffers, modules = (self.__dict__.get(k) for k in
                                    ("_parameters", "_buffers", "_modules"))
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(a Parameter or None expected)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                f"(a Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(a Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only reached when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if not self._forget(name):
            object.__delattr__(self, name)

    def _forget(self, name):
        """Remove ``name`` from every registry and the instance dict; True if it was registered."""
        found = False
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                found = True
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)
        return found

    def register_parameter(self, name, param):
        """Add a Parameter (or None, a declared but absent parameter such as bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r} "
                            f"(a Parameter or None expected)")
        self._registries(name)
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a non-learnable Tensor (e.g. running_mean); state_dict() saves it if persistent."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot register {type(tensor).__name__} as buffer {name!r} "
                            f"(a Tensor or None expected)")
        self._registries(name)
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Add a child module under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module (adding {name!r})")
        self._registries(name)
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # ---- traversal -----------------------------------------------------------------
    def named_children(self):
        """(name, module) for each direct child, once each."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        """Each direct child module."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and all below it, depth first, once each
        (every occurrence when remove_duplicate=False)."""
        memo = set() if memo is None else memo
        if id(self) in memo and remove_duplicate:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def get_submodule(self, target):
        """The module at dotted path ``target`` ("" is this module), as torch's."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = child
        return module

    def modules(self):
        """This module and every module below it."""
        for _, m in self.named_modules():
            yield m

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, t in getattr(module, registry).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs, e.g. ("features.0.weight", p), each parameter once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every Parameter of this module and its children, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        """(dotted name, Tensor) for every buffer, such as "bn.running_mean"."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer Tensor of this module and its children."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and housekeeping ------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (True) or evaluation mode (False) here and in every child."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: dropout off, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Turn gradient tracking of every parameter on or off."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (to None, as torch's default)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor.zeros_like(p.grad)

    def apply(self, fn):
        """Call fn on every child (recursively) and then on this module; return self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _tensors(self):
        return list(self.parameters()) + list(self.buffers())

    def to(self, device):
        """Move every parameter, gradient and buffer to ``device`` in place; return self."""
        device = as_device(device)
        for t in self._tensors():
            t._array = t.to(device)._array
            if t.grad is not None:
                t.grad = t.grad.to(device)
            t.device = device
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def _cast_floats(self, dtype):
        for t in self._tensors():
            if t.dtype in FLOAT_TYPES:
                t._array = t.backend.astype(t._array, np.dtype(dtype))
                if t.grad is not None:
                    t.grad = t.grad.astype(dtype)
        return self

    def double(self):
        """Convert floating parameters and buffers to float64 in place (for gradient checks)."""
        return self._cast_floats(np.float64)

    def float(self):
        """Convert floating parameters and buffers to float32 in place."""
        return self._cast_floats(np.float32)

    # ---- state -----------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """OrderedDict of name -> Tensor: parameters, then buffers, then each child's, as torch."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors or arrays) in by name; on any error nothing is changed.

        Missing or unexpected keys are errors when strict; a shape mismatch always is.
        Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected a state dict (a mapping of names to tensors), got "
                            f"{type(state_dict).__name__}" + (
                                f" (to read the file, pass tc.load({state_dict!r}))"
                                if isinstance(state_dict, (str, os.PathLike)) else ""))
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, arrays = [], {}
        if strict and unexpected:
            errors.append("unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        if strict and missing:
            errors.append("missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        for key, target in own.items():
            if key in state_dict:
                arr, problem = _as_array(state_dict[key], target, key)
                if problem:
                    errors.append(problem)
                arrays[key] = arr
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, arr in arrays.items():
            target = own[key]
            target._array = target.backend.from_numpy(np.array(arr, dtype=target.dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ----------------------------------------------------------------------
    def extra_repr(self):
        """The layer's settings shown inside its repr; subclasses override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(m), 2)}" for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _as_array(value, target, key):
    """(host array, None) for a state_dict value, or (None, message) when it cannot be loaded."""
    arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return None, f"value for {key!r} has dtype {arr.dtype}; expected numbers"
    if tuple(arr.shape) != target.shape:
        return None, (f"size mismatch for {key}: copying a param with shape {tuple(arr.shape)} "
                      f"from checkpoint, the shape in current model is {target.shape}")
    return arr, None


def _indent(text, spaces):
    """Indent every line of ``text`` but the first."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])
