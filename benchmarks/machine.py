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


# LLVM CPU names (``NUMBA_CPU_NAME``) and the vector ISA of the code numba builds for them
_CPU_NAME_ISA = {
    "haswell": "AVX2", "broadwell": "AVX2", "skylake": "AVX2", "znver1": "AVX2", "znver2": "AVX2",
    "znver3": "AVX2", "alderlake": "AVX2", "skylake-avx512": "AVX-512", "cascadelake": "AVX-512",
    "cooperlake": "AVX-512", "icelake-server": "AVX-512 VPOPCNTDQ", "icelake-client": "AVX-512 VPOPCNTDQ",
    "tigerlake": "AVX-512 VPOPCNTDQ", "sapphirerapids": "AVX-512 VPOPCNTDQ", "znver4": "AVX-512 VPOPCNTDQ",
}


def isa_of_features(features: set[str]) -> str:
    """Widest popcount-relevant vector ISA among LLVM (``+avx2``) or /proc/cpuinfo (``avx2``) features."""
    names = {f.lstrip("+").replace("avx512_vpopcntdq", "avx512vpopcntdq") for f in features}
    if "avx512vpopcntdq" in names:
        return "AVX-512 VPOPCNTDQ"
    if "avx512bw" in names:
        return "AVX-512"
    if "avx2" in names:
        return "AVX2"
    return "SSE" if names else "unknown"


def numba_isa(env: dict[str, str] | None = None) -> str:
    """ISA of the code numba generates: the host's, or that of ``NUMBA_CPU_NAME`` (e.g. ``haswell``).

    As in numba, a CPU name without ``NUMBA_CPU_FEATURES`` keeps the host's features (only the tuning is the
    named CPU's): ``NUMBA_CPU_NAME=haswell`` alone is AVX-512 code on an AVX-512 host, AVX2 code needs
    ``NUMBA_CPU_FEATURES=`` (empty) as well.
    """
    env = os.environ if env is None else env
    name = env.get("NUMBA_CPU_NAME", "")
    if name and name != "host":
        features = env.get("NUMBA_CPU_FEATURES", "" if name.lower() == "generic" else None)
        if features is None:
            return f"{numba_isa({})} (host features, {name} tuning)"
        isa = isa_of_features(set(features.split(","))) if features else _CPU_NAME_ISA.get(name, "?")
        return f"{isa} ({name} code)"
    try:
        import llvmlite.binding as llvm

        flags = {f for f, on in llvm.get_host_cpu_features().items() if on}
    except Exception:  # no llvmlite: read the kernel's view of the CPU
        flags = set(cpu_info()["simd"].split())
    return isa_of_features(flags)


def blas_core() -> str:
    """OpenBLAS kernel family numpy uses (threadpoolctl): ``SkylakeX`` (AVX-512), ``Haswell`` (AVX2), ..."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    cores = {i.get("architecture") or "?" for i in threadpool_info() if i.get("internal_api") == "openblas"}
    return ",".join(sorted(cores)) or "none"


def thread_info() -> dict[str, str]:
    """Thread settings in force: numba's thread count and the BLAS thread variables."""
    import numba

    return {
        "NUMBA_NUM_THREADS": str(numba.get_num_threads()),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "BLAS_CORE": blas_core(),
    }


def describe() -> str:
    """One line: CPU model, SIMD flags, core count and thread settings."""
    info = {**cpu_info(), "isa": numba_isa(), **thread_info()}
    return " | ".join(f"{k}={v}" for k, v in info.items())
