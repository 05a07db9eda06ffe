"""The instruction set numba compiles the CPU kernels for, read once from numba's target.

numba compiles for NUMBA_CPU_FEATURES when set, else for the host's features (NUMBA_CPU_NAME
alone changes the CPU model, not the features: emulating AVX2 on an AVX-512 machine takes
both, as bench/RESULTS.md's commands do). The vector tiles (vector_tile.py) size their
vectors by it, and the backend's settings (backends/cpu/settings.py) choose routes by it.
"""
import numba
from numba.core.codegen import get_host_cpu_features


def numba_target_features():
    """The CPU features numba compiles for: NUMBA_CPU_FEATURES when set, else the host's."""
    return set((numba.config.CPU_FEATURES or get_host_cpu_features()).split(","))


def compiles_for_avx512():
    """True when numba compiles for a CPU with AVX-512 (32 vector registers of 64 bytes)."""
    return "+avx512f" in numba_target_features()


def compiles_for_neon():
    """True when numba compiles for ARM's NEON (aarch64: 32 vector registers of 16 bytes)."""
    return "+neon" in numba_target_features()


def vector_bytes():
    """Bytes of the widest vector register the kernels compile for: 64 with AVX-512, 16 on
    ARM (NEON's q registers), else 32 (AVX2's ymm)."""
    if compiles_for_avx512():
        return 64
    return 16 if compiles_for_neon() else 32
