"""Reading a checkpoint's zip archive without trusting it: every byte bounded, checked, named.

The rules, each enforced before the bytes it guards are used or allocated:
  - members are stored uncompressed and unencrypted (save() never writes anything else), so a
    member's size can never exceed the archive's size: nothing is ever inflated;
  - checkpoint.json is at most MAX_JSON_BYTES, nests at most MAX_JSON_DEPTH deep and holds no
    Infinity/NaN constants;
  - an .npy member's declared shape x dtype must match the bytes the member really holds, and
    (format version 2) the dtype, shape and SHA-256 recorded in the manifest;
  - every member is read to its end, so the zip CRC is checked too;
  - the arrays of one file together hold at most the file's size (so an array referenced twice
    or overlapping members cannot make a small file allocate a large amount).
Every failure is a CheckpointError of the form "<file>: <member>: <what is wrong>".
"""
import hashlib
import json
import os
import re
import struct
import tokenize
import zipfile
import zlib

import numpy as np

MAX_JSON_BYTES = 64 << 20
MAX_JSON_DEPTH = 320     # save() refuses values nested more than 100 containers deep
_CHUNK = 1 << 22
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')

# What a corrupt archive can raise from zipfile, zlib, struct, numpy's header parser or json.
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, OSError, ValueError,
           struct.error, OverflowError, KeyError, TypeError, IndexError, tokenize.TokenError,
           SyntaxError)


class CheckpointError(ValueError):
    """A file is not a tinygrad_cnn checkpoint, or is corrupt; the message names file and member."""


class Archive:
    """A checkpoint zip opened for checked reads; `member` names what is being read."""

    def __init__(self, fileobj, path):
        self.path, self.file = path, fileobj
        self.file_size = os.fstat(fileobj.fileno()).st_size
        self.member = "zip directory"
        self.budget = self.file_size          # array bytes still allowed
        self.zf = zipfile.ZipFile(fileobj)

    def close(self):
        self.zf.close()
        self.file.close()

    def fail(self, what, member=None):
        """A CheckpointError naming the file and the member: "<file>: ...: <member> <what>"."""
        return CheckpointError(f"{self.path}: corrupt checkpoint: {member or self.member} {what}")

    def info(self, name):
        """The ZipInfo of a stored, unencrypted member no larger than the file."""
        self.member = name
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail("is missing (members: "
                            f"{', '.join(self.zf.namelist()[:5]) or 'none'})") from None
        if info.flag_bits & 0x1:
            raise self.fail("is encrypted; checkpoints are never encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.fail(f"is compressed (zip method {info.compress_type}); tinygrad_cnn "
                            f"checkpoints store members uncompressed, so this file was not "
                            f"written by tc.save")
        if info.file_size != info.compress_size or info.file_size > self.file_size:
            raise self.fail(f"declares {info.file_size} bytes ({info.compress_size} stored) in "
                            f"a {self.file_size}-byte file")
        return info

    def read_json(self, name):
        """The parsed JSON member `name`, bounded in size and depth, without NaN/Infinity."""
        info = self.info(name)
        if info.file_size > MAX_JSON_BYTES:
            raise self.fail(f"has {info.file_size} bytes of JSON, more than the "
                            f"{MAX_JSON_BYTES}-byte limit")
        with self.zf.open(info) as f:
            raw = f.read(info.file_size + 1)     # to the end: the CRC is checked
        _check_depth(raw, self)
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError as e:
            raise self.fail(f"is not UTF-8 text ({e})") from None
        except ValueError as e:
            raise self.fail(f"is not valid JSON ({e})") from None

    def read_array(self, name, expected=None):
        """The array in .npy member `name`; `expected` is its manifest entry (dtype, shape,
        fortran, sha256) when the format has one."""
        info = self.info(name)
        with self.zf.open(info) as f:
            shape, fortran, dtype = self._npy_header(f)
            header_len = f.tell()
            if expected is not None:
                got = {"dtype": dtype.str, "shape": list(shape), "fortran": fortran}
                want = {k: expected[k] for k in got}
                if got != want:
                    raise self.fail(f"has the header {got}, the manifest says {want}")
            nbytes = _nbytes(shape, dtype)       # Python ints: no overflow
            if nbytes != info.file_size - header_len:
                raise self.fail(f"declares shape {shape} of {dtype} = {nbytes} bytes, "
                                f"the member holds {info.file_size - header_len} bytes of data")
            if nbytes > self.budget:
                raise self.fail(f"would bring the arrays past the file's own "
                                f"{self.file_size} bytes ({nbytes} more; an array read twice?)")
            self.budget -= nbytes
            buf = bytearray(nbytes)
            _read_exactly(f, memoryview(buf), self)
            if f.read(1):
                raise self.fail("holds more bytes than its header declares")
        if expected is not None and hashlib.sha256(buf).hexdigest() != expected["sha256"]:
            raise self.fail("has data whose SHA-256 differs from the manifest's: the bytes "
                            "are corrupt")
        order = "F" if fortran else "C"
        return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)

    def _npy_header(self, f):
        """(shape, fortran, dtype) from an .npy header; refuses object dtypes."""
        major, minor = np.lib.format.read_magic(f)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif (major, minor) in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise self.fail(f"has .npy format version {major}.{minor}, not 1.0 to 3.0")
        if dtype.hasobject:
            raise self.fail(f"cannot be read: dtype {dtype} holds Python objects, which need "
                            f"pickle; checkpoints are read with allow_pickle=False")
        if any(not isinstance(n, int) or n < 0 for n in shape):
            raise self.fail(f"has a bad shape {shape}")
        return shape, bool(fortran), dtype


def manifest_entry(a):
    """The manifest record of array `a` as np.lib.format.write_array stores it."""
    fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
    data = a.T if fortran else a          # the bytes write_array emits, in order
    try:
        digest = hashlib.sha256(memoryview(np.ascontiguousarray(data)).cast("B")).hexdigest()
    except (TypeError, ValueError):       # dtypes without a buffer format (structured, ...)
        digest = hashlib.sha256(data.tobytes()).hexdigest()
    return {"dtype": a.dtype.str, "shape": list(a.shape), "fortran": fortran, "sha256": digest}


def _nbytes(shape, dtype):
    n = dtype.itemsize
    for d in shape:
        n *= d
    return n


def _read_exactly(f, view, archive):
    """Fill `view` from `f` chunk by chunk."""
    pos = 0
    while pos < len(view):
        got = f.readinto(view[pos:pos + _CHUNK])
        if not got:
            raise archive.fail(f"ends after {pos} of {len(view)} data bytes")
        pos += got


def _check_depth(raw, archive):
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before the parser recurses into it."""
    depth = 0
    for m in _JSON_TOKENS.finditer(raw):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise archive.fail(f"nests JSON more than {MAX_JSON_DEPTH} levels deep")
        elif c in (b"]", b"}"):
            depth -= 1


def _no_constant(name):
    raise ValueError(f"the constant {name} is not allowed (floats are stored as hex strings)")


def open_checked(path):
    """An Archive over `path`; a file that is not a zip gives a CheckpointError."""
    f = open(path, "rb")
    try:
        return Archive(f, path)
    except CORRUPT as e:
        f.close()
        raise CheckpointError(f"{path} is not a valid tinygrad_cnn checkpoint: its zip directory "
                              f"cannot be read ({type(e).__name__}: {e})") from None
