"""Every available backend provides exactly the names of backends/contract.py, each function
with the contract's parameters (the CPU always; CUDA where get_backend("cuda") works: under
NUMBA_ENABLE_CUDASIM=1 and on a GPU)."""
import inspect
import types

import numpy as np
import pytest

from tinygrad_cnn.backends import get_backend
from tinygrad_cnn.backends.contract import CONTRACT


def _available(device):
    try:
        return get_backend(device)
    except RuntimeError as err:
        pytest.skip(str(err))


def _names(backend):
    """Public names of a backend module: its functions and constants, not modules."""
    return {n for n in dir(backend) if not n.startswith("_")
            and not isinstance(getattr(backend, n), types.ModuleType)}


def _arity_or_params(fn):
    """The parameter names of a Python function; the argument count of a NumPy alias
    (a ufunc's nin, else its signature's length), whose names are NumPy's own."""
    if isinstance(fn, np.ufunc):
        return fn.nin
    params = tuple(inspect.signature(fn).parameters)
    return params if inspect.isfunction(inspect.unwrap(fn)) else len(params)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_backend_provides_the_contract_names(device):
    backend = _available(device)
    got = _names(backend)
    assert got == set(CONTRACT), (f"missing: {sorted(set(CONTRACT) - got)}; "
                                  f"not in the contract: {sorted(got - set(CONTRACT))}")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_backend_functions_take_the_contract_parameters(device):
    backend = _available(device)
    assert backend.name == device and isinstance(backend.name, str)
    for name, (params, _) in CONTRACT.items():
        if name == "name":
            continue
        got = _arity_or_params(getattr(backend, name))
        want = len(params) if isinstance(got, int) else params
        assert got == want, f"{device}.{name} takes {got}; the contract says {want}"


def test_every_contract_entry_has_a_meaning():
    for name, (params, meaning) in CONTRACT.items():
        assert isinstance(params, tuple) and meaning and "\n" not in meaning, name
