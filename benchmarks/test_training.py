"""Training beside prediction: time per epoch of ``SQNNClassifier.fit`` and the peak RSS of fit and predict.

Groups (``extra_info``: ``events`` = rows per call, ``baseline`` marks what each ratio is measured against):

* ``fit 50k x 18, (64, 64)``: two epochs of the default ``SQNNClassifier(hidden=(64, 64))`` (grouped
  ``I(T; S)``, batch 2048) with the fused numba ops of :mod:`training.fused`, beside the **baseline**: the
  same fit with those ops replaced by their plain numpy-autograd compositions
  (:func:`benchmarks.baselines.autograd_activation`, :func:`benchmarks.baselines.autograd_code_means`), i.e.
  the trainer before the fusion. Same model, same data, same random state.
* ``predict 50k x 18, (64, 64)``: ``predict_proba`` of the fitted model on the same rows.
* ``fit vs hepinfo``: one epoch of the default ``SQNNClassifier`` beside the authors' TensorFlow reference
  (hepinfo's ``BinaryMI``, same 64-64 net, same rows) at the same batch size (2048, sqnn's default, and 200,
  hepinfo's) and the run's thread count, by :mod:`benchmarks.hepinfo_peer` (fresh processes, alternating).
  The timed call is that whole measurement; its numbers are in ``extra_info``: per-epoch wall and CPU seconds
  of both (first epoch dropped), their ratio, peak RSS and the new-process time to a first prediction. Runs
  when ``SQNN_HEPINFO_PYTHON`` (``sqnn bench --hepinfo-python``) names an interpreter with hepinfo and
  TensorFlow; skips otherwise, naming the setup.

Every row records ``peak_rss_mb``: the peak RSS of a fresh process that runs only that workload (``ru_maxrss``
of the child: interpreter, numba, scikit-learn and the data included), and the fit rows also the peak after
``SQNN_BENCH_FIT_LONG`` epochs (``peak_rss_long_mb``), which must not grow with the number of epochs.
``SQNN_BENCH_QUICK=1`` shrinks the data for smoke tests. With ``SQNN_BENCH_OLD_TREE`` set to a checkout of an
earlier commit (e.g. ``git worktree add /tmp/old 0a03770``), the fused row also records the median epoch time
of the same fit in that tree (``epoch_s_old``, a fresh process with its own numba cache, same threads) and
``epoch_speedup_vs_old``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from benchmarks import baselines

QUICK = os.environ.get("SQNN_BENCH_QUICK", "") not in ("", "0")
ROOT = Path(__file__).resolve().parent.parent
N_ROWS = 5000 if QUICK else 50_000
EPOCHS = 2
LONG_EPOCHS = int(os.environ.get("SQNN_BENCH_FIT_LONG", "3" if QUICK else "10"))
GROUP = f"{N_ROWS // 1000}k x 18, (64, 64)"

_PROBE = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from benchmarks.test_training import data, numpy_autograd_ops
from training import SQNNClassifier
what, n, epochs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x, y, s = data(n)
model = SQNNClassifier(hidden=(64, 64), epochs=epochs, random_state=0)
if what == "predict":
    model.fit(x[:500], y[:500], s[:500])  # a small fit: the probe measures predict
    model.predict_proba(x)
elif what == "fit_numpy":
    with numpy_autograd_ops():
        model.fit(x, y, s)
else:
    model.fit(x, y, s)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


_OLD_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from training import SQNNClassifier
n, epochs = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
s = rng.integers(0, 2, n)
x = rng.standard_normal((n, 18))
x[:, 2] += 0.5 * s
y = (x[:, 0] + 0.5 * x[:, 1] + rng.standard_normal(n) > 0).astype(int)
y = np.where(s == 1, -1, y)
SQNNClassifier(hidden=(64, 64), epochs=1, random_state=0).fit(x, y, s)  # compile / load the cache
seconds = []
for _ in range(3):
    model = SQNNClassifier(hidden=(64, 64), epochs=epochs, random_state=0).fit(x, y, s)
    seconds += model.history_["seconds"]
print(json.dumps({"epoch_s_median": float(np.median(seconds))}))
"""


def old_tree_epoch(tree: str) -> float:
    """Median epoch time (s) of the benchmark's fit in the checkout ``tree`` (fresh process, own cache)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sqnn-old-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        proc = subprocess.run([sys.executable, "-c", _OLD_PROBE, tree, str(N_ROWS), str(EPOCHS)],
                              capture_output=True, text=True, cwd=tree, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["epoch_s_median"]


def data(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` rows of 18 float features, labels 0/1 for domain 0 and −1 (unlabelled) for domain 1."""
    rng = np.random.default_rng(0)
    s = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 18))
    x[:, 2] += 0.5 * s
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.standard_normal(n) > 0).astype(int)
    return x, np.where(s == 1, -1, y), s


