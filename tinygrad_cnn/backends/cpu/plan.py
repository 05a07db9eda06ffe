"""CPU backend, convolution plan: which kernel runs for a conv's forward, input gradient and
weight gradient, chosen from its geometry and the settings by one pure function.

backends/cpu/conv.py and conv_grad.py dispatch on the plan and on nothing else; the tests
that force each route (tests/conv_paths.py) and bench/bench_kernels.py call plan_conv too.
"""
import dataclasses

from tinygrad_cnn.kernels.cpu.conv_wgrad import TAP_COLUMNS, TAPS
from tinygrad_cnn.kernels.cpu.row_tile import ROW_PIXELS, ROW_TAPS
from tinygrad_cnn.kernels.cpu.vector_tile import TILE_ROWS, tile_columns

FORWARD = {
    "planes": "stride-1 first layers (an image's channels) of few outputs: each tap one long "
              "multiply-add over the zero-padded NCHW plane "
              "(kernels/cpu/conv.conv2d_forward_planes)",
    "tiles": "fused channels-last patch rows times the weights in register tiles "
             "(kernels/cpu/conv.conv2d_forward_tiles)",
    "dot-products": "fused channels-last patch rows times the weights by dot products "
                    "(kernels/cpu/conv.conv2d_forward_nhwc)",
    "gemm": "transposed patches (kernels/cpu/conv.patch_columns) times the weights in NumPy's "
            "GEMM, a chunk of images at a time; the bias as a row of ones",
    "gemm-nhwc": "channels-last patch rows (kernels/cpu/conv.im2col_nhwc; none for a 1x1 "
                 "stride-1 conv) times the weight rows in NumPy's GEMM (backends/cpu/conv_rows.py)",
    "vector-tiles": "6 pixels x 2 vectors of output channels at a time in LLVM vector "
                    "registers, the patches read from the zero-padded channels-last image "
                    "(kernels/cpu/conv_vector.py)",
    "image-tiles": "one pixel of 6 images x 2 vectors of output channels at a time in the "
                   "same registers, only the taps inside the image summed "
                   "(kernels/cpu/conv_image_tiles.py)",
    "row-tiles": "3- or 5-wide kernels into few output channels: 8 pixels of an output row "
                 "at a time (4 on AVX2), each input value broadcast once for all its taps "
                 "(kernels/cpu/conv_row_tiles.py)",
    "winograd": "3x3 stride 1: Winograd's F(2x2, 3x3), 2x2 output pixels from a 4x4 input "
                "tile by 16 products over the channels in vector tiles "
                "(kernels/cpu/conv_winograd.py)",
}
INPUT_GRAD = {
    "transposed-tiles": "a stride-1 convolution of the output gradient by the flipped kernel, "
                        "through conv2d_forward_tiles",
    "transposed-dot-products": "the same transposed convolution through conv2d_forward_nhwc",
    "tiles-col2im": "each block's patch gradient in register tiles, added back channels-last "
                    "(kernels/cpu/conv.conv2d_input_grad_nhwc)",
    "gemm-col2im": "the patch gradient in NumPy's GEMM, summed back by patch_columns_add",
    "gemm-nhwc-col2im": "the channels-last patch-row gradient in NumPy's GEMM, summed back by "
                        "kernels/cpu/conv.col2im_nhwc",
    "gemm-nhwc-transposed": "stride 1: the gemm-nhwc forward of the output gradient by the "
                            "kernel turned 180 degrees (patch rows of O channels, no col2im)",
    "transposed-vector-tiles": "stride 1: the same transposed convolution through the "
                               "vector-tiles forward",
    "transposed-image-tiles": "stride 1: the same transposed convolution through the "
                              "image-tiles forward",
    "transposed-row-tiles": "stride 1: the same transposed convolution through the row-tiles "
                            "forward",
    "transposed-winograd": "stride 1: the same transposed convolution through the winograd "
                           "forward",
}
WEIGHT_GRAD = {
    "taps": "first layers: sums in registers over the taps of the zero-padded input "
            "(kernels/cpu/conv_wgrad.conv2d_weight_grad_taps)",
    "rows": "patch rows times the output gradient in register tiles "
            "(conv_wgrad.conv2d_weight_grad_rows)",
    "dot-products": "stride 1: both operands along the pixels, dot products "
                    "(conv_wgrad.conv2d_weight_grad)",
    "gemm-nhwc": "channels-last patch rows (im2col_nhwc, remade a chunk of images at a time; "
                 "none for a 1x1 stride-1 conv) times the output gradient in NumPy's GEMM",
    "gemm-patches": "transposed patches times the output gradient in NumPy's GEMM: forward "
                    "keeps them when they fit settings.keep_patch_bytes, else remade",
    "vector-tiles": "6 patch columns x 2 vectors of output channels at a time, summed over "
                    "an image's pixels in LLVM vector registers "
                    "(kernels/cpu/conv_vector.conv2d_weight_grad_vector_tiles)",
    "image-tiles": "6 patch columns of one pixel x 2 vectors of output channels at a time, "
                   "summed over the images, only the taps inside the image "
                   "(kernels/cpu/conv_image_tiles.conv2d_weight_grad_image_tiles)",
    "channel-rows": "the vector tiles turned over, for few output channels: 6 output "
                    "channels x a kernel row's patch columns, summed over an image's pixels "
                    "(kernels/cpu/conv_vector.conv2d_weight_grad_channel_rows)",
}


