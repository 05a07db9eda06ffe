"""RMSprop, Adagrad and Adadelta with torch.optim's arguments, defaults and update rules."""
from tinygrad_cnn.optim import updates
from tinygrad_cnn.optim.optimizer import Optimizer, check_hyper


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of past gradients (centered: minus their mean)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _no_special_modes("RMSprop", capturable, differentiable)
        defaults = dict(lr=check_hyper("learning rate", lr),
                        alpha=check_hyper("alpha value", alpha),
                        eps=check_hyper("epsilon value", eps),
                        weight_decay=check_hyper("weight_decay value", weight_decay),
                        momentum=check_hyper("momentum value", momentum),
                        centered=bool(centered), maximize=bool(maximize), foreach=foreach,
                        capturable=False, differentiable=False)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        be = p.backend
        if not state:
            state["step"] = 0
            state["square_avg"] = be.zeros(p.shape, p.dtype)
            if group["momentum"] > 0:
                state["momentum_buffer"] = be.zeros(p.shape, p.dtype)
            if group["centered"]:
                state["grad_avg"] = be.zeros(p.shape, p.dtype)
        state["step"] += 1
        updates.rmsprop_update(be, p._array, p.grad._array, state, group["lr"], group["alpha"],
                               group["eps"], group["weight_decay"], group["momentum"],
                               group["centered"], group["maximize"])


class Adagrad(Optimizer):
    """Per-element learning rates lr / sqrt(sum of squared gradients)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _no_special_modes("Adagrad", False, differentiable, fused)
        defaults = dict(lr=check_hyper("learning rate", lr),
                        lr_decay=check_hyper("lr_decay value", lr_decay),
                        weight_decay=check_hyper("weight_decay value", weight_decay),
                        initial_accumulator_value=check_hyper("initial_accumulator_value",
                                                              initial_accumulator_value),
                        eps=check_hyper("epsilon value", eps), foreach=foreach,
                        maximize=bool(maximize), differentiable=False, fused=None)
        super().__init__(params, defaults)
        for group in self.param_groups:                  # torch makes the state up front
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": p.backend.full(
                    p.shape, group["initial_accumulator_value"], p.dtype)}

    def _update(self, p, group, state):
        if not state:                                     # a group added after __init__
            state.update(step=0, sum=p.backend.full(p.shape, group["initial_accumulator_value"],
                                                    p.dtype))
        state["step"] += 1
        updates.adagrad_update(p.backend, p._array, p.grad._array, state, group["lr"],
                               group["lr_decay"], group["weight_decay"], group["eps"],
                               group["maximize"])


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared updates."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _no_special_modes("Adadelta", capturable, differentiable)
        defaults = dict(lr=check_hyper("learning rate", lr),
                        rho=check_hyper("rho value", rho, high=1.0, high_open=False),
                        eps=check_hyper("epsilon value", eps),
                        weight_decay=check_hyper("weight_decay value", weight_decay),
                        foreach=foreach, maximize=bool(maximize), capturable=False,
                        differentiable=False)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        be = p.backend
        if not state:
            state["step"] = 0
            state["square_avg"] = be.zeros(p.shape, p.dtype)
            state["acc_delta"] = be.zeros(p.shape, p.dtype)
        state["step"] += 1
        updates.adadelta_update(be, p._array, p.grad._array, state, group["lr"], group["rho"],
                                group["eps"], group["weight_decay"], group["maximize"])


def _no_special_modes(name, capturable, differentiable, fused=None):
    """capturable / differentiable / fused change what torch records; refuse them loudly."""
    for flag, value in (("capturable", capturable), ("differentiable", differentiable),
                        ("fused", fused)):
        if value:
            raise ValueError(f"{name}({flag}=True) is not supported here (CUDA graphs, "
                             f"differentiable steps and fused kernels are torch-only)")
