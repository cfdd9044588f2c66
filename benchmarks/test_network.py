"""Whole SQNNs and single binary layers beside their baselines (pytest-benchmark groups).

Groups (``extra_info``: ``events`` = rows per call, ``macs`` = ±1 multiply-adds per call, ``width``/``batch``
for the plots, ``baseline`` marks what each ratio is measured against):

* ``net 45x8-64-64-1``: 45 features -> thermometer 8 bins (360 bits) -> 64 -> 64 -> 1 by the fused engine
  ``sqnn_kernels.predict_scores``, the layer-by-layer packed ``sqnn_kernels.forward``, the numpy twin
  ``sqnn_kernels.reference.forward`` (fewer rows) and the **baseline**: the same network as a float32 numpy
  MLP (``x @ W.T`` with ±1 float weights, sign activations, thermometer as float compares).
* ``net 128x8-1024-1024-1024-1``: the same four on a wide network (1024 thermometer bits).
* ``layer width W``: one W -> W binary layer on a batch of 4096 for W in 256/1024/4096: float32 BLAS
  (baseline), ``np.bitwise_count``, ``xnor_popcount_dense`` and ``binary_dense_threshold``.
* ``batch 45x8-64-64-1``: the fused engine on 10^4 ... 10^7 events (baseline: the smallest batch, so the
  ratio is the relative throughput, ideally 1); a subprocess per size records the peak RSS.
* ``peer ...``: Larq Compute Engine (``benchmarks.peers``; baseline) beside the sqnn kernel on a 4096 x
  1024 -> 1024 binary layer and on the 45x8-64-64-1 network; skipped unless the ``peers`` extra is installed.

``SQNN_BENCH_QUICK=1`` shrinks every shape for smoke tests (``python -m benchmarks.report --quick``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sqnn_kernels as sk
from benchmarks import baselines
from sqnn_kernels import reference as ref

QUICK = os.environ.get("SQNN_BENCH_QUICK", "") not in ("", "0")
ROOT = Path(__file__).resolve().parent.parent

SMALL_NET = (45, 8, (64, 64))  # features, bins per feature, hidden widths
WIDE_NET = (32, 8, (256, 256)) if QUICK else (128, 8, (1024, 1024, 1024))
SMALL_EVENTS = 4096 if QUICK else 100_000
WIDE_EVENTS = 256 if QUICK else 4096
TWIN_EVENTS = 512 if QUICK else 10_000  # numpy twin on fewer rows (it is slow); compared by events/s
WIDE_TWIN_EVENTS = 64 if QUICK else 512
LAYER_BATCH = 256 if QUICK else 4096
LAYER_WIDTHS = (64, 256) if QUICK else (256, 1024, 4096)
BATCHES = (10**3, 10**4) if QUICK else (10**4, 10**5, 10**6, 10**7)
HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")  # numpy >= 2.0


# -- random networks ------------------------------------------------------------------------------------
def random_spec(rng: np.random.Generator, n_features: int, n_bins: int, hidden: tuple[int, ...],
                n_out: int = 1) -> sk.BinaryNetSpec:
    """A random :class:`~sqnn_kernels.BinaryNetSpec`: sorted normal edges (float32 numbers, so float32
    peers compare exactly alike), random ±1 weights, thresholds near 0 and a small output bias."""
    edges = [np.sort(rng.normal(size=n_bins).astype(np.float32)).astype(np.float64)
             for _ in range(n_features)]
    k = n_features * n_bins
    layers = []
    for m in hidden:
        w = sk.pack_bits(rng.integers(0, 2, (m, k)).astype(bool))
        layers.append(sk.HiddenLayer(w, k, rng.integers(-2, 3, m).astype(np.int32)))
        k = m
    w = sk.pack_bits(rng.integers(0, 2, (n_out, k)).astype(bool))
    return sk.BinaryNetSpec(edges, layers, sk.OutputLayer(w, k, rng.integers(-3, 4, n_out).astype(np.int32)))


def macs_per_event(spec: sk.BinaryNetSpec) -> int:
    """±1 multiply-adds of one row: Σ_layers k · m."""
    return sum(layer.k * layer.weights.shape[0] for layer in [*spec.layers, spec.output])


class FloatMLP:
    """The same network as a float32 numpy MLP: what a user would write without sqnn.

    ``h0 = ±1[x_f >= edge]`` (float compares), ``h = ±1[h @ W.T >= t]`` with ±1 float32 weights (BLAS),
    ``score = h @ W_out.T + bias``. Rows go through in chunks so memory stays bounded.
    """

    def __init__(self, spec: sk.BinaryNetSpec, chunk: int = 16384):
        self.feature = np.concatenate([np.full(e.size, f) for f, e in enumerate(spec.edges)])
        self.edges = np.concatenate(spec.edges).astype(np.float32)
        self.layers = [
            (ref.to_pm1(sk.unpack_bits(layer.weights, layer.k)).T.astype(np.float32),
             layer.thresholds.astype(np.float32))
            for layer in spec.layers
        ]
        out = spec.output
        self.w_out = ref.to_pm1(sk.unpack_bits(out.weights, out.k)).T.astype(np.float32)
        self.bias = out.bias.astype(np.float32)
        self.chunk = chunk

    def _scores(self, x: np.ndarray) -> np.ndarray:
        h = np.where(x[:, self.feature] >= self.edges, np.float32(1), np.float32(-1))
        for w, t in self.layers:
            h = np.where(h @ w >= t, np.float32(1), np.float32(-1))
        return h @ self.w_out + self.bias

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return np.concatenate([self._scores(x[i : i + self.chunk]) for i in range(0, len(x), self.chunk)])


def _net_fixture(rng, shape, events):
    n_features, n_bins, hidden = shape
    spec = random_spec(rng, n_features, n_bins, hidden)
    x = rng.standard_normal((events, n_features), dtype=np.float32)
    expected = ref.forward(spec, x[:256])[0]
    np.testing.assert_array_equal(sk.predict_scores(spec, x[:256]), expected)
    sk.predict_scores(spec, x)  # load the parallel build too: the first timed round must not include it
    np.testing.assert_array_equal(FloatMLP(spec)(x[:256]).astype(np.int32), expected)
    name = f"{n_features}x{n_bins}-{'-'.join(map(str, hidden))}-1"
    return {"spec": spec, "x": x, "name": name, "macs": macs_per_event(spec)}


@pytest.fixture(scope="module")
def small_net(rng):
    return _net_fixture(rng, SMALL_NET, SMALL_EVENTS)


@pytest.fixture(scope="module")
def wide_net(rng):
    return _net_fixture(rng, WIDE_NET, WIDE_EVENTS)


def _info(benchmark, net, events, **extra):
    benchmark.extra_info.update(events=events, macs=net["macs"] * events, **extra)


def net_name(shape) -> str:
    """``45x8-64-64-1`` for (45 features, 8 bins, (64, 64) hidden)."""
    return f"{shape[0]}x{shape[1]}-{'-'.join(map(str, shape[2]))}-1"


SMALL_GROUP = f"net {net_name(SMALL_NET)} ({SMALL_EVENTS} events)"
WIDE_GROUP = f"net {net_name(WIDE_NET)} ({WIDE_EVENTS} events)"


@pytest.mark.benchmark(group=SMALL_GROUP)
def test_net_small_numpy_float32_mlp(benchmark, small_net):
    _info(benchmark, small_net, len(small_net["x"]), baseline=True)
    benchmark(FloatMLP(small_net["spec"]), small_net["x"])


@pytest.mark.benchmark(group=SMALL_GROUP)
def test_net_small_numpy_twin(benchmark, small_net):
    x = small_net["x"][:TWIN_EVENTS]
    _info(benchmark, small_net, len(x))
    benchmark.pedantic(ref.forward, (small_net["spec"], x), rounds=3, iterations=1)


@pytest.mark.benchmark(group=SMALL_GROUP)
def test_net_small_sqnn_forward_layerwise(benchmark, small_net):
    _info(benchmark, small_net, len(small_net["x"]))
    benchmark(sk.forward, small_net["spec"], small_net["x"])


@pytest.mark.benchmark(group=SMALL_GROUP)
def test_net_small_sqnn_fused(benchmark, small_net):
    _info(benchmark, small_net, len(small_net["x"]))
    benchmark(sk.predict_scores, small_net["spec"], small_net["x"])


@pytest.mark.benchmark(group=WIDE_GROUP)
def test_net_wide_numpy_float32_mlp(benchmark, wide_net):
    _info(benchmark, wide_net, len(wide_net["x"]), baseline=True)
    benchmark(FloatMLP(wide_net["spec"]), wide_net["x"])


@pytest.mark.benchmark(group=WIDE_GROUP)
def test_net_wide_numpy_twin(benchmark, wide_net):
    x = wide_net["x"][:WIDE_TWIN_EVENTS]
    _info(benchmark, wide_net, len(x))
    benchmark.pedantic(ref.forward, (wide_net["spec"], x), rounds=2, iterations=1)


@pytest.mark.benchmark(group=WIDE_GROUP)
def test_net_wide_sqnn_forward_layerwise(benchmark, wide_net):
    _info(benchmark, wide_net, len(wide_net["x"]))
    benchmark(sk.forward, wide_net["spec"], wide_net["x"])


@pytest.mark.benchmark(group=WIDE_GROUP)
def test_net_wide_sqnn_fused(benchmark, wide_net):
    _info(benchmark, wide_net, len(wide_net["x"]))
    benchmark(sk.predict_scores, wide_net["spec"], wide_net["x"])


# -- single binary layers of growing width ----------------------------------------------------------------
def _layer_data(width: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed + width)
    x = rng.integers(0, 2, (LAYER_BATCH, width)).astype(bool)
    w = rng.integers(0, 2, (width, width)).astype(bool)
    return {
        "xp": sk.pack_bits(x), "wp": sk.pack_bits(w),
        "xf": 2 * x.astype(np.float32) - 1, "wf": 2 * w.astype(np.float32) - 1,
        "t": np.zeros(width, dtype=np.int32), "k": width,
    }


_LAYERS: dict[int, dict] = {}


def layer(width: int) -> dict:
    if width not in _LAYERS:
        _LAYERS.clear()  # keep one width in memory at a time
        _LAYERS[width] = _layer_data(width)
    return _LAYERS[width]


def _layer_info(benchmark, width, **extra):
    benchmark.extra_info.update(events=LAYER_BATCH, macs=LAYER_BATCH * width * width, width=width, **extra)


def _slow_rounds(width):
    return {"rounds": 2 if width >= 4096 else 5, "iterations": 1}


def _layer_group(width):
    return f"layer {LAYER_BATCH}x{width}->{width}"


@pytest.mark.parametrize("width", LAYER_WIDTHS)
def test_layer_numpy_float32(benchmark, width):
    benchmark.group = _layer_group(width)
    d = layer(width)
    _layer_info(benchmark, width, baseline=True)
    benchmark.pedantic(baselines.numpy_float_dense, (d["xf"], d["wf"]), **_slow_rounds(width))


@pytest.mark.skipif(not HAS_BITWISE_COUNT, reason="np.bitwise_count needs numpy >= 2.0")
@pytest.mark.parametrize("width", LAYER_WIDTHS)
def test_layer_numpy_bitwise_count(benchmark, width):
    benchmark.group = _layer_group(width)
    d = layer(width)
    _layer_info(benchmark, width)
    rounds = {"rounds": 1, "iterations": 1} if width >= 1024 else _slow_rounds(width)
    benchmark.pedantic(baselines.numpy_popcount_dense, (d["xp"], d["wp"], d["k"]), **rounds)


@pytest.mark.parametrize("width", LAYER_WIDTHS)
def test_layer_xnor_popcount(benchmark, width):
    benchmark.group = _layer_group(width)
    d = layer(width)
    _layer_info(benchmark, width)
    out = benchmark(sk.xnor_popcount_dense, d["xp"], d["wp"], d["k"])
    np.testing.assert_array_equal(out[:8], baselines.numpy_float_dense(d["xf"][:8], d["wf"]))


@pytest.mark.parametrize("width", LAYER_WIDTHS)
def test_layer_binary_threshold(benchmark, width):
    benchmark.group = _layer_group(width)
    d = layer(width)
    _layer_info(benchmark, width)
    benchmark(sk.binary_dense_threshold, d["xp"], d["wp"], d["k"], d["t"])


# -- batch-size scaling with peak memory -------------------------------------------------------------------
_MEMORY_PROBE = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
import sqnn_kernels as sk
from benchmarks.test_network import SMALL_NET, random_spec

n = int(sys.argv[1]); seed = int(sys.argv[2])
rng = np.random.default_rng(seed)
spec = random_spec(rng, *SMALL_NET)
sk.predict_scores(spec, rng.standard_normal((1000, SMALL_NET[0]), dtype=np.float32))  # compile / load
x = rng.standard_normal((n, SMALL_NET[0]), dtype=np.float32)

def status(key):  # kB from /proc/self/status (Linux)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

try:  # reset the high-water mark so that VmHWM is the peak of the scoring call alone (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before, hwm = status("VmRSS"), lambda: status("VmHWM")
except OSError:
    before, hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, None
t = time.perf_counter()
out = sk.predict_scores(spec, x)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
extra = (hwm() if hwm else peak) - before
print(json.dumps({"peak_rss_mb": peak / 1024, "rss_before_mb": before / 1024, "input_mb": x.nbytes / 2**20,
                  "output_mb": out.nbytes / 2**20, "inference_extra_mb": extra / 1024, "probe_seconds": dt}))
"""


