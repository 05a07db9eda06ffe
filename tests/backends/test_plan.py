"""plan_conv names the kernels each conv takes: the routes of the notes' models and a
strided conv, with register tiles on and off, the vector tiles (the default on every ISA),
and every route reachable."""
import dataclasses

import pytest

from tinygrad_cnn.backends.cpu.plan import FORWARD, INPUT_GRAD, WEIGHT_GRAD, ConvPlan, plan_conv
from tinygrad_cnn.backends.cpu.settings import CpuSettings
from tinygrad_cnn.kernels.cpu.isa import compiles_for_neon
from tinygrad_cnn.kernels.cpu.vector_tile import MAX_UNITS
from tinygrad_cnn.kernels.geometry import ConvGeometry


def _geometry(x_shape, w_shape, stride=(1, 1), pad=0, groups=1, itemsize=4):
    return ConvGeometry.of(x_shape, w_shape, stride, (pad,) * 4, (1, 1), groups, itemsize)


SIMPLE_CONV1 = _geometry((64, 1, 28, 28), (32, 1, 3, 3), pad=1)
SIMPLE_CONV2 = _geometry((64, 32, 14, 14), (64, 32, 3, 3), pad=1)
LENET_CONV1 = _geometry((64, 1, 28, 28), (6, 1, 5, 5), pad=2)
LENET_CONV2 = _geometry((64, 6, 14, 14), (16, 6, 5, 5))
STRIDED = _geometry((8, 64, 16, 16), (128, 64, 3, 3), stride=(2, 2), pad=1)
GROUPED = _geometry((8, 32, 14, 14), (32, 16, 3, 3), pad=1, groups=2)

PLAIN = CpuSettings(register_tiles=False, blas_convs=False,    # the fused dot-product kernels
                    vector_tiles=False)
BLAS = CpuSettings(register_tiles=False, blas_convs=True, vector_tiles=False)

CASES = [   # geometry, plan with register tiles, plan without (blas_convs off)
    (SIMPLE_CONV1, ConvPlan("gemm", "gemm-col2im", "taps"),
     ConvPlan("gemm", "gemm-col2im", "dot-products")),
    (SIMPLE_CONV2, ConvPlan("tiles", "transposed-tiles", "rows"),
     ConvPlan("dot-products", "transposed-dot-products", "dot-products")),
    (LENET_CONV1, ConvPlan("planes", "gemm-col2im", "dot-products"),
     ConvPlan("planes", "gemm-col2im", "dot-products")),
    (LENET_CONV2, ConvPlan("gemm", "gemm-col2im", "dot-products"),
     ConvPlan("gemm", "gemm-col2im", "dot-products")),
    (STRIDED, ConvPlan("tiles", "tiles-col2im", "rows"),
     ConvPlan("dot-products", "gemm-col2im", "gemm-nhwc")),
    (GROUPED, ConvPlan("gemm", "gemm-col2im", "gemm-patches"),
     ConvPlan("gemm", "gemm-col2im", "gemm-patches")),
]


@pytest.mark.parametrize("geometry, with_tiles, without_tiles", CASES)
def test_plans_of_known_convs(geometry, with_tiles, without_tiles):
    assert plan_conv(geometry, CpuSettings(register_tiles=True, blas_convs=False,
                                           vector_tiles=False)) == with_tiles
    assert plan_conv(geometry, PLAIN) == without_tiles


def _blas_plan(geometry):
    """What blas_convs gives: channels-last patch rows and GEMM for ungrouped convs of at
    least fused_min_channels inputs or kernel rows of at least nhwc_min_row_values values
    (LeNet-5's conv2); first layers (fewer) take transposed patches, and those of fewer than
    16 outputs keep the stride-1 weight-gradient kernel; grouped convs take transposed patches per group."""
    if geometry.groups == 1 and (geometry.C >= 16 or geometry.KW * geometry.C >= 30):
        transposed = geometry.stride_h == 1 and geometry.O <= geometry.C
        return ConvPlan("gemm-nhwc", "gemm-nhwc-transposed" if transposed else
                        "gemm-nhwc-col2im", "gemm-nhwc")
    first_layer = geometry.groups == 1 and geometry.stride_h == 1 and geometry.C <= 3
    forward = "planes" if first_layer and geometry.O <= 8 else "gemm"
    kernel = first_layer and geometry.O < 16                    # LeNet-5's conv1, not SimpleCNN's
    return ConvPlan(forward, "gemm-col2im", "dot-products" if kernel else "gemm-patches")


