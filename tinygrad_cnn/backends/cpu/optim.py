"""CPU optimizer updates: SGD and Adam/AdamW per-parameter arithmetic, in place on NumPy arrays.

These are backend kernels so a CUDA backend can fuse them; the optimizers in optim/ only
loop over parameters. Scalars take the parameter's dtype, so float32 stays float32.
"""
import math

import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import optim as optim_kernels


def sgd_update(param, grad, momentum_buf, lr, momentum, dampening, nesterov, weight_decay):
    """One torch.optim.SGD step on ``param`` in place; returns the momentum buffer (None if unused).

    d = grad + weight_decay * param; buf = d on the first step, else
    momentum * buf + (1 - dampening) * d; step = d + momentum * buf (nesterov) or buf;
    param -= lr * step.
    """
    dt = param.dtype.type
    d_p = grad if weight_decay == 0 else grad + dt(weight_decay) * param
    if momentum != 0:
        if momentum_buf is None:
            momentum_buf = np.array(d_p, dtype=param.dtype, copy=True)
        else:
            momentum_buf *= dt(momentum)
            momentum_buf += dt(1 - dampening) * d_p
        d_p = d_p + dt(momentum) * momentum_buf if nesterov else momentum_buf
    param -= dt(lr) * d_p
    return momentum_buf


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                decoupled):
    """One torch.optim.Adam (decoupled=False) or AdamW (decoupled=True) step, in place.

    ``step`` counts from 1. Adam adds weight_decay * param to the gradient; AdamW scales
    param by (1 - lr * weight_decay) first. Then m += (1 - b1)(g - m),
    v = b2 v + (1 - b2) g^2, and param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    One pass of kernels/cpu/optim.adam_update over the four arrays, on the threads, where
    they are contiguous and of one dtype (always, for a model's parameters and their
    gradients); NumPy's expressions otherwise, the same arithmetic.
    """
    dt = param.dtype.type
    step_size = lr / (1 - beta1 ** step)
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
    arrays = (param, grad, exp_avg, exp_avg_sq)
    if all(a.flags.c_contiguous and a.dtype == param.dtype for a in arrays) and \
            param.dtype.kind == "f":
        flat = [a.reshape(-1) for a in arrays]
        scalars = (weight_decay != 0, bool(decoupled), dt(1 - lr * weight_decay),
                   dt(weight_decay), dt(1 - beta1), dt(beta2), dt(1 - beta2), dt(step_size),
                   dt(bias_correction2_sqrt), dt(eps))
        threads.run(lambda lo, hi: optim_kernels.adam_update(*flat, *scalars, lo, hi),
                    param.size, grain=settings.part_elements)
        return
    if weight_decay != 0:
        if decoupled:
            param *= dt(1 - lr * weight_decay)
        else:
            grad = grad + dt(weight_decay) * param
    exp_avg += dt(1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= dt(beta2)
    exp_avg_sq += dt(1 - beta2) * grad * grad
    denom = np.sqrt(exp_avg_sq) / dt(bias_correction2_sqrt) + dt(eps)
    param -= dt(step_size) * exp_avg / denom
