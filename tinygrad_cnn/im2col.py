"""The seed book's im2col / col2im, with its exact signature and row/column order.

``im2col(x, 5, 5)`` on a (1, 3, 7, 7) array gives a (9, 75) matrix: one row per output
position (n, y, x), one column per filter element (c, i, j). The fast @njit kernel does
the work; kernels/reference.py holds the book's NumPy version as the spec.
"""
import numpy as np

from tinygrad_cnn.kernels.cpu import nchw as kernels
from tinygrad_cnn.kernels.geometry import conv_out_size


def _geometry(shape, filter_h, filter_w, stride, pad):
    if len(shape) != 4:
        raise ValueError(f"im2col expects a 4-D (N, C, H, W) array, got shape {tuple(shape)}")
    N, C, H, W = shape
    out_h = conv_out_size(H, filter_h, stride, 2 * pad, 1)
    out_w = conv_out_size(W, filter_w, stride, 2 * pad, 1)
    if filter_h > H + 2 * pad or filter_w > W + 2 * pad or out_h < 1 or out_w < 1:
        raise ValueError(f"filter {filter_h}x{filter_w} does not fit input {H}x{W} with "
                         f"padding {pad}")
    return N, C, out_h, out_w


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N*out_h*out_w, C*filter_h*filter_w) patch matrix, as in the notes."""
    x = np.asarray(input_data)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    N, C, out_h, out_w = _geometry(x.shape, filter_h, filter_w, stride, pad)
    cols = np.empty((N * out_h * out_w, C * filter_h * filter_w), dtype=x.dtype)
    kernels.im2col(np.ascontiguousarray(x), filter_h, filter_w, stride, stride, pad, pad, 1, 1,
                   out_h, out_w, cols)
    return cols


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Adjoint of im2col: sums every patch of ``col`` back into an ``input_shape`` array."""
    N, C, out_h, out_w = _geometry(tuple(input_shape), filter_h, filter_w, stride, pad)
    col = np.ascontiguousarray(col)
    expected = (N * out_h * out_w, C * filter_h * filter_w)
    if col.shape != expected:
        raise ValueError(f"col2im expects col of shape {expected} for input {tuple(input_shape)}, "
                         f"got {col.shape}")
    if col.dtype.kind != "f":
        col = col.astype(np.float64)
    x = np.empty(tuple(input_shape), dtype=col.dtype)
    kernels.col2im(col, filter_h, filter_w, stride, stride, pad, pad, 1, 1, out_h, out_w, x)
    return x
