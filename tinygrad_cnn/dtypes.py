"""dtype objects: tc.float32, tc.int64, ... are NumPy dtypes, so every spelling compares equal.

``t.dtype`` is a ``numpy.dtype``, and ``tc.float32`` is ``numpy.dtype("float32")``; hence
``t.dtype == tc.float32``, ``dtype=tc.float32`` and ``dtype=np.float32`` all work, and so does
the string ``"float32"``. The one visible difference from torch is the repr
(``dtype('float32')``, not ``torch.float32``).
"""
import builtins

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001 - torch spells it tc.bool

# torch's aliases
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

SUPPORTED = (float32, float64, float16, int64, int32, int16, int8, uint8, bool)


def as_dtype(dtype):
    """A numpy.dtype from a tc/NumPy dtype, a NumPy type, a Python type or a name; None stays None.

    Python ``float`` and ``int`` mean float64 and int64, as in torch (``dtype=float``).
    """
    if dtype is None:
        return None
    try:
        out = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{dtype!r} is not a dtype: use tc.float32, tc.int64, np.float32, "
                        f"...") from err
    if out not in SUPPORTED:
        raise TypeError(f"dtype {out} is not supported; use one of "
                        f"{', '.join(builtins.str(d) for d in SUPPORTED)}")
    return out


def is_floating_point(dtype):
    """True for float16/32/64."""
    return np.dtype(dtype).kind == "f"
