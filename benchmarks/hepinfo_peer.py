"""Training peer: one epoch of sqnn's default ``SQNNClassifier`` beside the authors' TensorFlow reference,
hepinfo's ``BinaryMI``, at the same batch size and thread count.

Both learners see the same first 50,000 rows x 18 features of the embedded data
(:func:`training.datasets.load_showers`), labels for every row, and the same network shape: the sqnn default
(``hidden=(64, 64)``, γ = 0.5, batch 2048) and ``BinaryMI(hidden_layers=[64, 64], quantized_position=[True,
True], gamma=0.5)`` (a Bernoulli layer after each hidden layer, the information term on the last one, as
hepinfo does; its default batch is 200). hepinfo trains with ``validation_size=0`` here, so both make one pass
over the same 50k rows per epoch. Every (learner, batch size, threads) run is a fresh process; the runs
alternate between the two learners so that a change in the machine's load hits both.

Per epoch, the wall and CPU seconds (``time.perf_counter``, ``time.process_time``) are taken around each
epoch; the first epoch is dropped (TensorFlow traces its graph there, numba loads its cache) and the report
gives medians of the remaining ones. ``peak_rss_mb`` is the child's ``ru_maxrss`` (interpreter, libraries,
data and the whole fit). ``first_prediction_s`` is a separate fresh process: interpreter start, import, load a
saved model, score 1,000 rows (sqnn: ``SQNNClassifier.load`` with a warm numba cache; hepinfo: the
fitted Keras model saved as ``.keras`` and loaded with ``keras.models.load_model``).

Threads: sqnn runs with ``NUMBA_NUM_THREADS`` = t; TensorFlow with ``tf.config.threading`` intra- and
inter-op threads = t; both with ``OMP_NUM_THREADS`` = ``OPENBLAS_NUM_THREADS`` = t.

hepinfo needs TensorFlow and Keras 3, which do not belong in sqnn's environment (nor beside the ``peers``
extra, whose larq needs Keras 2), so it lives in a venv of its own. hepinfo 0.1.4 declares no dependencies
and imports ``keras.api``, which Keras 3.10 and later no longer have, so the versions are pinned (checked:
TensorFlow 2.19.1, Keras 3.8.0)::

    python3.11 -m venv .venv-hepinfo
    .venv-hepinfo/bin/pip install hepinfo==0.1.4 "tensorflow-cpu==2.19.*" keras==3.8.0 awkward scikit-learn \
        pandas pyparsing
    python -m benchmarks.hepinfo_peer --hepinfo-python .venv-hepinfo/bin/python

(``benchmarks/test_training.py::test_fit_hepinfo`` runs the same with ``SQNN_HEPINFO_PYTHON`` set, and skips
with this message otherwise.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_ROWS = 50_000
HIDDEN = (64, 64)
GAMMA = 0.5
SQNN_BATCH = 2048  # SQNNClassifier's default
HEPINFO_BATCH = 200  # BinaryMI's default
SETUP_HINT = ("hepinfo is not installed: create a venv with `python3.11 -m venv .venv-hepinfo && "
              ".venv-hepinfo/bin/pip install hepinfo==0.1.4 'tensorflow-cpu==2.19.*' keras==3.8.0 awkward "
              "scikit-learn pandas pyparsing` and pass its python (--hepinfo-python / SQNN_HEPINFO_PYTHON); "
              "see benchmarks/hepinfo_peer.py")

_SQNN_FIT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import training.classifier as classifier
from training import SQNNClassifier
data, batch, epochs, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
d = np.load(data)
marks = []

class _Clock:  # the trainer's per-epoch clock, recording CPU time beside it
    def perf_counter(self):
        marks.append((time.perf_counter(), time.process_time()))
        return marks[-1][0]

classifier.time = _Clock()
model = SQNNClassifier(hidden=tuple(d["hidden"]), gamma=float(d["gamma"]), epochs=epochs, batch_size=batch,
                       random_state=0).fit(d["x"], d["y"], d["s"])
classifier.time = time
wall = [b[0] - a[0] for a, b in zip(marks[::2], marks[1::2])]
cpu = [b[1] - a[1] for a, b in zip(marks[::2], marks[1::2])]
if len(marks) != 2 * epochs or not np.allclose(wall, model.history_["seconds"]):
    raise SystemExit("the trainer's epoch clock changed: update benchmarks/hepinfo_peer.py")
model.save(out)
print(json.dumps({"wall": wall, "cpu": cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_SQNN_FIRST = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from training import SQNNClassifier
model = SQNNClassifier.load(sys.argv[2])
p = model.predict_proba(np.load(sys.argv[3])["x"][:1000])
print(json.dumps({"done": time.time(), "mean": float(p[:, 1].mean())}))
"""