@pytest.mark.parametrize("geometry", [g for g, _, _ in CASES])
def test_blas_convs_send_every_conv_through_the_patch_gemm(geometry):
    plan = plan_conv(geometry, BLAS)
    assert plan == _blas_plan(geometry)
    assert _blas_plan(LENET_CONV1).weight_grad == "dot-products"
    assert _blas_plan(SIMPLE_CONV1).weight_grad == "gemm-patches"
    assert _blas_plan(SIMPLE_CONV2).forward == "gemm-nhwc"
    assert _blas_plan(GROUPED).weight_grad == "gemm-patches"
    assert _blas_plan(LENET_CONV2).forward == "gemm-nhwc"
    assert _blas_plan(LENET_CONV1).forward == "planes"
    narrowing = _geometry((8, 48, 14, 14), (12, 48, 3, 3), pad=1)     # DenseNet's 48 -> 12
    assert plan_conv(narrowing, BLAS) == \
        ConvPlan("gemm-nhwc", "gemm-nhwc-transposed", "gemm-nhwc")
    overpadded = _geometry((8, 48, 14, 14), (12, 48, 3, 3), pad=3)    # pad beyond the span
    assert plan_conv(overpadded, BLAS) \
        .input_grad == "gemm-nhwc-col2im"
    inner = _geometry((8, 4, 14, 14), (8, 4, 3, 3), pad=1)           # GoogLeNet's 4 -> 8
    assert plan_conv(inner, BLAS) == \
        ConvPlan("gemm", "gemm-col2im", "gemm-patches")
    assert _blas_plan(SIMPLE_CONV1).forward == "gemm"


AVX512 = MAX_UNITS > 1
ROWS = not compiles_for_neon()         # a first layer's row tiles: AVX-512 and AVX2
VECTOR_PLANS = {   # the default plans on every ISA (vector tiles on, BLAS below)
    SIMPLE_CONV1: ConvPlan("row-tiles" if AVX512 else "image-tiles", "gemm-col2im",
                           "vector-tiles"),      # rows of 3 values; 32 outputs: AVX-512's rows
    SIMPLE_CONV2: ConvPlan("winograd", "transposed-winograd", "vector-tiles"),  # 3x3, 14x14
    LENET_CONV1: ConvPlan("row-tiles" if ROWS else "planes", "gemm-col2im",
                          "dot-products"),       # 6 outputs: rows of 5 values
    LENET_CONV2: ConvPlan("image-tiles", "transposed-row-tiles" if AVX512 else
                          "transposed-image-tiles", "image-tiles"),  # rows of 10: 2 tiles of 8
    STRIDED: ConvPlan("image-tiles", "gemm-nhwc-col2im", "image-tiles"),
    GROUPED: ConvPlan("gemm", "gemm-col2im", "gemm-patches"),
}


def test_default_settings_take_the_vector_tiles_on_every_isa():
    settings = CpuSettings()
    assert settings.vector_tiles and settings.blas_convs and not settings.register_tiles
    for geometry, _, _ in CASES:
        assert plan_conv(geometry, settings) == VECTOR_PLANS[geometry]


