"""get_backend(device): the object whose functions every op calls for array work."""

_cuda = []  # the CUDA backend module once it has been found usable


def cuda_unavailable_reason():
    """Why device "cuda" cannot be used here, or None when it can.

    It can when numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1), or when numba's
    CUDA target imports, finds the driver, at least one GPU and libNVVM.
    """
    try:
        from numba import cuda
    except Exception as err:  # numba without its CUDA target, or a broken install
        return (f"numba's CUDA target cannot be imported ({type(err).__name__}: {err}); "
                f"install numba-cuda: pip install 'tinygrad-cnn[cuda]'")
    from numba.core import config

    if config.ENABLE_CUDASIM:
        return None
    try:
        if cuda.is_available():
            return _nvvm_problem()
        from numba.cuda.cudadrv.driver import driver

        error = getattr(driver, "initialization_error", None)
        if error is None and driver.is_available:
            return "the CUDA driver is loaded but reports no GPU (is CUDA_VISIBLE_DEVICES empty?)"
    except Exception as err:  # the driver API raised while probing
        error = err
    return (f"no usable CUDA driver ({str(error).strip().splitlines()[0] if error else 'unknown'}"
            f"); is this a machine with an NVIDIA GPU and its driver installed?")


def _nvvm_problem():
    """None when numba can compile kernels (libNVVM found), else why not."""
    try:
        from numba.cuda.cudadrv import nvvm

        if nvvm.is_available():
            return None
    except Exception as err:
        return f"libNVVM, the CUDA compiler numba needs, cannot be loaded ({err})"
    return ("a GPU is present but libNVVM, the CUDA compiler numba needs, was not found: "
            "pip install 'numba-cuda[cu12]' (or install the CUDA toolkit)")


_FOUND = {}   # "cpu" -> the CPU backend once imported (every op asks); CUDA goes by _cuda


def get_backend(device):
    """Return the backend module for ``device`` ("cpu" or "cuda")."""
    found = _FOUND.get(device)
    if found is not None:
        return found
    if device == "cpu":
        from tinygrad_cnn.backends import cpu

        _FOUND["cpu"] = cpu
        return cpu
    if device == "cuda":
        if not _cuda:
            reason = cuda_unavailable_reason()
            if reason is not None:
                raise RuntimeError(f"device 'cuda' is not available: {reason}")
            from tinygrad_cnn.backends import cuda

            _cuda.append(cuda)
        return _cuda[0]
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
