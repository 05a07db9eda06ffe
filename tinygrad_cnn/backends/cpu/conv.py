"""CPU backend, convolution forward (NCHW in and out), by the kernels plan_conv names.

The gradients are in conv_grad.py, the channels-last patch-row route (gemm-nhwc) in
conv_rows.py, the vector-tiles routes in conv_vector.py, the row-tiles route in
conv_row_tiles.py, the transposed patch matrices of the gemm route in patches.py and the
choice of kernels in plan.py.
"""
import dataclasses

import numpy as np

from tinygrad_cnn.backends.cpu import blas, layout, threads
from tinygrad_cnn.backends.cpu.conv_row_tiles import forward_row_tiles, row_weights
from tinygrad_cnn.backends.cpu.conv_rows import forward_rows
from tinygrad_cnn.backends.cpu.conv_vector import forward_vector_tiles
from tinygrad_cnn.backends.cpu.elementwise import relu_in_place
from tinygrad_cnn.backends.cpu.patches import (
    PatchChunks, chunks_on_threads, column_args, group_blocks, zero_padded)
from tinygrad_cnn.backends.cpu.plan import ConvPlan, plan_conv
from tinygrad_cnn.backends.cpu.pool import max_pool2d_values
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.backends.cpu.weights import column_weights
from tinygrad_cnn.backends.cpu.winograd import winograd_conv
from tinygrad_cnn.kernels.cpu import conv as conv_kernels


@dataclasses.dataclass
class ConvWorkspace:
    """What the CPU conv's forward hands its gradients beside x and w (the CUDA backend's
    ConvWorkspace is its twin)."""
    plan: ConvPlan
    patches: np.ndarray = None
    """Forward's transposed patches (C*KH*KW [+1 row of ones], N*OH*OW), kept on the
    gemm-patches weight-gradient route when they fit settings.keep_patch_bytes; else None."""
    channels_last_input: bool = False
    """x's memory is channels-last: the gemm-col2im input gradient is given the same layout."""

    @property
    def route(self):
        """The kernels chosen, in one short line (ConvPlan.route)."""
        return self.plan.route()


@blas.single_threaded_if_spinning
def conv2d_forward(x, w, b, geometry, need_weight_grad=True, relu=False):
    """(out, ConvWorkspace) of the convolution of x by w (+ b) of ``geometry``
    (kernels/geometry.ConvGeometry), and with ``relu`` its ReLU (inference: the conv's
    gradients then do not hold); out is NCHW, a view of channels-last memory, which the
    next conv or pool reads without a copy. The kernels are plan_conv's (backends/cpu/plan.py);
    patches are kept for the weight gradient only when need_weight_grad. The vector, image
    and row tiles and Winograd's output transform apply the ReLU as they store their sums;
    the other routes in place, over the new output. A Winograd conv that met a NaN or inf
    is computed again by the route plan_conv gives without it (kernels/cpu/conv_winograd.py),
    whose plan its workspace then holds."""
    if relu and need_weight_grad:
        raise ValueError("conv2d_forward: relu=True is for inference; it has no gradient")
    out, workspace = _conv2d_forward(x, w, b, geometry, need_weight_grad, relu)
    if relu and workspace.plan.forward not in ("vector-tiles", "image-tiles", "row-tiles",
                                               "winograd"):
        relu_in_place(out)
    return out, workspace