_HEPINFO_FIT = r"""
import json, os, resource, sys, time
threads, data, out = int(sys.argv[1]), sys.argv[2], sys.argv[5]
batch, epochs = int(sys.argv[3]), int(sys.argv[4])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
import keras
from importlib.metadata import version
from hepinfo.models.BinaryMI import BinaryMI
d = np.load(data)
hidden = [int(h) for h in d["hidden"]]
model = BinaryMI(hidden_layers=hidden, batch_normalisation_layers=hidden,
                 quantized_position=[True] * len(hidden), gamma=float(d["gamma"]), batch_size=batch,
                 epoch=epochs, validation_size=0.0, random_seed=0)
marks = []

class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        marks.append((time.perf_counter(), time.process_time()))

    def on_epoch_end(self, epoch, logs=None):
        marks.append((time.perf_counter(), time.process_time()))

# BinaryMI.fit without its own callbacks, with the clock added (same build, same keras fit arguments)
x, y, s = (model.convert_array_to_float(d[k]) for k in ("x", "y", "s"))
model.input_shape = (x.shape[1],)
model._build_model()
model.model.fit(x=x, y={f"t_{len(hidden)}": y, f"t_{model.index_qact}": s}, batch_size=batch, epochs=epochs,
                verbose=0, shuffle=True, validation_split=0.0, callbacks=[Clock()])
if len(marks) != 2 * epochs:
    raise SystemExit(f"{len(marks)} epoch marks for {epochs} epochs")
wall = [b[0] - a[0] for a, b in zip(marks[::2], marks[1::2])]
cpu = [b[1] - a[1] for a, b in zip(marks[::2], marks[1::2])]
model.model.save(out)
print(json.dumps({"wall": wall, "cpu": cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "versions": {"hepinfo": version("hepinfo"), "tensorflow": tf.__version__,
                               "keras": keras.__version__}}))
"""

_HEPINFO_FIRST = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
import hepinfo.models.BinaryMI  # registers hepinfo's layers and loss with Keras
model = keras.models.load_model(sys.argv[1], compile=False)
p = model.predict(np.load(sys.argv[2])["x"][:1000].astype("float32"), verbose=0)[0]
print(json.dumps({"done": time.time(), "mean": float(np.mean(p))}))
"""


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a child run on ``threads`` threads (numba, OpenMP, BLAS)."""
    return {**os.environ, "NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def hepinfo_available(python: str | None) -> bool:
    """True when ``python`` exists and imports hepinfo's BinaryMI."""
    if not python:
        return False
    try:
        proc = subprocess.run([python, "-c", "import hepinfo.models.BinaryMI"], capture_output=True,
                              timeout=300, env=thread_env(1))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def write_data(path: Path, n_rows: int = N_ROWS) -> Path:
    """The first ``n_rows`` rows of the embedded data, every row labelled, with the shared settings."""
    from training.datasets import load_showers

    x, y, s, _ = load_showers()
    np.savez(path, x=x[:n_rows], y=y[:n_rows], s=s[:n_rows], hidden=np.array(HIDDEN), gamma=GAMMA)
    return path


def _run(cmd: list[str], threads: int) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=thread_env(threads))
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit_run(learner: str, python: str, data: Path, batch: int, threads: int, epochs: int,
            model: Path) -> dict:
    """One fresh process fitting ``epochs`` epochs; per-epoch wall/CPU seconds and the process's peak RSS."""
    if learner == "sqnn":
        cmd = [python, "-c", _SQNN_FIT, str(ROOT), str(data), str(batch), str(epochs), str(model)]
    else:
        cmd = [python, "-c", _HEPINFO_FIT, str(threads), str(data), str(batch), str(epochs), str(model)]
    return _run(cmd, threads)


def first_prediction(learner: str, python: str, data: Path, model: Path, threads: int) -> float:
    """Seconds from starting a fresh interpreter to the scores of its first 1,000 rows (saved model)."""
    import time

    if learner == "sqnn":
        cmd = [python, "-c", _SQNN_FIRST, str(ROOT), str(model), str(data)]
    else:
        cmd = [python, "-c", _HEPINFO_FIRST, str(model), str(data)]
    start = time.time()
    return _run(cmd, threads)["done"] - start


