"""CUDA backend: the CPU backend's functions, same names and signatures, on device arrays.

Arrays are numba device arrays, always C-contiguous. Elementwise ops broadcast by strides
inside the kernel; Python and NumPy scalars become cached one-element device arrays read
with stride 0. Each module sizes and launches the kernels of one job (kernels/cuda/);
this file only gathers their functions under one name.
"""
from tinygrad_cnn.backends.cuda.arrays import (  # noqa: F401
    arange, argsort, assign, astype, broadcast_to, clone, concatenate, copy, copy_into, empty,
    from_numpy, full, reshape, setitem, shares_memory, split, to_numpy, transpose, zeros,
)
from tinygrad_cnn.backends.cuda.elementwise import (  # noqa: F401
    abs, add, clip, div, elu, elu_backward, equal, erf, exp, greater, greater_equal,
    leaky_relu, leaky_relu_backward, less, less_equal, log, maximum, minimum, mul, neg,
    not_equal, power, relu, relu_backward, relu_in_place, sigmoid, sign, sqrt, sub, tanh,
    where,
)
from tinygrad_cnn.backends.cuda.reduce import (  # noqa: F401
    argmax, cross_entropy_backward, cross_entropy_forward, log_softmax, max, softmax, sum,
)
from tinygrad_cnn.backends.cuda.conv import (  # noqa: F401
    conv2d_forward, conv2d_forward_max_pool, conv2d_input_grad, conv2d_weight_grad,
)
from tinygrad_cnn.backends.cuda.pool import (  # noqa: F401
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
    avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward, max_pool2d_values,
)
from tinygrad_cnn.backends.cuda.gemm import matmul  # noqa: F401
from tinygrad_cnn.backends.cuda.norm import (  # noqa: F401
    batch_norm_input_grad, batch_norm_stats, channel_affine, channel_grad_sums, channel_sums,
)
from tinygrad_cnn.backends.cuda.index import getitem, index_add  # noqa: F401
from tinygrad_cnn.backends.cuda.optim import adam_update, sgd_update  # noqa: F401

name = "cuda"