def test_row_tiles_only_where_they_fit():
    """The row tiles take the forward of a 3- or 5-wide kernel at stride 1 along the rows:
    a first layer's short kernel rows into up to row_tiles_max_outputs channels (by default
    32 with AVX-512, 16 on AVX2, none on ARM), any other conv into one tile unit up to
    row_tiles_deep_max_outputs (16 with AVX-512 only), at most two units padded at most
    image_tiles_max_padding times, over rows they fill to row_tiles_min_use; the stride-1
    input gradient by the same rules on the input channels; at any batch."""
    default = CpuSettings()
    assert (default.row_tiles_max_outputs, default.row_tiles_deep_max_outputs) == \
        ((32, 16) if MAX_UNITS > 1 else (0, 0) if compiles_for_neon() else (16, 0))
    on = CpuSettings(row_tiles_max_outputs=32, row_tiles_deep_max_outputs=16, winograd=False)
    resnet = _geometry((100, 16, 28, 28), (16, 16, 3, 3), pad=1)
    assert plan_conv(resnet, on) == ConvPlan("row-tiles", "transposed-row-tiles",
                                             "channel-rows" if MAX_UNITS > 1 else "vector-tiles")
    assert plan_conv(dataclasses.replace(resnet, N=1), on).forward == "row-tiles"
    shallow = dataclasses.replace(on, row_tiles_deep_max_outputs=0)    # AVX2's choice
    assert plan_conv(resnet, shallow).forward == "image-tiles"
    twelve = _geometry((100, 48, 14, 14), (12, 48, 3, 3), pad=1)      # DenseNet's 48 -> 12
    assert (plan_conv(twelve, on).forward, plan_conv(twelve, on).input_grad) == \
        ("row-tiles", "transposed-image-tiles")                     # 48 inputs: two units
    small = _geometry((100, 48, 3, 3), (12, 48, 3, 3), pad=1)         # 3 of a tile's pixels
    assert plan_conv(small, on).forward == "image-tiles"
    assert plan_conv(small, dataclasses.replace(on, row_tiles_min_use=0)).forward == \
        "row-tiles"
    assert plan_conv(SIMPLE_CONV1, on).forward == "row-tiles"          # 1 -> 32: rows of 3
    assert plan_conv(SIMPLE_CONV1, shallow).forward == "row-tiles"
    assert plan_conv(SIMPLE_CONV1, dataclasses.replace(on, row_tiles_max_outputs=16)) \
        .forward != "row-tiles"
    lenet = _geometry((100, 1, 28, 28), (6, 1, 5, 5), pad=2)          # 5 wide, 6 of 16
    assert plan_conv(lenet, shallow).forward == "row-tiles"
    wider = _geometry((100, 16, 28, 28), (32, 16, 3, 3), pad=1)
    assert (plan_conv(wider, on).forward, plan_conv(wider, on).input_grad) == \
        ("image-tiles", "transposed-row-tiles")
    assert plan_conv(dataclasses.replace(resnet, itemsize=8), on).forward == "image-tiles"
    assert plan_conv(LENET_CONV2, on).forward == "image-tiles"        # 10 of 16 pixels
    assert plan_conv(_geometry((64, 6, 18, 18), (16, 6, 5, 5)), on).forward == "row-tiles"
    seven = _geometry((100, 16, 28, 28), (16, 16, 7, 7), pad=3)
    assert plan_conv(seven, on).forward == "image-tiles"
    strided = _geometry((100, 16, 28, 28), (16, 16, 3, 3), stride=(2, 2), pad=1)
    assert plan_conv(strided, on).forward == "image-tiles"
    three = _geometry((100, 16, 28, 28), (3, 16, 3, 3), pad=1)        # 16 for 3: 5.3x
    assert plan_conv(three, on).forward != "row-tiles"
    off = CpuSettings(row_tiles_max_outputs=0, row_tiles_deep_max_outputs=0, winograd=False)
    assert plan_conv(lenet, off).forward != "row-tiles" and \
        plan_conv(resnet, off).forward != "row-tiles"


