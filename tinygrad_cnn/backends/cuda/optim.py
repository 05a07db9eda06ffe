"""CUDA optimizer updates: SGD and Adam/AdamW, one fused kernel per parameter, in place.

Same contract as backends/cpu/optim.py; the scalars are computed here in the
parameter's dtype exactly as the CPU code computes them, so both devices agree to the
last float32 rounding of each elementwise operation.
"""
import math

from tinygrad_cnn.backends.cuda import launch as rt
from tinygrad_cnn.kernels.cuda import optim as ko


def sgd_update(param, grad, momentum_buf, lr, momentum, dampening, nesterov, weight_decay):
    """One torch.optim.SGD step on ``param`` in place; returns the momentum buffer (None if unused)."""
    dt = param.dtype.type
    first = momentum != 0 and momentum_buf is None
    if first:
        momentum_buf = rt.empty(param.shape, param.dtype)
    buf = momentum_buf if momentum != 0 else param     # not touched when momentum == 0
    rt.launch(ko.sgd_update, param.size, rt.flat(param), rt.flat(grad), rt.flat(buf), dt(lr),
              dt(momentum), dt(1 - dampening), bool(nesterov), dt(weight_decay), first)
    return momentum_buf


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                decoupled):
    """One torch.optim.Adam (decoupled=False) or AdamW (decoupled=True) step, in place."""
    dt = param.dtype.type
    decay = dt(1 - lr * weight_decay) if (decoupled and weight_decay != 0) else dt(1)
    l2 = dt(weight_decay) if (weight_decay != 0 and not decoupled) else dt(0)
    step_size = dt(lr / (1 - beta1 ** step))
    bias2 = dt(math.sqrt(1 - beta2 ** step))
    rt.launch(ko.adam_update, param.size, rt.flat(param), rt.flat(grad), rt.flat(exp_avg),
              rt.flat(exp_avg_sq), decay, l2, dt(1 - beta1), dt(beta2), dt(1 - beta2), step_size,
              bias2, dt(eps))
