"""CPU backend, convolution gradients (input, weight and bias), by the kernels plan_conv names.

Forward adjoint pairs: conv2d_input_grad is the adjoint of conv.conv2d_forward in x,
conv2d_weight_grad its adjoint in w (and b).
"""
import dataclasses

import numpy as np

from tinygrad_cnn.backends.cpu import blas, layout, threads
from tinygrad_cnn.backends.cpu.conv import fused_conv, flipped_rows, weight_from_rows, weight_rows
from tinygrad_cnn.backends.cpu.conv_row_tiles import flipped_row_weights, forward_row_tiles
from tinygrad_cnn.backends.cpu.conv_rows import forward_rows, input_grad_rows, weight_grad_rows
from tinygrad_cnn.backends.cpu.conv_vector import (
    flipped_column_weights, forward_vector_tiles, weight_grad_vector_tiles)
from tinygrad_cnn.backends.cpu.patches import (
    PatchChunks, chunks_on_threads, column_args, group_blocks, zero_padded)
from tinygrad_cnn.backends.cpu.plan import plan_conv
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.backends.cpu.winograd import winograd_conv
from tinygrad_cnn.kernels.cpu import conv as conv_kernels
from tinygrad_cnn.kernels.cpu import conv_wgrad as wgrad_kernels


