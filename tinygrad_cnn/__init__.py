"""tinygrad_cnn: a small, fast, honest deep-learning framework for convolutional networks.

The data path: ``Tensor`` method or ``F.*`` function -> ``ops.X.apply`` (forward/backward
written once) -> ``backends.get_backend(device)``, whose functions are listed in
``backends/contract.py`` -> the @njit / @cuda.jit kernels, checked against
``kernels/reference.py`` (NumPy). A convolution goes ``F.conv2d`` -> ``ops.Conv2d`` -> the
backend's ``conv2d_forward`` / ``conv2d_input_grad`` / ``conv2d_weight_grad``; on the CPU,
``plan_conv(geometry, settings)`` picks the kernel each of them runs.
"""
import os
import sys

# OpenBLAS threads spin for ~0.1 s after each GEMM, taking the cores that the next Numba
# kernel needs; 2^4 cycles of spinning instead. Effective only when tinygrad_cnn is imported
# before NumPy (OpenBLAS reads it once); a value the user set is kept. When NumPy came first,
# the backend runs its own GEMMs single-threaded instead (backends/cpu/blas.py).
_NUMPY_CAME_FIRST = "numpy" in sys.modules and "OPENBLAS_THREAD_TIMEOUT" not in os.environ
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from tinygrad_cnn.backends.cpu import blas as _blas_threads  # noqa: E402

_blas_threads._WORKERS_SPIN = _NUMPY_CAME_FIRST

# A cold start's kernels compile one at a time; a helper process compiles the ones the first
# step will reach later on another core (kernels/warmup.py; TINYGRAD_CNN_WARMUP=0: none).
from tinygrad_cnn.kernels import warmup as _warmup  # noqa: E402

_warmup.install()

from tinygrad_cnn.grad_mode import enable_grad, is_enabled as is_grad_enabled, no_grad  # noqa: F401,E402
from tinygrad_cnn.random import Generator, get_rng_state, manual_seed, set_rng_state  # noqa: F401
from tinygrad_cnn.tensor import Tensor, cat, stack  # noqa: F401
from tinygrad_cnn.im2col import col2im, im2col  # noqa: F401
from tinygrad_cnn.gradcheck import gradcheck  # noqa: F401
from tinygrad_cnn.checkpoint import load, save  # noqa: F401
from tinygrad_cnn import nn, optim, utils  # noqa: F401
from tinygrad_cnn import profiler  # noqa: F401  (tc.profiler.profile(); TINYGRAD_CNN_PROFILE=1)
from tinygrad_cnn import onnx  # noqa: F401,E402  (tc.onnx.export; the onnx package loads on use)
from tinygrad_cnn.summary import summary  # noqa: F401

# the torch namespace: dtypes, devices, factories and functional forms
from tinygrad_cnn.dtypes import (  # noqa: F401,E402
    bool, double, float, float16, float32, float64, half, int, int8, int16, int32, int64, long,
    short, uint8,
)
from tinygrad_cnn.device import device  # noqa: F401,E402
from tinygrad_cnn import accelerator, cuda  # noqa: F401,E402
from tinygrad_cnn.grad_mode import inference_mode, set_grad_enabled  # noqa: F401,E402
from tinygrad_cnn.creation import (  # noqa: F401,E402
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
    ones_like, rand, rand_like, randint, randint_like, randn, randn_like, tensor, zeros,
    zeros_like,
)
from tinygrad_cnn.torch_functions import (  # noqa: F401,E402
    abs, allclose, argmax, argmin, argsort, clamp, clip, clone, eq, equal, exp, flatten, ge,
    gt, is_floating_point, is_tensor, le, log, log_softmax, lt, matmul, max, mean, min, mm, ne,
    numel, permute, relu, reshape, sigmoid, softmax, sort, sqrt, squeeze, std, sum, tanh, topk,
    transpose, unsqueeze, var, where,
)

__version__ = "0.1.0"
