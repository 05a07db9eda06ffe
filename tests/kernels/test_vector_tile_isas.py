"""The vector tiles compile and agree with the reference for an ISA other than the host's.

kernels/cpu/vector_tile.py sizes its vectors by the ISA numba compiles for (isa.py): 32
bytes on AVX2, 16 on ARM, 64 with AVX-512, where a tile's row has 1 to 3 of them. The other
tests run the host's kind only. Here a fresh interpreter (in an empty numba cache) compiles
the forward and weight-gradient tiles for another kind and runs them against the NumPy
reference: channel counts of a partial tile (12), of two and of three 16-column units (32,
48), float32 and float64, and the pools' window reductions (kernels/cpu/window_reduce.py)
over channel counts that take their narrower vectors. For AVX2 on an AVX-512 host (an
AVX2 host cannot run AVX-512 code: skipped there); for ARM's choice on any x86-64 host, whose
AArch64 code LLVM then emits so that the test can read the tile's registers.
"""
import os
import platform
import re
import subprocess
import sys
import textwrap

import pytest

from tinygrad_cnn.kernels.cpu.isa import compiles_for_avx512

SCRIPT = textwrap.dedent("""
    import numpy as np
    from tinygrad_cnn.kernels import reference
    from tinygrad_cnn.kernels.cpu import conv_image_tiles, conv_vector, isa, nhwc, vector_tile

    import sys
    assert isa.vector_bytes() == int(sys.argv[1]) and vector_tile.MAX_UNITS == 1
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


def _run(script, env, *args):
    done = subprocess.run([sys.executable, "-c", script, *args], env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not compiles_for_avx512(),
                    reason="the host compiles for AVX2 or ARM already, and cannot run AVX-512")
def test_avx2_tiles_on_an_avx512_host(tmp_path):
    from numba.core.codegen import get_host_cpu_features
    features = ",".join("-" + f[1:] if "avx512" in f else f
                        for f in get_host_cpu_features().split(","))
    env = dict(NUMBA_CPU_NAME="znver3", NUMBA_CPU_FEATURES=features,
               NUMBA_CACHE_DIR=str(tmp_path), TINYGRAD_CNN_WARMUP="0")
    assert _run(SCRIPT, env, "32").strip() == "ok"


NEON = dict(NUMBA_CPU_NAME="generic", NUMBA_CPU_FEATURES="+neon,+fp-armv8",
            TINYGRAD_CNN_WARMUP="0")
"""ARM's features on an x86 host: the probe (isa.py) then takes NEON's 16-byte vectors and
the tile's two passes, and numba compiles for a generic x86-64, ignoring the features it
does not know (LLVM says so on stderr): the same IR, run with SSE's 16-byte vectors."""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="emulates ARM's tile choice on an x86-64 host")
def test_neon_tiles_agree_with_the_reference(tmp_path):
    """The tiles as ARM builds them (16-byte vectors, a row's four in two passes) give the
    reference's values: forward and weight gradient, float32 and float64, the pools."""
    assert _run(SCRIPT, dict(NEON, NUMBA_CACHE_DIR=str(tmp_path)), "16").strip() == "ok"


KERNELS_IR = textwrap.dedent("""
    import numpy as np
    from tinygrad_cnn.kernels.cpu import conv_image_tiles, conv_vector, vector_tile

    assert vector_tile.VECTOR_BYTES == 16
    x, wt = np.zeros((6, 6, 5, 3), np.float32), np.zeros((18, 32), np.float32)
    bias, out = np.zeros(32, np.float32), np.zeros((6, 6, 4, 32), np.float32)
    geo = (3, 2, 1, 1, 1, 0, 1)
    conv_vector.conv2d_forward_vector_tiles(x, wt, bias, *geo, True, out, 0, 6)
    conv_image_tiles.conv2d_forward_image_tiles(x, wt, bias, *geo, True, 2, 6, out, 0, 6)
    conv_vector.conv2d_weight_grad_vector_tiles(x, out, *geo, wt, 0, 6)
    conv_image_tiles.conv2d_weight_grad_image_tiles(x, out, *geo, wt, 0, 6)
    for kernel in (conv_vector.conv2d_forward_vector_tiles,
                   conv_image_tiles.conv2d_forward_image_tiles,
                   conv_vector.conv2d_weight_grad_vector_tiles,
                   conv_image_tiles.conv2d_weight_grad_image_tiles):
        print(list(kernel.inspect_llvm().values())[0])
        print("; ---- end of kernel ----")
""")


def _aarch64_assembly(machine, ir):
    """The AArch64 assembly of numba's x86 IR for a kernel: its one x86 intrinsic (the
    reference count's atomic decrement) made a plain atomicrmw, the target set to AArch64."""
    import llvmlite.binding as llvm
    names = iter(range(1 << 30))

    def atomic(m):
        k = next(names)
        return (f"%old{k} = atomicrmw sub ptr {m.group(2)}, i64 1 seq_cst\n"
                f"  %zero{k} = icmp eq i64 %old{k}, 1\n  {m.group(1)} = zext i1 %zero{k} to i8")
    ir = re.sub(r"(%\S+) = tail call i8 @llvm\.x86\.atomic\.sub\.cc\.i64\(ptr (?:nonnull )?"
                r"(%\S+), i64 1, i32 4\)", atomic, ir)
    ir = re.sub(r"declare i8 @llvm\.x86\.atomic\.sub\.cc\.i64.*\n", "", ir)
    ir = re.sub(r'target datalayout = ".*"', f'target datalayout = "{machine.target_data}"', ir)
    ir = re.sub(r'target triple = ".*"', 'target triple = "aarch64-unknown-linux-gnu"', ir)
    ir = re.sub(r'"target-(?:cpu|features)"="[^"]*"', "", ir)
    module = llvm.parse_assembly(ir)
    module.verify()
    return machine.emit_assembly(module)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="emulates ARM's tile choice on an x86-64 host")
def test_neon_tiles_keep_their_sums_in_registers(tmp_path):
    """ARM cannot be timed here, but LLVM can emit AArch64 code for the kernels: the IR numba
    makes with ARM's choice (16-byte vectors, four a tile row), compiled for a Neoverse N1
    (Graviton 2). Each tile kernel multiplies with NEON's fmla, 24 a step, and no block of
    its multiply-adds stores or loads a q register on the stack (a spill)."""
    import llvmlite.binding as llvm
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    try:
        target = llvm.Target.from_triple("aarch64-unknown-linux-gnu")
    except RuntimeError:
        pytest.skip("this llvmlite has no AArch64 target")
    machine = target.create_target_machine(cpu="neoverse-n1", opt=3)
    irs = _run(KERNELS_IR, dict(NEON, NUMBA_CACHE_DIR=str(tmp_path)))
    kernels = [ir for ir in irs.split("; ---- end of kernel ----") if ir.strip()]
    assert len(kernels) == 4
    for ir in kernels:
        asm = _aarch64_assembly(machine, ir)
        blocks = re.split(r"\n(?=\.LBB\S*:)", asm)
        tile_blocks = [b for b in blocks if b.count("fmla") >= 24]
        assert tile_blocks
        for block in tile_blocks:
            assert not re.findall(r"^\s+(?:ldr|str|ldp|stp)\s+q\d+.*\[sp.*$", block, re.M)