def measure(hepinfo_python: str, *, threads=(1, 2), batches=(SQNN_BATCH, HEPINFO_BATCH), epochs: int = 4,
            rounds: int = 1, n_rows: int = N_ROWS, log=print) -> list[dict]:
    """Alternate sqnn and hepinfo fits for every (threads, batch); one row per (learner, batch, threads).

    Each row: medians of the per-epoch wall and CPU seconds over ``rounds`` processes x (``epochs`` − 1)
    epochs (the first epoch of each process dropped), the largest peak RSS of those processes, the new-process
    time to the first prediction (median of ``rounds``) and ``ratio`` = sqnn wall / hepinfo wall (same batch,
    same threads; < 1: sqnn faster).
    """
    pythons = {"sqnn": sys.executable, "hepinfo": hepinfo_python}
    rows = []
    with tempfile.TemporaryDirectory(prefix="sqnn-hepinfo-") as tmp:
        data = write_data(Path(tmp) / "data.npz", n_rows)
        for t in threads:
            for batch in batches:
                runs: dict[str, list[dict]] = {"sqnn": [], "hepinfo": []}
                firsts: dict[str, list[float]] = {"sqnn": [], "hepinfo": []}
                for r in range(rounds):
                    order = ("sqnn", "hepinfo") if r % 2 == 0 else ("hepinfo", "sqnn")
                    for learner in order:
                        model = Path(tmp) / ("model.npz" if learner == "sqnn" else "model.keras")
                        res = fit_run(learner, pythons[learner], data, batch, t, epochs, model)
                        runs[learner].append(res)
                        firsts[learner].append(first_prediction(learner, pythons[learner], data, model, t))
                        log(f"{learner:8s} batch {batch:5d} threads {t}: "
                            f"wall/epoch {np.round(res['wall'], 3).tolist()} s, "
                            f"cpu {np.round(res['cpu'], 3).tolist()} s, "
                            f"peak RSS {res['peak_rss_mb']:.0f} MB, "
                            f"first prediction {firsts[learner][-1]:.2f} s")
                group = []
                for learner in ("sqnn", "hepinfo"):
                    wall = [w for res in runs[learner] for w in res["wall"][1:]]
                    cpu = [c for res in runs[learner] for c in res["cpu"][1:]]
                    group.append({"learner": learner, "batch": batch, "threads": t,
                                  "epoch_wall_s": float(np.median(wall)),
                                  "epoch_cpu_s": float(np.median(cpu)),
                                  "epochs_timed": len(wall),
                                  "peak_rss_mb": max(res["peak_rss_mb"] for res in runs[learner]),
                                  "first_prediction_s": float(np.median(firsts[learner])),
                                  "versions": runs[learner][0].get("versions", {})})
                for row in group:
                    row["ratio"] = row["epoch_wall_s"] / group[1]["epoch_wall_s"]
                rows += group
    return rows


def format_table(rows: list[dict]) -> str:
    """A markdown table of :func:`measure`'s rows."""
    lines = ["| learner | batch | threads | s/epoch wall | s/epoch CPU | wall / hepinfo wall | peak RSS MB "
             "| new process to first prediction s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['learner']} | {r['batch']} | {r['threads']} | {r['epoch_wall_s']:.3f} | "
                     f"{r['epoch_cpu_s']:.3f} | {r['ratio']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['first_prediction_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the table and writes ``--out`` (JSON) if given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hepinfo-python", default=os.environ.get("SQNN_HEPINFO_PYTHON"),
                        help="interpreter with hepinfo and TensorFlow (default: $SQNN_HEPINFO_PYTHON)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=[SQNN_BATCH, HEPINFO_BATCH])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process (the first is dropped)")
    parser.add_argument("--rounds", type=int, default=1, help="processes per learner and setting")
    parser.add_argument("--rows", type=int, default=N_ROWS)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is not timed)")
    if not hepinfo_available(args.hepinfo_python):
        print(SETUP_HINT, file=sys.stderr)
        return 2
    from benchmarks.machine import cpu_info

    rows = measure(args.hepinfo_python, threads=args.threads, batches=args.batch, epochs=args.epochs,
                   rounds=args.rounds, n_rows=args.rows, log=lambda m: print(m, file=sys.stderr, flush=True))
    info = cpu_info()
    print(f"CPU: {info['cpu']} | SIMD: {info['simd']} | cores: {info['cores']}")
    print(f"versions: {rows[-1]['versions']}; first epoch of every process not timed")
    print(format_table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
