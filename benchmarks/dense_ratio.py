"""Same-process ratio of the dense kernels to numpy's float32 matmul (and to a base commit's kernels).

Usage::

    python -m benchmarks.dense_ratio [--n 4096] [--k 1024] [--m 1024] [--pairs 30] [--base COMMIT]

Calls alternate (numpy ``x @ w.T`` on ±1 float32, then each kernel, then numpy again ...) on the same data,
so a neighbour's burst on a shared machine slows both sides of a pair alike. For each kernel the report gives
its best rate (G binary MAC/s; noise only ever adds time) and the median over pairs of ``numpy time /
kernel time``, by wall clock and, on one thread, by the calling thread's CPU time (``time.thread_time``:
time the thread was descheduled does not count). ``--base`` adds the base commit's ``xnor_popcount_dense``
(imported as ``sqnn_base``, see :mod:`benchmarks.engine_ab`). Thread count and ISA as for every benchmark:
``NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``; ``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=
OPENBLAS_CORETYPE=Haswell`` for AVX2 code on both sides.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def alternate(calls: dict[str, Callable[[], object]], pairs: int) -> dict[str, dict[str, np.ndarray]]:
    """Run every call once per round, ``pairs`` rounds; ``{name: {"wall": s, "cpu": s}}`` per round."""
    times = {name: {"wall": [], "cpu": []} for name in calls}
    for _ in range(pairs):
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            call()
            times[name]["cpu"].append(time.thread_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return {name: {c: np.asarray(v) for c, v in t.items()} for name, t in times.items()}


def ratios(times: dict[str, dict[str, np.ndarray]], macs: int, baseline: str = "numpy") -> dict[str, dict]:
    """Per call: best G MAC/s and the median over rounds of ``baseline time / its time`` (wall and CPU)."""
    base = times[baseline]
    return {
        name: {
            "best_gmacs": macs / t["wall"].min() / 1e9,
            "ratio_wall": float(np.median(base["wall"] / t["wall"])),
            "ratio_cpu": float(np.median(base["cpu"] / np.maximum(t["cpu"], 1e-9))),
        }
        for name, t in times.items()
    }


def calls_for(n: int, k: int, m: int, base_pkg=None, seed: int = 0) -> dict[str, Callable[[], object]]:
    """numpy float32, ``xnor_popcount_dense``, ``binary_dense_threshold`` (and the base's dense) on one
    random problem; checks every dot product against numpy before timing."""
    import sqnn_kernels as sk

    rng = np.random.default_rng(seed)
    x, w = rng.integers(0, 2, (n, k)).astype(bool), rng.integers(0, 2, (m, k)).astype(bool)
    xp, wp = sk.pack_bits(x), sk.pack_bits(w)
    xf, wf = 2 * x.astype(np.float32) - 1, 2 * w.astype(np.float32) - 1
    t = np.zeros(m, np.int32)
    calls = {"numpy": lambda: xf @ wf.T, "xnor_popcount_dense": lambda: sk.xnor_popcount_dense(xp, wp, k),
             "binary_dense_threshold": lambda: sk.binary_dense_threshold(xp, wp, k, t)}
    if base_pkg is not None:
        calls["base xnor_popcount_dense"] = lambda: base_pkg.xnor_popcount_dense(xp, wp, k)
    expected = calls["numpy"]().astype(np.int32)
    for name, call in calls.items():
        if "xnor" in name and not np.array_equal(call(), expected):
            raise AssertionError(f"{name} differs from numpy's float32 matmul")
    np.testing.assert_array_equal(calls["binary_dense_threshold"](), sk.pack_bits(expected >= 0))
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="rows")
    parser.add_argument("--k", type=int, default=1024, help="bits per row")
    parser.add_argument("--m", type=int, default=1024, help="neurons")
    parser.add_argument("--pairs", type=int, default=30, help="rounds of alternating calls")
    parser.add_argument("--base", help="also time this commit's xnor_popcount_dense")
    args = parser.parse_args(argv)

    import numba

    from benchmarks.engine_ab import import_base
    from benchmarks.machine import cpu_info, numba_isa
    from sqnn_kernels import dense

    with tempfile.TemporaryDirectory() as tmp:
        base_pkg = import_base(args.base, Path(tmp)) if args.base else None
        calls = calls_for(args.n, args.k, args.m, base_pkg)
        result = ratios(alternate(calls, args.pairs), args.n * args.k * args.m)
    threads = numba.get_num_threads()
    path = "table lookup" if dense.LUT_PATH else "popcount"
    print(f"CPU: {cpu_info()['cpu']} | code: {numba_isa()} ({path}) | numba threads {threads} | "
          f"{args.n}x{args.k} -> {args.m}, {args.pairs} rounds")
    for name, r in result.items():
        cpu = f", CPU time {r['ratio_cpu']:.2f}x" if threads == 1 else ""
        print(f"  {name:26s} best {r['best_gmacs']:7.1f} G MAC/s | numpy / this, median of pairs: "
              f"wall {r['ratio_wall']:.2f}x{cpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
