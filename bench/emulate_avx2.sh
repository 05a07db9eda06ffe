#!/usr/bin/env bash
# Run a command as on an AVX2 machine, on an AVX-512 one: both frameworks emulate AVX2.
#   bash bench/emulate_avx2.sh python bench/bench_models.py
# numba: NUMBA_CPU_NAME alone changes only the CPU model (numba keeps the host's features,
# AVX-512 included), so NUMBA_CPU_FEATURES is the host's with every AVX-512 feature turned
# off; the isa line of the benchmarks' header shows what numba compiles for. torch: ATen's
# kernels (ATEN_CPU_CAPABILITY) and oneDNN's convolutions (ONEDNN_MAX_CPU_ISA) at AVX2.
set -euo pipefail
export NUMBA_CPU_NAME="${NUMBA_CPU_NAME:-znver3}"
NUMBA_CPU_FEATURES="$(python -c "
from numba.core.codegen import get_host_cpu_features
print(','.join('-' + f[1:] if 'avx512' in f else f for f in get_host_cpu_features().split(',')))")"
export NUMBA_CPU_FEATURES
export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
exec "$@"
