"""CPU backend functions for the PyTorch-compatibility layers: erf and a conv's input
gradient on its own (the forward of a transposed convolution). Re-exported by backends/cpu.py;
backends/cuda_extra.py has the same names and signatures."""
import numpy as np

from tinygrad_cnn.kernels import cpu_special


def erf(x):
    """Elementwise error function (float input; float32 stays float32)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    cpu_special.erf(x.reshape(-1), out.reshape(-1))
    return out


def conv2d_input_grad(grad, x_shape, w, stride, pad, dilation, groups):
    """d(conv2d_forward(x, w))/dx applied to ``grad``, for an x of ``x_shape``.

    The forward of a transposed convolution. conv2d_backward reads nothing of x but its
    shape and memory layout on the input-gradient path, so an uninitialised array stands in.
    """
    from tinygrad_cnn.backends import cpu

    x_like = np.empty(tuple(x_shape), dtype=grad.dtype)
    return cpu.conv2d_backward(grad, (x_like, None), tuple(x_shape), w, stride, pad, dilation,
                               groups, (True, False))[0]


def copy_into(dst, src):
    """dst[...] = src, in place (src broadcast to dst's shape, cast to its dtype)."""
    np.copyto(dst, src, casting="unsafe")
