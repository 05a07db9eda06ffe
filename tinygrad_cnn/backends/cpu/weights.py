"""CPU backend, a conv weight in the layouts its kernels read: the vector tiles' columns
(KH*KW*C, O) and the patch rows (O, KH*KW*C), made on every call (a cached copy could go
stale under an in-place update of the weight, which nothing here could see).

Small weights take NumPy's transposing copy; from settings.weight_kernel_values values on,
kernels/cpu/weights.transpose_weight's 8 x 8 blocks (128 -> 128 3x3: 33 us against
NumPy's 68-120).
"""
import numpy as np

from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu.weights import transpose_weight


def weight_layout(w, columns):
    """The OIHW weight w as (KH*KW*C, O) rows (i, j, c) with ``columns``, else as (O,
    KH*KW*C) rows, columns (i, j, c); a new C-contiguous array of w's dtype."""
    O, C, KH, KW = w.shape
    if w.size < settings.weight_kernel_values or w.dtype not in (np.float32, np.float64):
        order = (2, 3, 1, 0) if columns else (0, 2, 3, 1)
        out = np.ascontiguousarray(w.transpose(order))
    else:
        out = np.empty((KH * KW, C, O) if columns else (O, KH * KW, C), dtype=w.dtype)
        transpose_weight(np.ascontiguousarray(w), out, columns)
    return out.reshape(-1, O) if columns else out.reshape(O, -1)
