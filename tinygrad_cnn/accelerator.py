"""tc.accelerator: the accelerator in use, as torch.accelerator (CUDA is the only one)."""
from tinygrad_cnn import cuda as _cuda
from tinygrad_cnn.device import CUDA


def is_available():
    """True when an accelerator (CUDA) can be used."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """device("cuda") when CUDA is available, else None (as torch on a CPU-only machine)."""
    return CUDA if _cuda.is_available() else None


def device_count():
    return _cuda.device_count()
