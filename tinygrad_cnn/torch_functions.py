"""Top-level functional forms as torch has them: tc.max(x, 1), tc.flatten(x, 1), tc.where...

Each one calls the Tensor method of the same meaning; nothing is computed here.
"""
import numpy as np

from tinygrad_cnn.tensor import Tensor, cat, stack  # noqa: F401 - re-exported
from tinygrad_cnn.tensor_math import where  # noqa: F401 - re-exported


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def is_floating_point(t):
    return t.is_floating_point()


def flatten(x, start_dim=0, end_dim=-1):
    return x.flatten(start_dim, end_dim)


def max(x, dim=None, keepdim=False):  # noqa: A001 - torch's name
    return x.max(dim, keepdim)


def min(x, dim=None, keepdim=False):  # noqa: A001
    return x.min(dim, keepdim)


def argmax(x, dim=None, keepdim=False):
    return x.argmax(dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    return x.argmin(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    return x.mean(dim, keepdim)


def sum(x, dim=None, keepdim=False):  # noqa: A001
    return x.sum(dim, keepdim)


def std(x, dim=None, keepdim=False, unbiased=True, *, correction=None):
    return x.std(dim, keepdim, unbiased, correction=correction)


def var(x, dim=None, keepdim=False, unbiased=True, *, correction=None):
    return x.var(dim, keepdim, unbiased, correction=correction)


def exp(x):
    return x.exp()


def log(x):
    return x.log()


def sqrt(x):
    return x.sqrt()


def abs(x):  # noqa: A001
    return x.abs()


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, dim, dtype=None):
    return (x if dtype is None else x.to(dtype)).softmax(dim)


def log_softmax(x, dim, dtype=None):
    return (x if dtype is None else x.to(dtype)).log_softmax(dim)


def clamp(x, min=None, max=None):  # noqa: A002
    return x.clamp(min, max)


clip = clamp


def matmul(a, b):
    return a.matmul(b)


def mm(a, b):
    """Matrix product of two 2-D tensors."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm expects two 2-D tensors, got shapes {a.shape} and {b.shape}")
    return a.matmul(b)


def eq(a, b):
    return a == b


def ne(a, b):
    return a != b


def lt(a, b):
    return a < b


def le(a, b):
    return a <= b


def gt(a, b):
    return a > b


def ge(a, b):
    return a >= b


def squeeze(x, dim=None):
    return x.squeeze(dim)


def unsqueeze(x, dim):
    return x.unsqueeze(dim)


def reshape(x, shape):
    return x.reshape(shape)


def transpose(x, dim0, dim1):
    return x.transpose(dim0, dim1)


def permute(x, dims):
    return x.permute(dims)


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    return x.topk(k, dim, largest, sorted)


def sort(x, dim=-1, descending=False, stable=False):
    return x.sort(dim, descending, stable)


def argsort(x, dim=-1, descending=False, stable=False):
    return x.argsort(dim, descending, stable)


def clone(x):
    return x.clone()


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |a - b| <= atol + rtol * |b| everywhere (as torch.allclose)."""
    return bool(np.allclose(_host(a), _host(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    """True when both tensors have the same shape and values."""
    return a.shape == b.shape and bool(np.array_equal(_host(a), _host(b)))


def _host(x):
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
