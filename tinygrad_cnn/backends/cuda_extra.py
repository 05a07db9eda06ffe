"""CUDA twins of backends/cpu/ (erf in elementwise.py, conv2d_input_grad in conv.py): erf and a conv's input gradient on its own."""
from tinygrad_cnn.backends import cuda_launch as rt
from tinygrad_cnn.kernels import cuda_special


def erf(x):
    """Elementwise error function (float input; float32 stays float32)."""
    out = rt.empty(x.shape, x.dtype)
    rt.launch(cuda_special.erf, out.size, rt.flat(x), rt.flat(out))
    return out


def conv2d_input_grad(grad, x_shape, w, stride, pad, dilation, groups):
    """d(conv2d_forward(x, w))/dx applied to ``grad``, for an x of ``x_shape`` (the forward
    of a transposed convolution): conv2d_backward's input-gradient path, which reads no
    saved patches."""
    from tinygrad_cnn.backends.cuda_conv import conv2d_backward

    return conv2d_backward(grad, None, tuple(x_shape), w, stride, pad, dilation, groups,
                           (True, False))[0]


def copy_into(dst, src):
    """dst[...] = src, in place (src broadcast to dst's shape, cast to its dtype)."""
    shape = tuple(dst.shape)
    src_strides = rt.broadcast_strides(tuple(src.shape), shape)
    rt.copy_view(src, 0, src_strides, dst, 0, rt.contiguous_strides(shape), shape)