def test_vector_tiles_only_where_they_fit():
    """Output channels padded to whole tiles (16 float32, 8 float64) at most
    vector_max_padding times as many, 6 output pixels per image at least, a weight panel
    within vector_panel_bytes (any panel for a forward of at most vector_few_pixels pixels in
    all whose weight fits vector_few_pixels_weight_bytes); the transposed input gradient by
    the same rules on the input channels; the weight gradient over vector_wgrad_min_pixels output pixels per image;
    padding only for a depth (KH*KW*C) of vector_pad_min_depth; no 1x1 kernel (the per-image
    tiles: batches below image_tiles_min_images; their weight gradient not turned over:
    channel_rows_max_outputs=0)."""
    on = CpuSettings(register_tiles=False, blas_convs=True, vector_tiles=True,
                     image_tiles_min_images=1 << 62, channel_rows_max_outputs=0,
                     row_tiles_max_outputs=0, row_tiles_deep_max_outputs=0, winograd=False)
    assert plan_conv(SIMPLE_CONV2, on).forward == "vector-tiles"
    deep = _geometry((2, 128, 7, 7), (128, 128, 3, 3), pad=1)        # VGG's 74 KB panel
    assert plan_conv(deep, on).forward == "gemm-nhwc"
    assert plan_conv(deep, dataclasses.replace(on, vector_panel_bytes=1 << 20)).forward == \
        "vector-tiles"
    few = _geometry((1, 128, 7, 7), (128, 128, 3, 3), pad=1)         # 49 pixels, 590 KB
    assert plan_conv(few, on).forward == "vector-tiles"             # any panel
    assert plan_conv(few, dataclasses.replace(on, vector_few_pixels=48)).forward == \
        "gemm-nhwc"
    assert plan_conv(few, dataclasses.replace(on, vector_few_pixels_weight_bytes=1 << 19)) \
        .forward == "gemm-nhwc"
    wide = _geometry((1, 256, 4, 4), (256, 256, 3, 3), pad=1)        # 16 pixels, 2.4 MB
    assert plan_conv(wide, on).forward == "gemm-nhwc"
    tiny = _geometry((1, 16, 2, 2), (16, 16, 1, 1))                   # 4 output pixels
    assert plan_conv(tiny, on).forward == "gemm-nhwc"
    twelve = _geometry((8, 48, 14, 14), (12, 48, 3, 3), pad=1)        # DenseNet's 48 -> 12
    assert plan_conv(twelve, on) == ConvPlan("vector-tiles", "transposed-vector-tiles",
                                             "vector-tiles")        # padded to 16: 1.33x
    assert plan_conv(twelve, dataclasses.replace(on, vector_max_padding=1.3)).forward == \
        "gemm-nhwc"
    eighteen = _geometry((8, 48, 14, 14), (18, 48, 3, 3), pad=1)      # 32 for 18: 1.78x
    assert plan_conv(eighteen, on).forward == "gemm-nhwc"
    assert plan_conv(dataclasses.replace(eighteen, itemsize=8), on).forward == \
        "vector-tiles"                                              # float64: 24, 1.33x
    eight = dataclasses.replace(_geometry((8, 8, 14, 14), (8, 8, 3, 3), pad=1), itemsize=8)
    assert plan_conv(eight, on) == ConvPlan("vector-tiles", "transposed-vector-tiles",
                                            "vector-tiles")         # float64: 8 columns
    small = _geometry((8, 64, 4, 4), (64, 64, 3, 3), pad=1)           # 16 output pixels
    assert plan_conv(small, on) == ConvPlan("vector-tiles", "transposed-vector-tiles",
                                            "gemm-nhwc")            # weight gradient: 32+
    pointwise = _geometry((8, 16, 28, 28), (32, 16, 1, 1), stride=(2, 2))
    assert plan_conv(pointwise, on) == ConvPlan("gemm-nhwc", "gemm-nhwc-col2im",
                                                "gemm-nhwc")        # 1x1: the GEMM's
    stem = _geometry((8, 1, 28, 28), (24, 1, 3, 3), pad=1)           # depth 9: not padded
    assert plan_conv(stem, on).forward == "gemm"
    assert plan_conv(stem, dataclasses.replace(on, vector_pad_min_depth=9)).forward == \
        "vector-tiles"
    dilated = ConvGeometry.of((8, 16, 14, 14), (16, 16, 3, 3), (1, 1), (2,) * 4, (2, 2), 1, 4)
    assert plan_conv(dilated, on).forward == "gemm-nhwc"


