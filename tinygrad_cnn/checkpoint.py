"""save / load nested state (dicts, lists, tuples, arrays, scalars) without pickle.

File format (version 2): a zip archive, every member stored uncompressed, holding
  arrays/K.npy     the K-th array, written by numpy.lib.format with allow_pickle=False
  checkpoint.json  {"format": "tinygrad_cnn.checkpoint", "version": 2, "root": NODE,
                    "arrays": [{"dtype": "<f4", "shape": [..], "fortran": false,
                                "sha256": "<hex of the array's data bytes>"}, ...]}
where NODE is a type-tagged JSON object:
  {"t": "none"} | {"t": "bool", "v": true} | {"t": "int", "v": "<hex(i)>"} (exact, any size)
  {"t": "float", "v": "<float.hex()>"} (exact, also nan/inf) | {"t": "str", "v": "..."}
  {"t": "array", "a": K} (a NumPy array) | {"t": "tensor", "a": K} (an object with .numpy())
  {"t": "scalar", "a": K} (a NumPy scalar, stored as a 0-d array)
  {"t": "list" | "tuple", "v": [NODE, ...]} | {"t": "dict", "v": [[KEY NODE, NODE], ...]}
Each array is referenced exactly once. Version 1 (no "arrays" manifest, no "tensor" nodes) is
still read, with every check but the SHA-256. Loading only parses JSON and .npy data, so a
checkpoint can never execute code; checkpoint_archive.py bounds and verifies every byte.
"""
import json
import os
import zipfile

import numpy as np

from tinygrad_cnn import safetensors_io
from tinygrad_cnn.atomic_file import atomic_write
from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.checkpoint_archive import (CORRUPT, MAX_JSON_DEPTH, CheckpointError,
                                             manifest_entry, open_checked)
from tinygrad_cnn.tensor import Tensor

FORMAT = "tinygrad_cnn.checkpoint"
VERSION = 2
MAX_NESTING = (MAX_JSON_DEPTH - 20) // 3   # a dict level costs 3 JSON levels
_TREE = "checkpoint.json"

__all__ = ["save", "load", "CheckpointError", "FORMAT", "VERSION"]


def save(obj, path):
    """Write obj (nested dict/list/tuple of arrays, Tensors, int, float, bool, str, None) to path atomically."""
    if safetensors_io.is_safetensors_path(path):  # a flat state dict in safetensors format
        return safetensors_io.save(obj, path)
    path = os.fspath(path)
    arrays = []
    root = _encode(obj, arrays, "obj", [])
    _write_tgc(path, root, arrays)


def load(path, map_location=None, weights_only=None):
    """Read a checkpoint written by save(); dict order kept, every byte verified first.

    Arrays come back as NumPy arrays. With ``map_location`` ("cpu", "cuda", a device, or a
    callable ``f(array, "cpu")``), what was saved as a Tensor comes back as a Tensor on that
    device (or as f's result). ``weights_only`` is accepted as in torch.load: this format
    holds data only and never executes code, so True and False read the same.
    """
    if weights_only not in (None, True, False):
        raise TypeError(f"weights_only must be True, False or None, got {weights_only!r}")
    to_tensor = _tensor_mapper(map_location)
    if safetensors_io.is_safetensors_path(path):
        return {k: to_tensor(v) for k, v in safetensors_io.load(path).items()}
    path = os.fspath(path)
    return _read_tgc(path, to_tensor)


# ---- writing -----------------------------------------------------------------------
def _encode(x, arrays, where, active):
    """Return the JSON node for x; arrays (or objects with .numpy()) are appended to `arrays`."""
    if x is None:
        return {"t": "none"}
    if isinstance(x, np.generic):  # before float: np.float64 is a float subclass
        arrays.append(_checked(np.asarray(x), where))
        return {"t": "scalar", "a": len(arrays) - 1}
    if isinstance(x, bool):
        return {"t": "bool", "v": x}
    if isinstance(x, int):
        return {"t": "int", "v": hex(int(x))}  # hex: exact and free of int-str digit limits
    if isinstance(x, float):
        return {"t": "float", "v": float(x).hex()}
    if isinstance(x, str):
        return {"t": "str", "v": str(x)}
    if isinstance(x, np.ndarray):
        arrays.append(_checked(x, where))
        return {"t": "array", "a": len(arrays) - 1}
    if callable(getattr(x, "numpy", None)):
        arrays.append(x)  # converted while writing: one host copy at a time
        return {"t": "tensor", "a": len(arrays) - 1}
    if isinstance(x, (list, tuple, dict)):
        return _encode_container(x, arrays, where, active)
    raise TypeError(f"checkpoint.save cannot store {type(x).__name__} at {where}: supported are "
                    f"dict, list, tuple, NumPy arrays, objects with .numpy(), int, float, bool, "
                    f"str and None")


