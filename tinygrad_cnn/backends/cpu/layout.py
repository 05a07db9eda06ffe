"""CPU backend, memory layout: the NCHW arrays the ops see, over channels-last memory.

The conv and pooling kernels work channels-last (N, H, W, C); their results are handed out as
NCHW views of that memory, which the next conv or pool reads without a copy.
"""
import numpy as np


def channels_last(x):
    """(N, H, W, C) view of an NCHW array: free when x is channels-last in memory, else a copy."""
    v = x.transpose(0, 2, 3, 1)
    return v if v.flags.c_contiguous else np.ascontiguousarray(v)


def is_channels_last(x):
    """True when the NCHW array's memory is ordered (N, H, W, C)."""
    return x.transpose(0, 2, 3, 1).flags.c_contiguous


def as_nchw(x_nhwc):
    """The public NCHW view of a channels-last result (no copy)."""
    return x_nhwc.transpose(0, 3, 1, 2)


JOINED_ROW_VALUES = 256
"""Values per row that joined_rows aims for: LLVM's float32 vector loop takes 32 values at a
time (8 lanes x 4 interleaved), so a 16-long per-channel loop runs scalar, at a third of the
speed of one over 256."""


def most_joined(C):
    """The largest power of two r with r*C up to JOINED_ROW_VALUES (at least 1): how many
    rows of C values joined_rows joins at most."""
    return 1 << max(0, (JOINED_ROW_VALUES // max(C, 1)).bit_length() - 1)


def joined_rows(rows):
    """(rows (M, C) as (M / r, r*C), r): r the largest power of two up to most_joined(C)
    that divides M (batch sizes and pixel counts are rich in factors of two), so that a
    per-channel loop over a row is long enough to vectorise. A per-channel vector goes with
    it repeated r times (np.tile)."""
    M, C = rows.shape
    r = most_joined(C)
    while r > 1 and M % r:
        r //= 2
    return rows.reshape(M // r, r * C), r