@contextmanager
def numpy_autograd_ops():
    """Swap the fused ops of the trainer for their plain numpy-autograd compositions (the baseline): the
    layers' float matrix products and activation, the group code probabilities, the information term and the
    cross-entropy as chains of autograd ops, and Adam as numpy expressions."""
    import training.classifier as classifier
    import training.losses as losses
    import training.optim as optim

    swaps = [(classifier, "binary_layer", baselines.autograd_layer),
             (classifier, "thermometer_layer", baselines.autograd_thermometer_layer),
             (classifier, "binary_dot", baselines.autograd_dot),
             (classifier, "binary_logit", baselines.autograd_logit),
             (losses, "group_code_means", baselines.autograd_code_means),
             (losses, "code_information", baselines.autograd_code_information),
             (losses, "bce_with_logits", baselines.autograd_bce_with_logits),
             (optim, "_adam_kernel", baselines.numpy_adam_kernel)]
    saved = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    for module, name, op in swaps:
        setattr(module, name, op)
    try:
        yield
    finally:
        for module, name, op in saved:
            setattr(module, name, op)


def peak_rss(what: str, epochs: int) -> float:
    """Peak RSS (MB) of a fresh process running one workload (see the module docstring)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(ROOT), what, str(N_ROWS), str(epochs)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def _fit(epochs: int):
    from training import SQNNClassifier

    x, y, s = data(N_ROWS)
    return SQNNClassifier(hidden=(64, 64), epochs=epochs, random_state=0).fit(x, y, s)


@pytest.mark.parametrize("impl", ["numpy_autograd", "fused"])
@pytest.mark.benchmark(group=f"fit {GROUP}")
def test_fit(benchmark, impl):
    numpy_ops = impl == "numpy_autograd"
    probe = "fit_numpy" if numpy_ops else "fit"
    benchmark.extra_info.update(events=N_ROWS * EPOCHS, baseline=numpy_ops, epochs=EPOCHS,
                                peak_rss_mb=round(peak_rss(probe, EPOCHS), 1),
                                peak_rss_long_mb=round(peak_rss(probe, LONG_EPOCHS), 1),
                                long_epochs=LONG_EPOCHS)
    with numpy_autograd_ops() if numpy_ops else _nothing():
        _fit(1)  # numba cache load, first-call costs
        model = benchmark.pedantic(_fit, (EPOCHS,), rounds=3, iterations=1, warmup_rounds=0)
    epoch = float(np.median(model.history_["seconds"]))
    benchmark.extra_info["epoch_s_median"] = epoch
    old = os.environ.get("SQNN_BENCH_OLD_TREE")
    if old and not numpy_ops:
        benchmark.extra_info["epoch_s_old"] = old_epoch = old_tree_epoch(old)
        benchmark.extra_info["epoch_speedup_vs_old"] = old_epoch / epoch


@pytest.mark.benchmark(group=f"predict {GROUP}")
def test_predict(benchmark):
    x, y, s = data(N_ROWS)
    from training import SQNNClassifier

    model = SQNNClassifier(hidden=(64, 64), epochs=1, random_state=0).fit(x[:2000], y[:2000], s[:2000])
    model.predict_proba(x[:100])
    benchmark.extra_info.update(events=N_ROWS, baseline=True, peak_rss_mb=round(peak_rss("predict", 1), 1))
    benchmark.pedantic(model.predict_proba, (x,), rounds=5, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("batch", [2048, 200])
@pytest.mark.benchmark(group="fit vs hepinfo")
def test_fit_hepinfo(benchmark, batch):
    from benchmarks import hepinfo_peer

    python = os.environ.get("SQNN_HEPINFO_PYTHON")
    if not hepinfo_peer.hepinfo_available(python):
        pytest.skip(hepinfo_peer.SETUP_HINT)
    threads = int(os.environ.get("NUMBA_NUM_THREADS", "1"))
    rows = benchmark.pedantic(hepinfo_peer.measure, (python,), rounds=1, iterations=1,
                              kwargs={"threads": (threads,), "batches": (batch,), "epochs": 3 if QUICK else 4,
                                      "n_rows": N_ROWS, "log": lambda message: None})
    sqnn, hepinfo = rows
    assert (sqnn["learner"], hepinfo["learner"]) == ("sqnn", "hepinfo")
    benchmark.extra_info.update(
        batch=batch, epoch_s_median=sqnn["epoch_wall_s"], epoch_cpu_s_median=sqnn["epoch_cpu_s"],
        peak_rss_mb=sqnn["peak_rss_mb"], first_prediction_s=sqnn["first_prediction_s"],
        hepinfo_epoch_s_median=hepinfo["epoch_wall_s"], hepinfo_epoch_cpu_s_median=hepinfo["epoch_cpu_s"],
        hepinfo_peak_rss_mb=hepinfo["peak_rss_mb"], hepinfo_first_prediction_s=hepinfo["first_prediction_s"],
        epoch_wall_vs_hepinfo=sqnn["ratio"],
        epoch_cpu_vs_hepinfo=sqnn["epoch_cpu_s"] / hepinfo["epoch_cpu_s"],
        hepinfo_versions=hepinfo["versions"])


@contextmanager
def _nothing():
    yield
