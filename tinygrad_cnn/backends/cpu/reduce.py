"""CPU backend, reductions: sums and maxima, softmax and the cross-entropy loss."""
import numpy as np


def sum(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


def max(a, axis=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims)


def argmax(a, axis=None, keepdims=False):
    return np.argmax(a, axis=axis, keepdims=keepdims)

def log_softmax(x, axis):
    """x - logsumexp(x): finite for logits of +-1e4."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy_forward(logits, target, label_smoothing):
    """Per-sample loss of (N, C) logits against class indices, and the log-probs."""
    N, C = logits.shape
    logp = log_softmax(logits, 1)
    picked = -logp[np.arange(N), target]
    if label_smoothing == 0:
        return picked, logp
    eps = logits.dtype.type(label_smoothing)
    smooth = -np.mean(logp, axis=1)
    return (1 - eps) * picked + eps * smooth, logp


def cross_entropy_backward(grad_rows, logp, target, label_smoothing):
    """d loss / d logits = (softmax - smoothed one-hot) * per-sample grad."""
    N, C = logp.shape
    d = np.exp(logp)
    eps = logp.dtype.type(label_smoothing)
    d[np.arange(N), target] -= 1 - eps
    if label_smoothing:
        d -= eps / logp.dtype.type(C)
    return d * grad_rows[:, None]
