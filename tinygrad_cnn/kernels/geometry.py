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



def pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode):
    """(OH, OW) of pooling an H x W map: pool_out_size along each axis."""
    return (pool_out_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
            pool_out_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode))

@njit
def adaptive_bounds(index, in_size, out_size):
    """Window [start, end) of adaptive pooling output ``index``: floor and ceil bounds."""
    start = (index * in_size) // out_size
    end = -((-(index + 1) * in_size) // out_size)
    return start, end


@njit
def avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad):
    """Divisor of the average-pooling window starting at (y0, x0), as PyTorch counts it.

    With count_include_pad the window is clipped to the padded input (so a ceil_mode
    window hanging past the padding counts less); without it, to the input itself.
    """
    if count_include_pad:
        return (min(y0 + kh, H + ph) - y0) * (min(x0 + kw, W + pw) - x0)
    return (min(y0 + kh, H) - max(y0, 0)) * (min(x0 + kw, W) - max(x0, 0))
