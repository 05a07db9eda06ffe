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
