"""CPU backend settings: every threshold and kernel choice of the CPU backend, in one object.

``settings`` is read by the backend's Python code at each call, never by a kernel (numba
compiles module globals in as constants). ``override(**changes)`` changes fields inside a
``with`` block, as tests do to force a kernel route; ``configure(**changes)`` changes them
for good. The figures behind each default are in bench/RESULTS.md.
"""
import dataclasses

from tinygrad_cnn.backends.settings_base import Settings
from tinygrad_cnn.kernels.cpu import spin
from tinygrad_cnn.kernels.cpu.isa import compiles_for_neon
from tinygrad_cnn.kernels.cpu.vector_tile import MAX_UNITS

TILE_COLUMNS = 32
"""kernels/cpu/gemm.matmul_into's narrowest tile: the column counts it covers are multiples."""


@dataclasses.dataclass
class CpuSettings(Settings):
    """Thresholds and kernel choices of the CPU backend (see the module docstring)."""
    part_elements: int = 1 << 18
    """Fewest elements a pass over memory (ReLU, pooling, batch norm) hands to a thread of its
    own: on this project's 2-core VM a hand-off to the second thread costs about as much as a
    quarter-million-element pass (bench/RESULTS.md, session 7)."""
    part_macs: int = 1 << 20
    """Fewest multiply-adds a conv kernel hands to a thread of its own."""
    spin_polls: int = dataclasses.field(
        default_factory=lambda: 1 << 16 if spin.HINT_WAITS else 1 << 21)
    """Polls of a flag (kernels/cpu/spin.py) before a thread of backends/cpu/threads.py
    blocks: a worker for its next range; the caller, for the workers' end, this many over
    all of them. About 2 ms on Zen 5 (x86's ``pause``: 29 ns there, 3-50 ns on other CPUs);
    where the hint does not wait (ARM), a poll is a load. A worker that stops polling takes
    the GIL to block, at the cost of the caller's next wait for it, so the polls outlast the
    gaps between a step's runs (bench/RESULTS.md, session 17). 0: block at once, as a
    process sharing its cores (a CPU quota below its thread count) should."""
    weight_kernel_values: int = 4096
    """Fewest values of a conv weight for its layout copies (backends/cpu/weights.py) to take
    the 8 x 8 block kernel; NumPy's copy is as fast below (its call costs less)."""
    fused_min_channels: int = 16
    """Fewest input channels for the fused (channels-last patch rows) conv path."""
    patch_chunk_bytes: int = 1 << 20
    """Patch bytes per thread per chunk on the GEMM path (about a core's L2 cache)."""
    keep_patch_bytes: int = 16 << 20
    """Largest patch matrix the GEMM path keeps from forward for the weight gradient."""
    wgrad_image_bytes: int = 8 << 20
    """Largest per-image patch matrix of the stride-1 weight-gradient kernel."""
    nhwc_min_row_values: int = 30
    """With blas_convs, convs of fewer input channels than fused_min_channels still take the
    channels-last patch rows (gemm-nhwc) when a kernel row holds at least this many values
    (KW*C: LeNet-5's 5x5 conv on 6 channels); fewer, and the transposed patches are faster."""
    image_channels: int = 3
    """Most input channels of a first layer (an image: gray or RGB) for its own kernels: the
    planes forward, and with blas_convs the stride-1 weight-gradient kernel. Narrow convs
    inside a network (GoogLeNet's 4 -> 8) take the patch GEMM, which costs them little and
    saves 4-5 s of compilation at a cold start (the image tiles, where they are on: see
    image_tiles_max_padding)."""
    planes_max_channels: int = 8
    """Stride-1 first layers (at most image_channels inputs) of at most this many output
    channels take the planes forward kernel (LeNet-5's conv1); more, and the patch GEMM is
    faster (bench/RESULTS.md)."""
    transposed_max_ratio: float = 1.0
    """gemm-nhwc's stride-1 input gradient is the transposed convolution while the conv has at
    most this many output channels per input channel; more, and col2im's route is taken."""
    stride1_weight_grad_kernel: bool = True
    """Ungrouped stride-1 convs take the weight-gradient kernel (False: kept patches x GEMM)."""
    register_tiles: bool = False
    """The fused routes (blas_convs off) use matmul_into's outer-product register tiles,
    written as numba loops; they need AVX-512's 32 registers. The vector tiles
    (vector_tiles) replaced them on AVX-512 too: with zmm vectors they are 1.15-2.3x faster
    across the gallery's training steps (bench/RESULTS.md, session 14)."""
    blas_convs: bool = True
    """Convs the vector tiles do not take go by patches times NumPy's BLAS GEMM, none by the
    fused dot-product kernels, which are slower on every ISA measured (bench/RESULTS.md)."""
    tiles_any_width: bool = False
    """Tests only: tiles for any column count, not just multiples of TILE_COLUMNS."""
    vector_tiles: bool = True
    """Convs take the vector-tiles routes where they fit (backends/cpu/plan._vector_tiles_fit):
    LLVM vector tiles reading the patches from the padded image, sized for the ISA numba
    compiles for (kernels/cpu/vector_tile.py: ymm on AVX2, zmm on AVX-512, NEON pairs on
    ARM), 1.3-2.4x faster than the patch GEMM on AVX2 (bench/RESULTS.md)."""
    winograd: bool = True
    """3x3 stride-1 float32 convs take Winograd's F(2x2, 3x3) (kernels/cpu/conv_winograd.py)
    for their forward and input gradient where they fit (backends/cpu/plan._winograd_fits):
    2.25x fewer multiply-adds, by the same vector tiles (bench/RESULTS.md, session 18)."""
    winograd_itemsizes: tuple = (4,)
    """Element sizes a Winograd conv takes: float32. float64 keeps the direct sums (its
    users check gradients); tests add 8 to run the route's kernels in float64."""
    winograd_min_channels: int = dataclasses.field(
        default_factory=lambda: 32 if MAX_UNITS > 1 else 16)
    """Fewest input and output channels of a Winograd conv: its products run over the input
    channels (a short reduction in each tile), and its transforms cost per channel. Batch
    100, forward and input gradient against the direct tiles: with AVX-512, 16 -> 16 at
    28x28 0.84x, 32 -> 32 at 14x14 1.02x, 32 -> 64 1.40x and 1.09x; with AVX2 16 -> 16 at
    28x28 1.04x and 1.11x, 16 -> 24 and 16 -> 32 at 14x14 1.17-1.33x."""
    winograd_min_tiles: int = 9
    """Fewest 2x2 tiles per image (a 6x6 map has 9, 7x7 and 8x8 16, 4x4 4) of a Winograd
    conv: an image's tiles are the rows of its products, in 6s, so few of them leave rows
    spare. Batch 100, 64 -> 64 at 4x4 0.81x (AVX2 0.94x), at 6x6 0.92x (AVX2 1.21x)."""
    winograd_min_tile_values: int = dataclasses.field(
        default_factory=lambda: 1024 if MAX_UNITS > 1 else 256)
    """Fewest input channels times 2x2 tiles per image of a Winograd conv: each product sums
    over the input channels for one image's tiles, and over few of either its fixed costs
    outweigh its gain. Batch 100, with AVX-512: 32 -> 32 and 32 -> 48 at 7x7 (512) 0.76-0.82x,
    48 -> 64 at 6x6 (432) 0.93-1.05x, 64 -> 64 at 7x7 (1,024) 1.04x, 64 -> 128 1.08-1.13x;
    with AVX2, 48 -> 64 at 6x6 1.11-1.18x, 16 -> 16 at 14x14 (784) 1.11x."""
    winograd_min_pixels: int = 128
    """Fewest output pixels in all (N*OH*OW) of a Winograd conv: its weight transform (16 x
    C x O values at every call) is paid back over the pixels. Batch 1: 64 -> 64 at 7x7 0.79x
    (AVX2 0.93x), 128 -> 128 at 8x8 0.86x; 32 -> 64 at 14x14 1.10x (AVX2 1.25x), 128 -> 128
    at 16x16 2.37x."""
    vector_panel_bytes: int = 40 << 10
    """Largest weight panel (KH*KW*C x a tile's columns) of a vector-tiles conv: beyond the
    L1 cache it streams from L2 for every tile, and the patch GEMM is as fast or faster
    (VGG's 128 -> 128 at 3x3 pixels, a 74 KB panel: 3.2 ms against 2.3)."""
    vector_few_pixels: int = 64
    """A forward of at most this many output pixels in all (N*OH*OW: batch 1 at small maps)
    takes the vector tiles whatever its panel, where its whole weight fits in
    vector_few_pixels_weight_bytes: each panel is read by a few tiles only, from L2, and
    BLAS is slow at so few rows (batch 1, 128 -> 128 3x3, us: at 3x3 pixels 80 against 131
    for the patch GEMM, at 7x7 139 against 234; AVX2 emulated 100 against 134, 201 against
    237; 256 -> 256 at 4x4, 2.4 MB of weights, 437 against 376)."""
    vector_few_pixels_weight_bytes: int = 1 << 20
    """See vector_few_pixels."""
    vector_transposed_panel_bytes: int = 80 << 10
    """The same bound for the stride-1 input gradient's transposed convolution (its panel is
    KH*KW*O x a tile's columns) where the other route is a col2im GEMM, which writes the
    whole patch gradient and sums it back (batch 100, input gradient alone, min of 30, ms):
    AlexNet's 16 -> 48 5x5 at 13x13, a 75 KB panel, 6.9 against 10.1; 64 -> 128 at 3x3
    1.4 against 1.9; at 7x7 6.6 against 6.4. Against the transposed GEMM, which has no
    col2im, vector_panel_bytes holds (128 -> 128 at 3x3: 3.9 against 3.1)."""
    vector_wgrad_min_pixels: int = 32
    """Fewest output pixels per image of a vector-tiles weight gradient: each tile is summed
    over one image's pixels and then added to memory, and over fewer the GEMM is faster
    (batch 100: 64 -> 128 at 3x3 pixels 4.3 ms against 1.7, 64 -> 64 at 4x4 2.2 against
    1.6). At 7x7 the two are even (1.5 against 1.5, 1.3 against 1.1) and the tiles spare a
    model the patch kernels' compilation; at 28x28 the tiles win 9.3 against 3.5."""
    image_tiles_min_images: int = 6
    """Fewest images of a conv whose forward (and stride-1 input gradient) takes the image
    tiles: a tile is one pixel of 6 images, so fewer would compute spare rows (batch 1:
    the per-image routes). Batch 100, forward, min of 15, ms: VGG-11's 128 -> 128 at 3x3
    1.2-1.5 against the GEMM's 2.2, 64 -> 64 at 7x7 2.1 against the per-image tiles' 3.0
    (bench/RESULTS.md)."""
    image_tiles_min_row_values: int = 8
    """Fewest values in a kernel row of a window (KW*C) of an image-tiles conv in inference
    (a forward that keeps nothing for backward): a first layer's single channel (3 or 5
    values a row, each a pass of the tile's loop) is faster by the per-image tiles there
    (batch 100, forward with ReLU, min of 40, ms: 1 -> 32 at 28x28, 3x3, 1.35 against 1.74;
    1 -> 16 0.90 against 1.00; 1 -> 16, 5x5, 1.20 against 1.37). A training step takes the
    image tiles at any row length: its other layers compile their kernel anyway, where the
    per-image forward would be one more kernel to compile at a cold start (1.3-1.7 s; the
    step's time is the same within the noise: SimpleCNN 27.0-32.9 ms against 28.9-34.1,
    ResNet-18 103-112 against 104-115, min and first quartile of 20-30 interleaved)."""
    image_tiles_max_padding: float = 4.0
    """Most output channels an image-tiles conv may compute, padded to whole tiles, per real
    one (vector_max_padding for the per-image tiles): an image tile sums only taps inside
    the image and stores whole rows, so narrow convs lose less to the zero columns than the
    routes that would take them, and share the kernels the wider convs compile (GoogLeNet's
    4 -> 8 conv alone compiled the patch kernels, 2.3 s of its cold start). Batch 100, min of
    40, ms, image tiles against the route they replace (torch channels_last): GoogLeNet's
    4 -> 8 at 14x14, 3x3, forward 0.61 against 0.98 by the patch GEMM (0.62), input
    gradient (4 of 16 columns) 0.75 against 0.98 (0.72), weight gradient 0.88 against 1.38
    (0.60); LeNet-5's 6 -> 16 input gradient (6 of 16 columns) 1.5-1.6 against 1.1-2.0 by
    GEMM and col2im (1.4-2.1); 1x1 convs: 56 -> 24 at 14x14 0.77 against 0.95, 112 -> 8 at
    7x7 0.37 against 0.38, 32 -> 4 at 14x14 0.62 against 0.60 (medians 0.85 against
    0.73)."""
    image_tiles_block_bytes: int = 256 << 10
    """Input and output bytes of the blocks of images (in 6s, at least one tile's 6) an
    image-tiles forward runs over, one block at a time: within a block every output-channel
    block passes over the same images, which stay in the L2 cache (half a megabyte a core
    here). Batch 100, forward with ReLU, min of 20, ms, blocks of 6 against all of a
    thread's images: 32 -> 64 at 14x14 4.8-6.1 against 5.9-6.7, 16 -> 32 at 14x14 1.4
    against 1.6-2.0, 64 -> 64 at 7x7 2.1-2.9 against 2.3-3.2; at 3x3 pixels (128 -> 128,
    blocks of 24) even."""
    image_tiles_wgrad_max_pixels: int = 128
    """Output pixels per image from which a weight gradient the per-image vector tiles can
    take (vector_wgrad_min_pixels) leaves the image tiles for them: an image tile reads
    one pixel's values image after image, 50-100 KB apart, which the L1 cache holds badly
    over long runs. Batch 100, the weight gradient alone, min of 25, ms: SimpleCNN's
    32 -> 64 at 14x14 5.6-7.2 per image against 7.3-9.7; 64 -> 64 at 7x7 5.0 against
    3.6-3.8; 6 -> 16 5x5 at 10x10 even (0.52, 0.54)."""
    channel_rows_max_outputs: int = dataclasses.field(
        default_factory=lambda: 16 if MAX_UNITS > 1 else 0)
    """Most output channels of a conv whose per-image vector-tiles weight gradient is taken
    by the tiles turned over (plan WEIGHT_GRAD "channel-rows": 6 output channels x a kernel
    row's patch columns, where KW*C fills whole tiles), on ISAs whose tile rows hold more
    than one unit (vector_tile.MAX_UNITS: AVX-512). 16 channels are a one-vector row the
    other way, half the FMA rate; turned over, a 3x3 row of 16 channels is one tile of 48
    columns. Batch 100, weight gradient alone (session 14, bench/RESULTS.md)."""
    row_tiles_max_outputs: int = dataclasses.field(
        default_factory=lambda: 32 if MAX_UNITS > 1 else 0 if compiles_for_neon() else 16)
    """Most output channels of a first layer (kernel rows of fewer than
    row_tiles_short_row_values values) whose forward the row tiles take (plan FORWARD
    "row-tiles": a 3- or 5-wide kernel at stride 1 along the rows): 32 with AVX-512, 16 on
    AVX2, none on ARM (a NEON unit is four vectors: a row tile's sums and weights would not
    fit its registers). The image tiles' loop steps over a kernel row's values, and the
    per-image tiles' and the planes kernel are slow too there. One thread, batch 50,
    forward with ReLU, ms, row tiles against the image tiles (bench/RESULTS.md, session 16):
    AVX-512, 1 -> 16 at 28x28 0.12 against 0.30, 1 -> 32 0.17 against 0.32, 1 -> 24 0.17
    against 0.78; LeNet-5's 1 -> 6 5x5 (see RESULTS)."""
    row_tiles_deep_max_outputs: int = dataclasses.field(
        default_factory=lambda: 16 if MAX_UNITS > 1 else 0)
    """Most output channels (at most one unit) of any other conv whose forward, and as input
    channels whose stride-1 input gradient, the row tiles take: 16 with AVX-512, where the
    image and vector tiles of one unit (one zmm) broadcast an input value for each
    multiply-add, at half the FMA rate, and a row tile broadcasts it once for all its taps;
    none elsewhere, where a unit is two or four vectors and the image tiles run at full
    rate. One thread, batch 50, forward with ReLU, ms: 16 -> 16 at 28x28 0.91 against the
    image tiles' 1.20; DenseNet's 48 -> 12 at 14x14 0.69 against 0.77; batch 1, 16 -> 16
    0.019 against the per-image tiles' 0.028. Two units at depth, against the image tiles:
    16 -> 32 at 28x28 1.83 against 1.69, 32 -> 32 at 14x14 0.83 against 0.75."""
    row_tiles_short_row_values: int = 8
    """Kernel rows of fewer values than this (KW*C: a first layer's 1 or 2 channels) are
    short, for row_tiles_max_outputs (see there)."""
    row_tiles_min_use: float = 0.75
    """Least share of the pixels its tiles of 8 compute that a row-tiles conv's output rows
    hold (6 to 8 pixels, 12 to 16, 18 or more): at DenseNet's 3x3 maps a tile computes 5
    spare pixels, and the image tiles are faster (48 -> 12, batch 100, 0.12 against 0.15
    ms)."""
    vector_max_padding: float = 1.5
    """Most output channels a vector-tiles conv may compute, padded to whole tiles, per real
    one (DenseNet's 12 padded to 16: 1.33): the zero columns cost as much as real ones.
    Batch 100, forward+backward, ms: 48 -> 12 at 14x14 7.8 padded, 9.1-10.3 by the GEMM."""
    vector_pad_min_depth: int = 64
    """Fewest multiply-adds per output value (KH*KW*C) of a conv padded to whole tiles:
    shallower, the partial tile's copy-out and padded gradient cost more than the sums (a
    first layer's 1 -> 24 at 3x3: 5.2 ms padded, 3.4 by the GEMM)."""

    def covered_by_tiles(self, n):
        """True when matmul_into's tiles are the product to use for n columns."""
        if not self.register_tiles or n <= 0:
            return False
        return self.tiles_any_width or n % TILE_COLUMNS == 0


settings = CpuSettings()


configure = settings.configure
"""configure(**changes): change settings for good; returns the old values."""
override = settings.override
"""override(**changes): settings changed inside a ``with`` block only."""
