"""Run the benchmark suites at 1 and 2 threads and report ratios against each group's baseline.

Usage::

    python -m benchmarks.report [--threads 1 2] [--suite benchmarks/test_kernels.py] [--out bench_out]

Each run is a separate pytest process with ``NUMBA_NUM_THREADS=OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=t``, so
the kernel and its baseline get the same thread count. Ratios compare medians measured in the same run.
Writes ``<out>/results.json`` and prints a table with the CPU model and SIMD flags.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_suite(suite: str, threads: int, extra_args: list[str] | None = None) -> dict:
    """Run one pytest-benchmark suite with ``threads`` threads; return its parsed JSON."""
    env = {
        **os.environ,
        "NUMBA_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [
            sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider", "--benchmark-enable",
            "--benchmark-only", f"--benchmark-json={out}", "--benchmark-min-rounds=5",
            *(extra_args or []),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
            raise RuntimeError(f"benchmark suite {suite} failed:\n{tail}")
        return json.loads(out.read_text())


def summarise(results: dict, threads: int) -> list[dict]:
    """Rows of (group, name, median, ratio vs the group's baseline, G MAC/s where meaningful)."""
    by_group: dict[str, list[dict]] = {}
    for bench in results["benchmarks"]:
        by_group.setdefault(bench["group"], []).append(bench)
    rows = []
    for group, benches in by_group.items():
        base = next((b for b in benches if b.get("extra_info", {}).get("baseline")), None)
        for b in sorted(benches, key=lambda b: b["stats"]["median"]):
            median = b["stats"]["median"]
            macs = b.get("extra_info", {}).get("macs")
            events = b.get("extra_info", {}).get("events")
            rows.append({
                "group": group,
                "name": b["name"].removeprefix("test_"),
                "threads": threads,
                "median_s": median,
                "speedup_vs_baseline": (base["stats"]["median"] / median) if base else None,
                "baseline": base["name"].removeprefix("test_") if base else None,
                "gmacs": macs / median / 1e9 if macs else None,
                "events_per_s": events / median if events else None,
            })
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of the summary rows."""
    head = (
        f"{'group':34} {'kernel':30} {'thr':>3} {'median':>11} {'x baseline':>10} {'G MAC/s':>8}"
        f" {'events/s':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['speedup_vs_baseline']:.2f}" if r["speedup_vs_baseline"] else ""
        gmacs = f"{r['gmacs']:.0f}" if r["gmacs"] else ""
        ev = f"{r['events_per_s']:.3g}" if r["events_per_s"] else ""
        lines.append(
            f"{r['group'][:34]:34} {r['name'][:30]:30} {r['threads']:>3} {r['median_s'] * 1e3:>9.3f}ms"
            f" {ratio:>10} {gmacs:>8} {ev:>10}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--suite", action="append", help="pytest path(s); default: all benchmarks/test_*.py")
    parser.add_argument("--out", default="bench_out", help="folder for results.json")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression to select benchmarks")
    args = parser.parse_args(argv)

    from benchmarks.machine import cpu_info

    suites = args.suite or [str(p.relative_to(ROOT)) for p in sorted(HERE.glob("test_*.py"))]
    extra = ["-k", args.keyword] if args.keyword else []
    rows = []
    for threads in args.threads:
        for suite in suites:
            print(f"running {suite} with {threads} thread(s) ...", file=sys.stderr, flush=True)
            rows += summarise(run_suite(suite, threads, extra), threads)
    info = cpu_info()
    print(f"CPU: {info['cpu']} | SIMD: {info['simd']} | cores: {info['cores']}")
    print("threads = NUMBA_NUM_THREADS = OPENBLAS_NUM_THREADS = OMP_NUM_THREADS per run")
    print(format_table(rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    print(f"results written to {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