@blas.single_threaded_if_spinning
def conv2d_forward_max_pool(x, w, b, geometry, pool, relu):
    """(out, route): inference's conv of ``geometry`` (with ``relu`` its ReLU) and the 2x2
    stride-2 max pool of PoolGeometry ``pool`` after it. Where Winograd takes the conv, its
    output transform pools each tile (a pool window is one 2x2 tile). Where the image tiles
    take the conv (as a training step's plan has them: also a first layer's, whose inference
    forward would take the per-image tiles), they pool each block of images as they compute
    it (kernels/cpu/conv_pool.py), so the conv's output is never written whole, also where
    the row tiles would take the conv alone (a first layer's 1 -> 32 with its pool, batch
    100: 0.80 against 0.88-1.9 ms: the row tiles write the whole output first); otherwise (a
    batch below 6, the other routes) the conv runs and then the pool
    (pool.max_pool2d_values). One fused kernel, not one per tile kind: a fused kernel
    compiles its conv's machine code again (numba links the conv into it), a second or two
    at a cold start."""
    g = geometry
    forward = plan_conv(g, settings).forward
    if forward == "winograd":
        out = winograd_conv(layout.channels_last(x), np.ascontiguousarray(w), b, g, relu,
                            pool=True)
        if out is not None:         # else (a NaN or inf) conv2d_forward's direct sums below
            return layout.as_nchw(out), "fwd=winograd +max-pool"
    if forward == "row-tiles":
        forward = plan_conv(g, dataclasses.replace(settings, row_tiles_max_outputs=0,
                                                   row_tiles_deep_max_outputs=0)).forward
    if forward != "image-tiles":
        out, workspace = conv2d_forward(x, w, b, g, need_weight_grad=False, relu=relu)
        return max_pool2d_values(out, pool), workspace.route
    out = forward_vector_tiles(layout.channels_last(x), column_weights(w), b, g, relu,
                               images=True, max_pool=True)
    return layout.as_nchw(out), "fwd=image-tiles +max-pool"


def _conv2d_forward(x, w, b, geometry, need_weight_grad, relu, plan_settings=None):
    g = geometry
    plan = plan_conv(g, plan_settings or settings, inference=not need_weight_grad)
    x_channels_last = layout.is_channels_last(x)
    if plan.forward == "winograd":
        out = winograd_conv(layout.channels_last(x), np.ascontiguousarray(w), b, g, relu)
        if out is None:             # a NaN or inf: the direct sums say which
            return _conv2d_forward(x, w, b, g, need_weight_grad, relu,
                                   dataclasses.replace(settings, winograd=False))
        return layout.as_nchw(out), ConvWorkspace(plan, None, x_channels_last)
    if plan.forward == "row-tiles":
        out = forward_row_tiles(layout.channels_last(x), row_weights(w), b, g, relu)
        return layout.as_nchw(out), ConvWorkspace(plan, None, x_channels_last)
    if plan.forward in ("vector-tiles", "image-tiles"):
        out = forward_vector_tiles(layout.channels_last(x), column_weights(w), b, g, relu,
                                   images=plan.forward == "image-tiles")
        return layout.as_nchw(out), ConvWorkspace(plan, None, x_channels_last)
    if plan.forward == "gemm-nhwc":
        out = forward_rows(layout.channels_last(x), weight_rows(w), b, g)
        return layout.as_nchw(out.reshape(g.N, g.OH, g.OW, g.O)), \
            ConvWorkspace(plan, None, x_channels_last)
    if plan.forward == "planes":
        return layout.as_nchw(planes_conv(zero_padded(x, g), w, b, g)), \
            ConvWorkspace(plan, None, x_channels_last)
    if plan.forward != "gemm":
        out = fused_conv(layout.channels_last(x), weight_rows(w), b, g, plan.forward == "tiles")
        return layout.as_nchw(out), ConvWorkspace(plan, None, x_channels_last)
    out = np.empty((g.N * g.OH * g.OW, g.O), dtype=x.dtype)            # (N*OH*OW, O)
    wmat = w.reshape(g.O, -1)                                          # (O, C*KH*KW): (c, i, j)
    ones = b is not None and g.groups == 1
    if ones:
        wmat = np.concatenate([wmat, b[:, None]], axis=1)              # bias as one more column
    chunks = PatchChunks(x, g, ones, keep=need_weight_grad and plan.weight_grad == "gemm-patches")
    kept = None
    if g.groups == 1 and not chunks.keep:
        _gemm_on_threads(x, wmat, ones, g, out)
    else:
        for rows, cols_t in chunks:                                    # out = patches @ wmat.T
            patches_times_weights(cols_t, wmat, out[rows], g)
            kept = cols_t if chunks.keep else None
    if b is not None and not ones:
        out += b
    return layout.as_nchw(out.reshape(g.N, g.OH, g.OW, g.O)), ConvWorkspace(plan, kept,
                                                                           x_channels_last)


