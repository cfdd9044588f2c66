"""Run the benchmark suites at 1 and 2 threads and report ratios against each group's baseline, with plots.

Usage::

    python -m benchmarks.report [--threads 1 2] [--suite benchmarks/test_kernels.py] [--out bench_out]
                                [-k EXPR] [--quick] [--stat median|min] [--peer-python PYTHON]
                                [--hepinfo-python PYTHON] [--cpu-name haswell] [--no-coldstart]

Each run is a separate pytest process with ``NUMBA_NUM_THREADS=OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=t``, so
the kernel and its baseline get the same thread count. Ratios compare timings measured in the same run:
``speedup = throughput / baseline throughput`` (events/s when both rows record ``events``, else 1 / time).
``--peer-python`` runs the ``peer`` benchmarks (Larq Compute Engine beside sqnn) with another interpreter,
e.g. a venv with the ``peers`` extra (see :mod:`benchmarks.peers`). ``--hepinfo-python`` names an
interpreter with hepinfo and TensorFlow for the training peer (``fit vs hepinfo``,
:mod:`benchmarks.hepinfo_peer`). ``--quick`` shrinks the shapes (``SQNN_BENCH_QUICK=1``) and the rounds for
smoke tests.

Every rate is printed beside the ISA of the code that produced it (the host's, or ``--cpu-name``'s, e.g.
``haswell`` for AVX2 code on an AVX-512 host). Then the cold start and memory table of
:mod:`benchmarks.coldstart` (first score in a fresh process with a cold and a warm numba cache; peak RSS of
predict, fit and demo), unless ``--no-coldstart``.

Writes ``<out>/results.json`` (``{"machine", "threads", "rows", "coldstart", "plots"}``), PNG plots
(throughput vs layer width, vs batch size, thread scaling) and prints a table with the CPU model and SIMD
flags.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.machine import numba_isa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXTRA_FIELDS = ("width", "batch", "peak_rss_mb", "inference_extra_mb", "input_mb", "output_mb",
                "peak_rss_long_mb", "epoch_s_median", "epoch_cpu_s_median", "hepinfo_epoch_s_median",
                "hepinfo_epoch_cpu_s_median", "hepinfo_peak_rss_mb", "epoch_wall_vs_hepinfo",
                "epoch_cpu_vs_hepinfo", "first_prediction_s", "hepinfo_first_prediction_s")


def run_suite(suite: str, threads: int, extra_args: list[str] | None = None, *, quick: bool = False,
              python: str | None = None, cpu_name: str | None = None) -> dict:
    """Run one pytest-benchmark suite with ``threads`` threads; return its parsed JSON.

    ``cpu_name`` sets ``NUMBA_CPU_NAME`` (e.g. ``haswell``: AVX2 code on an AVX-512 host); for an AVX2 name,
    numpy's OpenBLAS is held to its AVX2 kernels too (``OPENBLAS_CORETYPE=Haswell`` unless set), so the
    float baselines use the same ISA as the kernels.
    """
    env = {
        **os.environ,
        "NUMBA_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    if cpu_name:
        env.update(NUMBA_CPU_NAME=cpu_name, NUMBA_CPU_FEATURES="")
        if numba_isa(env).startswith("AVX2"):
            env.setdefault("OPENBLAS_CORETYPE", "Haswell")
    if quick:
        env["SQNN_BENCH_QUICK"] = "1"
    if quick:
        rounds = ["--benchmark-min-rounds=1", "--benchmark-max-time=0.02", "--benchmark-warmup=off"]
    else:
        rounds = ["--benchmark-min-rounds=5"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [
            python or sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider",
            "--benchmark-enable", "--benchmark-only", f"--benchmark-json={out}", *rounds, *(extra_args or []),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode == 5 or (proc.returncode == 0 and not out.exists()):  # nothing selected
            return {"benchmarks": [], "machine_info": {}}
        if proc.returncode != 0 or not out.exists():
            tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
            raise RuntimeError(f"benchmark suite {suite} failed:\n{tail}")
        skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
        data = json.loads(out.read_text())
        data["isa"] = numba_isa(env)
        data["blas"] = data.get("machine_info", {}).get("BLAS_CORE")  # numpy's OpenBLAS kernels (conftest)
        data["skipped"] = sorted(set(line.split(": ", 2)[-1] for line in skipped))
        return data


def summarise(results: dict, threads: int, stat: str = "median") -> list[dict]:
    """Rows of (group, name, time, ratio vs the group's baseline, G MAC/s, events/s, ISA of the code) for one
    thread count."""
    by_group: dict[str, list[dict]] = {}
    for bench in results["benchmarks"]:
        by_group.setdefault(bench["group"] or "", []).append(bench)

    def rate(b):
        events = b.get("extra_info", {}).get("events")
        return (events or 1) / b["stats"][stat]

    rows = []
    for group, benches in by_group.items():
        base = next((b for b in benches if b.get("extra_info", {}).get("baseline")), None)
        per_event = base is not None and all(b.get("extra_info", {}).get("events") for b in benches)
        def order(b, per_event=per_event):
            return (b.get("extra_info", {}).get("batch") or 0, -rate(b) if per_event else b["stats"][stat])

        for b in sorted(benches, key=order):
            t = b["stats"][stat]
            info = b.get("extra_info", {})
            macs, events = info.get("macs"), info.get("events")
            if base is None:
                ratio = None
            elif per_event:
                ratio = rate(b) / rate(base)
            else:
                ratio = base["stats"][stat] / t
            rows.append({
                "group": group,
                "name": b["name"].removeprefix("test_"),
                "threads": threads,
                "median_s": b["stats"]["median"],
                "min_s": b["stats"]["min"],
                "rounds": b["stats"]["rounds"],
                "speedup_vs_baseline": ratio,
                "baseline": base["name"].removeprefix("test_") if base else None,
                "gmacs": macs / t / 1e9 if macs else None,
                "events_per_s": events / t if events else None,
                "isa": results.get("isa") or numba_isa(),
                "blas": results.get("blas"),
                **{k: info.get(k) for k in EXTRA_FIELDS},
            })
    return rows


def format_table(rows: list[dict], stat: str = "median") -> str:
    """Plain-text table of the summary rows."""
    head = (
        f"{'group':40} {'kernel':34} {'thr':>3} {stat:>11} {'x baseline':>10} {'G MAC/s':>8}"
        f" {'events/s':>10} {'peak RSS MB':>11}  isa"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['speedup_vs_baseline']:.2f}" if r["speedup_vs_baseline"] else ""
        gmacs = f"{r['gmacs']:.1f}" if r["gmacs"] else ""
        ev = f"{r['events_per_s']:.3g}" if r["events_per_s"] else ""
        t = r["median_s"] if stat == "median" else r["min_s"]
        rss = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else ""  # fresh process running that row
        isa = r.get("isa", "") + (f", BLAS {r['blas']}" if r.get("blas") else "")
        lines.append(
            f"{r['group'][:40]:40} {r['name'][:34]:34} {r['threads']:>3} {t * 1e3:>9.3f}ms"
            f" {ratio:>10} {gmacs:>8} {ev:>10} {rss:>11}  {isa}"
        )
    return "\n".join(lines)


def format_hepinfo(rows: list[dict]) -> str:
    """One line per ``fit vs hepinfo`` row (:mod:`benchmarks.hepinfo_peer`): sqnn beside hepinfo."""
    lines = []
    for r in rows:
        if not r.get("hepinfo_epoch_s_median"):
            continue
        lines.append(
            f"fit vs hepinfo, batch {r['batch']}, {r['threads']} thread(s): s/epoch wall "
            f"{r['epoch_s_median']:.3f} (hepinfo {r['hepinfo_epoch_s_median']:.3f}, "
            f"x{r['epoch_wall_vs_hepinfo']:.2f}), CPU {r['epoch_cpu_s_median']:.3f} "
            f"(hepinfo {r['hepinfo_epoch_cpu_s_median']:.3f}, x{r['epoch_cpu_vs_hepinfo']:.2f}), "
            f"peak RSS MB {r['peak_rss_mb']:.0f} (hepinfo {r['hepinfo_peak_rss_mb']:.0f}), "
            f"new process to first prediction s {r['first_prediction_s']:.2f} "
            f"(hepinfo {r['hepinfo_first_prediction_s']:.2f})")
    return "\n".join(lines)


# -- plots ------------------------------------------------------------------------------------------------
def _impl(name: str) -> str:
    """Implementation label of a benchmark name: drop the parametrisation and the suite prefix."""
    base = name.split("[", 1)[0]
    for prefix in ("layer_", "batch_", "peer_layer_", "peer_net_", "net_small_", "net_wide_"):
        if base.startswith(prefix):
            return base[len(prefix):]
    return base


def _rate(row: dict) -> float:
    return row["events_per_s"] or 1 / row["median_s"]


def plot_results(rows: list[dict], out: Path) -> list[str]:
    """Write the PNG plots that the rows support; return their file names."""
    import matplotlib
    import matplotlib.ticker
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    threads = sorted({r["threads"] for r in rows})
    styles = {t: s for t, s in zip(threads, ["-", "--", ":", "-."] * 4, strict=False)}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(name)

    width_rows = [r for r in rows if r["width"] and r["group"].startswith("layer ") and r["gmacs"]]
    if width_rows:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for color, impl in enumerate(sorted({_impl(r["name"]) for r in width_rows})):
            for t in threads:
                pts = sorted((r["width"], r["gmacs"]) for r in width_rows
                             if _impl(r["name"]) == impl and r["threads"] == t)
                if pts:
                    ax.plot(*zip(*pts, strict=True), styles[t], marker="o", color=f"C{color}",
                            label=f"{impl} ({t} thr)")
        ax.set(xscale="log", yscale="log", xlabel="layer width k = m (batch fixed)",
               ylabel="G binary MAC/s", title="Single binary layer: throughput vs width")
        widths = sorted({r["width"] for r in width_rows})
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, "throughput_vs_width.png")

    batch_rows = [r for r in rows if r["batch"] and r["events_per_s"]]
    if batch_rows:
        fig, ax1 = plt.subplots(figsize=(7, 4.5))
        ax2 = ax1.twinx()
        for t in threads:
            pts = sorted((r["batch"], r["events_per_s"], r["inference_extra_mb"] or 0.0, r["input_mb"] or 0.0,
                          r["output_mb"] or 0.0) for r in batch_rows if r["threads"] == t)
            if pts:
                b, ev, extra, inp, outp = zip(*pts, strict=True)
                ax1.plot(b, ev, styles[t], marker="o", color="C0", label=f"events/s ({t} thr)")
                ax2.plot(b, np.maximum(extra, 1e-2), styles[t], marker="s", color="C3",
                         label=f"memory during scoring beyond input, MB ({t} thr)")
                if t == threads[0]:
                    ax2.plot(b, inp, ":", color="grey", label="float32 input, MB")
                    ax2.plot(b, np.maximum(outp, 1e-2), "-.", color="grey", label="int32 output, MB")
        ax1.set(xscale="log", yscale="log", xlabel="events per call", ylabel="events / s",
                title="Fused engine: throughput and memory vs batch size")
        ax2.set(yscale="log", ylabel="MB")
        lines = ax1.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower right")
        ax1.grid(True, which="both", alpha=0.3)
        save(fig, "throughput_vs_batch.png")

    if len(threads) > 1:
        t0, t1 = threads[0], threads[-1]
        keyed = {(r["group"], r["name"], r["threads"]): r for r in rows}
        pairs = []
        for (group, name, t), r in keyed.items():
            other = keyed.get((group, name, t1))
            if t == t0 and other:
                speed = _rate(other) / _rate(r)
                param = name[name.index("["):] if "[" in name else ""
                pairs.append((f"{group.split(' (')[0]} | {_impl(name)}{param}", speed))
        if pairs:
            fig, ax = plt.subplots(figsize=(8, 0.28 * len(pairs) + 1.2))
            labels, speed = zip(*pairs, strict=True)
            ax.barh(range(len(pairs)), speed, color=["C2" if s >= 1 else "C3" for s in speed])
            ax.axvline(1.0, color="k", lw=0.8)
            ax.axvline(t1 / t0, color="grey", lw=0.8, ls="--")
            ax.set_yticks(range(len(pairs)), labels, fontsize=6)
            ax.invert_yaxis()
            ax.set(xlabel=f"throughput at {t1} threads / at {t0} thread(s)", title="Thread scaling")
            save(fig, "thread_scaling.png")
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (also ``sqnn bench``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="sqnn bench", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="NUMBA_NUM_THREADS values to run every suite at (default 1 2)")
    parser.add_argument("--suite", action="append", help="pytest path(s); default: all benchmarks/test_*.py")
    parser.add_argument("--out", default="bench_out", help="folder for results.json and the PNG plots")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression to select benchmarks")
    parser.add_argument("--quick", action="store_true", help="small shapes and few rounds (smoke test)")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="timing statistic for ratios and rates (min is robust on a busy machine)")
    parser.add_argument("--peer-python", help="interpreter with the `peers` extra: runs the peer benchmarks")
    parser.add_argument("--hepinfo-python", help="interpreter with hepinfo and TensorFlow: runs the training "
                        "peer benchmark (benchmarks.hepinfo_peer) as SQNN_HEPINFO_PYTHON")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--cpu-name", help="NUMBA_CPU_NAME for the suites, e.g. haswell (AVX2 code)")
    parser.add_argument("--no-coldstart", action="store_true",
                        help="skip the cold start and memory table (benchmarks.coldstart)")
    args = parser.parse_args(argv)

    from benchmarks import coldstart
    from benchmarks.machine import cpu_info

    if args.hepinfo_python:
        os.environ["SQNN_HEPINFO_PYTHON"] = args.hepinfo_python

    suites = args.suite or [str(p.relative_to(ROOT)) for p in sorted(HERE.glob("test_*.py"))]
    rows, skipped = [], set()
    for threads in args.threads:
        results: dict = {"benchmarks": []}
        for suite in suites:
            keyword = args.keyword
            if args.peer_python:  # peers run in their own interpreter below
                keyword = f"({keyword}) and not peer" if keyword else "not peer"
            extra = ["-k", keyword] if keyword else []
            print(f"running {suite} with {threads} thread(s) ...", file=sys.stderr, flush=True)
            data = run_suite(suite, threads, extra, quick=args.quick, cpu_name=args.cpu_name)
            results["benchmarks"] += data["benchmarks"]
            results["isa"] = data.get("isa")
            results["blas"] = data.get("blas")
            skipped.update(data.get("skipped", []))
        if args.peer_python:
            keyword = f"({args.keyword}) and peer" if args.keyword else "peer"
            print(f"running peers with {args.peer_python}, {threads} thread(s) ...", file=sys.stderr,
                  flush=True)
            data = run_suite("benchmarks/test_network.py", threads, ["-k", keyword], quick=args.quick,
                             python=args.peer_python)
            results["benchmarks"] += data["benchmarks"]
            skipped.update(data.get("skipped", []))
        rows += summarise(results, threads, args.stat)
    info = cpu_info()
    print(f"CPU: {info['cpu']} | SIMD: {info['simd']} | cores: {info['cores']}")
    print(f"threads = NUMBA_NUM_THREADS = OPENBLAS_NUM_THREADS = OMP_NUM_THREADS per run: {args.threads}")
    print(f"ratio = throughput / group baseline throughput ({args.stat} times, same run)")
    print(format_table(rows, args.stat))
    hepinfo = format_hepinfo(rows)
    if hepinfo:
        print(hepinfo)
    for reason in sorted(skipped):
        print(f"skipped: {reason}")
    cold = []
    if not args.no_coldstart:
        print("running the cold start and memory probes ...", file=sys.stderr, flush=True)
        cold = coldstart.measure(quick=args.quick)
        print(coldstart.format_table(cold))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = [] if args.no_plots else plot_results(rows, out)
    report = {"machine": info, "threads": args.threads, "stat": args.stat, "quick": args.quick,
              "skipped": sorted(skipped), "rows": rows, "coldstart": cold, "plots": plots}
    (out / "results.json").write_text(json.dumps(report, indent=2))
    print(f"results written to {out / 'results.json'}" + (f"; plots: {', '.join(plots)}" if plots else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
