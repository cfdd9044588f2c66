"""Parallel kernels with Python threads and forked processes, on numba's OpenMP and workqueue layers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# A large (parallel) prediction, then two threads predicting at once, then a forked Pool predicting.
SCRIPT = """
import multiprocessing, sys, threading
import numpy as np
import numba
import sqnn_kernels as sk
rng = np.random.default_rng(0)
edges = [np.sort(rng.normal(size=3)) for _ in range(5)]
w1 = sk.pack_bits(rng.integers(0, 2, (16, 15)).astype(bool))
w2 = sk.pack_bits(rng.integers(0, 2, (1, 16)).astype(bool))
spec = sk.BinaryNetSpec(edges, [sk.HiddenLayer(w1, 15, np.zeros(16, np.int64))],
                        sk.OutputLayer(w2, 16, np.zeros(1, np.int32)))
x = rng.normal(size=(20000, 5))
expected = sk.predict_scores(spec, x)
layer = numba.threading_layer()
assert layer == sys.argv[1], layer
same = []
def predict():
    for _ in range(3):
        same.append(bool((sk.predict_scores(spec, x) == expected).all()))
threads = [threading.Thread(target=predict) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert same == [True] * 6, same
def child(i):
    return int(sk.predict_scores(spec, x).sum())
with multiprocessing.get_context("fork").Pool(2) as pool:
    sums = pool.map_async(child, range(2)).get(timeout=120)
assert sums == [int(expected.sum())] * 2, sums
print("ok", layer)
"""


@pytest.mark.parametrize("layer", ["omp", "workqueue"])
def test_parallel_kernels_with_threads_and_a_forked_pool(layer):
    """Regression: on omp a forked Pool hung after a parallel prediction; on workqueue two threads aborted."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer, "NUMBA_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT, layer], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith(f"ok {layer}")


POLICY = """
import os, sys
import numpy as np
import sqnn_kernels as sk
rng = np.random.default_rng(0)
edges = [np.sort(rng.normal(size=3)) for _ in range(5)]
out = sk.OutputLayer(sk.pack_bits(np.ones((1, 15), bool)), 15, np.zeros(1, np.int32))
spec = sk.BinaryNetSpec(edges, [], out)
sk.predict_scores(spec, rng.normal(size=(200000, 5)))  # large enough for the parallel build
print(os.environ.get("OMP_WAIT_POLICY"))
"""


@pytest.mark.parametrize("user", [None, "ACTIVE"])
def test_prediction_lets_idle_openmp_threads_sleep_unless_told_otherwise(user):
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("OMP_WAIT_POLICY", None)
    if user:
        env["OMP_WAIT_POLICY"] = user
    result = subprocess.run([sys.executable, "-c", POLICY], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == (user or "PASSIVE")
