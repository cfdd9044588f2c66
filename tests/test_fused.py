"""Fused training ops: numba kernels against their numpy twins, gradients against finite differences,
and the same bits for any number of threads."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqnn_kernels import pack_bits, unpack_bits
from training import fused_reference as ref
from training.autograd import Tensor, gradcheck
from training.fused import (
    _activation_table,
    _layer_backward,
    _table_lookup,
    binary_dot,
    binary_layer,
    binary_logit,
    group_code_means,
    n_code_columns,
    sample_pm1,
    stochastic_activation,
    thermometer_layer,
    unpack_pm1,
)


def _category_means(s: np.ndarray, n_cat: int) -> np.ndarray:
    counts = np.maximum(np.bincount(s, minlength=n_cat), 1)
    return (s[None, :] == np.arange(n_cat)[:, None]) / counts[:, None]


@st.composite
def code_cases(draw):
    n = draw(st.integers(0, 40))
    m = draw(st.integers(1, 11))
    size = draw(st.integers(1, min(m, 5)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 1, (n, m)).astype(draw(st.sampled_from([np.float32, np.float64])))
    s = rng.integers(0, 3, n)
    w = rng.uniform(-0.5, 2, n)
    w[rng.random(n) < 0.2] = 0.0  # rows in no category
    return theta, rng.permutation(m), _category_means(s, 3) * w, size, rng


@given(code_cases())
def test_group_code_means_matches_twin(case):
    theta, perm, a, size, rng = case
    eps = 1e-7
    t = Tensor(theta)
    cond = group_code_means(t, perm, a, size, eps)
    assert cond.shape == (3, n_code_columns(theta.shape[1], size)) and cond.data.dtype == theta.dtype
    tol = 1e-6 if theta.dtype == np.float32 else 1e-12
    assert np.allclose(cond.data, ref.codes_forward(theta, perm, a, size, eps), rtol=tol, atol=tol)
    gcond = rng.normal(size=cond.shape)
    cond.backward(gcond)
    expected = ref.codes_backward(theta, perm, a, size, eps, gcond)
    if theta.size:
        assert np.allclose(t.grad, expected, rtol=1e-5 if theta.dtype == np.float32 else 1e-10,
                           atol=tol * np.abs(expected).max())


def test_group_code_means_columns_are_code_probabilities():
    rng = np.random.default_rng(1)
    theta = rng.uniform(0.05, 0.95, (7, 6))
    a = np.eye(7)  # one category per row: cond = P itself
    cond = group_code_means(Tensor(theta), np.arange(6), a, 4, 0.0).data  # groups of 4 and 2
    assert cond.shape == (7, 16 + 4)
    assert np.allclose(cond[:, :16].sum(axis=1), 1.0) and np.allclose(cond[:, 16:].sum(axis=1), 1.0)
    t = theta
    assert np.allclose(cond[:, 0b1011], t[:, 0] * t[:, 1] * (1 - t[:, 2]) * t[:, 3])  # code bit i = neuron i
    assert np.allclose(cond[:, 16 + 0b10], (1 - t[:, 4]) * t[:, 5])


@pytest.mark.parametrize("m,size", [(6, 2), (7, 3), (5, 5)])
def test_group_code_means_gradcheck(m, size):
    rng = np.random.default_rng(m)
    s = np.tile([0, 1, 1, 2], 3)
    perm = rng.permutation(m)
    assert gradcheck(lambda t: group_code_means(t, perm, _category_means(s, 3), size, 1e-7),
                     [rng.uniform(0.05, 0.95, (12, m))])


@given(st.integers(0, 70), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_stochastic_activation_matches_twin(n, m, seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 300))
    dot = rng.integers(-k, k + 1, (n, m)).astype(np.float32)
    b = rng.normal(size=m).astype(np.float32)
    d, bt = Tensor(dot), Tensor(b)
    theta = stochastic_activation(d, bt, k, 32.0)
    assert theta.data.dtype == np.float32
    assert np.allclose(theta.data, ref.activation_forward(dot, b, k, 32.0), rtol=1e-6, atol=1e-7)
    g = rng.normal(size=(n, m)).astype(np.float32)
    theta.backward(g)
    ga = ref.activation_backward(theta.data, g, 32.0)
    assert np.allclose(bt.grad, ga.sum(axis=0), rtol=1e-5, atol=1e-5)
    assert np.allclose(d.grad, ga / k, rtol=1e-5, atol=1e-6)


def test_stochastic_activation_gradcheck():
    rng = np.random.default_rng(3)
    assert gradcheck(lambda d, b: stochastic_activation(d, b, 5, 3.0), [rng.normal(size=(4, 3)) * 5,
                                                                        rng.normal(size=3)])


@st.composite
def layer_cases(draw):
    n = draw(st.integers(0, 70))
    k = draw(st.integers(1, 150))
    m = draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.where(rng.random((n, k)) < 0.5, -1.0, 1.0).astype(np.float32)
    w = rng.uniform(-1.3, 1.3, (k, m)).astype(np.float32)
    w[rng.random((k, m)) < 0.1] = 0.0  # sign(0) = +1
    b = rng.normal(0, 0.3, m).astype(np.float32)
    return x, w, b, rng


def _composed_layer(x, w, b, slope):
    return stochastic_activation(x @ w.sign_ste(), b, w.shape[0], slope)


@given(layer_cases())
def test_binary_layer_is_the_composed_layer_bit_for_bit(case):
    x, w, b, rng = case
    slope = 32.0
    g = rng.normal(size=(x.shape[0], w.shape[1])).astype(np.float32)
    got, want = [], []
    for op, out in ((lambda x_, w_, b_: binary_layer(x_, pack_bits(x), w_, b_, slope), got),
                    (lambda x_, w_, b_: _composed_layer(x_, w_, b_, slope), want)):
        xt, wt, bt = Tensor(x), Tensor(w), Tensor(b)
        theta = op(xt, wt, bt)
        theta.backward(g)
        out += [theta.data, xt.grad, wt.grad, bt.grad]
    for a, e in zip(got, want, strict=True):
        assert a.dtype == e.dtype and np.array_equal(a, e)


@given(layer_cases())
def test_binary_dot_is_the_matrix_product(case):
    x, w, _, rng = case
    xt, wt = Tensor(x), Tensor(w)
    dot = binary_dot(xt, pack_bits(x), wt)
    assert dot.data.dtype == np.float32 and np.array_equal(dot.data, x @ np.where(w >= 0, 1.0, -1.0))
    g = rng.normal(size=dot.shape).astype(np.float32)
    dot.backward(g)
    assert np.allclose(xt.grad, g @ np.where(w >= 0, 1.0, -1.0).T, rtol=1e-5, atol=1e-5)
    assert np.allclose(wt.grad, (x.T @ g) * (np.abs(w) <= 1), rtol=1e-5, atol=1e-5)


@given(st.integers(1, 300), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_activation_table_and_lookup_match_twins(k, m, seed):
    rng = np.random.default_rng(seed)
    b = rng.normal(0, 0.5, m).astype(np.float32)
    table = _activation_table(b, k, 32.0, np.float32)
    grid = np.arange(-k, k + 1, 2)
    assert np.allclose(table, ref.activation_forward(grid[:, None], b, k, 32.0), rtol=1e-6, atol=1e-7)
    dot = rng.choice(grid, size=(int(rng.integers(0, 50)), m)).astype(np.int32)
    theta = np.empty(dot.shape, np.float32)
    _table_lookup.serial(dot, table, np.int32(k), theta)
    assert np.array_equal(theta, ref.table_lookup(dot, table, k))


@given(layer_cases())
def test_binary_logit_is_the_composed_output_layer_bit_for_bit(case):
    x, w, _, rng = case
    w = w[:, :1]
    rho = np.array([rng.normal()], np.float32)
    c = np.array([rng.normal()], np.float32)
    g = rng.normal(size=(x.shape[0], 1)).astype(np.float32)
    got, want = [], []
    for fused, out in ((True, got), (False, want)):
        xt, wt, rt, ct = Tensor(x), Tensor(w), Tensor(rho), Tensor(c)
        if fused:
            z = binary_logit(xt, pack_bits(x), wt, rt, ct)
        else:
            z = x_dot = xt @ wt.sign_ste()
            z = x_dot * (rt.exp() * (1.0 / w.shape[0])) + ct
        z.backward(g)
        out += [z.data, xt.grad, wt.grad, rt.grad, ct.grad]
    for a, e in zip(got, want, strict=True):
        assert a.dtype == e.dtype and np.array_equal(a, e)


def test_binary_logit_gradcheck():
    rng = np.random.default_rng(10)
    x = np.where(rng.random((7, 9)) < 0.5, -1.0, 1.0)
    w = Tensor(rng.uniform(-1, 1, (9, 1)), requires_grad=False)
    assert gradcheck(lambda rho, c: binary_logit(Tensor(x, requires_grad=False), pack_bits(x), w, rho, c),
                     [rng.normal(size=1), rng.normal(size=1)])


@given(st.integers(0, 40), st.integers(1, 200), st.sampled_from([np.float32, np.float64, np.int8]),
       st.integers(0, 2**32 - 1))
def test_unpack_pm1_matches_twin(n, k, dtype, seed):
    packed = pack_bits(np.random.default_rng(seed).random((n, k)) < 0.5)
    got = unpack_pm1(packed, k, dtype)
    assert got.dtype == dtype and np.array_equal(got, ref.unpack_pm1(packed, k, dtype))
    assert np.array_equal(got, 2 * unpack_bits(packed, k).astype(np.int64) - 1)


@given(st.integers(0, 70), st.integers(1, 70), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_layer_backward_matches_twin(n, m, k, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 1, (n, m)).astype(np.float32)
    g = rng.normal(size=(n, m)).astype(np.float32)
    ga, gdot = np.empty((n, m)), np.empty((n, m), np.float32)
    _layer_backward.serial(theta, g, 32.0, 1.0 / k, ga, gdot)
    want = ref.activation_backward(theta, g, 32.0)
    assert np.allclose(ga, want, rtol=1e-12, atol=0)
    assert np.array_equal(gdot, (ga * (1.0 / k)).astype(np.float32))


def test_binary_layer_bias_gradcheck():
    rng = np.random.default_rng(7)
    x = np.where(rng.random((6, 9)) < 0.5, -1.0, 1.0)
    w = Tensor(rng.uniform(-1, 1, (9, 4)), requires_grad=False)
    assert gradcheck(lambda b: binary_layer(Tensor(x, requires_grad=False), pack_bits(x), w, b, 3.0),
                     [rng.normal(size=4)])


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(4)
    n, m = 3000, 64  # large enough for the parallel builds
    theta = rng.uniform(0, 1, (n, m)).astype(np.float32)
    a = _category_means(rng.integers(0, 2, n), 2)
    perm = rng.permutation(m)
    gcond = rng.normal(size=(2, n_code_columns(m, 4)))
    dot = rng.integers(-64, 65, (n, m)).astype(np.float32)
    widths = np.full(18, 16)
    levels = rng.integers(0, 17, (n, 18)).astype(np.uint8)
    w = rng.uniform(-1, 1, (288, m)).astype(np.float32)
    gth = rng.normal(size=(n, m)).astype(np.float32)
    results = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            t, d = Tensor(theta), Tensor(dot)
            group_code_means(t, perm, a, 4, 1e-7).backward(gcond)
            act = stochastic_activation(d, Tensor(np.zeros(m, np.float32)), 64, 32.0)
            act.backward(np.ones((n, m), np.float32))
            wt = Tensor(w)
            th = thermometer_layer(levels, widths, wt, Tensor(np.zeros(m, np.float32)), 32.0)
            th.backward(gth)
            results.append((t.grad, act.data, d.grad, th.data, wt.grad, *sample_pm1(theta, 12345)))
    finally:
        numba.set_num_threads(before)
    for got in results[1:]:
        for x, y in zip(results[0], got, strict=True):
            assert np.array_equal(x, y)


def test_fit_runs_on_the_threads_it_is_given(monkeypatch):
    from threadpoolctl import threadpool_limits

    import training.classifier as classifier

    seen = []
    monkeypatch.setattr(classifier.SQNNClassifier, "_train_loop",
                        lambda self, *args: seen.append(numba.get_num_threads()))
    x = np.random.default_rng(6).normal(size=(40, 2))
    y = np.arange(40) % 2
    n = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(n)
        classifier.SQNNClassifier(hidden=(4,), epochs=1, gamma=0.0).fit(x, y)  # by default: all of them
        with threadpool_limits(limits=1):
            classifier.SQNNClassifier(hidden=(4,), epochs=1, gamma=0.0).fit(x, y)  # a threadpoolctl limit
        numba.set_num_threads(1)
        classifier.SQNNClassifier(hidden=(4,), epochs=1, gamma=0.0).fit(x, y)  # numba's own count
        assert numba.get_num_threads() == 1  # restored
    finally:
        numba.set_num_threads(before)
    assert seen == [n, 1, 1]


def test_fit_lets_idle_openmp_threads_sleep_unless_told_otherwise(monkeypatch):
    import os

    from training import SQNNClassifier

    x = np.random.default_rng(7).normal(size=(40, 2))
    y = np.arange(40) % 2
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    SQNNClassifier(hidden=(4,), epochs=1, gamma=0.0).fit(x, y)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    SQNNClassifier(hidden=(4,), epochs=1, gamma=0.0).fit(x, y)
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"  # the user's choice stays


_FIT_IN_A_PROCESS = """
import hashlib, sys
import numpy as np
import numba
import training.fused as fused
from training import SQNNClassifier

