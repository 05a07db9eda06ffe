"""Argument checking shared by conv and pooling: pairs, padding modes, input checks."""
import numpy as np


INT_LIMIT = 2 ** 31 - 1   # kernels index with int64 products of these; torch stores int64


def pair(value, name):
    """(a, b) from an int or a pair of ints, or an error naming the argument."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = int(value), int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        out = int(value[0]), int(value[1])
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if any(abs(v) > INT_LIMIT for v in out):
        raise ValueError(f"{name} {value!r} is out of range: each value must be at most "
                         f"{INT_LIMIT} in magnitude")
    return out


def positive_pair(value, name):
    a, b = pair(value, name)
    if a < 1 or b < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return a, b


def check_4d(x, what):
    """x must be a float tensor shaped (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{what} expects a 4-D input (N, C, H, W) or an unbatched 3-D one "
                         f"(C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{what} expects a float32 or float64 input, got {x.dtype} "
                        f"(convert with .float())")
