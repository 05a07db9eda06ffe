"""State dicts as safetensors files: ``tc.save(sd, "model.safetensors")`` / ``tc.load(...)``.

safetensors holds a flat mapping of names to arrays (no nesting, no Python values), readable
by ``safetensors.torch.load_file`` and every other framework. checkpoint.save/load hand a
path ending in ``.safetensors`` to this module. Needs the optional ``safetensors`` package
(``pip install 'tinygrad-cnn[safetensors]'``).
"""
import os

import numpy as np

from tinygrad_cnn.atomic_file import atomic_write
from tinygrad_cnn.checkpoint_archive import CheckpointError

SUFFIX = ".safetensors"


def is_safetensors_path(path):
    """True when ``path`` names a safetensors file (by its suffix, any case)."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(SUFFIX)


def _safetensors_numpy():
    try:
        import safetensors.numpy as st_numpy
    except ImportError:
        raise ImportError("reading and writing .safetensors files needs the safetensors "
                          "package: pip install 'tinygrad-cnn[safetensors]'") from None
    return st_numpy


def _array(value, key):
    """A contiguous NumPy array for one entry, or an error saying what safetensors holds."""
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, np.generic):
        arr = np.asarray(value)
    elif callable(getattr(value, "numpy", None)) and not isinstance(value, (dict, list, tuple)):
        arr = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value.numpy())
    else:
        raise TypeError(f"safetensors stores a flat dict of name -> tensor, but {key!r} holds "
                        f"{type(value).__name__}; save a state_dict() there, or a nested "
                        f"checkpoint to a .tgc path with tc.save")
    if arr.dtype.hasobject:
        raise TypeError(f"safetensors cannot store {key!r}: dtype {arr.dtype}")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # 0-d stays 0-d


def save(state, path, metadata=None):
    """Write a flat dict of str -> Tensor/array to ``path`` atomically (a whole file or none),
    with an optional str -> str ``metadata`` header (safetensors' own field)."""
    st_numpy = _safetensors_numpy()
    if not isinstance(state, dict):
        raise TypeError(f"safetensors stores a dict of name -> tensor, got "
                        f"{type(state).__name__}")
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"safetensors names must be str, got {key!r}")
        arrays[key] = _array(value, key)
    data = st_numpy.save(arrays, metadata=metadata)
    with atomic_write(os.fspath(path)) as f:
        f.write(data)


def load(path):
    """Read a safetensors file into a dict of name -> NumPy array (in the file's order).

    A file that is not valid safetensors (truncated, corrupt header, a dtype NumPy lacks)
    raises CheckpointError naming the file.
    """
    st_numpy = _safetensors_numpy()
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return dict(st_numpy.load(data))
    except Exception as e:  # the library raises SafetensorError, and TypeError for dtypes
        reason = f"{type(e).__name__}: {e}".strip()
        raise CheckpointError(f"{path} is not a valid safetensors file ({reason})") from None


def metadata(path):
    """The file's str -> str metadata header ({} when it has none)."""
    _safetensors_numpy()
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="np") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # the library's own error types vary by version
        raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from None