def _encode_container(x, arrays, where, active):
    """The node of a list, tuple or dict; `active` holds the ids of the containers above."""
    if id(x) in active:
        raise ValueError(f"checkpoint.save: {where} contains itself")
    if len(active) >= MAX_NESTING:
        raise ValueError(f"checkpoint.save: {where} is nested more than {MAX_NESTING} "
                         f"containers deep, more than tc.load accepts")
    active.append(id(x))
    if isinstance(x, dict):
        node = {"t": "dict", "v": [[_key(k, where, active),
                                    _encode(v, arrays, f"{where}[{k!r}]", active)]
                                   for k, v in x.items()]}
    else:
        node = {"t": "list" if isinstance(x, list) else "tuple",
                "v": [_encode(v, arrays, f"{where}[{i}]", active) for i, v in enumerate(x)]}
    active.pop()
    return node


def _key(k, where, active):
    """JSON node for a dict key: a scalar or a tuple of scalars."""
    if isinstance(k, (np.generic, np.ndarray)) or callable(getattr(k, "numpy", None)):
        raise TypeError(f"checkpoint.save: dict key {k!r} at {where} must be a plain Python "
                        f"str, int, float, bool, None or tuple of those")
    return _encode(k, [], f"{where} key", list(active))


def _checked(a, where):
    """Refuse arrays that would need pickle."""
    if a.dtype.hasobject:
        raise TypeError(f"checkpoint.save cannot store an array of dtype {a.dtype} at {where} "
                        f"(shape {a.shape}): object arrays need pickle, which checkpoints never use")
    return a


def _write_tgc(path, root, arrays):
    """Write the zip through atomic_write: the checkpoint appears whole or not at all.

    The arrays go first (each hashed as it is written), the tree and manifest last."""
    manifest = []
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for k, a in enumerate(arrays):
                if not isinstance(a, np.ndarray):
                    a = _checked(np.asarray(a.numpy()), f"array {k} ({type(a).__name__})")
                manifest.append(manifest_entry(a))
                with zf.open(f"arrays/{k}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, a, allow_pickle=False)
            doc = {"format": FORMAT, "version": VERSION, "root": root, "arrays": manifest}
            zf.writestr(_TREE, json.dumps(doc, allow_nan=False))


# ---- reading -----------------------------------------------------------------------
def _read_tgc(path, to_tensor):
    """Open, verify and decode a checkpoint; any corruption becomes a CheckpointError."""
    archive = open_checked(path)
    try:
        doc = _read_tree(archive)
        return _Decoder(archive, doc.get("arrays"), to_tensor).decode(doc["root"])
    except CheckpointError:
        raise
    except CORRUPT as e:
        raise CheckpointError(f"{path}: corrupt checkpoint: {archive.member}: "
                              f"{type(e).__name__}: {e}") from None
    finally:
        archive.close()


def _read_tree(archive):
    """Parse and check checkpoint.json (format, version, manifest)."""
    path = archive.path
    if _TREE not in archive.zf.NameToInfo:
        raise CheckpointError(f"{path} is not a tinygrad_cnn checkpoint: the zip has no {_TREE} "
                              f"(members: {archive.zf.namelist()[:5]})")
    doc = archive.read_json(_TREE)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "root" not in doc:
        raise CheckpointError(f"{path}: {_TREE} lacks format={FORMAT!r} and a root: not a "
                              f"tinygrad_cnn checkpoint")
    version = doc.get("version")
    if type(version) is not int or not 1 <= version <= VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this tinygrad_cnn "
                              f"reads versions 1 to {VERSION}: upgrade tinygrad_cnn to read it")
    if version >= 2:
        _check_manifest(doc.get("arrays"), archive)
    else:
        doc.pop("arrays", None)
    return doc


