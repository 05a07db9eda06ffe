"""Read and write IDX files (the MNIST file format), gzip-compressed or raw."""
import gzip
import os
import struct
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dims: count, rows, cols
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dim: count
_KIND = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(ValueError):
    """An IDX file is corrupt, truncated or not the kind of IDX file expected."""


def read_file_bytes(path):
    """Return the IDX bytes of `path`, decompressing it when it is gzip."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        if path.endswith(".gz"):
            raise IDXFormatError(f"{path}: name ends in .gz but the file is not gzip "
                                 f"(first bytes {raw[:4].hex() or 'none'}, {len(raw)} bytes)")
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXFormatError(f"{path}: bad gzip stream ({len(raw)} compressed bytes): {e}") from None


def parse_idx(data, magic, path="<bytes>"):
    """Parse IDX bytes whose magic must be `magic`; return a uint8 array of the header's shape."""
    kind = _KIND[magic]
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) >= 4:
        (got,) = struct.unpack(">I", data[:4])
        if got != magic:
            other = f" ({_KIND[got]})" if got in _KIND else ""
            raise IDXFormatError(f"{path}: magic number 0x{got:08x}{other}, expected "
                                 f"0x{magic:08x} ({kind})")
    if len(data) < header:
        raise IDXFormatError(f"{path}: {len(data)} bytes, shorter than the {header}-byte "
                             f"header of an IDX {kind} file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise IDXFormatError(f"{path}: header says images of {dims[1]}x{dims[2]} pixels")
    want = int(np.prod(dims, dtype=np.int64))
    have = len(data) - header
    if have != want:
        what = (f"{dims[0]} images of {dims[1]}x{dims[2]}" if ndim == 3 else f"{dims[0]} labels")
        raise IDXFormatError(f"{path}: header says {what} = {want} bytes but file has "
                             f"{have} bytes after the {header}-byte header")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_images(path):
    """Read an IDX images file (gz or raw) into a uint8 array (N, rows, cols)."""
    return parse_idx(read_file_bytes(path), IMAGES_MAGIC, os.fspath(path))


def read_labels(path):
    """Read an IDX labels file (gz or raw) into a uint8 array (N,)."""
    return parse_idx(read_file_bytes(path), LABELS_MAGIC, os.fspath(path))


def write_idx(path, array):
    """Write a uint8 array (N,) or (N, rows, cols) as IDX; gzip it when `path` ends in .gz."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise ValueError(f"write_idx needs a uint8 array of 1 or 3 dims, got {array.dtype} "
                         f"shape {array.shape}")
    magic = LABELS_MAGIC if array.ndim == 1 else IMAGES_MAGIC
    data = struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array).tobytes()
    path = os.fspath(path)
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
