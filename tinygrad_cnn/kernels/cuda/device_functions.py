"""Device functions that kernels of several modules call: min/max, strided offsets, windows."""
from tinygrad_cnn.kernels.cuda.config import cuda_device


@cuda_device
def smaller(a, b):
    """min(a, b); kernels avoid the builtin, which numba 0.68's own CUDA target fails to type."""
    return a if a < b else b


@cuda_device
def larger(a, b):
    """max(a, b), without the builtin (see smaller)."""
    return a if a > b else b


@cuda_device
def offset_of(t, shape, strides):
    """Element offset of flat output index ``t`` in an operand with ``strides``."""
    off = 0
    for d in range(len(shape) - 1, -1, -1):
        off += (t % shape[d]) * strides[d]
        t //= shape[d]
    return off


@cuda_device
def window_source(pos, pad, k, dilation, stride, out_size):
    """The output index whose window reads input ``pos`` at kernel offset ``k``, or -1."""
    t = pos + pad - k * dilation
    if t < 0 or t % stride != 0:
        return -1
    o = t // stride
    return o if o < out_size else -1