def test_transposed_tiles_take_a_larger_panel_only_in_place_of_col2im():
    """The stride-1 input gradient's transposed tiles may have a panel up to
    vector_transposed_panel_bytes where the other route sums a patch gradient back
    (col2im); against the transposed GEMM, vector_panel_bytes holds (per-image tiles: a
    batch below image_tiles_min_images)."""
    on = CpuSettings(register_tiles=False, blas_convs=True, vector_tiles=True,
                     image_tiles_min_images=1 << 62, row_tiles_max_outputs=0,
                     row_tiles_deep_max_outputs=0)
    alex = _geometry((8, 16, 13, 13), (48, 16, 5, 5), pad=2)          # 25 * 48 * 64 B = 75 KB
    assert plan_conv(alex, dataclasses.replace(on, vector_tiles=False)).input_grad == \
        "gemm-nhwc-col2im"
    assert plan_conv(alex, on).input_grad == "transposed-vector-tiles"
    assert plan_conv(alex, dataclasses.replace(on, vector_transposed_panel_bytes=40 << 10)) \
        .input_grad == "gemm-nhwc-col2im"
    vgg = _geometry((8, 128, 3, 3), (128, 128, 3, 3), pad=1)          # 72 KB, no col2im
    assert plan_conv(vgg, on).input_grad == "gemm-nhwc-transposed"
    assert plan_conv(vgg, dataclasses.replace(on, vector_panel_bytes=80 << 10)) \
        .input_grad == "transposed-vector-tiles"


