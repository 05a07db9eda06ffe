"""SGD with momentum, dampening, Nesterov momentum and weight decay, as torch.optim.SGD."""
from tinygrad_cnn.optim.optimizer import Optimizer, check_hyper


class SGD(Optimizer):
    """Stochastic gradient descent; the update itself is the backend's sgd_update."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False):
        lr = check_hyper("learning rate", lr)
        momentum = check_hyper("momentum", momentum)
        dampening = check_hyper("dampening", dampening, high=1.0, high_open=False)
        weight_decay = check_hyper("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires a momentum > 0 and zero dampening, "
                             f"got momentum={momentum}, dampening={dampening}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=bool(nesterov))
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        buf = p.backend.sgd_update(p._array, p.grad._array, state.get("momentum_buffer"),
                                   group["lr"], group["momentum"], group["dampening"],
                                   group["nesterov"], group["weight_decay"])
        if buf is not None:
            state["momentum_buffer"] = buf
