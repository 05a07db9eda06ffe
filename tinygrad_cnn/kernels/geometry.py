"""Output-size arithmetic for convolution and pooling, exactly as PyTorch computes it."""
from tinygrad_cnn.kernels.jit import njit


def conv_out_size(size, kernel, stride, pad_total, dilation):
    """floor((size + pad_total - dilation*(kernel-1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size, with ceil_mode's last-window rule.

    With ceil_mode the division rounds up, but the last window must start inside the
    input or the left padding; otherwise it is dropped.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@njit
def adaptive_bounds(index, in_size, out_size):
    """Window [start, end) of adaptive pooling output ``index``: floor and ceil bounds."""
    start = (index * in_size) // out_size
    end = -((-(index + 1) * in_size) // out_size)
    return start, end
