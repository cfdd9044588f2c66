"""SQNNClassifier: folding to the spec, persistence, sklearn contract, reproducibility, input errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import sqnn_kernels as sk
from training import SQNNClassifier
from training.autograd import Tensor
from training.classifier import stratified_batches
from training.layers import fires, fit_edges, fold_thresholds
from training.losses import bce_with_logits

FAST = {"hidden": (16, 8), "epochs": 4, "batch_size": 256, "n_bins": 4}


def toy(n=1200, seed=0, shift=0.8):
    """Two informative features, one domain-shifted feature, labels hidden for half of s = 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4))
    x[:, 0] += 1.5 * y
    x[:, 1] -= 1.0 * y
    x[:, 2] += shift * s
    y_train = np.where((s == 1) & (rng.random(n) < 0.5), -1, y)
    return x, y, y_train, s


@pytest.fixture(scope="module")
def fitted():
    x, y, y_train, s = toy()
    return SQNNClassifier(gamma=0.5, random_state=3, **FAST).fit(x, y_train, s), x, y, s


def test_predict_matches_spec_bit_for_bit(fitted):
    model, x, _, _ = fitted
    spec = model.to_spec()
    scores = sk.predict_scores(spec, x)[:, 0].astype(np.float64)
    logit = spec.output.scale * scores + spec.output.offset
    assert np.array_equal(model.decision_function(x), logit)
    assert np.array_equal(model.predict(x), (logit > 0).astype(int))
    p = 1.0 / (1.0 + np.exp(-logit))
    assert np.allclose(model.predict_proba(x)[:, 1], p, rtol=0, atol=1e-15)


def test_dense_deterministic_rule_equals_folded_thresholds(fitted):
    model, x, _, _ = fitted
    dense_bits = [(t >= 0.5).astype(np.uint8) for t in model.activations(x)]
    _, hidden = sk.forward(model.to_spec(), x)
    for bits, packed, lay in zip(dense_bits, hidden, model.layers_, strict=True):
        assert np.array_equal(bits, sk.unpack_bits(packed, lay["W"].shape[1]))
    assert np.array_equal(model.transform(x), dense_bits[-1])
    assert np.array_equal(model.transform(x, layers="all"), np.hstack(dense_bits))


def test_fold_thresholds_exact_on_grid():
    rng = np.random.default_rng(1)
    k = 37
    b = np.concatenate([rng.uniform(-40, 40, 50), [-10.0, 0.0, 3.0, 37.5, -37.0, -100.0]])
    for slope in (1.0, 8.0, 32.0):
        t = fold_thresholds(b, slope, k)
        grid = np.arange(-k, k + 1)[:, None]
        assert np.array_equal(grid >= t[None, :], fires(grid, b[None, :], slope, k))
    assert fold_thresholds(np.array([-100.0]), 8.0, k)[0] == k + 1  # never fires


def test_edges_quantiles_deduplicated():
    x = np.column_stack([np.arange(100.0), np.repeat([0.0, 1.0], 50), np.zeros(100)])
    edges = fit_edges(x, 8)
    assert len(edges[0]) == 8 and np.all(np.diff(edges[0]) > 0)
    assert edges[1].tolist() == [0.0, 1.0]
    assert edges[2].tolist() == [0.0]


def test_learns_toy_problem_and_loss_decreases():
    x, _, y_train, s = toy(2000, seed=5)
    model = SQNNClassifier(gamma=0.0, random_state=0, **{**FAST, "epochs": 8}).fit(x, y_train, s)
    loss = model.history_["ce"]
    assert loss[-1] < loss[0] - 0.05
    xt, yt, _, _ = toy(2000, seed=6)
    assert roc_auc_score(yt, model.predict_proba(xt)[:, 1]) > 0.8


