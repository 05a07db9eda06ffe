"""CUDA twins of backends/cpu/ (erf in elementwise.py, copy_into in arrays.py)."""
from tinygrad_cnn.backends import cuda_launch as rt
from tinygrad_cnn.kernels import cuda_special


def erf(x):
    """Elementwise error function (float input; float32 stays float32)."""
    out = rt.empty(x.shape, x.dtype)
    rt.launch(cuda_special.erf, out.size, rt.flat(x), rt.flat(out))
    return out


def copy_into(dst, src):
    """dst[...] = src, in place (src broadcast to dst's shape, cast to its dtype)."""
    shape = tuple(dst.shape)
    src_strides = rt.broadcast_strides(tuple(src.shape), shape)
    rt.copy_view(src, 0, src_strides, dst, 0, rt.contiguous_strides(shape), shape)
