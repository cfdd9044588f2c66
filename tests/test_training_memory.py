"""Training memory: autograd graphs are freed by reference counting, so fitting does not grow with epochs;
a fit does not load numba's compiler (its registries and extensions, ~60 MB): it loads its kernels from the
disk cache, and a helper process compiles the ones missing there.

Each graph test runs with the cycle collector disabled and ``gc.DEBUG_SAVEALL``: anything the collector would
have had to free (a reference cycle) ends up in ``gc.garbage``, where the test finds it.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from training import SQNNClassifier
from training.autograd import Tensor
from training.layers import PackedSigns, bits_to_pm1, encode_pm1, fit_edges
from training.losses import bce_with_logits, layer_mi


@contextmanager
def _cyclic_garbage():
    """Yield a list that, on exit, holds the objects only the cycle collector could free."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def _step(w: Tensor, rng: np.random.Generator) -> Tensor:
    """One forward pass shaped like the trainer's: STE layer, sigmoid, grouped I(T; S) and cross-entropy."""
    x = Tensor(rng.choice([-1.0, 1.0], size=(32, 6)).astype(np.float32), requires_grad=False)
    theta = ((x @ w.sign_ste()) * (1.0 / 6) * 8.0).sigmoid()
    s = np.arange(32) % 2
    y = np.arange(32) % 3 - 1
    return bce_with_logits(theta.sum(axis=1) - 4.0, y) + layer_mi(theta, s, "grouped", y, 2, 4, rng)


def test_intermediate_dies_with_its_last_reference():
    with _cyclic_garbage():
        w = Tensor(np.linspace(-1, 1, 6))
        mid = (w * 2.0).exp()
        ref = weakref.ref(mid)
        loss = mid.sum()
        del mid
        loss.backward()
        del loss
        assert ref() is None  # before this fix the op's closure held its own output: freed only by gc
        forward_only = (w + 1.0).sigmoid()
        ref = weakref.ref(forward_only)
        del forward_only
        assert ref() is None


def test_forward_backward_leaves_no_cyclic_garbage():
    rng = np.random.default_rng(0)
    w = Tensor(rng.uniform(-1, 1, (6, 8)).astype(np.float32))
    with _cyclic_garbage() as garbage:
        for _ in range(3):
            _step(w, rng).backward()
    assert w.grad is not None and np.all(np.isfinite(w.grad))
    assert not [o for o in garbage if type(o) is Tensor]


def test_backward_releases_the_graph():
    w = Tensor(np.array([0.5, -0.25]))
    mid = w * 3.0
    loss = (mid * mid).sum()
    loss.backward()
    assert w.grad.tolist() == [9.0, -4.5]
    assert mid.grad is None and mid._parents == ()  # interior nodes drop gradient, parents and closure
    with pytest.raises(RuntimeError, match="released"):
        loss.backward()


def test_fit_leaves_no_tensor_to_the_cycle_collector():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 3))
    s = rng.integers(0, 2, 600)
    y = np.where(s == 1, -1, (x[:, 0] > 0).astype(int))
    model = SQNNClassifier(hidden=(8, 4), epochs=3, batch_size=128, n_bins=4, random_state=0)
    with _cyclic_garbage() as garbage:
        model.fit(x, y, s)
    assert not [o for o in garbage if type(o) is Tensor]
    assert len(model.history_["loss"]) == 3


def test_int8_inputs_are_the_float_inputs():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    edges = fit_edges(x, 5)
    small = encode_pm1(x, edges, np.int8)
    assert small.dtype == np.int8 and set(np.unique(small)) == {-1, 1}
    assert np.array_equal(small.astype(np.float32), encode_pm1(x, edges))
    assert np.array_equal(bits_to_pm1(np.array([[0, 1, 1]], np.uint8)), [[-1.0, 1.0, 1.0]])


def test_packed_signs_are_the_dense_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(70, 9))
    edges = fit_edges(x, 9)  # 81 bits: two words per row, the second partial
    packed = PackedSigns.encode(x, edges)
    dense = encode_pm1(x, edges)
    assert packed.shape == dense.shape and len(packed) == 70 and packed.packed.nbytes == 70 * 2 * 8
    assert np.array_equal(np.asarray(packed, dtype=np.float32), dense)
    assert np.asarray(packed).dtype == np.int8
    rows = np.array([5, 0, 69, 5])
    assert np.array_equal(np.asarray(packed[rows], dtype=np.float64), dense[rows])
    assert packed[rows].shape == (4, dense.shape[1])


FIT = """
import json, sys
import numba
import numpy as np
from training import SQNNClassifier
rng = np.random.default_rng(0)
x = rng.normal(size=(3000, 4))
s = rng.integers(0, 2, 3000)
y = (x[:, 0] + 0.3 * s > 0).astype(int)
model = SQNNClassifier(hidden=(16, 8), epochs=2, batch_size=256, random_state=0).fit(x, y, s)
fit_compiler = numba.core.entrypoints._already_initialized or "numba.np.arraymath" in sys.modules
print(json.dumps({"fit_compiler": fit_compiler, "compiler": numba.core.entrypoints._already_initialized,
                  "registries": "numba.np.arraymath" in sys.modules,
                  "proba": float(model.predict_proba(x[:50])[:, 1].sum())}))
"""


def test_a_fit_with_a_warm_cache_loads_no_compiler():
    """Regression: loading a cached kernel ran numba's compiler set-up (entry points such as awkward's,
    the typed-implementation registries, scipy.linalg: ~60 MB and ~0.8 s per process)."""
    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.setdefault("NUMBA_CACHE_DIR", str(root / ".numba-cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    runs = []
    for _ in range(2):  # the first process compiles what the cache lacks, the second only loads
        done = subprocess.run([sys.executable, "-c", FIT], cwd=root, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[1]["proba"] == runs[0]["proba"]
    assert not runs[0]["fit_compiler"]  # warm or cold cache: a fit compiles its misses in a helper process
    assert runs[1] == {**runs[1], "compiler": False, "registries": False}, (
        "a fit with a warm cache ran numba's compiler: some kernel of the fit is not a cached "
        "sqnn_kernels._jit kernel (jit, pjit, dual), or it was called with argument types the first fit did "
        "not compile")
