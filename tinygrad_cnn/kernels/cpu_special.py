"""@njit special functions over flat buffers: the error function for exact GELU.

NumPy has no erf; numba compiles ``math.erf`` (the C library's, correctly rounded to a
few ulp). Computed in float64 and stored in the output's dtype, so float32 stays float32.
"""
import math

from tinygrad_cnn.kernels.jit import njit


@njit
def erf(x, out):
    """out[i] = erf(x[i]) over flat 1-D buffers."""
    for i in range(x.size):
        out[i] = math.erf(x[i])