@dataclasses.dataclass(frozen=True)
class ConvPlan:
    """The kernel route of each of a conv's three products (names from FORWARD, INPUT_GRAD,
    WEIGHT_GRAD)."""
    forward: str
    input_grad: str
    weight_grad: str

    def route(self):
        """One short line naming the three routes, e.g. 'fwd=tiles dx=transposed-tiles dw=rows'."""
        return f"fwd={self.forward} dx={self.input_grad} dw={self.weight_grad}"


def plan_conv(g, settings, inference=False):
    """The ConvPlan of a conv of geometry ``g`` (kernels/geometry.ConvGeometry) under
    ``settings`` (backends/cpu/settings.CpuSettings), where settings.vector_tiles allows:
    the image-tiles forward, and for stride 1 the transposed input gradient through it,
    where they fit (_image_tiles_fit: a batch, rows of taps long enough; in training, not
    ``inference`` (a forward that keeps nothing for a backward), rows of any length where
    the per-image tiles would take the forward: settings.image_tiles_min_row_values), and
    the weight gradient in them for kernels above 1x1 or strides above 1 (a stride-1 1x1
    conv's is one GEMM over the pixels, which BLAS does as fast) below
    settings.image_tiles_wgrad_max_pixels output pixels per image, or where the per-image
    tiles do not fit (those turned over, channel-rows, for at most
    settings.channel_rows_max_outputs output channels and kernel rows that fill whole tiles,
    which pad no channels); else, for kernels above 1x1, the vector-tiles routes where they
    fit (_vector_tiles_fit; for a forward of few pixels, any panel (_few_pixels); for the
    input gradient, in place of a col2im route, a panel up to
    settings.vector_transposed_panel_bytes; for the weight gradient
    settings.vector_wgrad_min_pixels output pixels per image or more); the others' routes
    otherwise. Over all of these, Winograd's F(2x2, 3x3) takes the forward and the stride-1
    input gradient where it fits (_winograd_fits)."""
    plan = _plan_without_vector_tiles(g, settings)
    if not settings.vector_tiles or g.groups != 1 or g.dilation_w != 1:
        return plan
    forward, input_grad, weight_grad = plan.forward, plan.input_grad, plan.weight_grad
    depth, wide = g.KH * g.KW * g.C, g.KH * g.KW > 1
    by_images = _image_tiles_fit(g.O, g.KW * g.C, depth, wide, g.N, g.itemsize, settings)
    if by_images:
        forward = "image-tiles"
    elif wide and _vector_tiles_fit(g.O, depth, g.OH * g.OW, g.itemsize, settings,
                                    panel=not _few_pixels(g, depth, settings)):
        forward = "vector-tiles"
        if not inference and _image_tiles_fit(g.O, g.KW * g.C, depth, wide, g.N, g.itemsize,
                                               settings, any_rows=True):
            forward = "image-tiles"     # short rows: one kernel fewer to compile in training
    panel = settings.vector_transposed_panel_bytes if input_grad.endswith("col2im") else \
        settings.vector_panel_bytes
    if _row_tiles_fit(g.O, g.C, g, settings, g.OW):
        forward = "row-tiles"
    if (g.stride_h, g.stride_w) == (1, 1) and _pads_fit(g):
        if _row_tiles_fit(g.C, g.O, g, settings, g.W):
            input_grad = "transposed-row-tiles"
        elif _image_tiles_fit(g.C, g.KW * g.O, g.KH * g.KW * g.O, wide, g.N, g.itemsize,
                            settings):
            input_grad = "transposed-image-tiles"
        elif wide and _vector_tiles_fit(g.C, g.KH * g.KW * g.O, g.H * g.W, g.itemsize,
                                        settings, panel_bytes=panel):
            input_grad = "transposed-vector-tiles"
    enough_pixels = wide and g.OH * g.OW >= settings.vector_wgrad_min_pixels
    channel_rows = enough_pixels and g.O <= settings.channel_rows_max_outputs and \
        (g.KW * g.C) % tile_columns(g.itemsize) == 0           # no padding: rows of channels
    per_image = channel_rows or enough_pixels and \
        _vector_tiles_fit(g.O, depth, g.OH * g.OW, g.itemsize, settings, panel=False)
    if by_images and (wide or (g.stride_h, g.stride_w) != (1, 1)) and \
            (not per_image or g.OH * g.OW < settings.image_tiles_wgrad_max_pixels):
        weight_grad = "image-tiles"
    elif per_image:
        weight_grad = "channel-rows" if channel_rows else "vector-tiles"
    if _winograd_fits(g, g.C, g.O, g.OH, g.OW, settings):
        forward = "winograd"
    if _pads_fit(g) and _winograd_fits(g, g.O, g.C, g.H, g.W, settings):
        input_grad = "transposed-winograd"
    return ConvPlan(forward, input_grad, weight_grad)


