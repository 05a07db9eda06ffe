"""CPU backend, the vector-tiles conv routes of plan_conv (kernels/cpu/conv_vector.py): the
forward, the stride-1 input gradient as the transposed convolution through the same kernel,
and the weight gradient. Each thread takes its own share of the images."""
import numpy as np

from tinygrad_cnn.backends.cpu import threads
from tinygrad_cnn.backends.cpu.settings import settings
from tinygrad_cnn.kernels.cpu import conv_vector as vector_kernels


def column_weights(w):
    """(KH*KW*C, O) weight rows (i, j, c), one column per output channel, as the kernel
    takes them."""
    O = w.shape[0]
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, O)


def flipped_column_weights(w):
    """column_weights of the transposed convolution (the stride-1 input gradient): the kernel
    turned 180 degrees, input and output channels swapped; (KH*KW*O, C)."""
    C = w.shape[1]
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(-1, C)


def forward_vector_tiles(xh, wt, b, g):
    """(N, OH, OW, O) channels-last output of the conv of geometry g of xh (N, H, W, C) by
    the column weights wt (+ b)."""
    out = np.empty((g.N, g.OH, g.OW, g.O), dtype=xh.dtype)
    bias = b if b is not None else np.zeros(g.O, dtype=xh.dtype)
    macs = g.OH * g.OW * wt.size
    threads.run(lambda lo, hi: vector_kernels.conv2d_forward_vector_tiles(
        xh, wt, bias, g.KH, g.KW, g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.dilation_h,
        out, lo, hi), g.N, grain=-(-settings.part_macs // macs))
    return out


def weight_grad_vector_tiles(gh, xh, g):
    """The OIHW weight gradient of the conv of geometry g, from its channels-last output
    gradient gh (N, OH, OW, O) and input xh (N, H, W, C): each thread sums its images' share
    into its own (KH*KW*C, O) part."""
    gh, xh = np.ascontiguousarray(gh), np.ascontiguousarray(xh)
    K = g.KH * g.KW * g.C
    parts = max(1, min(threads.thread_count(), g.N,
                       g.N * g.OH * g.OW * K * g.O // settings.part_macs))
    dwt = threads.summed(lambda lo, hi, part: vector_kernels.conv2d_weight_grad_vector_tiles(
        xh, gh, g.KH, g.KW, g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.dilation_h, part,
        lo, hi), g.N, ((K, g.O),), gh.dtype, parts)[0]
    return np.ascontiguousarray(dwt.reshape(g.KH, g.KW, g.C, g.O).transpose(3, 2, 0, 1))
