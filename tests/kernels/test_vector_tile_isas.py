"""The vector tiles compile and agree with the reference for an ISA other than the host's.

kernels/cpu/vector_tile.py sizes its vectors by the ISA numba compiles for (isa.py): 32
bytes on AVX2 and ARM, 64 with AVX-512, where a tile's row has 1 to 3 of them. The
other tests run the host's kind only; here a fresh interpreter compiles for AVX2 (the host's
features with AVX-512 off, in an empty numba cache) on a machine that has AVX-512, and runs
the forward and weight-gradient tiles against the NumPy reference: channel counts of a
partial tile (12), of two and of three 16-column units (32, 48), float32
and float64; and the pools' window reductions (kernels/cpu/window_reduce.py) over channel counts
that take their 8- and 4-lane vectors. An AVX2 host cannot run AVX-512 code, so there the test is skipped; its own
kind is what the other kernel tests run.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from tinygrad_cnn.kernels.cpu.isa import compiles_for_avx512

SCRIPT = textwrap.dedent("""
    import numpy as np
    from tinygrad_cnn.kernels import reference
    from tinygrad_cnn.kernels.cpu import conv_image_tiles, conv_vector, isa, nhwc, vector_tile

    assert isa.vector_bytes() == 32 and vector_tile.MAX_UNITS == 1
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        columns = 64 // np.dtype(dtype).itemsize
        for O in (12, 32, 48):
            x = rng.standard_normal((7, 6, 5, 3)).astype(dtype)
            geo = (3, 2, 1, 1, 1, 0, 1)                  # kh kw sh sw ph pw dh
            whole = -(-O // columns) * columns
            wt = rng.standard_normal((3 * 2 * 3, whole)).astype(dtype)
            bias = rng.standard_normal(whole).astype(dtype)
            for name, module, extra in (("vector", conv_vector, ()),
                                        ("image", conv_image_tiles, (2, 6))):
                fast, ref = np.empty((7, 6, 4, O), dtype), np.empty((7, 6, 4, O), dtype)
                kernel = f"conv2d_forward_{name}_tiles"
                getattr(module, kernel)(x, wt, bias, *geo, True, *extra, fast, 0, 7)
                getattr(reference, kernel)(x, wt, bias, *geo, True, *extra, ref, 0, 7)
                np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)
                grad = rng.standard_normal((7, 6, 4, O)).astype(dtype)
                fast, ref = np.zeros((18, O), dtype), np.zeros((18, O), dtype)
                kernel = f"conv2d_weight_grad_{name}_tiles"
                getattr(module, kernel)(x, grad, *geo, fast, 0, 7)
                getattr(reference, kernel)(x, grad, *geo, ref, 0, 7)
                np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)
        for C in (3, 5, 8, 12, 20, 24):                   # window_reduce's 8- and 4-lane paths
            x = rng.standard_normal((2, 7, 6, C)).astype(dtype)
            x[0, 1, 2, C // 2] = np.nan
            geo = (3, 2, 2, 1, 1, 1, 1, 1)                # kh kw sh sw ph pw dh dw
            res = []
            for kernel in (nhwc.max_pool2d_forward_nhwc, reference.max_pool2d_forward_nhwc):
                out, idx = np.empty((2, 4, 7, C), dtype), np.empty((2, 4, 7, C), np.int32)
                kernel(x, *geo, True, out, idx)
                res.append((out, idx))
            np.testing.assert_array_equal(res[0][0], res[1][0])
            np.testing.assert_array_equal(res[0][1], res[1][1])
            means = [np.empty((2, 4, 7, C), dtype) for _ in range(2)]
            for kernel, out in zip((nhwc.avg_pool2d_forward_nhwc,
                                    reference.avg_pool2d_forward_nhwc), means):
                kernel(x, *geo[:6], False, out)
            np.testing.assert_array_equal(means[0], means[1])
    print("ok")
""")


@pytest.mark.skipif(not compiles_for_avx512(),
                    reason="the host compiles for AVX2 or ARM already, and cannot run AVX-512")
def test_avx2_tiles_on_an_avx512_host(tmp_path):
    from numba.core.codegen import get_host_cpu_features
    features = ",".join("-" + f[1:] if "avx512" in f else f
                        for f in get_host_cpu_features().split(","))
    env = dict(os.environ, NUMBA_CPU_NAME="znver3", NUMBA_CPU_FEATURES=features,
               NUMBA_CACHE_DIR=str(tmp_path), TINYGRAD_CNN_WARMUP="0")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
