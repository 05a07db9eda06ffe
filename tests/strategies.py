"""Hypothesis strategies for valid conv and pool configurations and tie-free arrays."""
from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinygrad_cnn.kernels.geometry import conv_out_size, pool_out_size


@dataclass
class ConvConfig:
    N: int
    C: int
    H: int
    W: int
    O: int
    kh: int
    kw: int
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    bias: bool

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.O, self.C // self.groups, self.kh, self.kw)

    @property
    def out_hw(self):
        return (conv_out_size(self.H, self.kh, self.stride[0], 2 * self.padding[0], self.dilation[0]),
                conv_out_size(self.W, self.kw, self.stride[1], 2 * self.padding[1], self.dilation[1]))


@dataclass
class PoolConfig:
    N: int
    C: int
    H: int
    W: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool
    count_include_pad: bool

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def out_hw(self):
        return tuple(pool_out_size(s, k, st_, p, d, self.ceil_mode) for s, k, st_, p, d in
                     zip((self.H, self.W), self.kernel, self.stride, self.padding, self.dilation))

    @property
    def has_empty_windows(self):
        """True when dilation puts some max-pool window wholly in the padding (output -inf)."""
        for size, k, s, p, d, out in zip((self.H, self.W), self.kernel, self.stride,
                                         self.padding, self.dilation, self.out_hw):
            for o in range(out):
                if not any(0 <= o * s - p + j * d < size for j in range(k)):
                    return True
        return False


def pairs(lo, hi):
    return st.tuples(st.integers(lo, hi), st.integers(lo, hi))


@st.composite
def conv_configs(draw, max_size=9, max_channels=4):
    """A conv configuration whose output is at least 1x1, groups dividing both channel counts."""
    groups = draw(st.integers(1, 3))
    C = groups * draw(st.integers(1, max_channels // 2 + 1))
    O = groups * draw(st.integers(1, max_channels // 2 + 1))
    kh, kw = draw(pairs(1, 4))
    stride, dilation = draw(pairs(1, 3)), draw(pairs(1, 2))
    padding = draw(pairs(0, 2))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    H = draw(st.integers(max(1, span_h - 2 * padding[0]), max_size))
    W = draw(st.integers(max(1, span_w - 2 * padding[1]), max_size))
    N = draw(st.integers(1, 3))
    cfg = ConvConfig(N, C, H, W, O, kh, kw, stride, padding, dilation, groups, draw(st.booleans()))
    assume(min(cfg.out_hw) >= 1)
    return cfg


@st.composite
def pool_configs(draw, max_size=9, dilation=True):
    """A pool configuration PyTorch accepts: padding at most half the kernel, output >= 1."""
    kernel = draw(pairs(1, 4))
    stride = draw(pairs(1, 3))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = draw(pairs(1, 2)) if dilation else (1, 1)
    H = draw(st.integers(max(1, dil[0] * (kernel[0] - 1) + 1 - 2 * padding[0]), max_size))
    W = draw(st.integers(max(1, dil[1] * (kernel[1] - 1) + 1 - 2 * padding[1]), max_size))
    cfg = PoolConfig(draw(st.integers(1, 2)), draw(st.integers(1, 3)), H, W, kernel, stride,
                     padding, dil, draw(st.booleans()), draw(st.booleans()))
    assume(min(cfg.out_hw) >= 1)
    return cfg


def tie_free(shape, seed, dtype=np.float64):
    """Distinct values (a shuffled range plus jitter), so max and argmax are unambiguous
    and finite differences never cross a tie."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = rng.permutation(n).astype(np.float64) / max(n, 1) * 4 - 2
    return values.reshape(shape).astype(dtype)


def arrays(shape, seed, dtype=np.float64, scale=1.0):
    """Standard-normal array of ``shape`` from ``seed``."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


seeds = st.integers(0, 2**32 - 1)


@dataclass
class ConvTransposeConfig:
    N: int
    C: int
    H: int
    W: int
    O: int
    kh: int
    kw: int
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    groups: int
    bias: bool

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def w_shape(self):
        return (self.C, self.O // self.groups, self.kh, self.kw)

    @property
    def out_hw(self):
        return tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, op, d in
                     zip((self.H, self.W), (self.kh, self.kw), self.stride, self.padding,
                         self.output_padding, self.dilation))


@st.composite
def conv_transpose_configs(draw, max_size=5, max_channels=4):
    """A transposed-conv configuration torch accepts: output_padding below the stride or the
    dilation."""
    groups = draw(st.integers(1, 2))
    C = groups * draw(st.integers(1, max_channels // 2))
    O = groups * draw(st.integers(1, max_channels // 2))
    kh, kw = draw(pairs(1, 3))
    stride, dilation = draw(pairs(1, 3)), draw(pairs(1, 2))
    padding = draw(pairs(0, 2))
    output_padding = (draw(st.integers(0, max(stride[0], dilation[0]) - 1)),
                      draw(st.integers(0, max(stride[1], dilation[1]) - 1)))
    H, W = draw(pairs(1, max_size))
    cfg = ConvTransposeConfig(draw(st.integers(1, 2)), C, H, W, O, kh, kw, stride, padding,
                              output_padding, dilation, groups, draw(st.booleans()))
    assume(min(cfg.out_hw) >= 1)
    return cfg


@st.composite
def small_shapes(draw, min_dims=1, max_dims=4, max_side=4):
    """A tensor shape of min_dims..max_dims dims, each side 1..max_side."""
    n = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(1, max_side)) for _ in range(n))
