"""@cuda.jit optimizer updates: one fused pass per parameter, in place.

The arithmetic follows backends/cpu/optim.py operation by operation, with every scalar
given in the parameter's dtype by the launcher, so float32 stays float32.
"""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_jit


@cuda_jit
def sgd_update(param, grad, buf, lr, momentum, keep, nesterov, weight_decay, first):
    """torch.optim.SGD on flat arrays: keep = 1 - dampening; buf is unused when momentum == 0."""
    for t in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        d = grad[t]
        if weight_decay != 0:
            d = d + weight_decay * param[t]
        if momentum != 0:
            if first:
                buf[t] = d
            else:
                buf[t] = buf[t] * momentum + keep * d
            if nesterov:
                d = d + momentum * buf[t]
            else:
                d = buf[t]
        param[t] -= lr * d


@cuda_jit
def adam_update(param, grad, exp_avg, exp_avg_sq, decay, l2, c1, beta2, c2, step_size,
                bias2, eps):
    """Adam/AdamW on flat arrays.

    param *= decay (AdamW); g = grad + l2 * param (Adam); m += c1 (g - m);
    v = beta2 v + c2 g g; param -= step_size m / (sqrt(v) / bias2 + eps).
    """
    for t in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p = param[t]
        if decay != 1:
            p = p * decay
        g = grad[t]
        if l2 != 0:
            g = g + l2 * p
        m = exp_avg[t]
        m = m + c1 * (g - m)
        v = exp_avg_sq[t] * beta2
        v = v + c2 * g * g
        exp_avg[t] = m
        exp_avg_sq[t] = v
        param[t] = p - step_size * m / (math.sqrt(v) / bias2 + eps)
