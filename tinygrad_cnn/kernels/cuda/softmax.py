"""@cuda.jit softmax, log-softmax and softmax cross-entropy, numerically stable.

Softmax runs over one axis of an (outer, K, inner) view of a flat array: one thread per
(outer, inner) pair loops over K three times (max, sum of exp, write), as the CPU
backend's ``x - max - log(sum(exp(x - max)))``.
"""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_device, cuda_jit


@cuda_device
def _max_and_logsum(x, base, K, inner):
    """(max over k of x[base + k*inner], log(sum(exp(x - max))))."""
    m = x[base]
    for k in range(1, K):
        v = x[base + k * inner]
        if v > m or math.isnan(v):
            m = v
    s = x.dtype.type(0)
    for k in range(K):
        s += math.exp(x[base + k * inner] - m)
    return m, math.log(s)


@cuda_jit
def log_softmax(x, out, K, inner):
    """out = x - max - log(sum(exp(x - max))) along the K axis."""
    for t in range(cuda.grid(1), out.size // K, cuda.gridsize(1)):
        base = (t // inner) * K * inner + t % inner
        m, lse = _max_and_logsum(x, base, K, inner)
        for k in range(K):
            j = base + k * inner
            out[j] = (x[j] - m) - lse


@cuda_jit
def softmax(x, out, K, inner):
    """out = exp(x - max) / sum(exp(x - max)) along the K axis."""
    for t in range(cuda.grid(1), out.size // K, cuda.gridsize(1)):
        base = (t // inner) * K * inner + t % inner
        m = x[base]
        for k in range(1, K):
            v = x[base + k * inner]
            if v > m or math.isnan(v):
                m = v
        s = x.dtype.type(0)
        for k in range(K):
            j = base + k * inner
            e = math.exp(x[j] - m)
            out[j] = e
            s += e
        for k in range(K):
            j = base + k * inner
            out[j] = out[j] / s


@cuda_jit
def cross_entropy_forward(logits, target, eps, one_minus_eps, loss, logp):
    """Per row n of flat (N*C,) logits: logp = log_softmax of the row and
    loss[n] = (1-eps) * -logp[target[n]] + eps * -mean(logp row)."""
    N = loss.size
    C = logits.size // N
    for n in range(cuda.grid(1), N, cuda.gridsize(1)):
        base = n * C
        m, lse = _max_and_logsum(logits, base, C, 1)
        total = logits.dtype.type(0)
        for c in range(C):
            v = (logits[base + c] - m) - lse
            logp[base + c] = v
            total += v
        picked = -logp[base + target[n]]
        if eps == 0:
            loss[n] = picked
        else:
            loss[n] = one_minus_eps * picked + eps * (-(total / logits.dtype.type(C)))


@cuda_jit
def cross_entropy_backward(grad_rows, logp, target, one_minus_eps, eps_over_c, d):
    """d = (exp(logp) - (1-eps) one_hot(target) - eps/C) * grad_rows[n]."""
    N, C = logp.shape
    for t in range(cuda.grid(1), N * C, cuda.gridsize(1)):
        n, c = t // C, t % C
        v = math.exp(logp[n, c])
        if c == target[n]:
            v -= one_minus_eps
        if eps_over_c != 0:
            v -= eps_over_c
        d[n, c] = v * grad_rows[n]
