"""Asking for "cuda" where it cannot run raises an error that says why, never a crash.

Unlike the rest of tests/cuda, this file runs in every suite: without the simulator and
without a GPU it checks the real refusal; everywhere it checks each reason on fakes.
"""
import sys
import types

import numba
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import backends


@pytest.fixture
def fresh(monkeypatch):
    """get_backend forgets a CUDA backend it found earlier."""
    monkeypatch.setattr(backends, "_cuda", [])


def test_the_real_answer_here(fresh):
    reason = backends.cuda_unavailable_reason()
    if reason is None:
        assert backends.get_backend("cuda").name == "cuda"
        return
    with pytest.raises(RuntimeError, match="device 'cuda' is not available: .+"):
        backends.get_backend("cuda")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        tc.Tensor([1.0]).to("cuda")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        tc.Tensor.zeros(2, device="cuda")


def _fake_cuda(monkeypatch, available, init_error=None, driver_ok=True, nvvm_ok=True):
    """Replace numba.cuda (and the driver / NVVM probes) by stand-ins."""
    from numba.core import config

    driver = types.SimpleNamespace(initialization_error=init_error, is_available=driver_ok)
    mods = {
        "numba.cuda": types.SimpleNamespace(is_available=lambda: available),
        "numba.cuda.cudadrv": types.ModuleType("numba.cuda.cudadrv"),
        "numba.cuda.cudadrv.driver": types.SimpleNamespace(driver=driver),
        "numba.cuda.cudadrv.nvvm": types.SimpleNamespace(is_available=lambda: nvvm_ok),
    }
    mods["numba.cuda.cudadrv"].driver = mods["numba.cuda.cudadrv.driver"]
    mods["numba.cuda.cudadrv"].nvvm = mods["numba.cuda.cudadrv.nvvm"]
    mods["numba.cuda"].cudadrv = mods["numba.cuda.cudadrv"]
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(numba, "cuda", mods["numba.cuda"], raising=False)
    monkeypatch.setattr(config, "ENABLE_CUDASIM", 0)


@pytest.mark.parametrize("kwargs,words", [
    (dict(available=False, init_error="CUDA driver library cannot be found"), "no usable CUDA driver"),
    (dict(available=False, init_error=None, driver_ok=True), "reports no GPU"),
    (dict(available=True, nvvm_ok=False), "libNVVM"),
])
def test_each_reason_is_named(monkeypatch, fresh, kwargs, words):
    _fake_cuda(monkeypatch, **kwargs)
    assert words in backends.cuda_unavailable_reason()
    with pytest.raises(RuntimeError, match=words):
        backends.get_backend("cuda")


def test_missing_numba_cuda_is_named(monkeypatch, fresh):
    monkeypatch.setitem(sys.modules, "numba.cuda", None)
    monkeypatch.delattr(numba, "cuda", raising=False)
    reason = backends.cuda_unavailable_reason()
    assert "numba-cuda" in reason and "pip install" in reason
    with pytest.raises(RuntimeError, match="numba-cuda"):
        backends.get_backend("cuda")


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backends.get_backend("tpu")