def _gemm_on_threads(x, wmat, ones, g, out):
    """out = patches @ wmat.T for an ungrouped conv whose patches are not kept: each thread
    makes and multiplies its own chunks (patches.chunks_on_threads)."""
    xp, P, K = zero_padded(x, g), g.OH * g.OW, g.C * g.KH * g.KW

    def chunk(first, stop):
        cols_t = np.empty((K + ones, (stop - first) * P), dtype=x.dtype)
        conv_kernels.patch_columns(xp[first:stop], *column_args(g), cols_t[:K], 0, stop - first)
        if ones:
            cols_t[K] = 1
        np.matmul(cols_t.T, wmat.T, out=out[first * P:stop * P])
    chunks_on_threads(chunk, g.N, P, (K + ones) * x.itemsize)


def patches_times_weights(cols_t, wmat, out, g):
    """out (rows, O) = cols_t.T @ wmat.T per group, for transposed patches cols_t (K, rows) of
    whole images: the threads share the images, each with NumPy's BLAS on one thread (a
    small product stays on the calling thread, with no hand-off at all)."""
    P = g.OH * g.OW
    macs = P * wmat.size

    def images(lo, hi):
        r = slice(lo * P, hi * P)
        if g.groups == 1:
            np.matmul(cols_t[:, r].T, wmat.T, out=out[r])
        for o, k in group_blocks(g):
            out[r, o] = cols_t[k, r].T @ wmat[o].T
    with blas.one_thread():
        threads.run(images, out.shape[0] // P, grain=-(-settings.part_macs // macs))


def planes_conv(xp, w, b, g):
    """(N, OH, OW, O) output of the planes kernel (conv2d_forward_planes: stride 1) for the
    zero-padded NCHW input xp, on the threads a share of the images each."""
    out = np.empty((g.N, g.OH, g.OW, g.O), dtype=xp.dtype)
    w_taps = np.ascontiguousarray(w.reshape(g.O, -1).T)                # (C*KH*KW, O)
    bias = b if b is not None else np.zeros(g.O, dtype=xp.dtype)
    threads.run(lambda lo, hi: conv_kernels.conv2d_forward_planes(
        xp, w_taps, bias, g.KH, g.KW, g.dilation_h, g.dilation_w, out, lo, hi), g.N,
        grain=-(-settings.part_macs // (g.OH * g.OW * w.size)))
    return out


def weight_rows(w):
    """(O, KH*KW*C) weight matrix, columns (i, j, c) as channels-last patches are."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def weight_from_rows(wrows, g):
    """weight_rows' inverse: the OIHW weight (or its gradient) of (O, KH*KW*C) rows."""
    return np.ascontiguousarray(wrows.reshape(g.O, g.KH, g.KW, g.C).transpose(0, 3, 1, 2))


def flipped_rows(w):
    """(C, KH*KW*O) weight rows of the transposed convolution (the stride-1 input gradient):
    w's kernel turned 180 degrees, input and output channels swapped."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 2, 3, 0)).reshape(w.shape[1], -1)


def fused_conv(xh, wmat, b, g, tiles):
    """(N, OH, OW, O) output of the fused kernels for channels-last xh: outer-product tiles
    (conv2d_forward_tiles, on the weights transposed) when ``tiles``, dot products
    (conv2d_forward_nhwc) otherwise."""
    N, K, O = g.N, wmat.shape[1], wmat.shape[0]
    out = np.empty((N, g.OH, g.OW, O), dtype=xh.dtype)
    bias = b if b is not None else np.zeros(O, dtype=xh.dtype)
    if tiles:
        wmat_t = np.ascontiguousarray(wmat.T)                        # (K, O)
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_tiles(  # noqa: E731
            xh, wmat_t, bias, *g.kernel_args(), out, lo, hi)
    else:
        kernel = lambda lo, hi: conv_kernels.conv2d_forward_nhwc(   # noqa: E731
            xh, wmat, bias, *g.kernel_args(), out, lo, hi)
    threads.run(kernel, N * g.OH * g.OW, grain=-(-settings.part_macs // (K * O)))
    return out
