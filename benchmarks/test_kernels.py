"""Each kernel beside its baseline (pytest-benchmark groups). Run: ``pytest benchmarks --benchmark-enable``.

Thread counts come from the environment: ``NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` for one core;
``python -m benchmarks.report`` runs the suite at 1 and 2 threads and prints ratios measured in one run.
"""

import numpy as np
import pytest

import sqnn_kernels as sk
from benchmarks import baselines
from sqnn_kernels import reference as ref

N, K, M = 4096, 1024, 1024


@pytest.fixture(scope="module")
def dense_data(rng):
    x = rng.integers(0, 2, (N, K)).astype(bool)
    w = rng.integers(0, 2, (M, K)).astype(bool)
    return {
        "xp": sk.pack_bits(x),
        "wp": sk.pack_bits(w),
        "xf": (2 * x.astype(np.float32) - 1),
        "wf": (2 * w.astype(np.float32) - 1),
        "t": np.zeros(M, dtype=np.int32),
    }


@pytest.mark.benchmark(group="dense 4096x1024->1024")
def test_dense_numpy_float32(benchmark, dense_data):
    benchmark.extra_info.update(baseline=True, macs=N * K * M)
    out = benchmark(baselines.numpy_float_dense, dense_data["xf"], dense_data["wf"])
    assert out.shape == (N, M)


@pytest.mark.benchmark(group="dense 4096x1024->1024")
def test_dense_numpy_bitwise_count(benchmark, dense_data):
    benchmark.extra_info.update(macs=N * K * M)
    out = benchmark.pedantic(
        baselines.numpy_popcount_dense, (dense_data["xp"], dense_data["wp"], K), rounds=1, iterations=1
    )
    assert out.shape == (N, M)


@pytest.mark.benchmark(group="dense 4096x1024->1024")
def test_dense_xnor_popcount(benchmark, dense_data):
    benchmark.extra_info.update(macs=N * K * M)
    out = benchmark(sk.xnor_popcount_dense, dense_data["xp"], dense_data["wp"], K)
    expected = baselines.numpy_float_dense(dense_data["xf"][:64], dense_data["wf"])
    np.testing.assert_array_equal(out[:64], expected)


@pytest.mark.benchmark(group="dense 4096x1024->1024")
def test_dense_binary_threshold(benchmark, dense_data):
    benchmark.extra_info.update(macs=N * K * M)
    out = benchmark(sk.binary_dense_threshold, dense_data["xp"], dense_data["wp"], K, dense_data["t"])
    assert out.shape == (N, M // 64)


@pytest.fixture(scope="module")
def probabilities(rng):
    return rng.random((N, K))


@pytest.mark.benchmark(group="bernoulli 4096x1024")
def test_bernoulli_numpy_packbits(benchmark, probabilities):
    benchmark.extra_info.update(baseline=True)
    gen = np.random.default_rng(0)
    benchmark(baselines.numpy_bernoulli_packbits, probabilities, gen)


@pytest.mark.benchmark(group="bernoulli 4096x1024")
def test_bernoulli_pack(benchmark, probabilities):
    out = benchmark(sk.bernoulli_pack, probabilities, 1)
    assert out.shape == (N, K // 64)


@pytest.fixture(scope="module")
def mi_data(rng):
    return rng.random((1_000_000, 64)), rng.integers(0, 2, 1_000_000)


@pytest.mark.benchmark(group="per_neuron_mi 1000000x64")
def test_per_neuron_mi_numpy_twin(benchmark, mi_data):
    benchmark.extra_info.update(baseline=True)
    benchmark.pedantic(ref.per_neuron_mi, mi_data, rounds=3, iterations=1)


@pytest.mark.benchmark(group="per_neuron_mi 1000000x64")
def test_per_neuron_mi(benchmark, mi_data):
    value = benchmark(sk.per_neuron_mi, *mi_data)
    assert value == pytest.approx(ref.per_neuron_mi(*mi_data), rel=1e-9)


@pytest.fixture(scope="module")
def features(rng):
    x = rng.normal(size=(100_000, 45))
    edges = [np.quantile(col, np.linspace(0, 1, 10)[1:-1]) for col in x.T]
    return x, edges


@pytest.mark.benchmark(group="thermometer 100000x45x8")
def test_thermometer_numpy_twin(benchmark, features):
    benchmark.extra_info.update(baseline=True)
    benchmark(ref.thermometer_encode, *features)


@pytest.mark.benchmark(group="thermometer 100000x45x8")
def test_thermometer_encode(benchmark, features):
    benchmark(sk.thermometer_encode, *features)


@pytest.mark.benchmark(group="pack 4096x1024")
def test_pack_numpy_packbits(benchmark, dense_data):
    benchmark.extra_info.update(baseline=True)
    x = dense_data["xf"] > 0
    benchmark(np.packbits, x, axis=1, bitorder="little")


@pytest.mark.benchmark(group="pack 4096x1024")
def test_pack_bits(benchmark, dense_data):
    x = dense_data["xf"] > 0
    benchmark(sk.pack_bits, x)
