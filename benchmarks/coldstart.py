"""Cold start and memory: what a user meets in a fresh process, beside the warm-loop rates.

Usage::

    python -m benchmarks.coldstart [--quick] [--runs 3]

Rows (each a new interpreter, timed from its start to its exit, so interpreter start is included):

* ``first score, cold cache``: an empty ``NUMBA_CACHE_DIR``; import ``sqnn_kernels``, load a
  45x8-64-64-1 model file, score its first 1,000 float32 events (compiles the engine once).
* ``first score, warm cache (run i)``: the same again with the cache the first run wrote; the cache folder
  size after every run shows whether it still grows (it must not).
* ``numba alone``: a one-line cached ``@njit`` function in a new process, warm: numba's own path (its
  import, then the compiler set-up it runs before it loads even a cached entry: extension entry points,
  registries). sqnn's kernels load their cache entries without that set-up (``_cache.KernelDispatcher``),
  so a first score can take less than this row.
* ``peak RSS: predict`` (10^6 events), ``import floor`` (``import training.classifier``: numpy, numba,
  scikit-learn and what it imports: scipy, pandas and, when installed, pyarrow), ``fit``
  (``SQNNClassifier(hidden=(64, 64))`` on the first 50k rows x 18 features of the embedded showers sample,
  with its domains, 30 epochs; warm cache, then with an empty cache: the fit compiles the training kernels
  in a helper process, :mod:`sqnn_kernels._compile_helper`, and the row's peak is the larger of the two
  processes' peaks, as ``os.wait4`` reports a process together with the children it waited for),
  ``sqnn train`` on a 4,000-row CSV (twice: its first run compiles the kernels of its diagnostics),
  ``demo`` (``sqnn demo`` on a small subsample): the process's peak resident memory (``ru_maxrss`` of the
  child, from ``os.wait4``), with its wall and CPU time (user + system: less sensitive than the wall time
  to other load on a shared machine).

``--quick`` shrinks the fit, predict and demo workloads (smoke test). Every row also carries the ISA of the
code numba generates (``benchmarks.machine.numba_isa``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

FIRST_SCORE = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
import sqnn_kernels as sk
t1 = time.perf_counter()
spec = sk.BinaryNetSpec.from_npz(sys.argv[1])
x = np.random.default_rng(0).standard_normal((1000, spec.n_features), dtype=np.float32)
t2 = time.perf_counter()
scores = sk.predict_scores(spec, x)
t3 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {t3 - t2} {int(scores.sum())}")
"""

PREDICT = r"""
import sys
import numpy as np
import sqnn_kernels as sk
spec = sk.BinaryNetSpec.from_npz(sys.argv[1])
x = np.random.default_rng(0).standard_normal((int(sys.argv[2]), spec.n_features), dtype=np.float32)
sk.predict_scores(spec, x)
"""

NUMBA_FLOOR = r"""
import numba
@numba.njit(cache=True)
def one(x):
    return x + 1
one(1)
"""

IMPORT_FLOOR = "import training.classifier"

FIT = r"""
import sys
from training.classifier import SQNNClassifier
from training.datasets import load_showers
n, epochs = int(sys.argv[1]), int(sys.argv[2])
x, y, s, _ = load_showers()
x, y, s = x[:n].copy(), y[:n].copy(), s[:n].copy()
SQNNClassifier(hidden=(64, 64), epochs=epochs, random_state=0).fit(x, y, s)
"""

TRAIN_CSV = r"""
import sys
import numpy as np
from training.datasets import load_showers
x, y, s, names = load_showers()
n = int(sys.argv[2])
table = np.column_stack([x[:n], y[:n], s[:n]])
np.savetxt(sys.argv[1], table, delimiter=",", header=",".join([*names, "y", "s"]), comments="", fmt="%.9g")
"""


def _env(cache_dir: Path) -> dict[str, str]:
    """The children's environment: ``cache_dir`` as numba's cache, the repository on the path, and Python's
    bytecode cache on (as in an installed package; ``PYTHONDONTWRITEBYTECODE`` would recompile every module
    of the package from source in every child, ~0.1 s of import time)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_child(args: list[str], env: dict[str, str]) -> dict:
    """Run ``python *args`` in a new process; wall seconds (interpreter start included), peak RSS, stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "stdout": stdout}


