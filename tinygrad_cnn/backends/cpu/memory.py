"""Keep freed activation buffers in the process heap instead of returning them to the OS.

A training step of SimpleCNN at batch 100 allocates and frees about 130 MB of activations,
patch matrices and gradients. glibc serves blocks that large with mmap and unmaps them on
free, so every step pays page faults and kernel page zeroing for all of it again. Raising
glibc's mmap and trim thresholds makes the next step reuse the same heap memory. Only glibc is tuned; elsewhere this does nothing.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30


def keep_freed_memory():
    """Ask glibc to keep up to 1 GiB of freed large blocks for reuse; True when it agreed."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, _KEEP_BYTES))
