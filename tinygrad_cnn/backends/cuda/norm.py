"""CUDA backend, batch normalisation: the CPU backend's norm functions (backends/cpu/norm.py)
built from this backend's broadcasting elementwise kernels and axis sums."""
import numpy as np

from tinygrad_cnn.backends.cuda.arrays import astype, reshape
from tinygrad_cnn.backends.cuda.elementwise import add, div, mul, relu_backward, sub
from tinygrad_cnn.backends.cuda.elementwise import relu as elementwise_relu
from tinygrad_cnn.backends.cuda.reduce import sum


def _axes(x):
    """(the axes a channel's values lie along, the broadcast shape of a (C,) vector, count)."""
    axes = (0,) + tuple(range(2, x.ndim))
    count = int(np.prod([x.shape[a] for a in axes]))
    return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2), count


def _per_channel(v, x):
    return reshape(astype(v, x.dtype), _axes(x)[1])


def channel_sums(x, mean=None):
    """Per-channel (axis 1) sum of x, or of (x - mean) ** 2 when ``mean`` (C,) is given."""
    if mean is not None:
        centred = sub(x, _per_channel(mean, x))
        x = mul(centred, centred)
    return sum(x, axis=_axes(x)[0])


def batch_norm_stats(x):
    """Per-channel mean and biased variance of x, each (C,)."""
    n = x.dtype.type(max(_axes(x)[2], 1))
    mean = div(channel_sums(x), n)
    return mean, div(channel_sums(x, mean), n)


def channel_grad_sums(grad, x, mean, relu_of=None):
    """(sum of grad, sum of grad * (x - mean)) per channel, each (C,); with ``relu_of`` =
    (scale, shift), of grad where (x - mean) * scale + shift is above 0 (the gradient
    through the ReLU of that affine map, masked by a separate kernel here)."""
    grad = _through_relu(grad, x, mean, relu_of)
    axes = _axes(x)[0]
    return sum(grad, axis=axes), sum(mul(grad, sub(x, _per_channel(mean, x))), axis=axes)


def channel_affine(x, mean, scale, shift, relu=False):
    """(x - mean) * scale + shift per channel (axis 1; each vector (C,)); with ``relu`` its
    ReLU (a second elementwise kernel)."""
    centred = sub(x, _per_channel(mean, x))
    out = add(mul(centred, _per_channel(scale, x)), _per_channel(shift, x))
    return elementwise_relu(out) if relu else out


def batch_norm_input_grad(grad, x, mean, a, b, d, relu_of=None):
    """grad * a + (x - mean) * b + d per channel (axis 1; each vector (C,)); with
    ``relu_of``, grad masked as channel_grad_sums masks it."""
    grad = _through_relu(grad, x, mean, relu_of)
    centred = mul(sub(x, _per_channel(mean, x)), _per_channel(b, x))
    return add(add(mul(grad, _per_channel(a, x)), centred), _per_channel(d, x))


def _through_relu(grad, x, mean, relu_of):
    """grad where channel_affine(x, mean, *relu_of) > 0, else 0; grad itself without
    relu_of."""
    if relu_of is None:
        return grad
    return relu_backward(grad, channel_affine(x, mean, *relu_of))
