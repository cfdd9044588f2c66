"""Reliability: degenerate training data, clear refusals, no global RNG use, atomic saves."""

import os

import numpy as np
import pytest

import sqnn_kernels as sk
from training import SQNNClassifier
from training.baselines import GradientReversalClassifier, MLPBaseline

FAST = {"hidden": (8, 8), "epochs": 2, "batch_size": 256, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 1500
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
    s = rng.integers(0, 2, n)
    X[:, 1] += 0.8 * s  # a domain shift in one feature
    return X, y, s


def _fits_and_predicts(model, X, y, s):
    model.fit(X, y, s)
    p = model.predict_proba(X)[:, 1]
    assert p.shape == (len(X),) and np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    return model


def test_constant_feature_trains(data):
    X, y, s = data
    Xc = X.copy()
    Xc[:, 2] = 7.0
    model = _fits_and_predicts(SQNNClassifier(**FAST), Xc, y, s)
    np.testing.assert_array_equal(model.predict(Xc), sk.predict_scores(model.to_spec(), Xc)[:, 0] >= 0)


def test_single_class_in_one_domain_trains(data):
    X, y, s = data
    y1 = np.where(s == 1, 1, y)
    _fits_and_predicts(SQNNClassifier(**FAST), X, y1, s)


def test_duplicated_rows_train(data):
    X, y, s = data
    idx = np.repeat(np.arange(60), 25)
    _fits_and_predicts(SQNNClassifier(**FAST), X[idx], y[idx], s[idx])


def test_extremely_imbalanced_domains_train(data):
    X, y, s = data
    s_rare = np.zeros_like(s)
    s_rare[:3] = 1  # 3 rows of 1500 in domain 1
    model = _fits_and_predicts(SQNNClassifier(gamma=1.0, **FAST), X, y, s_rare)
    assert np.all(np.isfinite(model.history_["loss"]))


def test_unlabelled_domain_trains(data):
    X, y, s = data
    _fits_and_predicts(SQNNClassifier(gamma=0.5, **FAST), X, np.where(s == 1, -1, y), s)


@pytest.mark.parametrize(
    ("make", "y_kind", "s_kind", "match"),
    [
        (lambda: SQNNClassifier(gamma=0.5, **FAST), "one_class", "ok", "1 class only"),
        (lambda: MLPBaseline(epochs=1, random_state=0), "one_class", "ok", "1 class only"),
        (lambda: SQNNClassifier(gamma=0.5, **FAST), "ok", "one_domain", "one domain only"),
        (lambda: GradientReversalClassifier(strength=1.0, **FAST), "ok", "one_domain", "strength=1"),
        (lambda: SQNNClassifier(gamma=0.5, **FAST), "unlabelled", "ok", "every row of y is unlabelled"),
        (lambda: SQNNClassifier(gamma=-1.0, **FAST), "ok", "ok", "'gamma' parameter"),
        (lambda: SQNNClassifier(**FAST), "ok", "fraction", "integer"),
        (lambda: SQNNClassifier(**FAST), "real", "ok", "Unknown label type: continuous"),
    ],
)
def test_meaningless_fits_are_refused(data, make, y_kind, s_kind, match):
    X, y, s = data
    yy = {"ok": y, "one_class": np.ones_like(y), "unlabelled": -np.ones_like(y), "real": y + 0.5}[y_kind]
    ss = {"ok": s, "one_domain": np.zeros_like(s), "fraction": s + 0.5}[s_kind]
    with pytest.raises(ValueError, match=match):
        make().fit(X, yy, ss)


def test_one_domain_is_fine_without_the_penalty(data):
    X, y, s = data
    _fits_and_predicts(SQNNClassifier(gamma=0.0, **FAST), X, y, np.zeros_like(s))


def test_missing_s_with_a_penalty_warns(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match="no s was given"):
        SQNNClassifier(gamma=0.5, **FAST).fit(X, y)


def test_predict_rejects_wrong_feature_count_and_nan(data):
    X, y, s = data
    model = SQNNClassifier(**FAST).fit(X, y, s)
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:, :3])
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)


def test_global_numpy_rng_is_never_touched(data, tmp_path):
    X, y, s = data
    np.random.seed(1234)  # noqa: NPY002  (the legacy global state is what must stay untouched)
    before = np.random.get_state()  # noqa: NPY002
    model = SQNNClassifier(**FAST).fit(X, y, s)
    model.predict_proba(X)
    model.predict_proba(X, stochastic=True, random_state=5)
    model.save(tmp_path / "m.npz")
    sk.bernoulli_pack(np.full((10, 70), 0.5), 3)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_same_random_state_same_model_and_samples(data):
    X, y, s = data
    a = SQNNClassifier(**FAST).fit(X, y, s)
    b = SQNNClassifier(**FAST).fit(X, y, s)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    sample = {"stochastic": True, "random_state": 9}
    np.testing.assert_array_equal(a.predict_proba(X, **sample), b.predict_proba(X, **sample))
    c = SQNNClassifier(**{**FAST, "random_state": 1}).fit(X, y, s)
    assert not np.array_equal(a.decision_function(X), c.decision_function(X))


def test_interrupted_save_keeps_the_previous_model(data, tmp_path, monkeypatch):
    X, y, s = data
    path = tmp_path / "model.npz"
    first = SQNNClassifier(**FAST).fit(X, y, s)
    first.save(path)
    good = path.read_bytes()
    second = SQNNClassifier(**{**FAST, "random_state": 7}).fit(X, y, s)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between writing the temporary file and the rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        second.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"], "no temporary file left behind"
    np.testing.assert_array_equal(SQNNClassifier.load(path).predict_proba(X), first.predict_proba(X))
