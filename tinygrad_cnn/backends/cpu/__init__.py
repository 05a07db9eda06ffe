"""CPU backend: the functions every op calls (backends/contract.py), on NumPy arrays.

NumPy does elementwise work and small GEMMs; @njit kernels (kernels/cpu/) do convolution,
pooling and ReLU on the backend's own threads (threads.py). Each module has one job:

  arrays.py       creation, copies, views, indexing
  elementwise.py  NumPy's ufuncs under the backend's names, activations, erf
  reduce.py       sums, maxima, softmax, cross-entropy
  conv.py         convolution forward (conv_grad.py its gradients, conv_rows.py the
                  channels-last patch-row GEMM route, patches.py the transposed patch
                  matrices of the other GEMM routes, plan.py the choice of kernels: plan_conv)
  pool.py         max / average / adaptive pooling
  norm.py         batch normalisation's per-channel sums and affine maps
  optim.py        SGD and Adam updates in place
and what is particular to the CPU: threads.py (fork-join over the cores), blas.py (NumPy's
BLAS threads, matmul), memory.py (glibc's keep-freed-memory setting), layout.py (channels-last
memory under NCHW views), settings.py (every threshold and kernel choice).
"""
from tinygrad_cnn.backends.cpu import memory
from tinygrad_cnn.backends.cpu.arrays import (  # noqa: F401
    argsort, arange, assign, astype, broadcast_to, clone, concatenate, copy, copy_into, empty,
    from_numpy, full, getitem, index_add, reshape, setitem, shares_memory, split, to_numpy,
    transpose, zeros)
from tinygrad_cnn.backends.cpu.blas import matmul  # noqa: F401
from tinygrad_cnn.backends.cpu.conv import conv2d_forward, conv2d_forward_max_pool  # noqa: F401
from tinygrad_cnn.backends.cpu.conv_grad import conv2d_input_grad, conv2d_weight_grad  # noqa: F401
from tinygrad_cnn.backends.cpu.elementwise import (  # noqa: F401
    abs, add, clip, div, elu, elu_backward, equal, erf, exp, greater, greater_equal,
    leaky_relu, leaky_relu_backward, less, less_equal, log, maximum, minimum, mul, neg,
    not_equal, power, relu, relu_backward, relu_in_place, sigmoid, sign, sqrt, sub, tanh,
    where)
from tinygrad_cnn.backends.cpu.norm import (  # noqa: F401
    batch_norm_input_grad, batch_norm_stats, channel_affine, channel_grad_sums, channel_sums)
from tinygrad_cnn.backends.cpu.optim import adam_update, sgd_update  # noqa: F401
from tinygrad_cnn.backends.cpu.pool import (  # noqa: F401
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
    avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward, max_pool2d_values)
from tinygrad_cnn.backends.cpu.reduce import (  # noqa: F401
    argmax, cross_entropy_backward, cross_entropy_forward, log_softmax, max, softmax, sum)

name = "cpu"
memory.keep_freed_memory()