def test_image_tiles_for_batches_with_rows_of_taps():
    """The image tiles take the forward, and the stride-1 input gradient (padding within the
    kernel's span), of a batch of image_tiles_min_images or more whose kernel rows hold
    image_tiles_min_row_values values (KW*C; KW*O for the input gradient), 1x1 kernels and
    any weight panel too, channels padded to whole tiles up to image_tiles_max_padding times
    for kernels above 1x1 or depths of vector_pad_min_depth; the weight gradient too,
    for kernels above 1x1 or strides above 1, where the images have fewer than
    image_tiles_wgrad_max_pixels output pixels or the per-image tiles do not fit; batch 1 takes the
    per-image routes, first layers' single channel the others' (the row tiles off)."""
    on = CpuSettings(register_tiles=False, blas_convs=True, vector_tiles=True,
                     row_tiles_max_outputs=0, row_tiles_deep_max_outputs=0, winograd=False)
    vgg = _geometry((100, 128, 3, 3), (128, 128, 3, 3), pad=1)        # 72 KB panel
    assert plan_conv(vgg, on) == ConvPlan("image-tiles", "transposed-image-tiles", "image-tiles")
    assert plan_conv(vgg, dataclasses.replace(on, image_tiles_min_images=101)) == \
        ConvPlan("gemm-nhwc", "gemm-nhwc-transposed", "gemm-nhwc")
    one = _geometry((1, 64, 7, 7), (64, 64, 3, 3), pad=1)
    assert plan_conv(one, on) == ConvPlan("vector-tiles", "transposed-vector-tiles",
                                          "vector-tiles")
    assert plan_conv(dataclasses.replace(one, N=6), on) == ConvPlan(
        "image-tiles", "transposed-image-tiles", "image-tiles")
    pointwise = _geometry((100, 16, 28, 28), (32, 16, 1, 1), stride=(2, 2))
    assert plan_conv(pointwise, on) == ConvPlan("image-tiles", "gemm-nhwc-col2im",
                                                "image-tiles")
    pointwise1 = _geometry((100, 48, 14, 14), (48, 48, 1, 1))          # stride 1: BLAS's GEMM
    assert plan_conv(pointwise1, on) == ConvPlan("image-tiles", "transposed-image-tiles",
                                                 "gemm-nhwc")
    reduce = _geometry((100, 32, 14, 14), (4, 32, 1, 1))              # 4 columns: 4x padding
    assert plan_conv(reduce, on) == ConvPlan("gemm-nhwc", "gemm-nhwc-transposed", "gemm-nhwc")
    stem = _geometry((100, 1, 28, 28), (32, 1, 3, 3), pad=1)          # rows of 3 values:
    assert plan_conv(stem, on, inference=True).forward == "vector-tiles"   # per image in
    assert plan_conv(stem, dataclasses.replace(on, image_tiles_min_row_values=3),   # inference,
                     inference=True).forward == "image-tiles"
    assert plan_conv(stem, on) == ConvPlan("image-tiles", "gemm-col2im", "vector-tiles")
    assert plan_conv(dataclasses.replace(stem, N=5), on).forward == "vector-tiles"
    first = _geometry((100, 1, 28, 28), (6, 1, 5, 5), pad=2)          # LeNet-5's: no tiles
    assert plan_conv(first, on) == plan_conv(first, on, inference=True) == \
        ConvPlan("planes", "gemm-col2im", "dot-products")
    lenet = _geometry((100, 6, 14, 14), (16, 6, 5, 5))                # dx: 6 of 16 columns
    assert plan_conv(lenet, on) == ConvPlan("image-tiles", "transposed-image-tiles",
                                            "image-tiles")
    assert plan_conv(lenet, dataclasses.replace(on, image_tiles_max_padding=2.5)) == \
        ConvPlan("image-tiles", "gemm-nhwc-col2im", "image-tiles")
    narrow = _geometry((100, 4, 14, 14), (8, 4, 3, 3), pad=1)         # GoogLeNet's: 4 and 8
    assert plan_conv(narrow, on) == ConvPlan("image-tiles", "transposed-image-tiles",
                                             "image-tiles")
    two = _geometry((100, 4, 14, 14), (2, 4, 3, 3), pad=1)            # 2 of 16: 8x
    assert plan_conv(two, on).forward != "image-tiles"
    shallow = _geometry((100, 56, 14, 14), (16, 56, 1, 1))            # dx: 1x1, depth 16
    assert plan_conv(shallow, on) == ConvPlan("image-tiles", "gemm-nhwc-transposed",
                                              "gemm-nhwc")
    assert plan_conv(SIMPLE_CONV2, on).weight_grad == "vector-tiles"  # 196 pixels: per image
    assert plan_conv(SIMPLE_CONV2, dataclasses.replace(on, image_tiles_wgrad_max_pixels=197)) \
        .weight_grad == "image-tiles"
    assert plan_conv(SIMPLE_CONV2, dataclasses.replace(on, vector_wgrad_min_pixels=197)) \
        .weight_grad == "image-tiles"                                 # no per-image tiles
    overpadded = _geometry((100, 48, 14, 14), (16, 48, 3, 3), pad=3)  # pad beyond the span
    assert plan_conv(overpadded, on).input_grad == "gemm-nhwc-col2im"
    assert plan_conv(vgg, dataclasses.replace(on, vector_tiles=False)).forward == "gemm-nhwc"


def test_byte_thresholds_and_switches():
    """Stride-1 weight gradients leave the dot-product kernel past wgrad_image_bytes (the
    element size counts), and stride1_weight_grad_kernel=False sends unfused convs to the
    patch GEMM."""
    plain = PLAIN
    big = _geometry((2, 32, 64, 64), (8, 32, 3, 3), pad=1, itemsize=8)
    assert plan_conv(big, plain).weight_grad == "gemm-nhwc"
    assert plan_conv(dataclasses.replace(big, itemsize=4), plain).weight_grad == "dot-products"
    off = CpuSettings(register_tiles=False, stride1_weight_grad_kernel=False, blas_convs=False,
                      vector_tiles=False)
    assert plan_conv(LENET_CONV2, off).weight_grad == "gemm-patches"
    assert plan_conv(SIMPLE_CONV2, off).weight_grad == "dot-products"        # fused still


