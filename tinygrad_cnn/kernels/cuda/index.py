"""@cuda.jit indexing kernels: advanced-index gathers and their deterministic adjoint.

An index over the leading axes of an array is first folded into one flat row number per
indexed position (``fold_index``, one index array at a time, with NumPy's wrap of
negative indices; -1 marks an out-of-range row). Rows then gather and scatter whole
trailing blocks of ``inner`` elements. The scatter has one thread per trailing element
walking the rows in order, so repeated rows sum in a fixed order without atomics.
"""
from numba import cuda

from tinygrad_cnn.kernels.cuda.config import cuda_jit
from tinygrad_cnn.kernels.cuda.device_functions import offset_of


@cuda_jit
def fold_index(rows, idx, shape, idx_strides, dim):
    """rows = rows * dim + idx (broadcast by strides; negatives wrap); -1 once out of range."""
    for t in range(cuda.grid(1), rows.size, cuda.gridsize(1)):
        i = idx[offset_of(t, shape, idx_strides)]
        if i < 0:
            i += dim
        if rows[t] < 0 or i < 0 or i >= dim:
            rows[t] = -1
        else:
            rows[t] = rows[t] * dim + i


@cuda_jit
def gather_rows(a, rows, inner, out):
    """out[b*inner + j] = a[rows[b]*inner + j] (0 where rows[b] is -1); all flat."""
    for t in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        r = rows[t // inner]
        if r >= 0:
            out[t] = a[r * inner + t % inner]
        else:
            out[t] = 0


@cuda_jit
def index_add_rows(rows, values, inner, out):
    """out[rows[b]*inner + j] += values[b*inner + j] for b in order; one thread per j."""
    for j in range(cuda.grid(1), inner, cuda.gridsize(1)):
        for b in range(rows.size):
            r = rows[b]
            if r >= 0:
                out[r * inner + j] += values[b * inner + j]