launches = []
_run = fused._run


def run(kernel, work, *args):
    launches.append((work, numba.get_num_threads()))
    _run(kernel, work, *args)


fused._run = run
rng = np.random.default_rng(5)
x = rng.normal(size=(1100, 4))
s = rng.integers(0, 2, 1100)
y = np.where(s == 1, -1, (x[:, 0] + x[:, 1] > 0).astype(int))
model = SQNNClassifier(hidden=(64, 8), epochs=2, batch_size=1024, n_bins=8, random_state=0).fit(x, y, s)
parts = [lay["W"].tobytes() + lay["b"].tobytes() for lay in model.layers_]
parts += [model.output_["W"].tobytes(), model.predict_proba(x).tobytes()]
parts.append(repr(model.history_["loss"]).encode())
threads = max(t for _, t in launches)
big = sum(w >= fused.PARALLEL_MIN_WORK for w, _ in launches)
print(threads, big, hashlib.sha256(b"".join(parts)).hexdigest())
"""


def test_fit_is_the_same_in_processes_with_one_and_two_threads():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = {}
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads, "PYTHONPATH": str(root)}
        proc = subprocess.run([sys.executable, "-c", _FIT_IN_A_PROCESS], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        out[threads] = proc.stdout.split()
    assert out["1"][0] == "1" and out["2"][0] == "2"  # the threads the fused kernels saw
    assert int(out["2"][1]) > 0  # kernels large enough for the parallel builds ran
    assert out["1"][2] == out["2"][2]


@given(st.integers(0, 3), st.integers(0, 70), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**32 - 1))
def test_adam_step_matches_twin_bit_for_bit(steps, size, dtype, seed):
    from training.optim import Adam

    rng = np.random.default_rng(seed)
    p = Tensor(rng.uniform(-1, 1, (size, 3)).astype(dtype))
    q = p.data.copy()
    m, v = np.zeros_like(q), np.zeros_like(q)
    opt = Adam([p], lr=0.01, clip=[p])
    for t in range(1, steps + 1):
        g = rng.normal(0, 1e-3 * t, q.shape).astype(dtype)
        p.grad = g
        opt.step()
        ref.adam_step(q, g, m, v, 0.9, 0.999, 0.01 / (1 - 0.9**t), 1 - 0.999**t, 1e-8)
        np.clip(q, -1.0, 1.0, out=q)
        assert p.data.dtype == dtype and np.array_equal(p.data, q)
        assert np.array_equal(opt.m[0], m) and np.array_equal(opt.v[0], v)


@given(st.integers(0, 200), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_category_rows_matches_twin(n, n_cat, seed):
    from training.fused import category_rows

    rng = np.random.default_rng(seed)
    s = rng.integers(0, n_cat, n)
    w = rng.uniform(-1, 2, n)
    w[rng.random(n) < 0.2] = 0.0  # rows that weigh into no category
    a = np.where(s[None, :] == np.arange(n_cat)[:, None], w[None, :], 0.0)
    got, want = category_rows(a), ref.category_rows(a)
    for x, y in zip(got, want, strict=True):
        assert np.array_equal(x, y)


def test_category_rows_refuses_a_row_in_two_categories():
    from training.fused import category_rows

    a = np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.5]])
    with pytest.raises(ValueError, match="at most one non-zero"):
        category_rows(a)
    with pytest.raises(ValueError, match="at most one non-zero"):
        group_code_means(Tensor(np.full((3, 4), 0.5)), np.arange(4), a, 2, 1e-7)


@st.composite
def thermometer_cases(draw):
    n = draw(st.integers(0, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    widths = rng.integers(1, 40, draw(st.integers(1, 9)))  # k not a multiple of 64, k < 64 and k > 64
    levels = (rng.random((n, widths.size)) * (widths + 1)).astype(np.uint8)
    m = draw(st.integers(1, 70))
    w = rng.uniform(-1.3, 1.3, (int(widths.sum()), m)).astype(np.float32)
    w[rng.random(w.shape) < 0.1] = 0.0  # sign(0) = +1
    b = rng.normal(0, 0.3, m).astype(np.float32)
    return levels, widths, w, b, rng


@given(thermometer_cases())
def test_thermometer_layer_is_the_binary_layer(case):
    levels, widths, w, b, rng = case
    x = ref.thermometer_pm1(levels, widths).astype(np.float32)
    g = rng.normal(size=(x.shape[0], w.shape[1])).astype(np.float32)
    wt, bt, wb, bb = Tensor(w), Tensor(b), Tensor(w), Tensor(b)
    theta = thermometer_layer(levels, widths, wt, bt, 32.0)
    want = binary_layer(Tensor(x, requires_grad=False), pack_bits(x > 0), wb, bb, 32.0)
    assert np.array_equal(theta.data, want.data)  # exact integer dot products, the same activation table
    theta.backward(g)
    want.backward(g)
    assert np.array_equal(bt.grad, bb.grad)
    # float64 per-level sums rounded once against a float32 matrix product
    assert np.allclose(wt.grad, wb.grad, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(wb.grad).max()))


@given(thermometer_cases())
def test_thermometer_kernels_match_twins(case):
    from training.fused import _thermo_weight_grad

    levels, widths, w, _, rng = case
    n, n_feat = levels.shape
    k, m = w.shape
    base = np.cumsum(widths) - widths + np.arange(n_feat)
    ga = rng.normal(size=(n, m))
    gw = np.empty((k, m), dtype=np.float32)
    _thermo_weight_grad.serial(levels, base, widths, ga, 1.0 / k, np.zeros((k + n_feat, m)), gw)
    assert np.allclose(gw, ref.thermometer_weight_grad(levels, widths, ga, k), rtol=1e-6, atol=1e-6)
    x = ref.thermometer_pm1(levels, widths)
    assert x.shape == (n, k) and np.array_equal((x > 0).sum(axis=1), levels.astype(int).sum(axis=1))


def test_thermometer_layer_gradient_is_the_straight_through_product():
    """Float64 check of the weight gradient against ``xᵀ ∂L/∂dot · 1[|W| ≤ 1]`` and of the bias against
    finite differences (the sign has no true derivative: its gradient is the straight-through window)."""
    rng = np.random.default_rng(8)
    widths = np.array([3, 1, 5])
    levels = (rng.random((9, 3)) * (widths + 1)).astype(np.uint8)
    w = rng.uniform(-1.5, 1.5, (9, 4))
    b = rng.normal(0, 0.2, 4)
    x = Tensor(ref.thermometer_pm1(levels, widths), requires_grad=False)
    wt, wc = Tensor(w), Tensor(w)
    g = rng.normal(size=(9, 4))
    thermometer_layer(levels, widths, wt, Tensor(b), 2.0).backward(g)
    stochastic_activation(x @ wc.sign_ste(), Tensor(b), 9, 2.0).backward(g)
    assert np.allclose(wt.grad, wc.grad, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda bt: thermometer_layer(levels, widths, Tensor(w), bt, 2.0), [b])
    with pytest.raises(ValueError, match="widths must sum"):
        thermometer_layer(levels, widths[:2], Tensor(w), Tensor(b), 2.0)


def test_thermometer_levels_are_the_packed_code():
    from training.layers import PackedSigns, fit_edges

    rng = np.random.default_rng(9)
    x = rng.normal(size=(60, 7))
    x[:5] = 0.0  # values on an edge count it (x ≥ edge)
    edges = fit_edges(x, 12)
    code = PackedSigns.encode(x, edges)
    assert code.levels.dtype == np.uint8 and list(code.widths) == [e.size for e in edges]
    assert np.array_equal(ref.thermometer_pm1(code.levels, code.widths), np.asarray(code, dtype=np.float64))
    rows = np.array([3, 0, 59])
    assert np.array_equal(code[rows].levels, code.levels[rows])


@given(st.integers(0, 40), st.integers(1, 150), st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))
def test_sample_pm1_is_bernoulli_pack_unpacked(n, m, seed, data_seed):
    from sqnn_kernels import bernoulli_pack

    rng = np.random.default_rng(data_seed)
    theta = rng.random((n, m)).astype(np.float32)
    theta[rng.random((n, m)) < 0.2] = 1.0
    theta[rng.random((n, m)) < 0.2] = 0.0
    packed, dense = sample_pm1(theta, seed)
    assert np.array_equal(packed, bernoulli_pack(theta, seed))
    assert dense.dtype == np.float32 and np.array_equal(dense, unpack_pm1(packed, m))
    want_packed, want_dense = ref.sample_pm1(theta, seed, np.float32)
    assert np.array_equal(packed, want_packed) and np.array_equal(dense, want_dense)