@blas.single_threaded_if_spinning
def conv2d_input_grad(grad, w, geometry, workspace):
    """d(conv2d_forward(x, w))/dx applied to ``grad`` (the forward of a transposed
    convolution when workspace is None), by plan_conv's input_grad route; NCHW."""
    g = geometry
    route = (workspace.plan if workspace is not None else plan_conv(g, settings)).input_grad
    gh = layout.channels_last(grad)                                    # (N, OH, OW, O)
    if route == "transposed-winograd":
        dx = winograd_conv(gh, np.ascontiguousarray(w), None, g.transposed(), flipped=True)
        if dx is not None:
            return layout.as_nchw(dx)
        route = plan_conv(g, dataclasses.replace(settings, winograd=False)).input_grad
    if route in ("transposed-tiles", "transposed-dot-products"):
        return layout.as_nchw(fused_conv(gh, flipped_rows(w), None, g.transposed(),
                                         route == "transposed-tiles"))
    if route == "tiles-col2im":
        dx = np.empty((g.N, g.H, g.W, g.C), dtype=grad.dtype)
        wrows, P = weight_rows(w), g.OH * g.OW
        threads.run(lambda lo, hi: conv_kernels.conv2d_input_grad_nhwc(
            gh, wrows, *g.kernel_args(), dx, lo, hi), g.N,
            grain=-(-settings.part_macs // (P * w.size)))
        return layout.as_nchw(dx)
    if route == "transposed-row-tiles":
        return layout.as_nchw(forward_row_tiles(gh, flipped_row_weights(w), None,
                                                g.transposed()))
    if route in ("transposed-vector-tiles", "transposed-image-tiles"):
        return layout.as_nchw(forward_vector_tiles(gh, flipped_column_weights(w), None,
                                                   g.transposed(),
                                                   images=route == "transposed-image-tiles"))
    if route == "gemm-nhwc-transposed":
        dx = forward_rows(gh, flipped_rows(w), None, g.transposed())
        return layout.as_nchw(dx.reshape(g.N, g.H, g.W, g.C))
    if route == "gemm-nhwc-col2im":
        return layout.as_nchw(input_grad_rows(gh.reshape(-1, g.O), weight_rows(w), g))
    return _gemm_col2im(gh.reshape(-1, g.O), w, g, workspace is not None and
                        workspace.channels_last_input)


def _gemm_col2im(gm, w, g, channels_last):
    """The gemm-col2im input gradient from the (N*OH*OW, O) output gradient gm."""
    pt, pl = g.pad_top, g.pad_left
    dxp = np.empty((g.N, g.C, g.H + pt + g.pad_bottom, g.W + pl + g.pad_right), dtype=gm.dtype)
    wmat, P, K = w.reshape(g.O, -1), g.OH * g.OW, g.C * g.KH * g.KW

    def chunk(first, stop):
        rows = slice(first * P, stop * P)
        dcols_t = np.empty((K, rows.stop - rows.start), dtype=gm.dtype)
        if g.groups == 1:                                              # patch gradient
            np.matmul(wmat.T, gm[rows].T, out=dcols_t)
        for o, k in group_blocks(g):
            dcols_t[k] = wmat[o].T @ gm[rows, o].T
        conv_kernels.patch_columns_add(dcols_t, *column_args(g), dxp[first:stop], 0, stop - first)
    chunks_on_threads(chunk, g.N, P, K * gm.itemsize)
    dx = layout.as_nchw(np.empty((g.N, g.H, g.W, g.C), dtype=gm.dtype)) if channels_last else \
        np.empty(g.x_shape, dtype=gm.dtype)                            # x's own memory layout
    dx[...] = dxp[:, :, pt:pt + g.H, pl:pl + g.W]
    return dx


@blas.single_threaded_if_spinning
def conv2d_weight_grad(grad, x, geometry, workspace, need_weight, need_bias):
    """(dw, db) of conv2d_forward for the output gradient ``grad``, by plan_conv's
    weight_grad route; either is None when not needed."""
    g, route = geometry, workspace.plan.weight_grad
    gm = layout.channels_last(grad).reshape(g.N * g.OH * g.OW, g.O)   # (N*OH*OW, O)
    if route == "gemm-patches":
        return _gemm_patches(gm, x, g, workspace.patches, need_weight, need_bias)
    gh = gm.reshape(g.N, g.OH, g.OW, g.O)
    if route == "taps":
        xp = zero_padded(x, g)
        dw_rows, db = threads.summed(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_taps(
                xp[lo:hi], gh[lo:hi], g.KH, g.KW, g.stride_h, g.stride_w, g.dilation_h,
                g.dilation_w, dw_part, db_part),
            g.N, ((g.C * g.KH * g.KW, g.O), (g.O,)), gm.dtype)                 # rows (c, i, j)
        dw = dw_rows.T.reshape(g.w_shape)
    elif route == "rows":
        xh = layout.channels_last(x)
        dw_rows, db = threads.summed(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad_rows(
                xh[lo:hi], gh[lo:hi], *g.kernel_args(), dw_part, db_part),
            g.N, ((g.KH * g.KW * g.C, g.O), (g.O,)), gm.dtype)                 # rows (i, j, c)
        dw = weight_from_rows(dw_rows.T, g)
    elif route == "dot-products":
        xh = layout.channels_last(x)
        dw_rows, db = threads.summed(
            lambda lo, hi, dw_part, db_part: wgrad_kernels.conv2d_weight_grad(
                xh[lo:hi], gh[lo:hi], g.KH, g.KW, g.pad_top, g.pad_left, g.dilation_h,
                g.dilation_w, dw_part, db_part),
            g.N, ((g.C * g.KH * g.KW, g.O), (g.O,)), gm.dtype)                 # rows (c, i, j)
        dw = dw_rows.T.reshape(g.w_shape)
    elif route in ("vector-tiles", "image-tiles", "channel-rows"):
        dw = weight_grad_vector_tiles(gh, layout.channels_last(x), g, route) \
            if need_weight else None
        db = np.ones(gm.shape[0], dtype=gm.dtype) @ gm if need_bias else None
    else:                                                              # gemm-nhwc
        dw = None
        if need_weight:
            dw = weight_from_rows(weight_grad_rows(gm, layout.channels_last(x), g), g)
        db = np.ones(gm.shape[0], dtype=gm.dtype) @ gm if need_bias else None  # a GEMV
    return (dw if need_weight else None), (db if need_bias else None)


def _gemm_patches(gm, x, g, kept, need_weight, need_bias):
    """The gemm-patches weight and bias gradients: forward's kept transposed patches (or
    the same remade a chunk at a time) times the output gradient, the bias through a row
    of ones."""
    ones = need_bias and g.groups == 1
    dwmat = np.zeros((g.O, g.C // g.groups * g.KH * g.KW + ones), dtype=gm.dtype)
    for rows, cols_t in PatchChunks(x, g, ones, kept=kept):
        dwmat += _patches_times_grad(cols_t, gm[rows], g)
    dw = dwmat[:, :dwmat.shape[1] - ones].reshape(g.w_shape) if need_weight else None
    db = None
    if need_bias:
        db = dwmat[:, -1].copy() if ones else np.ones(gm.shape[0], dtype=gm.dtype) @ gm
    return dw, db


def _patches_times_grad(cols_t, gm, g):
    """(O, K) = (cols_t @ gm).T per group (a plain NN GEMM), for transposed patches cols_t
    (K, rows) of whole images: summed over the threads' shares of the images, each with
    NumPy's BLAS on one thread (a small product stays on the calling thread)."""
    P = g.OH * g.OW
    n, O, K = gm.shape[0] // P, gm.shape[1], cols_t.shape[0] // g.groups   # (K: per group)
    parts = max(1, min(threads.thread_count(), n, n * P * K * O // settings.part_macs))

    def share(first, stop, part):
        r = slice(first * P, stop * P)
        if g.groups == 1:
            part[...] = (cols_t[:, r] @ gm[r]).T
        for o, k in group_blocks(g):
            part[o] = (cols_t[k, r] @ gm[r, o]).T
    with blas.one_thread():
        return threads.summed(share, n, ((O, K),), gm.dtype, parts)[0]