def _winograd_fits(g, inputs, outputs, height, width, settings):
    """True when a conv of geometry g (ungrouped, no dilation along W) computing ``outputs``
    channels from ``inputs`` over a height x width map suits Winograd's F(2x2, 3x3) (where
    settings.winograd allows): a 3x3 kernel, stride 1 and no dilation, an element size of
    settings.winograd_itemsizes; at least settings.winograd_min_channels inputs and
    outputs, settings.winograd_min_tiles 2x2 tiles per image, inputs times tiles of
    settings.winograd_min_tile_values and settings.winograd_min_pixels pixels in all."""
    tiles = ((height + 1) // 2) * ((width + 1) // 2)
    return settings.winograd and (g.KH, g.KW, g.stride_h, g.stride_w, g.dilation_h) == \
        (3, 3, 1, 1, 1) and g.itemsize in settings.winograd_itemsizes and \
        min(inputs, outputs) >= settings.winograd_min_channels and \
        tiles >= settings.winograd_min_tiles and \
        inputs * tiles >= settings.winograd_min_tile_values and \
        g.N * height * width >= settings.winograd_min_pixels


def _few_pixels(g, depth, settings):
    """True when the forward of geometry g computes few output pixels in all with a weight
    of ``depth`` x O that fits settings.vector_few_pixels_weight_bytes: its panel, read by
    a few tiles only, need not fit the L1 cache (settings.vector_few_pixels)."""
    return g.N * g.OH * g.OW <= settings.vector_few_pixels and \
        depth * g.O * g.itemsize <= settings.vector_few_pixels_weight_bytes


def _row_tiles_fit(outputs, inputs, g, settings, width):
    """True when a conv of geometry g (ungrouped, no dilation along W) computing ``outputs``
    channels from ``inputs`` over rows of ``width`` pixels suits the row tiles: a kernel of
    one of ROW_TAPS' widths at stride 1 along the rows; outputs at most
    settings.row_tiles_max_outputs where a kernel row holds fewer than
    settings.row_tiles_short_row_values values (KW*inputs: a first layer), else at most
    settings.row_tiles_deep_max_outputs and one tile unit (16 float32, 8 float64); at most
    two units, padded to whole units at most settings.image_tiles_max_padding times as many;
    and rows whose tiles of ROW_PIXELS compute at most 1 / settings.row_tiles_min_use as many
    pixels as they hold."""
    unit = tile_columns(g.itemsize)
    units = -(-outputs // unit)
    tiles = -(-width // ROW_PIXELS)
    most = settings.row_tiles_max_outputs if g.KW * inputs < settings.row_tiles_short_row_values \
        else min(settings.row_tiles_deep_max_outputs, unit)
    return g.KW in ROW_TAPS and g.stride_w == 1 and 0 < outputs <= most and units <= 2 and \
        units * unit <= settings.image_tiles_max_padding * outputs and \
        width >= settings.row_tiles_min_use * tiles * ROW_PIXELS


def _image_tiles_fit(outputs, row_values, depth, wide, images, itemsize, settings,
                     any_rows=False):
    """True when a conv of ``outputs`` channels, ``row_values`` values per kernel row of a
    window (KW*C) and ``depth`` multiply-adds per output value (``wide``: a kernel above
    1x1) suits the image tiles: a batch of settings.image_tiles_min_images or more, rows of
    settings.image_tiles_min_row_values values or more (unless ``any_rows``), and channels
    that fill whole tiles, or padded to them are at most settings.image_tiles_max_padding
    times as many, for a kernel above 1x1 (whose other routes make patches) or a depth of
    settings.vector_pad_min_depth or more (a shallow 1x1 conv is one GEMM, faster there)."""
    return images >= settings.image_tiles_min_images and \
        (any_rows or row_values >= settings.image_tiles_min_row_values) and \
        _padding_ok(outputs, itemsize, settings.image_tiles_max_padding,
                    wide or depth >= settings.vector_pad_min_depth)


def _padding_ok(outputs, itemsize, most, padding_pays):
    """True when ``outputs`` channels fill whole tiles, or, where ``padding_pays``, padded to
    them are at most ``most`` times as many."""
    columns = tile_columns(itemsize)
    padded = -(-outputs // columns) * columns
    return padded == outputs or (padded <= most * outputs and padding_pays)


def _vector_tiles_fit(outputs, depth, pixels, itemsize, settings, panel=True,
                      panel_bytes=None):
    """True when a conv of ``outputs`` channels, ``depth`` multiply-adds per output value
    (KH*KW*C) and ``pixels`` output pixels per image suits the vector tiles: its channels
    fill whole tiles, or padded to them are at most settings.vector_max_padding times as
    many with a depth of settings.vector_pad_min_depth or more; at least a tile's rows of
    pixels; and with ``panel`` (the product's weights are a tile's b-operand) a tile
    column's weights (depth x tile columns) within ``panel_bytes`` (default
    settings.vector_panel_bytes), so that they stay in the L1 cache."""
    columns = tile_columns(itemsize)
    return _padding_ok(outputs, itemsize, settings.vector_max_padding,
                       depth >= settings.vector_pad_min_depth) and pixels >= TILE_ROWS and \
        (not panel or depth * columns * itemsize <= (panel_bytes or settings.vector_panel_bytes))


def _pads_fit(g):
    """True when the padding lies within the kernel's span (the transposed convolution of
    the stride-1 input gradient then pads by a non-negative amount)."""
    span_h, span_w = (g.KH - 1) * g.dilation_h, (g.KW - 1) * g.dilation_w
    return max(g.pad_top, g.pad_bottom) <= span_h and max(g.pad_left, g.pad_right) <= span_w


def _plan_without_vector_tiles(g, settings):
    """plan_conv's choice among the other routes."""
    fused = g.groups == 1 and g.C >= settings.fused_min_channels and not settings.blas_convs
    stride1 = (g.stride_h, g.stride_w) == (1, 1)
    wide_rows = g.C >= settings.fused_min_channels or g.KW * g.C >= settings.nhwc_min_row_values
    if settings.blas_convs and g.groups == 1 and wide_rows:
        return ConvPlan("gemm-nhwc", _rows_input_grad(g, settings), "gemm-nhwc")
    if not fused:
        planes = g.groups == 1 and stride1 and g.C <= settings.image_channels \
            and g.O <= settings.planes_max_channels
        forward = "planes" if planes else "gemm"
    else:
        forward = "tiles" if settings.covered_by_tiles(g.O) else "dot-products"
    if stride1 and fused and g.O >= settings.fused_min_channels:
        input_grad = "transposed-tiles" if settings.covered_by_tiles(g.C) else \
            "transposed-dot-products"
    elif g.groups == 1 and g.O >= settings.fused_min_channels and \
            settings.covered_by_tiles(g.KH * g.KW * g.C):
        input_grad = "tiles-col2im"
    else:
        input_grad = "gemm-col2im"
    return ConvPlan(forward, input_grad, _weight_grad_route(g, settings, fused, stride1))


def _rows_input_grad(g, settings):
    """The gemm-nhwc input gradient: for stride 1 (and padding within the kernel's span), the
    transposed convolution when the output gradient has at most settings.transposed_max_ratio
    times the input's channels (its patch rows are then the smaller matrix, and there is no
    col2im); else the patch-row gradient summed back by col2im."""
    if (g.stride_h, g.stride_w) == (1, 1) and _pads_fit(g) and \
            g.O <= settings.transposed_max_ratio * g.C:
        return "gemm-nhwc-transposed"
    return "gemm-nhwc-col2im"


def _weight_grad_route(g, settings, fused, stride1):
    """plan_conv's weight_grad: the kernels for fused-path and ungrouped stride-1 convs
    (settings.stride1_weight_grad_kernel; with settings.blas_convs only first layers, on an
    image's channels, of few outputs, LeNet-5's conv1, where the kernel beats BLAS's product
    with its six columns; others take the GEMM, as fast there, and save the kernel's 4 s of
    compilation at a cold start), patch matrices times GEMM for the rest."""
    narrow = g.C < settings.fused_min_channels and (         # first layers: few channels
        not settings.blas_convs
        or (g.C <= settings.image_channels and g.O < settings.fused_min_channels))
    kernel_ok = fused or (settings.stride1_weight_grad_kernel and stride1
                          and (narrow or not settings.blas_convs))
    if g.groups != 1 or not kernel_ok:
        return "gemm-patches"
    if g.C * g.KH * g.KW <= TAPS and g.O % TAP_COLUMNS == 0 and settings.covered_by_tiles(g.O):
        return "taps"
    if fused and settings.covered_by_tiles(g.O):
        return "rows"
    image_bytes = g.C * g.KH * g.KW * g.OH * (g.OW + (g.KW - 1) * g.dilation_w) * g.itemsize
    if stride1 and image_bytes <= settings.wgrad_image_bytes:
        return "dot-products"
    return "gemm-nhwc"