RESNET_16 = _geometry((64, 16, 28, 28), (16, 16, 3, 3), pad=1)


def test_winograd_only_where_it_fits():
    """Winograd's F(2x2, 3x3) takes a 3x3 stride-1 undilated conv's forward (and its stride-1
    input gradient, by the same rules on the swapped channels and the input's map) in the
    element sizes of winograd_itemsizes (float32), with winograd_min_channels inputs and
    outputs (32 with AVX-512, 16 elsewhere), winograd_min_tiles 2x2 tiles per image,
    inputs x tiles of winograd_min_tile_values (1,024 with AVX-512, 256 elsewhere) and
    winograd_min_pixels pixels in all; everything else keeps its route."""
    on = CpuSettings(winograd_min_channels=32, winograd_min_tiles=9,
                     winograd_min_tile_values=1024, winograd_min_pixels=128)
    off = dataclasses.replace(on, winograd=False)
    assert plan_conv(SIMPLE_CONV2, on) == ConvPlan("winograd", "transposed-winograd",
                                                   plan_conv(SIMPLE_CONV2, off).weight_grad)
    for other in (dataclasses.replace(SIMPLE_CONV2, itemsize=8),        # float64
                  STRIDED, GROUPED, LENET_CONV2,                        # stride 2, groups, 5x5
                  dataclasses.replace(SIMPLE_CONV2, dilation_h=2, dilation_w=2),
                  _geometry((64, 16, 14, 14), (64, 16, 3, 3), pad=1)):  # 16 inputs
        assert plan_conv(other, on).forward == plan_conv(other, off).forward != "winograd"
    narrow_out = _geometry((64, 64, 14, 14), (16, 64, 3, 3), pad=1)   # 16 outputs
    assert plan_conv(narrow_out, on).forward != "winograd"
    assert plan_conv(narrow_out, dataclasses.replace(on, winograd_min_channels=16)).forward \
        == "winograd"
    seven = _geometry((100, 64, 7, 7), (128, 64, 3, 3), pad=1)          # 64 x 16 tiles
    assert plan_conv(seven, on).forward == "winograd"
    thin_seven = _geometry((100, 32, 7, 7), (64, 32, 3, 3), pad=1)      # 32 x 16: 512
    assert (plan_conv(thin_seven, on).forward, plan_conv(thin_seven, on).input_grad) == \
        (plan_conv(thin_seven, off).forward, "transposed-winograd")     # 64 x 16 for dx
    assert plan_conv(thin_seven, dataclasses.replace(on, winograd_min_tile_values=512)) \
        .forward == "winograd"
    four = _geometry((100, 128, 4, 4), (128, 128, 3, 3), pad=1)         # 4 tiles
    assert plan_conv(four, on).forward != "winograd"
    assert plan_conv(four, dataclasses.replace(on, winograd_min_tiles=4,
                                               winograd_min_tile_values=512)).forward == \
        "winograd"
    batch1 = dataclasses.replace(seven, N=1)                            # 49 pixels
    assert plan_conv(batch1, on).forward != "winograd"
    assert plan_conv(dataclasses.replace(SIMPLE_CONV2, N=1), on).forward == "winograd"  # 196
    overpadded = _geometry((64, 32, 14, 14), (64, 32, 3, 3), pad=3)     # pads beyond 2
    assert (plan_conv(overpadded, on).forward, plan_conv(overpadded, on).input_grad) == \
        ("winograd", plan_conv(overpadded, off).input_grad)
    assert plan_conv(dataclasses.replace(SIMPLE_CONV2, itemsize=8),
                     dataclasses.replace(on, winograd_itemsizes=(4, 8))).forward == "winograd"
    default = CpuSettings()
    assert default.winograd and default.winograd_itemsizes == (4,)
    assert (default.winograd_min_channels, default.winograd_min_tile_values) == \
        ((32, 1024) if MAX_UNITS > 1 else (16, 256))




