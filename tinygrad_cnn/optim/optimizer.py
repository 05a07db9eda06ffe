"""Optimizer: parameter groups, zero_grad and a state_dict that tc.save can store."""
from collections.abc import Mapping

import numpy as np

from tinygrad_cnn.tensor import Tensor


def check_hyper(name, value, low=0.0, high=None, high_open=True):
    """``value`` as a float, or ValueError naming it when it lies outside [low, high)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    above = high is not None and (value >= high if high_open else value > high)
    if not value >= low or above:
        bound = "" if high is None else f" and {'<' if high_open else '<='} {high}"
        raise ValueError(f"invalid {name}: {value} (must be >= {low}{bound})")
    return value


class Optimizer:
    """Base class: param_groups (dicts of "params" and hyper-parameters) and per-param state."""

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or dicts, got a single Tensor; "
                            "pass model.parameters() or [tensor]")
        self.defaults = dict(defaults)
        self.state = {}  # Parameter -> dict of state (keyed by identity: Tensor hashes by id)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict with "params" (and optional hyper-parameters overriding the defaults)."""
        if not isinstance(group, dict):
            raise TypeError(f"a param group must be a dict, got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"cannot optimize a non-leaf Tensor (shape {p.shape})")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("some parameters appear more than once in the parameter groups")
        full = {**self.defaults, **group, "params": params}
        self.param_groups.append(full)

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter (to None, as torch's default)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor.zeros_like(p.grad)

    def step(self):
        """Update every parameter that has a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group, self.state.setdefault(p, {}))
                    # _update changed p in place: a backward through a graph that saved p
                    # before this step now raises, as in torch
                    p._version_counter.value += 1

    def _update(self, p, group, state):
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ---- saving --------------------------------------------------------------------
    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}, as torch.

        Parameters are referred to by their position across the groups; arrays are host copies.
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _host_copy(p, v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state saved by state_dict(); checks everything before changing anything."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected an optimizer state dict (a mapping with 'state' and "
                            f"'param_groups'), got {type(state_dict).__name__}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, this "
                             f"optimizer has {len(self.param_groups)}")
        by_index = {}
        for k, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded parameter group {k} has {len(saved['params'])} "
                                 f"parameters, this optimizer's has {len(group['params'])}")
            by_index.update(zip((int(i) for i in saved["params"]), group["params"]))
        new_state = {}
        for i, entries in saved_state.items():
            if int(i) not in by_index:
                raise ValueError(f"loaded state refers to parameter {i}, which no group lists")
            p = by_index[int(i)]
            new_state[p] = {k: _device_copy(p, v, f"state[{i}][{k!r}]") for k, v in entries.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


def _host_copy(p, value):
    """A state entry for saving: numbers as they are, backend arrays as host NumPy copies."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return np.array(p.backend.to_numpy(value), copy=True)


def _device_copy(p, value, where):
    """A loaded state entry: arrays copied onto p's device in p's dtype after a shape check."""
    if value is None or isinstance(value, (bool, int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if arr.shape != p.shape:
        raise ValueError(f"loaded optimizer {where} has shape {arr.shape}, its parameter has "
                         f"shape {p.shape}")
    return p.backend.from_numpy(np.array(arr, dtype=p.dtype, copy=True))