def test_unlabelled_rows_do_not_change_cross_entropy():
    rng = np.random.default_rng(2)
    z1 = rng.normal(size=10)
    z2 = z1.copy()
    y = np.array([1, 0, -1, -1, 1, 0, -1, 1, 0, -1])
    z2[y == -1] += rng.normal(size=(y == -1).sum()) * 5  # change only unlabelled rows
    t1, t2 = Tensor(z1), Tensor(z2)
    l1, l2 = bce_with_logits(t1, y), bce_with_logits(t2, y)
    assert float(l1.data) == float(l2.data)
    l1.backward()
    l2.backward()
    assert np.array_equal(t1.grad, t2.grad)
    assert np.all(t1.grad[y == -1] == 0) and np.all(t1.grad[y >= 0] != 0)
    expected = -np.mean([np.log(1 / (1 + np.exp(-z))) if c == 1 else np.log(1 - 1 / (1 + np.exp(-z)))
                         for z, c in zip(z1, y, strict=True) if c >= 0])
    assert float(l1.data) == pytest.approx(expected, rel=1e-12)


def test_gamma_zero_unlabelled_features_do_not_matter():
    """With γ = 0, features of y = −1 rows change only the edges; fix the edges by keeping X's quantiles."""
    x, _, y_train, s = toy(800, seed=8)
    x2 = x.copy()
    unl = np.flatnonzero(y_train == -1)
    x2[unl] = x[np.random.default_rng(0).permutation(unl)]  # permute unlabelled rows among themselves
    a = SQNNClassifier(gamma=0.0, random_state=1, **FAST).fit(x, y_train, s)
    b = SQNNClassifier(gamma=0.0, random_state=1, **FAST).fit(x2, y_train, s)
    # Same quantiles, same batches of labelled rows: the cross-entropy history is identical.
    assert np.allclose(a.history_["ce"], b.history_["ce"], rtol=1e-6)


def test_save_load_round_trip(tmp_path, fitted):
    model, x, _, _ = fitted
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = SQNNClassifier.load(path)
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert np.array_equal(loaded.transform(x, layers="all"), model.transform(x, layers="all"))
    p1 = model.predict_proba(x, stochastic=True, random_state=4)
    p2 = loaded.predict_proba(x, stochastic=True, random_state=4)
    assert np.array_equal(p1, p2)
    # the file is a plain BinaryNetSpec file too
    spec = sk.BinaryNetSpec.from_npz(path)
    assert np.array_equal(sk.predict_scores(spec, x), sk.predict_scores(model.to_spec(), x))
    # corrupt file -> clear error
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        SQNNClassifier.load(bad)


def test_stochastic_inference(fitted):
    model, x, _, _ = fitted
    det = model.predict_proba(x)[:, 1]
    a = model.predict_proba(x, stochastic=True, random_state=1)[:, 1]
    b = model.predict_proba(x, stochastic=True, random_state=1)[:, 1]
    c = model.predict_proba(x, stochastic=True, random_state=2)[:, 1]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    avg = model.predict_proba(x, stochastic=True, random_state=1, n_samples=20)[:, 1]
    assert np.corrcoef(avg, det)[0, 1] > 0.8


def test_sklearn_clone_get_set_params():
    m = SQNNClassifier(gamma=2.0, hidden=(8,), random_state=7)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    c.set_params(gamma=0.1, mi="joint")
    assert c.gamma == 0.1 and c.mi == "joint" and m.gamma == 2.0
    assert not hasattr(c, "layers_")
    assert set(m.get_params()) >= {"hidden", "gamma", "mi", "n_bins", "slope", "epochs", "batch_size", "lr",
                                   "random_state", "verbose"}


def test_reproducible_and_global_rng_untouched():
    x, _, y_train, s = toy(600, seed=9)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what must stay untouched
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = SQNNClassifier(random_state=11, **FAST).fit(x, y_train, s)
    b = SQNNClassifier(random_state=11, **FAST).fit(x, y_train, s)
    c = SQNNClassifier(random_state=12, **FAST).fit(x, y_train, s)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    for la, lb in zip(a.layers_, b.layers_, strict=True):
        assert np.array_equal(la["W"], lb["W"]) and np.array_equal(la["b"], lb["b"])
    assert np.array_equal(a.decision_function(x), b.decision_function(x))
    assert not np.array_equal(a.layers_[0]["W"], c.layers_[0]["W"])


def test_stratified_batches_cover_every_cell():
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2, 3], [500, 300, 150, 50])
    batches = stratified_batches(groups, 100, rng)
    assert len(batches) == 10
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    for b in batches:
        assert set(groups[b]) == {0, 1, 2, 3}


