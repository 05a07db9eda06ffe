"""Convolution and pooling geometry: output sizes exactly as PyTorch computes them, and the
frozen ConvGeometry / PoolGeometry values that carry one op's sizes to both devices."""
import dataclasses

import numpy as np

from tinygrad_cnn.kernels.jit import njit

UNIT_STEP = np.int64(1)
"""A tap step of 1 (no dilation) for taps_inside, an int64 like a dilation argument: a
literal 1 would compile taps_inside a second time, for its literal type."""


def conv_out_size(size, kernel, stride, pad_total, dilation):
    """floor((size + pad_total - dilation*(kernel-1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size, with ceil_mode's last-window rule.

    With ceil_mode the division rounds up, but the last window must start inside the
    input or the left padding; otherwise it is dropped.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode):
    """(OH, OW) of pooling an H x W map: pool_out_size along each axis."""
    return (pool_out_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
            pool_out_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode))


@njit
def adaptive_bounds(index, in_size, out_size):
    """Window [start, end) of adaptive pooling output ``index``: floor and ceil bounds."""
    start = (index * in_size) // out_size
    end = -((-(index + 1) * in_size) // out_size)
    return start, end


@njit
def taps_inside(start, step, taps, size):
    """(first, stop): the taps t of a window starting at ``start`` (t*step further on) that
    fall inside 0 .. size-1; first >= stop when none does."""
    first = 0
    while first < taps and start + first * step < 0:
        first += 1
    stop = taps
    while stop > first and start + (stop - 1) * step >= size:
        stop -= 1
    return first, stop


@njit
def avg_pool_divisor(y0, x0, kh, kw, H, W, ph, pw, count_include_pad):
    """Divisor of the average-pooling window starting at (y0, x0), as PyTorch counts it.

    With count_include_pad the window is clipped to the padded input (so a ceil_mode
    window hanging past the padding counts less); without it, to the input itself.
    """
    if count_include_pad:
        return (min(y0 + kh, H + ph) - y0) * (min(x0 + kw, W + pw) - x0)
    return (min(y0 + kh, H) - max(y0, 0)) * (min(x0 + kw, W) - max(x0, 0))


@dataclasses.dataclass(frozen=True)
class ConvGeometry:
    """One convolution's sizes, read by field name: input (N, C, H, W), weight (O, C/groups,
    KH, KW), stride, padding top/bottom/left/right, dilation, groups, output (OH, OW) and
    the element size in bytes (the CPU plan's byte thresholds read it)."""
    N: int
    C: int
    H: int
    W: int
    O: int
    KH: int
    KW: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    dilation_h: int
    dilation_w: int
    groups: int
    OH: int
    OW: int
    itemsize: int

    @classmethod
    def of(cls, x_shape, w_shape, stride, pad, dilation, groups, itemsize):
        """The geometry of convolving an x of x_shape with a weight of w_shape;
        pad = (top, bottom, left, right)."""
        N, C, H, W = x_shape
        O, _, KH, KW = w_shape
        (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dilation
        return cls(N, C, H, W, O, KH, KW, sh, sw, pt, pb, pl, pr, dh, dw, groups,
                   conv_out_size(H, KH, sh, pt + pb, dh), conv_out_size(W, KW, sw, pl + pr, dw),
                   itemsize)

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.O, self.C // self.groups, self.KH, self.KW)

    @property
    def out_shape(self):
        return (self.N, self.O, self.OH, self.OW)

    def kernel_args(self):
        """(KH, KW, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w): the
        scalar arguments the conv kernels take, in their order."""
        return (self.KH, self.KW, self.stride_h, self.stride_w, self.pad_top, self.pad_left,
                self.dilation_h, self.dilation_w)

    def transposed(self):
        """The stride-1 input gradient as a convolution of the output gradient (O channels,
        OH x OW) by the kernel turned 180 degrees, padded by (KH-1)*dilation_h - pad_top
        (and so on), back to the H x W input."""
        span_h, span_w = (self.KH - 1) * self.dilation_h, (self.KW - 1) * self.dilation_w
        return ConvGeometry(self.N, self.O, self.OH, self.OW, self.C, self.KH, self.KW, 1, 1,
                            span_h - self.pad_top, self.H - self.OH + self.pad_top,
                            span_w - self.pad_left, self.W - self.OW + self.pad_left,
                            self.dilation_h, self.dilation_w, 1, self.H, self.W, self.itemsize)


@dataclasses.dataclass(frozen=True)
class PoolGeometry:
    """One pooling's sizes, read by field name: input (N, C, H, W), window, stride,
    padding (each side), dilation, ceil_mode, output (OH, OW) and, for average pooling,
    whether padding counts in the divisor."""
    N: int
    C: int
    H: int
    W: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int
    dilation_w: int
    ceil_mode: bool
    OH: int
    OW: int
    count_include_pad: bool = True

    @classmethod
    def of(cls, x_shape, kernel, stride, padding, dilation, ceil_mode, count_include_pad=True):
        """The geometry of pooling an x of x_shape; kernel, stride, padding, dilation pairs."""
        N, C, H, W = x_shape
        OH, OW = pool_out_hw(H, W, kernel, stride, padding, dilation, ceil_mode)
        return cls(N, C, H, W, *kernel, *stride, *padding, *dilation, bool(ceil_mode), OH, OW,
                   bool(count_include_pad))

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def out_shape(self):
        return (self.N, self.C, self.OH, self.OW)

    def kernel_args(self):
        """(kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w): the scalar arguments the
        pooling kernels take first (max pooling's then add the dilation, average pooling's
        count_include_pad)."""
        return (self.kernel_h, self.kernel_w, self.stride_h, self.stride_w, self.pad_h,
                self.pad_w)
