"""The header every benchmark prints first: date, machine, versions, command, thread tuning."""
import datetime
import os
import platform
import sys
from pathlib import Path

THREAD_TUNING = ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER",
                 "OPENBLAS_CORETYPE", "NUMBA_CPU_NAME", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
"""Variables that change what the figures measure: threads, and the ISA emulation of an
AVX-512 machine as AVX2 (NUMBA_CPU_NAME with NUMBA_CPU_FEATURES, whose effect the isa line
shows, ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA)."""


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def print_machine_header(torch=None, env_note=""):
    """date, machine, versions, command, thread-tuning and ISA lines, as every RESULTS.md entry
    names."""
    import numba
    import numpy as np

    print(f"date     {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine  {platform.platform()}; CPU {cpu_model()}; nproc {os.cpu_count()}")
    print(f"versions python {platform.python_version()}, numpy {np.__version__}, "
          f"numba {numba.__version__}, torch {torch.__version__ if torch else 'not used'}")
    print(f"command  {Path(sys.executable).name} {' '.join(sys.argv)}")
    tuning = [f"{k}={os.environ[k]}" for k in THREAD_TUNING if k in os.environ]
    print(f"env      {' '.join(tuning) or '(no thread tuning variables set)'}{env_note}")
    print(isa_line(torch))


def isa_line(torch=None):
    """The instruction sets the kernels run with: numba compiles for LLVM's host CPU (unless
    NUMBA_CPU_NAME overrides it), torch dispatches to its own best ATen CPU capability; and
    which products tinygrad_cnn's convs use there (backends/cpu/settings.py), with the vector
    width the tiles compile for (kernels/cpu/isa.py). numba's features are its target's:
    NUMBA_CPU_FEATURES where set (NUMBA_CPU_NAME alone keeps the host's features)."""
    import platform

    import llvmlite.binding as llvm
    import numba

    from tinygrad_cnn.backends.cpu.settings import settings
    from tinygrad_cnn.kernels.cpu.isa import numba_target_features, vector_bytes

    cpu = numba.config.CPU_NAME or llvm.get_host_cpu_name()
    enabled = {f[1:] for f in numba_target_features() if f.startswith("+")}
    features = {f: f in enabled for f in ("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                          "avx512vnni", "neon", "sve", "sve2")}
    vector = [f for f, on in features.items() if on]
    x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
    torch_isa = torch.backends.cpu.get_cpu_capability() if torch else "not used"
    convs = "register tiles" if settings.register_tiles else \
        f"LLVM vector tiles ({vector_bytes()}-byte vectors) where they fit, else BLAS GEMM" \
        if settings.vector_tiles else \
        "BLAS GEMM" if settings.blas_convs else "dot-product kernels"
    return (f"isa      numba (LLVM) target {cpu}, {'/'.join(vector) or 'no SIMD flags'}"
            f"{', no AVX-512' if x86 and not features.get('avx512f') else ''}; torch ATen "
            f"capability {torch_isa}; tinygrad_cnn convs by {convs}")
