"""How Tensor(...) reads its arguments: torch.tensor-like data (always copied) or torch's
legacy Tensor(*sizes) form."""
import numpy as np


def _host_array(data, dtype):
    """A fresh NumPy array for Tensor(data): floats default to float32, ints to int64.

    Always a copy, so that in-place ops and optimizer steps never write into the caller's
    array (tc.from_numpy is the way to share one).
    """
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    if dtype is not None:
        return np.array(arr, dtype=dtype, copy=True)
    kind = arr.dtype.kind
    if kind == "f":
        return np.array(arr, dtype=np.float32, copy=True)
    if kind in "iu":
        return np.array(arr, dtype=arr.dtype if isinstance(data, np.ndarray) else np.int64,
                        copy=True)
    if kind == "b":
        return np.array(arr, copy=True)
    raise TypeError(f"Tensor data must be numbers, got dtype {arr.dtype}")


def _legacy_sizes(args, kwargs):
    """The shape when Tensor(...) was called in torch's legacy Tensor(*sizes) form, else None.

    Tensor() is an empty float32 tensor and Tensor(2, 3, ...) (two or more ints) an
    uninitialised one, as torch. Tensor(n) with a single int is an error, being ambiguous:
    torch reads it as a size, tc.tensor(n) as data.
    """
    if not args:
        return (0,) if not kwargs.get("requires_grad") and "data" not in kwargs else None
    ints = [isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args]
    if len(args) >= 2 and all(ints):
        return tuple(int(a) for a in args)
    if len(args) == 1 and type(args[0]) is int:
        raise TypeError(f"Tensor({args[0]}) is ambiguous: torch.Tensor({args[0]}) is an "
                        f"uninitialised tensor of shape ({args[0]},) while a single number is "
                        f"data here; call tc.empty({args[0]}) for the first or "
                        f"tc.tensor({args[0]}) for a 0-d tensor holding {args[0]}")
    return None


def _init_args(data, requires_grad=False, dtype=None, device="cpu"):
    return data, requires_grad, dtype, device
