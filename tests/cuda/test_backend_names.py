"""The CUDA kernel module mirrors the CPU one name for name (the backends' names and
parameters: tests/backends/test_contract.py)."""
import inspect

from tinygrad_cnn.kernels.cpu import nchw as cpu_kernels
from tinygrad_cnn.kernels.cuda import conv as cuda_conv_kernels
from tinygrad_cnn.kernels.cuda import pool as cuda_pool_kernels


def _py_func(kernel):
    return getattr(kernel, "py_func", None) or getattr(kernel, "fn", None) or kernel


def _kernel_names(m):
    """Public kernels defined in module m (numba dispatchers wrap a Python function)."""
    return {n for n in dir(m) if not n.startswith("_")
            and getattr(_py_func(getattr(m, n)), "__module__", None) == m.__name__}


def test_cuda_kernels_twin_the_cpu_kernels():
    cuda_kernels = {name: getattr(m, name) for m in (cuda_conv_kernels, cuda_pool_kernels)
                    for name in _kernel_names(m)}
    assert set(cuda_kernels) == _kernel_names(cpu_kernels)
    for name in _kernel_names(cpu_kernels):
        ours = list(inspect.signature(_py_func(cuda_kernels[name])).parameters)
        theirs = list(inspect.signature(_py_func(getattr(cpu_kernels, name))).parameters)
        assert ours == theirs, f"kernel {name}: cuda takes {ours}, cpu takes {theirs}"
