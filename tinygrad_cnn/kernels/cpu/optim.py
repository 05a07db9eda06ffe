"""@njit optimizer updates over flat 1-D buffers: one pass per parameter where NumPy made a
dozen (each arithmetic step a sweep over memory, most of them with a temporary).

The arithmetic is backends/cpu/optim.py's NumPy form step for step, in the parameter's
dtype, with the same scalars (the backend rounds each to that dtype as NumPy does), so the
values are the same to the bit; only the passes over memory change. NumPy's error model: a
division by zero gives inf or NaN as in NumPy, with no check in the loop. The loops run
over slices from 0 and keep their branches outside, so that LLVM vectorises them (a
division check, a loop from ``first`` or a branch inside kept it scalar: 6.8 ms against
1.1 for 1.28 million float32 values).
"""
import numpy as np

from tinygrad_cnn.kernels.jit import njit


@njit(error_model="numpy")
def adam_update(param, grad, exp_avg, exp_avg_sq, decay, decoupled, keep, weight_decay,
                one_minus_beta1, beta2, one_minus_beta2, step_size, bias_correction2_sqrt,
                eps, first, stop):
    """Elements first .. stop-1 of one Adam step (AdamW when ``decoupled``), in place:
    with ``decay``, AdamW's param *= keep (1 - lr * weight_decay) or Adam's grad +
    weight_decay * param; then m += (1 - beta1) (g - m), v = v beta2 + (1 - beta2) g g and
    param -= step_size m / (sqrt(v) / bias_correction2_sqrt + eps). Every scalar is in the
    parameter's dtype."""
    p, g, m, v = param[first:stop], grad[first:stop], exp_avg[first:stop], \
        exp_avg_sq[first:stop]
    if decay and decoupled:
        for i in range(p.size):
            p[i] = p[i] * keep
    if decay and not decoupled:
        for i in range(p.size):
            _adam_element(p, m, v, i, g[i] + weight_decay * p[i], one_minus_beta1, beta2,
                          one_minus_beta2, step_size, bias_correction2_sqrt, eps)
    else:
        for i in range(p.size):
            _adam_element(p, m, v, i, g[i], one_minus_beta1, beta2, one_minus_beta2,
                          step_size, bias_correction2_sqrt, eps)


@njit(inline="always", error_model="numpy")
def _adam_element(p, m, v, i, g, one_minus_beta1, beta2, one_minus_beta2, step_size,
                  bias_correction2_sqrt, eps):
    """Element i of the step for the gradient value g (weight decay applied)."""
    mi = m[i] + one_minus_beta1 * (g - m[i])
    vi = v[i] * beta2 + one_minus_beta2 * g * g
    m[i] = mi
    v[i] = vi
    p[i] = p[i] - step_size * mi / (np.sqrt(vi) / bias_correction2_sqrt + eps)
