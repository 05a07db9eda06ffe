"""get_backend(device): the object whose functions every op calls for array work."""


def get_backend(device):
    """Return the backend module for ``device`` ("cpu" or "cuda")."""
    if device == "cpu":
        from tinygrad_cnn.backends import cpu

        return cpu
    if device == "cuda":
        raise RuntimeError("device 'cuda' is not available: the CUDA backend is not built yet")
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
