"""@cuda.jit twins of kernels/cpu/special.py: the error function for exact GELU."""
import math

from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_jit


@cuda_jit
def erf(x, out):
    """out[i] = erf(x[i]) over flat 1-D buffers, grid-stride."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = math.erf(x[i])
