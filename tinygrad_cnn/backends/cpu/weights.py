"""CPU backend, a conv weight in the columns layout (KH*KW*C, O) of the vector tiles, made on
every call (a cached copy could go stale under an in-place update of the weight, which
nothing here could see).

Small weights take NumPy's transposing copy; from settings.weight_kernel_values values on,
kernels/cpu/weights.column_weights' 8 x 8 blocks (128 -> 128 3x3: 24-33 us against NumPy's
68-120).
"""
import numpy as np

from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import weights as weight_kernels


def column_weights(w):
    """The OIHW weight w as (KH*KW*C, O) rows (i, j, c), one column per output channel; a
    new C-contiguous array of w's dtype."""
    O, C, KH, KW = w.shape
    if w.size < settings.weight_kernel_values or w.dtype not in (np.float32, np.float64):
        return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, O)
    out = np.empty((KH * KW, C, O), dtype=w.dtype)
    weight_kernels.column_weights(np.ascontiguousarray(w), out)
    return out.reshape(-1, O)