def _check_manifest(manifest, archive):
    """Each manifest entry must be {dtype: str, shape: [int >= 0], fortran: bool, sha256: str}."""
    if not isinstance(manifest, list):
        raise archive.fail("has no list of arrays (the manifest)", _TREE)
    for k, e in enumerate(manifest):
        ok = (isinstance(e, dict) and isinstance(e.get("dtype"), str)
              and isinstance(e.get("shape"), list)
              and all(type(n) is int and n >= 0 for n in e["shape"])
              and type(e.get("fortran")) is bool and isinstance(e.get("sha256"), str))
        if not ok:
            raise archive.fail(f"has a malformed manifest entry for array {k}: {str(e)[:200]}",
                               _TREE)


class _Decoder:
    """Rebuilds Python values from JSON nodes, reading each array once, when first needed."""

    def __init__(self, archive, manifest, to_tensor):
        self.archive, self.manifest, self.to_tensor = archive, manifest, to_tensor
        self.used = set()

    def decode(self, node):
        """The Python value of one node."""
        self.archive.member = _TREE
        if not isinstance(node, dict):
            raise self.bad(f"a node is {type(node).__name__}, not an object")
        t = node.get("t")
        if t == "none":
            return None
        if t in ("bool", "str"):
            v = node.get("v")
            if type(v) is not (bool if t == "bool" else str):
                raise self.bad(f"{t} node holds {v!r}"[:200])
            return v
        if t in ("int", "float"):
            v = node.get("v")
            if type(v) is not str:
                raise self.bad(f"{t} node holds {v!r}"[:200])
            try:
                return int(v, 16) if t == "int" else float.fromhex(v)
            except ValueError:
                raise self.bad(f"{t} node holds {v!r}"[:200]) from None
        if t in ("array", "scalar", "tensor"):
            return self.array(node, t)
        if t in ("list", "tuple"):
            items = [self.decode(v) for v in self.items(node)]
            return items if t == "list" else tuple(items)
        if t == "dict":
            pairs = self.items(node)
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise self.bad("a dict item is not a [key, value] pair")
            return {self.decode(k): self.decode(v) for k, v in pairs}
        raise self.bad(f"unknown node type {t!r}"[:200])

    def items(self, node):
        v = node.get("v")
        if not isinstance(v, list):
            raise self.bad(f"{node.get('t')} node holds {type(v).__name__}, not a list")
        return v

    def array(self, node, t):
        """The array a node references; each array may be referenced once."""
        k = node.get("a")
        count = len(self.manifest) if self.manifest is not None else None
        if type(k) is not int or k < 0 or (count is not None and k >= count):
            raise self.bad(f"{t} node references array {k!r}"[:200]
                           + (f" of {count}" if count is not None else ""))
        if k in self.used:
            raise self.bad(f"array {k} is referenced twice")
        self.used.add(k)
        expected = self.manifest[k] if self.manifest is not None else None
        a = self.archive.read_array(f"arrays/{k}.npy", expected)
        if t == "scalar":
            return a[()]
        return self.to_tensor(a) if t == "tensor" else a

    def bad(self, what):
        return CheckpointError(f"{self.archive.path}: corrupt checkpoint structure in {_TREE}: "
                               f"{what}")


# ---- map_location ------------------------------------------------------------------
def _tensor_mapper(map_location):
    """array -> what a saved Tensor becomes: the array itself (None), a Tensor on a device,
    or a callable's result."""
    if map_location is None:
        return lambda a: a
    if callable(map_location) and not isinstance(map_location, (str, dict)):
        return lambda a: map_location(a, "cpu")
    if isinstance(map_location, dict):
        raise TypeError("tc.load(map_location=dict) is not supported: checkpoints do not record "
                        "the device a tensor was saved from; pass a device such as 'cpu' or "
                        "'cuda', or a callable")
    device = str(map_location)
    if device == "cuda:0":
        device = "cuda"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"tc.load: map_location {map_location!r} is not a device this build "
                         f"knows: use 'cpu', 'cuda' (or 'cuda:0'), None or a callable")
    get_backend(device)       # a clear error now when CUDA is missing
    return lambda a: Tensor(np.array(a), dtype=a.dtype, device=device)