def peak_memory(n: int, seed: int = 3) -> dict:
    """Memory of a fresh process that scores ``n`` float32 events with the fused engine.

    ``peak_rss_mb``: the process's peak RSS (``ru_maxrss``; includes numba and the input).
    ``inference_extra_mb``: peak RSS during the scoring call minus the RSS just before it (input already
    allocated; Linux ``clear_refs`` resets the high-water mark): what the engine needs beyond the input,
    ideally ≈ the int32 output (4 bytes per event) and nothing that grows faster with n.
    """
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(n), str(seed), str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.benchmark(group=f"batch {net_name(SMALL_NET)}")
def test_batch_sqnn_fused(benchmark, n):
    rng = np.random.default_rng(3)
    spec = random_spec(rng, *SMALL_NET)
    sk.predict_scores(spec, rng.standard_normal((1000, SMALL_NET[0]), dtype=np.float32))
    x = rng.standard_normal((n, SMALL_NET[0]), dtype=np.float32)
    mem = peak_memory(n)
    benchmark.extra_info.update(
        events=n, batch=n, macs=macs_per_event(spec) * n, baseline=n == BATCHES[0],
        **{k: round(v, 3) for k, v in mem.items() if k != "probe_seconds"},
    )
    rounds = max(3, min(10, int(2e6 // n)))  # >= 3: one noisy round must not decide the median
    benchmark.pedantic(sk.predict_scores, (spec, x), rounds=rounds, iterations=1, warmup_rounds=0)


# -- peers: Larq Compute Engine ------------------------------------------------------------------------------
def _lce():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads: larq needs Keras 2
    pytest.importorskip(
        "larq_compute_engine",
        reason="peer benchmarks need the `peers` extra (larq-compute-engine, tensorflow, larq, tf-keras); "
        "see benchmarks/peers.py",
    )
    from benchmarks import peers

    return peers


PEER_WIDTH = 256 if QUICK else 1024
PEER_DENSE_GROUP = f"peer layer {LAYER_BATCH}x{PEER_WIDTH}->{PEER_WIDTH}"
PEER_NET_GROUP = f"peer net {SMALL_GROUP.removeprefix('net ')}"


@pytest.fixture(scope="module")
def peer_dense():
    peers = _lce()
    d = _layer_data(PEER_WIDTH)
    runner = peers.LCEDense(d["wf"], batch=LAYER_BATCH, num_threads=peers.thread_count())
    np.testing.assert_array_equal(runner(d["xf"])[:64], baselines.numpy_float_dense(d["xf"][:64], d["wf"]))
    return d, runner


@pytest.mark.benchmark(group=PEER_DENSE_GROUP)
def test_peer_layer_lce(benchmark, peer_dense):
    d, runner = peer_dense
    _layer_info(benchmark, PEER_WIDTH, baseline=True)
    benchmark(runner, d["xf"])


@pytest.mark.benchmark(group=PEER_DENSE_GROUP)
def test_peer_layer_xnor_popcount(benchmark, peer_dense):
    d, _ = peer_dense
    _layer_info(benchmark, PEER_WIDTH)
    benchmark(sk.xnor_popcount_dense, d["xp"], d["wp"], d["k"])


@pytest.mark.benchmark(group=PEER_DENSE_GROUP)
def test_peer_layer_numpy_float32(benchmark, peer_dense):
    d, _ = peer_dense
    _layer_info(benchmark, PEER_WIDTH)
    benchmark(baselines.numpy_float_dense, d["xf"], d["wf"])


@pytest.fixture(scope="module")
def peer_net(small_net):
    peers = _lce()
    runner = peers.LCENet(small_net["spec"], batch=len(small_net["x"]), num_threads=peers.thread_count())
    x = small_net["x"]
    np.testing.assert_array_equal(runner(x)[:4096], sk.predict_scores(small_net["spec"], x[:4096]))
    return runner


@pytest.mark.benchmark(group=PEER_NET_GROUP)
def test_peer_net_lce(benchmark, small_net, peer_net):
    _info(benchmark, small_net, len(small_net["x"]), baseline=True)
    benchmark(peer_net, small_net["x"])


@pytest.mark.benchmark(group=PEER_NET_GROUP)
def test_peer_net_sqnn_fused(benchmark, small_net, peer_net):
    _info(benchmark, small_net, len(small_net["x"]))
    benchmark(sk.predict_scores, small_net["spec"], small_net["x"])


@pytest.mark.benchmark(group=PEER_NET_GROUP)
def test_peer_net_numpy_float32_mlp(benchmark, small_net, peer_net):
    _info(benchmark, small_net, len(small_net["x"]))
    benchmark(FloatMLP(small_net["spec"]), small_net["x"])