def test_gamma_reduces_domain_information():
    x, _, y_train, s = toy(1500, seed=4, shift=2.0)
    kw = {**FAST, "epochs": 6, "hidden": (16,)}
    plain = SQNNClassifier(gamma=0.0, random_state=0, **kw).fit(x, y_train, s)
    fair = SQNNClassifier(gamma=5.0, random_state=0, **kw).fit(x, y_train, s)
    mi_plain = sk.per_neuron_mi(plain.activations(x)[0], s)
    mi_fair = sk.per_neuron_mi(fair.activations(x)[0], s)
    assert mi_fair < 0.5 * mi_plain


@pytest.mark.parametrize("mi", ["joint", "conditional", "grouped"])
def test_other_mi_kinds_train(mi):
    x, _, y_train, s = toy(400, seed=1)
    y_lab = np.where(y_train == -1, 0, y_train)  # conditional needs labelled rows of both domains
    m = SQNNClassifier(gamma=1.0, mi=mi, random_state=0, **{**FAST, "hidden": (6,), "epochs": 2})
    m.fit(x, y_lab, s)
    assert np.all(np.isfinite(m.history_["loss"]))


BAD = [
    (lambda x, y, s: (np.where(np.arange(len(x))[:, None] == 3, np.nan, x), y, s), "NaN"),
    (lambda x, y, s: (x[:, 0], y, s), "2D array"),
    (lambda x, y, s: (x, y[:-1], s), "inconsistent numbers of samples"),
    (lambda x, y, s: (x, np.where(y == 1, 0.3, y), s), "Unknown label type"),
    (lambda x, y, s: (x, np.full_like(y, -1), s), "unlabelled"),
    (lambda x, y, s: (x, np.where(y == 1, 0, y), s), "1 class"),
    (lambda x, y, s: (x, y, s + 0.5), "integer"),
    (lambda x, y, s: (np.where(np.arange(len(x))[:, None] == 0, np.inf, x), y, s), "infinity"),
]


@pytest.mark.parametrize(("mutate", "match"), BAD)
def test_clear_errors(mutate, match):
    x, _, y_train, s = toy(50)
    args = mutate(x, y_train, s.astype(np.float64))
    with pytest.raises(ValueError, match=match):
        SQNNClassifier(**FAST).fit(*args)


def test_parameter_errors():
    x, _, y_train, s = toy(50)
    with pytest.raises(ValueError, match="gamma"):
        SQNNClassifier(gamma=-1).fit(x, y_train, s)
    with pytest.raises(ValueError, match="'mi' parameter"):
        SQNNClassifier(mi="nope").fit(x, y_train, s)
    with pytest.raises(ValueError, match="at most 16 neurons"):
        SQNNClassifier(mi="joint", hidden=(32,)).fit(x, y_train, s)
    with pytest.raises(ValueError, match="conditional"):
        SQNNClassifier(mi="conditional", **FAST).fit(x, np.where(s == 1, -1, y_train), s)
    m = SQNNClassifier(random_state=0, **FAST).fit(x, y_train, s)
    with pytest.raises(ValueError, match="features"):
        m.predict(x[:, :3])


@pytest.mark.slow
def test_same_model_on_one_and_two_threads():
    """Training and inference do not depend on NUMBA_NUM_THREADS (fresh interpreters)."""
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, numpy as np\n"
        "from tests.test_training import toy, FAST\n"
        "from training import SQNNClassifier\n"
        "x, _, yt, s = toy(800, seed=2)\n"
        "m = SQNNClassifier(random_state=5, **FAST).fit(x, yt, s)\n"
        "h = hashlib.sha256()\n"
        "for lay in m.layers_: h.update(lay['W'].tobytes()); h.update(lay['b'].tobytes())\n"
        "h.update(m.decision_function(x).tobytes())\n"
        "h.update(m.predict_proba(x, stochastic=True, random_state=1).tobytes())\n"
        "print(h.hexdigest())\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digests = []
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads, "PYTHONPATH": root}
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True,
                             timeout=300, check=True)
        digests.append(out.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1] and len(digests[0]) == 64