def test_channel_rows_take_weight_gradients_of_few_outputs():
    """The per-image tiles' weight gradient turned over (channel-rows) replaces theirs for at
    most channel_rows_max_outputs output channels (16 on AVX-512, whose tile rows hold more
    than one vector, none elsewhere) where a kernel row (KW*C values) fills whole tiles;
    the image tiles' weight gradient, and wider convs, keep their routes."""
    on = CpuSettings(channel_rows_max_outputs=16, winograd=False)
    off = CpuSettings(channel_rows_max_outputs=0, winograd=False)
    assert plan_conv(RESNET_16, on).weight_grad == "channel-rows"
    assert plan_conv(RESNET_16, off).weight_grad == "vector-tiles"
    dense = _geometry((64, 48, 14, 14), (12, 48, 3, 3), pad=1)      # DenseNet's growth of 12
    assert plan_conv(dense, on).weight_grad == "channel-rows"
    assert plan_conv(_geometry((64, 16, 28, 28), (32, 16, 3, 3), pad=1), on).weight_grad == \
        "vector-tiles"                                              # 32 outputs: wide rows
    odd_rows = _geometry((64, 6, 28, 28), (16, 6, 3, 3), pad=1)     # KW*C = 18
    assert plan_conv(odd_rows, on).weight_grad == plan_conv(odd_rows, off).weight_grad != \
        "channel-rows"
    assert plan_conv(LENET_CONV2, on).weight_grad == "image-tiles"  # 10x10 pixels
    assert CpuSettings().channel_rows_max_outputs == (16 if MAX_UNITS > 1 else 0)


def test_every_route_is_reachable():
    settings = [CpuSettings(register_tiles=tiles, stride1_weight_grad_kernel=s1, blas_convs=blas,
                            vector_tiles=vector, channel_rows_max_outputs=16,
                            row_tiles_max_outputs=rows, row_tiles_deep_max_outputs=rows,
                            winograd=winograd)
                for tiles in (True, False) for s1 in (True, False) for blas in (True, False)
                for vector in (True, False) for rows in (0, 32) for winograd in (True, False)]
    geometries = [g for g, _, _ in CASES] + [
        _geometry((2, 32, 64, 64), (8, 32, 3, 3), pad=1, itemsize=8), RESNET_16]
    plans = [plan_conv(g, s) for g in geometries for s in settings]
    assert {p.forward for p in plans} == set(FORWARD)
    assert {p.input_grad for p in plans} == set(INPUT_GRAD)
    assert {p.weight_grad for p in plans} == set(WEIGHT_GRAD)


def test_route_names_the_three_kernels():
    plan = ConvPlan("tiles", "transposed-tiles", "rows")
    assert plan.route() == "fwd=tiles dx=transposed-tiles dw=rows"


@pytest.mark.parametrize("features, vector", [
    ("+neon,+fp-armv8,+crc,+crypto", 16),             # aarch64 (Apple, Graviton)
    ("+sse4.2,+avx,+avx2,+fma,-avx512f", 32),         # an AVX2 laptop or server
    ("+sse4.2,+avx,+avx2,+fma,+avx512f,+avx512bw", 64),
])
def test_isa_probe_sizes_the_vectors(monkeypatch, features, vector):
    """The probe reads the features numba compiles for (NUMBA_CPU_FEATURES where set): 64-byte
    vectors with AVX-512's zmm registers, NEON's 16 bytes on ARM (a tile row of four, which
    its 32 registers hold without spilling: test_vector_tile_isas.py), AVX2's 32 elsewhere.
    The plans are the same on every ISA: a tile row is 64 bytes."""
    import numba

    from tinygrad_cnn.kernels.cpu import isa
    monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
    assert isa.vector_bytes() == vector
    assert isa.compiles_for_avx512() == (vector == 64)
    assert plan_conv(SIMPLE_CONV2, CpuSettings()).forward == "winograd"
