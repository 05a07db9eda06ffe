"""Read and write IDX files (the MNIST file format), gzip-compressed or raw."""
import gzip
import math
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


# deflate cannot expand data by more than ~1032:1, so a gzip file of n bytes holds at most
# this many bytes: a header declaring more is refused before anything is allocated.
_DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20


def read_idx(path, magic):
    """Read the IDX file `path` (gzip or raw) whose magic must be `magic`, streaming it.

    The header comes from the first bytes; the data size it declares is checked against what
    the file can hold (its size, or 1032 x its size when gzip) before anything is allocated.
    Then exactly that many bytes are decompressed (plus one, to find trailing data), the buffer
    growing only with bytes that really arrive. Every failure is an IDXFormatError naming the
    file.
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        start = raw.read(2)
        raw.seek(0)
        if start != _GZIP_MAGIC:
            if path.endswith(".gz"):
                raise IDXFormatError(f"{path}: name ends in .gz but the file is not gzip "
                                     f"(first bytes {raw.read(4).hex() or 'none'}, {size} bytes)")
            return _read_stream(raw, magic, path, size, size)
        bound = _DEFLATE_MAX_RATIO * size + (1 << 16)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                try:
                    return _read_stream(stream, magic, path, None, bound)
                except IDXFormatError as err:
                    if not getattr(err, "trailing", False):
                        _count(stream, bound)   # a broken stream is the cause: report it instead
                    raise
        except (OSError, EOFError, zlib.error) as e:
            raise IDXFormatError(f"{path}: bad gzip stream ({size} compressed bytes): "
                                 f"{e}") from None


def _read_stream(f, magic, path, exact, bound):
    """Header, then the data, from the binary stream f; `exact` is the stream's length when
    known (raw files), `bound` the most bytes it can hold."""
    kind, ndim = _KIND[magic], magic & 0xFF
    header_len = 4 + 4 * ndim
    header = _read_upto(f, header_len)
    if len(header) >= 4:
        (got,) = struct.unpack(">I", header[:4])
        if got != magic:
            other = f" ({_KIND[got]})" if got in _KIND else ""
            raise IDXFormatError(f"{path}: magic number 0x{got:08x}{other}, expected "
                                 f"0x{magic:08x} ({kind})")
    if len(header) < header_len:
        raise IDXFormatError(f"{path}: {len(header)} bytes, shorter than the {header_len}-byte "
                             f"header of an IDX {kind} file")
    dims = struct.unpack(f">{ndim}I", header[4:])
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise IDXFormatError(f"{path}: header says images of {dims[1]}x{dims[2]} pixels")
    want = math.prod(dims)        # a Python int: no overflow, however large the dims
    if exact is not None or want > bound:
        have = exact - header_len if exact is not None else _count(f, bound)
        if have != want:
            raise _size_error(path, dims, want, have, header_len, exact is None and have > bound)
    if exact is not None:          # a raw file already known to hold `want` bytes
        data = bytearray(want)
        got = _fill(f, memoryview(data))
    else:                          # a gzip stream: grow with the bytes that really arrive
        data = bytearray()
        while len(data) < want:
            chunk = f.read(min(_CHUNK, want - len(data)))
            if not chunk:
                break
            data += chunk
        got = len(data)
    if got != want:
        raise _size_error(path, dims, want, got, header_len, False)
    if f.read(1):                  # more data than declared: stop decompressing here
        err = _size_error(path, dims, want, want + 1, header_len, True)
        err.trailing = True
        raise err
    return np.frombuffer(data, np.uint8).reshape(dims)


def _fill(f, view):
    """Read into view until it is full or f ends; returns the bytes read."""
    got = 0
    while got < len(view):
        more = f.readinto(view[got:])
        if not more:
            break
        got += more
    return got


def _read_upto(f, n):
    """Up to n bytes from f (fewer only at the end of the stream)."""
    out = b""
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def _count(f, bound):
    """How many bytes remain in f, counting at most bound + 1 of them, in chunks."""
    n = 0
    while n <= bound:
        chunk = f.read(min(_CHUNK, bound + 1 - n))
        if not chunk:
            break
        n += len(chunk)
    return n


def _size_error(path, dims, want, have, header_len, more):
    what = (f"{dims[0]} images of {dims[1]}x{dims[2]}" if len(dims) == 3 else f"{dims[0]} labels")
    has = f"more than {have - 1}" if more else f"{have}"
    return IDXFormatError(f"{path}: header says {what} = {want} bytes but file has {has} bytes "
                          f"after the {header_len}-byte header")


def read_images(path):
    """Read an IDX images file (gz or raw) into a uint8 array (N, rows, cols)."""
    return read_idx(path, IMAGES_MAGIC)


def read_labels(path):
    """Read an IDX labels file (gz or raw) into a uint8 array (N,)."""
    return read_idx(path, LABELS_MAGIC)


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
