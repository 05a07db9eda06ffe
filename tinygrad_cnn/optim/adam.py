"""Adam and AdamW with torch's update rules (bias correction; L2 or decoupled weight decay)."""
from tinygrad_cnn.optim import updates
from tinygrad_cnn.optim.optimizer import Optimizer, check_hyper


class Adam(Optimizer):
    """Adam; weight_decay adds an L2 term to the gradient unless decoupled_weight_decay;
    amsgrad divides by the running maximum of the second moment."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, decoupled_weight_decay=False):
        lr = check_hyper("learning rate", lr)
        eps = check_hyper("epsilon value", eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        betas = (check_hyper("beta parameter at index 0", betas[0], high=1.0),
                 check_hyper("beta parameter at index 1", betas[1], high=1.0))
        weight_decay = check_hyper("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=bool(amsgrad), decoupled_weight_decay=bool(decoupled_weight_decay))
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        be = p.backend
        if not state:
            state["step"] = 0
            state["exp_avg"] = be.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = be.zeros(p.shape, p.dtype)
            if group.get("amsgrad"):
                state["max_exp_avg_sq"] = be.zeros(p.shape, p.dtype)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        if group.get("amsgrad"):
            updates.adam_amsgrad_update(be, p._array, p.grad._array, state, group["lr"], beta1, beta2,
                                        group["eps"], group["weight_decay"],
                                        group["decoupled_weight_decay"])
            return
        be.adam_update(p._array, p.grad._array, state["exp_avg"], state["exp_avg_sq"], state["step"],
                       group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                       group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (param *= 1 - lr * weight_decay each step)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True)
