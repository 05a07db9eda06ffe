"""@njit special functions over flat buffers: the error function for exact GELU.

NumPy has no erf; numba compiles ``math.erf`` to the C library's erf (float64) or erff
(float32, within one ulp of the float64 value rounded), so float32 stays float32.
tests/kernels/test_special.py checks it against Python's math.erf element by element.
"""
import math

from tinygrad_cnn.kernels.jit import njit


@njit
def erf(x, out):
    """out[i] = erf(x[i]) over flat 1-D buffers."""
    for i in range(x.size):
        out[i] = math.erf(x[i])
