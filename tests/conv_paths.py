"""Run a conv test through each CPU conv path, whatever its channel count.

backends/cpu/plan.plan_conv picks the kernels from the geometry and the settings; drawn
test shapes are small, so under the default settings most of them would only ever see the
GEMM routes. conv_path(path) picks settings under which plan_conv gives every ungrouped
conv the path's routes, and asserts that it does on two sample geometries.
"""
import contextlib

from tinygrad_cnn.backends.cpu.plan import ConvPlan, plan_conv
from tinygrad_cnn.backends.cpu.settings import override
from tinygrad_cnn.kernels.geometry import ConvGeometry

PATHS = ["fused", "tiles", "gemm", "gemm-nhwc", "gemm-nhwc-chunked", "gemm-nhwc-transposed",
         "planes", "vector-tiles", "image-tiles", "row-tiles", "winograd"]

_SETTINGS = {
    # every ungrouped conv fused, the products by dot products
    "fused": dict(fused_min_channels=1, stride1_weight_grad_kernel=True, register_tiles=False,
                  tiles_any_width=False, blas_convs=False),
    # the same through the outer-product tiles, whatever the column count (their plain
    # edge rows then do most of the work)
    "tiles": dict(fused_min_channels=1, stride1_weight_grad_kernel=True, register_tiles=True,
                  tiles_any_width=True, blas_convs=False),
    # patches and NumPy's GEMM throughout (kept patches, the bias row of ones)
    "gemm": dict(fused_min_channels=1 << 62, stride1_weight_grad_kernel=False,
                 register_tiles=False, tiles_any_width=False, blas_convs=True,
                 planes_max_channels=0, nhwc_min_row_values=1 << 62),
    # the planes forward kernel for every stride-1 ungrouped conv (patch GEMMs otherwise)
    "planes": dict(fused_min_channels=1 << 62, blas_convs=True, register_tiles=False,
                   planes_max_channels=1 << 62, nhwc_min_row_values=1 << 62,
                   image_channels=1 << 62),
    # channels-last patch rows and NumPy's GEMM, the input gradient by col2im
    "gemm-nhwc": dict(fused_min_channels=1, blas_convs=True, register_tiles=False,
                      transposed_max_ratio=0),
    # the same a chunk of one image at a time
    "gemm-nhwc-chunked": dict(fused_min_channels=1, blas_convs=True, register_tiles=False,
                              patch_chunk_bytes=1, transposed_max_ratio=0),
    # the stride-1 input gradient as the transposed conv's gemm-nhwc forward, whatever the
    # channel counts (padding within the kernel's span)
    "gemm-nhwc-transposed": dict(fused_min_channels=1, blas_convs=True, register_tiles=False,
                                 transposed_max_ratio=1 << 62),
    # the vector tiles for every conv above 1x1 they can take (any channel count, padded to
    # whole tiles)
    "vector-tiles": dict(fused_min_channels=1, blas_convs=True, register_tiles=False,
                         vector_tiles=True, vector_max_padding=1 << 62,
                         vector_pad_min_depth=0, vector_wgrad_min_pixels=0,
                         vector_panel_bytes=1 << 62, image_tiles_min_images=1 << 62),
    # the image tiles for every conv's forward, stride-1 input gradient and (above 1x1 or
    # strided) weight gradient, whatever the batch and the channel counts, one kernel row a
    # pass, blocks of 6 images
    "image-tiles": dict(fused_min_channels=1, blas_convs=True, register_tiles=False,
                        vector_tiles=True, vector_max_padding=1 << 62,
                        vector_pad_min_depth=0, vector_wgrad_min_pixels=0,
                        vector_panel_bytes=1, image_tiles_min_images=1,
                        image_tiles_min_row_values=1, image_tiles_block_bytes=1,
                        image_tiles_max_padding=1 << 62),
}
# the row tiles for every 3- or 5-wide stride-1 (along the rows) conv's forward and stride-1
# input gradient of up to two units of channels, whatever the row width and padding; the
# image tiles for the rest
_SETTINGS["row-tiles"] = dict(_SETTINGS["image-tiles"], row_tiles_max_outputs=1 << 62,
                              row_tiles_min_use=0, row_tiles_short_row_values=1 << 62)
# Winograd's F(2x2, 3x3) for every 3x3 stride-1 conv's forward and stride-1 input gradient,
# float64 too, whatever the channels and pixels; the image tiles for the rest
_SETTINGS["winograd"] = dict(_SETTINGS["image-tiles"], winograd=True, winograd_itemsizes=(4, 8),
                             winograd_min_channels=1, winograd_min_tiles=1,
                             winograd_min_tile_values=0, winograd_min_pixels=0)
for _path, _changes in _SETTINGS.items():       # the other paths leave the vector tiles off,
    _changes.setdefault("winograd", False)        # Winograd
    _changes.setdefault("vector_tiles", False)    # and the row tiles (on with AVX-512)
    _changes.setdefault("row_tiles_max_outputs", 0)
    _changes.setdefault("row_tiles_deep_max_outputs", 0)

_SAMPLES = [ConvGeometry.of((2, 3, 8, 8), (5, 3, 3, 3), stride, (1, 1, 1, 1), (1, 1), 1, 8)
            for stride in ((1, 1), (2, 2))]
_WANTED = {   # the plans of _SAMPLES (stride 1, stride 2) under each path's settings
    "fused": [ConvPlan("dot-products", "transposed-dot-products", "dot-products"),
              ConvPlan("dot-products", "gemm-col2im", "gemm-nhwc")],
    "tiles": [ConvPlan("tiles", "transposed-tiles", "rows"),
              ConvPlan("tiles", "tiles-col2im", "rows")],
    "gemm": [ConvPlan("gemm", "gemm-col2im", "gemm-patches")] * 2,
    "gemm-nhwc": [ConvPlan("gemm-nhwc", "gemm-nhwc-col2im", "gemm-nhwc")] * 2,
    "gemm-nhwc-transposed": [ConvPlan("gemm-nhwc", "gemm-nhwc-transposed", "gemm-nhwc"),
                             ConvPlan("gemm-nhwc", "gemm-nhwc-col2im", "gemm-nhwc")],
    "planes": [ConvPlan("planes", "gemm-col2im", "dot-products"),
               ConvPlan("gemm", "gemm-col2im", "gemm-patches")],
    "gemm-nhwc-chunked": [ConvPlan("gemm-nhwc", "gemm-nhwc-col2im", "gemm-nhwc")] * 2,
    "vector-tiles": [ConvPlan("vector-tiles", "transposed-vector-tiles", "vector-tiles"),
                     ConvPlan("vector-tiles", "gemm-nhwc-col2im", "vector-tiles")],
    "image-tiles": [ConvPlan("image-tiles", "transposed-image-tiles", "image-tiles"),
                    ConvPlan("image-tiles", "gemm-nhwc-col2im", "image-tiles")],
    "row-tiles": [ConvPlan("row-tiles", "transposed-row-tiles", "image-tiles"),
                  ConvPlan("image-tiles", "gemm-nhwc-col2im", "image-tiles")],
    "winograd": [ConvPlan("winograd", "transposed-winograd", "image-tiles"),
                 ConvPlan("image-tiles", "gemm-nhwc-col2im", "image-tiles")],
}


@contextlib.contextmanager
def conv_path(path):
    """Settings under which plan_conv takes ``path``'s routes (checked on _SAMPLES)."""
    with override(**_SETTINGS[path]) as settings:
        got = [plan_conv(g, settings) for g in _SAMPLES]
        assert got == _WANTED[path], f"conv_path({path!r}): plan_conv gives {got}"
        yield