def folder_kb(folder: Path) -> float:
    """Size of every file under ``folder``, kB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1024


def benchmark_model(path: Path) -> None:
    """Write the 45x8-64-64-1 benchmark network (as in ``benchmarks.test_network``) to ``path``."""
    import numpy as np

    from benchmarks.test_network import SMALL_NET, random_spec

    random_spec(np.random.default_rng(3), *SMALL_NET).to_npz(path)


def measure(quick: bool = False, runs: int = 3) -> list[dict]:
    """The rows of the cold start and memory table (see the module docstring)."""
    from benchmarks.machine import numba_isa

    isa = numba_isa()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "model.npz"
        benchmark_model(model)
        cache = tmp / "numba-cache"
        env = _env(cache)
        for i in range(runs):
            r = run_child(["-c", FIRST_SCORE, str(model)], env)
            t_import, t_load, t_score, _ = r["stdout"].split()
            what = "first score, cold cache" if i == 0 else f"first score, warm cache (run {i + 1})"
            rows.append({"what": what, "wall_s": r["wall_s"], "cpu_s": r["cpu_s"],
                         "peak_rss_mb": r["peak_rss_mb"], "import_s": float(t_import),
                         "load_s": float(t_load), "score_s": float(t_score), "cache_kb": folder_kb(cache),
                         "isa": isa})
        floor = tmp / "floor.py"  # numba caches functions of files only
        floor.write_text(NUMBA_FLOOR)
        run_child([str(floor)], env)
        r = run_child([str(floor)], env)
        rows.append({"what": "numba alone: a cached one-line @njit, warm", **_drop(r), "isa": isa})
        n_predict = 10**5 if quick else 10**6
        r = run_child(["-c", PREDICT, str(model), str(n_predict)], env)
        rows.append({"what": f"peak RSS: predict {n_predict:.0e} events", **_drop(r), "isa": isa})
        r = run_child(["-c", IMPORT_FLOOR], env)
        rows.append({"what": "peak RSS: import floor (training.classifier)", **_drop(r), "isa": isa})
        n_fit, epochs = (5000, 1) if quick else (50_000, 30)
        for state, fit_env in (("warm", env), ("cold", _env(tmp / "empty-cache"))):
            if state == "warm":
                run_child(["-c", FIT, str(n_fit), "1"], env)  # compiles the training kernels into the cache
            r = run_child(["-c", FIT, str(n_fit), str(epochs)], fit_env)
            what = f"peak RSS: fit {n_fit} x 18, (64, 64), {epochs} ep, {state}"
            rows.append({"what": what, **_drop(r), "isa": isa})
        n_train = 1000 if quick else 4000
        table = tmp / "train.csv"
        run_child(["-c", TRAIN_CSV, str(table), str(n_train)], env)
        for state in ("first run", "again"):  # the first run compiles what the fit did not need
            r = run_child(["-m", "training.cli", "train", "--data", str(table), "--out", str(tmp / "m.npz"),
                           "--quiet"], env)
            rows.append({"what": f"peak RSS: sqnn train, {n_train}-row CSV, {state}", **_drop(r), "isa": isa})
        demo = ["--rows", "2000", "--epochs", "1"] if quick else ["--rows", "4000", "--epochs", "5"]
        r = run_child(["-m", "training.cli", "demo", "--out", str(tmp / "demo"), "--quiet", *demo], env)
        rows.append({"what": f"peak RSS: sqnn demo {' '.join(demo)}", **_drop(r), "isa": isa})
    return rows


def _drop(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "stdout"}


def format_table(rows: list[dict]) -> str:
    """Plain-text cold start and memory table."""
    head = f"{'cold start and memory':52} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>11} {'cache kB':>9}  isa"
    lines = [head, "-" * len(head)]
    for r in rows:
        cache = f"{r['cache_kb']:.0f}" if r.get("cache_kb") is not None else ""
        lines.append(f"{r['what'][:52]:52} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} {r['peak_rss_mb']:>11.0f}"
                     f" {cache:>9}  {r['isa']}")
        if "score_s" in r:
            lines.append(f"{'':4}import {r['import_s']:.2f} s, load model {r['load_s']:.2f} s, "
                         f"score 1,000 events {r['score_s']:.2f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small fit / predict / demo workloads")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes scoring the model (default 3)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    from benchmarks.machine import cpu_info

    info = cpu_info()
    rows = measure(quick=args.quick, runs=args.runs)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    print(f"CPU: {info['cpu']} | SIMD: {info['simd']} | cores: {info['cores']}")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
