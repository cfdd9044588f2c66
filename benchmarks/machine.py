"""Facts about the machine printed beside every benchmark table: CPU model, SIMD flags, thread counts."""

from __future__ import annotations

import os
import platform

SIMD_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vpopcntdq", "avx512vl", "popcnt")


def cpu_info() -> dict[str, str]:
    """CPU model name and the SIMD flags relevant to popcount kernels (Linux ``/proc/cpuinfo``)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("unknown", "", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model,
        "simd": " ".join(f for f in SIMD_FLAGS if f in flags) or "unknown",
        "cores": str(os.cpu_count()),
    }


def thread_info() -> dict[str, str]:
    """Thread settings in force: numba's thread count and the BLAS thread variables."""
    import numba

    return {
        "NUMBA_NUM_THREADS": str(numba.get_num_threads()),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
    }


def describe() -> str:
    """One line: CPU model, SIMD flags, core count and thread settings."""
    info = {**cpu_info(), **thread_info()}
    return " | ".join(f"{k}={v}" for k, v in info.items())
