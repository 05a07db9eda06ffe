"""tc.cuda: whether the CUDA device can be used, as torch.cuda."""
from tinygrad_cnn import random as _random
from tinygrad_cnn.backends import cuda_unavailable_reason


def is_available():
    """True when device "cuda" works here (a GPU with numba's CUDA target, or the simulator)."""
    return cuda_unavailable_reason() is None


def device_count():
    """1 when CUDA is available (tinygrad_cnn uses one GPU), else 0."""
    return 1 if is_available() else 0


def current_device():
    """Index of the current GPU: always 0."""
    if not is_available():
        raise RuntimeError(f"no CUDA device: {cuda_unavailable_reason()}")
    return 0


def manual_seed(seed):
    """Seed the generator (one generator serves every device, so this is tc.manual_seed)."""
    _random.manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(device=None):
    """Wait for every queued kernel to finish."""
    if is_available():
        from numba import cuda as _numba_cuda

        _numba_cuda.synchronize()
