"""Helpers for the CUDA tests: device round trips and launching a kernel on a tiny grid."""
import numpy as np

from tinygrad_cnn.backends.cuda import launch as rt

be = None


def backend():
    """The CUDA backend module (imported lazily: conftest decides whether it can run)."""
    global be
    if be is None:
        from tinygrad_cnn.backends import cuda
        be = cuda
    return be


def simulated():
    """True under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def dev(a):
    """A host array on the device."""
    return rt.upload(np.asarray(a))


def host(a):
    return a.copy_to_host()


def run(kernel, n, *args):
    """Launch ``kernel`` over ``n`` work items; device arrays in, host arrays as results."""
    dev_args = [rt.upload(a) if isinstance(a, np.ndarray) else a for a in args]
    rt.launch(kernel, n, *dev_args)
    return [host(d) if isinstance(a, np.ndarray) else None for a, d in zip(args, dev_args)]


# ---- tiny configurations (the shared strategies draw sizes the simulator runs slowly) ----
from hypothesis import assume  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from strategies import ConvConfig, PoolConfig  # noqa: E402


def _pairs(lo, hi):
    return st.tuples(st.integers(lo, hi), st.integers(lo, hi))


@st.composite
def tiny_conv_configs(draw, max_size=6):
    """A valid conv configuration with at most 2 groups, 4 channels and a 6x6 input."""
    groups = draw(st.integers(1, 2))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(_pairs(1, 3))
    stride, dilation, padding = draw(_pairs(1, 2)), draw(_pairs(1, 2)), draw(_pairs(0, 1))
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    H = draw(st.integers(max(1, span_h - 2 * padding[0]), max(max_size, span_h)))
    W = draw(st.integers(max(1, span_w - 2 * padding[1]), max(max_size, span_w)))
    cfg = ConvConfig(draw(st.integers(1, 2)), C, H, W, O, kh, kw, stride, padding, dilation,
                     groups, draw(st.booleans()))
    assume(min(cfg.out_hw) >= 1)
    return cfg


@st.composite
def tiny_pool_configs(draw, max_size=6, dilation=True):
    """A pool configuration PyTorch accepts, on at most a 2x2x6x6 input."""
    kernel, stride = draw(_pairs(1, 3)), draw(_pairs(1, 3))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = draw(_pairs(1, 2)) if dilation else (1, 1)
    span_h, span_w = dil[0] * (kernel[0] - 1) + 1, dil[1] * (kernel[1] - 1) + 1
    H = draw(st.integers(max(1, span_h - 2 * padding[0]), max(max_size, span_h)))
    W = draw(st.integers(max(1, span_w - 2 * padding[1]), max(max_size, span_w)))
    cfg = PoolConfig(draw(st.integers(1, 2)), draw(st.integers(1, 2)), H, W, kernel, stride,
                     padding, dil, draw(st.booleans()), draw(st.booleans()))
    assume(min(cfg.out_hw) >= 1)
    return cfg
