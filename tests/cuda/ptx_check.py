"""Compile recorded kernel launches to PTX for a real GPU; run without the CUDA simulator.

Reads JSON from stdin: a list of [module, kernel name, [argument types]], as written by
test_ptx_compile.py. A kernel whose arrays are all float32 (or integer) must also keep its
arithmetic in float32: its PTX may hold no f64 instruction beyond moves, loads and stores.
Exit status 0: all compiled; 1: some failed (printed); 77: no libNVVM here, so nothing
could be checked.
"""
import importlib
import json
import re
import sys

import numpy as np

CC = (8, 0)


def numba_type(spec):
    from numba import types
    from numba.np.numpy_support import from_dtype

    kind = spec[0]
    if kind == "array":
        return types.Array(from_dtype(np.dtype(spec[1])), spec[2], spec[3])
    if kind == "tuple":
        items = [numba_type(s) for s in spec[1]]
        if len(set(items)) == 1:
            return types.UniTuple(items[0], len(items))
        return types.Tuple(items)
    if kind == "boolean":
        return types.boolean
    return from_dtype(np.dtype(spec[1]))


class _NoGPU:
    """Stands in for the current device: device functions compile for it, no driver needed."""
    compute_capability = CC


def main():
    from numba import cuda
    from numba.cuda import dispatcher
    from numba.cuda.cudadrv import nvvm

    if not nvvm.is_available():
        print("libNVVM not found: cannot compile to PTX here")
        return 77
    dispatcher.get_current_device = _NoGPU    # called when a kernel calls a device function
    failures = 0
    for module, name, specs in json.load(sys.stdin):
        kernel = getattr(importlib.import_module(module), name)
        sig = tuple(numba_type(s) for s in specs)
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=CC)
        except Exception as err:  # report every failing kernel, not only the first
            failures += 1
            print(f"FAILED {module}.{name}{sig}: {type(err).__name__}: {err}")
            continue
        dtypes = {s[1] for s in specs if s[0] == "array"}
        wide = sorted(set(op for op in re.findall(r"\b[a-z]+(?:\.[a-z0-9]+)*\.f64\b", ptx)
                          if not op.startswith(("ld.", "st.", "mov."))))
        if "<f4" in dtypes and "<f8" not in dtypes and wide:
            failures += 1
            print(f"FLOAT64 in float32 kernel {module}.{name}{sig}: {wide}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
