"""LRScheduler: the base of every learning-rate scheduler, as torch's LRScheduler."""
import copy
import math

from tinygrad_cnn.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: sets each group's "lr" from get_lr() on every step(), as torch's LRScheduler."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   f"when resuming a scheduler with last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self):
        """The learning rates for the current last_epoch, one per param group."""
        raise NotImplementedError

    def step(self):
        """Advance one epoch (or batch) and write the new learning rates into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates set by the last step()."""
        return list(self._last_lr)

    def state_dict(self):
        """Every attribute but the optimizer (plain numbers, lists and dicts)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore attributes saved by state_dict()."""
        self.__dict__.update(copy.deepcopy(state_dict))


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive integer {name}, got {value!r}")
    return value


def _per_group(name, value, groups):
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{name} has {len(value)} values, the optimizer has "
                             f"{len(groups)} param groups")
        return list(value)
    return [value] * len(groups)


def _anneal(strategy, start, end, pct):
    """Cosine or linear interpolation from start (pct 0) to end (pct 1)."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start
