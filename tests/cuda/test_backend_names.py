"""The CUDA backend and kernel modules mirror the CPU ones name for name."""
import inspect
import types

from tinygrad_cnn.backends import cpu
from tinygrad_cnn.backends import cuda
from tinygrad_cnn.kernels.cpu import nchw as cpu_kernels
from tinygrad_cnn.kernels.cuda import conv as cuda_conv_kernels
from tinygrad_cnn.kernels.cuda import pool as cuda_pool_kernels
from tinygrad_cnn.kernels import geometry


def _backend_names(m):
    """Public names of a backend module: its functions and constants, not imported modules
    or the geometry helpers it uses internally."""
    helpers = {n for n in dir(geometry) if not n.startswith("_")}
    return {n for n in dir(m) if not n.startswith("_") and n not in helpers
            and not isinstance(getattr(m, n), types.ModuleType)}


def _params(fn):
    """Parameter names of a Python function; None for NumPy ufuncs and constants."""
    return list(inspect.signature(fn).parameters) if inspect.isfunction(fn) else None


def test_backends_export_the_same_names():
    assert _backend_names(cuda) == _backend_names(cpu), (
        f"only in cpu: {sorted(_backend_names(cpu) - _backend_names(cuda))}; "
        f"only in cuda: {sorted(_backend_names(cuda) - _backend_names(cpu))}")


def test_backend_functions_take_the_same_arguments():
    for name in sorted(_backend_names(cpu)):
        ours, theirs = _params(getattr(cuda, name)), _params(getattr(cpu, name))
        if ours is not None and theirs is not None:
            assert ours == theirs, f"{name}: cuda takes {ours}, cpu takes {theirs}"


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
