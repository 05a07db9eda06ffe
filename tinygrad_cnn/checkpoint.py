"""save / load nested state (dicts, lists, tuples, arrays, scalars) without pickle.

File format (version 1): a zip archive holding
  checkpoint.json  {"format": "tinygrad_cnn.checkpoint", "version": 1, "root": NODE}
  arrays/K.npy     the K-th array, written by numpy.lib.format with allow_pickle=False
where NODE is a type-tagged JSON object:
  {"t": "none"} | {"t": "bool", "v": true} | {"t": "int", "v": "<hex(i)>"} (exact, any size)
  {"t": "float", "v": "<float.hex()>"} (exact, also nan/inf) | {"t": "str", "v": "..."}
  {"t": "array", "a": K} | {"t": "scalar", "a": K} (a NumPy scalar, stored as a 0-d array)
  {"t": "list" | "tuple", "v": [NODE, ...]} | {"t": "dict", "v": [[KEY NODE, NODE], ...]}
Loading only parses JSON and .npy data, so a checkpoint can never execute code.
"""
import json
import os
import zipfile
import zlib

import numpy as np

from tinygrad_cnn import safetensors_io
from tinygrad_cnn.atomic_file import atomic_write

FORMAT = "tinygrad_cnn.checkpoint"
VERSION = 1
_TREE = "checkpoint.json"


class CheckpointError(ValueError):
    """A file is not a tinygrad_cnn checkpoint, or is corrupt."""


def save(obj, path):
    """Write obj (nested dict/list/tuple of arrays, Tensors, int, float, bool, str, None) to path atomically."""
    if safetensors_io.is_safetensors_path(path):  # a flat state dict in safetensors format
        return safetensors_io.save(obj, path)
    arrays = []
    root = _encode(obj, arrays, "obj", set())
    doc = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    _write_atomic(os.fspath(path), doc, arrays)


def load(path):
    """Read a checkpoint written by save(); arrays come back as NumPy arrays, dict order kept."""
    if safetensors_io.is_safetensors_path(path):
        return safetensors_io.load(path)
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as zf:
            doc = _read_tree(zf, path)
            return _decode(doc["root"], zf, path)
    except zipfile.BadZipFile as e:
        raise CheckpointError(f"{path} is not a valid tinygrad_cnn checkpoint: {e}") from None
    except (zlib.error, EOFError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint data: {e}") from None


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
        return {"t": "array", "a": len(arrays) - 1}
    if isinstance(x, (list, tuple, dict)):
        if id(x) in active:
            raise ValueError(f"checkpoint.save: {where} contains itself")
        active.add(id(x))
        if isinstance(x, dict):
            node = {"t": "dict", "v": [[_key(k, where), _encode(v, arrays, f"{where}[{k!r}]", active)]
                                       for k, v in x.items()]}
        else:
            node = {"t": "list" if isinstance(x, list) else "tuple", "v": [_encode(v, arrays, f"{where}[{i}]", active) for i, v in enumerate(x)]}
        active.discard(id(x))
        return node
    raise TypeError(f"checkpoint.save cannot store {type(x).__name__} at {where}: supported are "
                    f"dict, list, tuple, NumPy arrays, objects with .numpy(), int, float, bool, "
                    f"str and None")


def _key(k, where):
    """JSON node for a dict key: a scalar or a tuple of scalars."""
    if isinstance(k, (np.generic, np.ndarray)) or callable(getattr(k, "numpy", None)):
        raise TypeError(f"checkpoint.save: dict key {k!r} at {where} must be a plain Python "
                        f"str, int, float, bool, None or tuple of those")
    return _encode(k, [], f"{where} key", set())


def _checked(a, where):
    """Refuse arrays that would need pickle."""
    if a.dtype.hasobject:
        raise TypeError(f"checkpoint.save cannot store an array of dtype {a.dtype} at {where} "
                        f"(shape {a.shape}): object arrays need pickle, which checkpoints never use")
    return a


def _write_atomic(path, doc, arrays):
    """Write the zip through atomic_write: the checkpoint appears whole or not at all."""
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(_TREE, doc)
            for k, a in enumerate(arrays):
                if not isinstance(a, np.ndarray):
                    a = _checked(np.asarray(a.numpy()), f"array {k} ({type(a).__name__})")
                with zf.open(f"arrays/{k}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, a, allow_pickle=False)


def _read_tree(zf, path):
    """Parse and check checkpoint.json."""
    try:
        doc = json.loads(zf.read(_TREE).decode("utf-8"))
    except KeyError:
        raise CheckpointError(f"{path} is not a tinygrad_cnn checkpoint: the zip has no {_TREE} "
                         f"(members: {zf.namelist()[:5]})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint: {_TREE} is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "root" not in doc:
        raise CheckpointError(f"{path} is not a tinygrad_cnn checkpoint: {_TREE} lacks "
                         f"format={FORMAT!r} and a root")
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this tinygrad_cnn "
                         f"reads versions 1 to {VERSION}")
    return doc


def _decode(node, zf, path):
    """Rebuild the Python value for one JSON node."""
    try:
        t = node["t"]
        if t == "none":
            return None
        if t in ("bool", "str"):
            v = node["v"]
            if type(v) is not (bool if t == "bool" else str):
                raise ValueError(f"{t} node holds {v!r}")
            return v
        if t == "int":
            return int(node["v"], 16)
        if t == "float":
            return float.fromhex(node["v"])
        if t in ("array", "scalar"):
            a = _read_array(zf, node["a"], path)
            return a[()] if t == "scalar" else a
        if t in ("list", "tuple"):
            items = [_decode(v, zf, path) for v in node["v"]]
            return items if t == "list" else tuple(items)
        if t == "dict":
            return {_decode(k, zf, path): _decode(v, zf, path) for k, v in node["v"]}
        raise ValueError(f"unknown node type {t!r}")
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint structure: {type(e).__name__}: {e}") from None


def _read_array(zf, k, path):
    """Read arrays/K.npy with allow_pickle=False."""
    name = f"arrays/{int(k)}.npy"
    try:
        with zf.open(name) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except KeyError:
        raise CheckpointError(f"{path}: corrupt checkpoint: {name} is missing") from None
    except ValueError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint: cannot read {name}: {e}") from None
