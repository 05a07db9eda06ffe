"""Run a conv test through either CPU conv path, whatever its channel count.

The CPU backend picks the fused kernel for ungrouped convolutions with at least
backends.cpu.settings' fused_min_channels input channels and the GEMM path otherwise, and takes the
outer-product gradient kernels (conv2d_input_grad_nhwc, conv2d_weight_grad_rows) only where
their columns are a multiple of 32; drawn test shapes are small, so without this most of
them would only ever see the GEMM path.
"""
import contextlib

from tinygrad_cnn.backends.cpu import settings

PATHS = ["fused", "tiles", "gemm"]


@contextlib.contextmanager
def conv_path(path):
    """fused: every ungrouped conv fused, every stride-1 weight gradient by the dot-product
    kernels; tiles: the same, but the gradients by the outer-product kernels whatever the
    column count (their plain edge rows then do most of the work); gemm: patches and
    NumPy's GEMM throughout (kept patches, the bias row of ones)."""
    fused_min, stride1 = (1 << 62, False) if path == "gemm" else (1, True)
    with settings.override(fused_min_channels=fused_min, stride1_weight_grad_kernel=stride1,
                           register_tiles=path == "tiles", tiles_any_width=path == "tiles"):
        yield
