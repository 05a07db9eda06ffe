"""NumPy imported first: the backend's GEMMs run with BLAS on one thread, and only they."""
import os
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    {first}
    import numpy as np
    from threadpoolctl import threadpool_info
    from tinygrad_cnn.backends.cpu import blas as blas_threads

    def blas_threads_now():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    seen = []

    @blas_threads.single_threaded_if_spinning      # as the backend's matmul and conv are
    def probe(a, b):
        seen.append(blas_threads_now())
        return a @ b

    probe(np.ones((4, 4)), np.ones((4, 4)))
    print(blas_threads._WORKERS_SPIN, seen[0], blas_threads_now())
""")


def _run(first):
    """The probe's last line in a fresh interpreter with 2 BLAS threads, no timeout set."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)],
                         capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_numpy_first_limits_backend_calls_to_one_thread_and_restores():
    assert _run("import numpy\nimport tinygrad_cnn") == "True [1] [2]"


def test_tinygrad_first_leaves_blas_threads_alone():
    assert _run("import tinygrad_cnn\nimport numpy") == "False [2] [2]"


def test_backend_gemm_functions_are_guarded():
    from tinygrad_cnn.backends import cpu
    for name in ("matmul", "conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad"):
        assert getattr(cpu, name).__wrapped__.__name__ == name

