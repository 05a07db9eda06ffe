"""Run a conv test through either CPU conv path, whatever its channel count.

The CPU backend picks the fused kernel for ungrouped convolutions with at least
backends.cpu._FUSED_MIN_CHANNELS input channels and the GEMM path otherwise; drawn test shapes are
small, so without this most of them would only ever see the GEMM path.
"""
import contextlib

from tinygrad_cnn.backends import cpu

PATHS = ["fused", "gemm"]


@contextlib.contextmanager
def conv_path(path):
    """fused: every ungrouped conv fused, every stride-1 weight gradient by the kernel;
    gemm: patches and NumPy's GEMM throughout (kept patches, the bias row of ones)."""
    saved = cpu._FUSED_MIN_CHANNELS, cpu._STRIDE1_WGRAD_KERNEL
    cpu._FUSED_MIN_CHANNELS, cpu._STRIDE1_WGRAD_KERNEL = (1, True) if path == "fused" \
        else (1 << 62, False)
    try:
        yield
    finally:
        cpu._FUSED_MIN_CHANNELS, cpu._STRIDE1_WGRAD_KERNEL = saved
