"""tests/cuda: the CUDA backend, under numba's CUDA simulator or on a real GPU.

CI runs this directory as its own pytest invocation with the simulator on, set before
numba is imported:  NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda
In the normal suite (no simulator, no GPU) every test here is skipped at collection,
except test_unavailable.py, which checks the error that explains why.
Under the simulator, launches are shrunk (8 threads per block, at most 4 blocks, 2x2
GEMM blocks) so that grids have several blocks and every grid-stride loop strides; the
simulator runs one Python thread per CUDA thread, so shapes stay tiny.
"""
from pathlib import Path

import pytest

from tinygrad_cnn.backends import cuda_unavailable_reason

HERE = Path(__file__).parent
REASON = cuda_unavailable_reason()

try:
    import numba.cuda  # noqa: F401  (the test modules import the CUDA kernels)
except Exception:
    collect_ignore_glob = ["test_*.py"]


def pytest_collection_modifyitems(config, items):
    """Without the simulator or a GPU, every test of this directory is skipped, saying why."""
    if REASON is None:
        return
    skip = pytest.mark.skip(reason=f"CUDA tests need NUMBA_ENABLE_CUDASIM=1 or a GPU: {REASON}")
    for item in items:
        if HERE in Path(item.path).parents and Path(item.path).name != "test_unavailable.py":
            item.add_marker(skip)


def simulated():
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


SMALL_LAUNCHES = dict(threads_per_block=8, max_blocks=4, reduce_threads=8, gemm_threads=2,
                      max_gemm_blocks=2, split_k_depth=16, gemm="numba")


@pytest.fixture(autouse=True)
def small_launches():
    """Tiny blocks and grids under the simulator; the default tuning on a real GPU."""
    from tinygrad_cnn.backends.cuda import settings as cuda_settings

    if not simulated():
        yield
        return
    with cuda_settings.override(**SMALL_LAUNCHES):
        yield
