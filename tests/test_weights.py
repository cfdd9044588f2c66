"""Event weights: the weighted loss, gradient and metrics equal replicated rows; weight 0 equals a dropped
row; weights of one change nothing; negative weights train."""

from __future__ import annotations

import numpy as np
import pytest
from spec_factory import domain_toy

from training import GradientReversalClassifier, MLPBaseline, SQNNClassifier, evaluate_protocol
from training.autograd import Tensor
from training.losses import bce_with_logits, layer_mi, softmax_cross_entropy
from training.metrics import cvm_distance, invariance_report, ks_distance

FAST = {"hidden": (8,), "epochs": 3, "batch_size": 64, "n_bins": 4, "random_state": 0}


def _rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(-1, 2, n)
    y[:4] = [0, 1, 0, 1]
    s = rng.integers(0, 3, n)
    w = rng.integers(0, 4, n).astype(np.float64)
    w[:4] = [1, 2, 3, 1]
    return rng, y, s, w, np.repeat(np.arange(n), w.astype(int))


def _summed(grad_rep: np.ndarray, rep: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, *grad_rep.shape[1:]))
    np.add.at(out, rep, grad_rep)
    return out


@pytest.mark.parametrize("kind", ["binary", "softmax"])
def test_weighted_cross_entropy_equals_replicated_rows(kind):
    rng, y, _, w, rep = _rows()
    n = len(y)
    if kind == "binary":
        z = rng.normal(size=n)
        loss_fn = bce_with_logits
    else:
        y = np.where(y >= 0, rng.integers(0, 4, n), -1)
        z = rng.normal(size=(n, 4))
        loss_fn = softmax_cross_entropy
    zw, zr = Tensor(z.copy()), Tensor(z[rep].copy())
    lab = y >= 0
    lw = loss_fn(zw, y, w, weight_mean=float(w[lab].mean()))
    lr = loss_fn(zr, y[rep])
    lw.backward()
    lr.backward()
    assert float(lw.data) == pytest.approx(float(lr.data), rel=1e-13)
    np.testing.assert_allclose(zw.grad, _summed(zr.grad, rep, n), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["per_neuron", "joint", "grouped", "conditional"])
def test_weighted_information_equals_replicated_rows(kind):
    rng, y, s, w, rep = _rows()
    n = len(y)
    theta = rng.uniform(0.05, 0.95, size=(n, 6))
    tw, tr = Tensor(theta.copy()), Tensor(theta[rep].copy())
    iw = layer_mi(tw, s, kind, y, 3, 3, np.random.default_rng(5), w=w)
    ir = layer_mi(tr, s[rep], kind, y[rep], 3, 3, np.random.default_rng(5))
    iw.backward()
    ir.backward()
    assert float(iw.data) > 0
    assert float(iw.data) == pytest.approx(float(ir.data), rel=1e-12)
    np.testing.assert_allclose(tw.grad, _summed(tr.grad, rep, n), rtol=1e-10, atol=1e-13)


def _data(n=400, seed=0):
    x, y, s, rng = domain_toy(n, seed)
    return x, np.where((s == 1) & (rng.random(n) < 0.5), -1, y), s, rng


MODELS = [
    lambda: SQNNClassifier(gamma=0.5, **FAST),
    lambda: GradientReversalClassifier(**FAST),
    lambda: MLPBaseline(hidden=(8,), epochs=3, batch_size=64, random_state=0),
]


@pytest.mark.parametrize("make", MODELS)
def test_zero_weights_equal_dropped_rows_and_ones_equal_none(make):
    x, y, s, rng = _data()
    w = np.where(rng.random(len(x)) < 0.2, 0.0, 1.0)
    keep = w != 0
    a = make().fit(x, y, s, sample_weight=w)
    b = make().fit(x[keep], y[keep], s[keep])
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    c = make().fit(x, y, s, sample_weight=np.ones(len(x)))
    d = make().fit(x, y, s)
    np.testing.assert_array_equal(c.predict_proba(x), d.predict_proba(x))


def test_weights_change_the_model_and_negative_weights_train():
    x, y, s, rng = _data()
    base = SQNNClassifier(gamma=0.5, **FAST).fit(x, y, s)
    w = rng.uniform(0.2, 3.0, len(x))
    other = SQNNClassifier(gamma=0.5, **FAST).fit(x, y, s, sample_weight=w)
    assert not np.array_equal(base.predict_proba(x), other.predict_proba(x))
    w_neg = np.where(rng.random(len(x)) < 0.1, -0.5, 1.0)  # NLO-style negative weights
    neg = SQNNClassifier(gamma=0.5, **FAST).fit(x, y, s, sample_weight=w_neg)
    assert np.all(np.isfinite(neg.history_["loss"])) and np.all(np.isfinite(neg.predict_proba(x)))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        SQNNClassifier(**FAST).fit(x, y, s, sample_weight=w[:-1])
    with pytest.raises(ValueError, match="positive"):
        SQNNClassifier(**FAST).fit(x, y, s, sample_weight=-np.ones(len(x)))


def test_weighted_metrics_equal_replicated_rows():
    x, y, s, rng = _data()
    model = SQNNClassifier(gamma=0.5, **FAST).fit(x, y, s)
    y_true = np.where(y < 0, 1, y)
    w = rng.integers(1, 4, len(x)).astype(np.float64)
    rep = np.repeat(np.arange(len(x)), w.astype(int))
    a = invariance_report(model, x, y_true, s, adversary=False, sample_weight=w)
    ones = np.ones(len(rep))  # the same (weighted) estimators on the replicated rows
    b = invariance_report(model, x[rep], y_true[rep], s[rep], adversary=False, sample_weight=ones)
    for key in ("label_auc", "label_auc_s0", "label_auc_s1", "ks", "cvm"):
        assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for la, lb in zip(a["mi"], b["mi"], strict=True):
        assert la["per_neuron"] == pytest.approx(lb["per_neuron"], rel=1e-9)
        assert la["joint"] == pytest.approx(lb["joint"], rel=1e-9)
    p = rng.normal(size=50)
    q = rng.normal(0.5, 1, size=30)
    wp, wq = rng.integers(1, 3, 50), rng.integers(1, 3, 30)
    assert ks_distance(p, q, wp, wq) == pytest.approx(ks_distance(np.repeat(p, wp), np.repeat(q, wq)))
    assert cvm_distance(p, q, wp, wq) == pytest.approx(cvm_distance(np.repeat(p, wp), np.repeat(q, wq)))


def test_evaluate_protocol_takes_weights():
    x, y, s, _ = _data(300)
    y = np.where(y < 0, 0, y)
    def make(seed):
        return SQNNClassifier(gamma=0.5, **{**FAST, "random_state": seed})

    runs = [evaluate_protocol(make, x, y, s, seeds=(0,), adversary_max_iter=10, sample_weight=w)
            for w in (None, np.ones(len(x)))]
    for key in ("label_auc_s1", "label_auc_s0", "adversary_auc", "ks"):
        assert runs[0][f"{key}_mean"] == runs[1][f"{key}_mean"], key


def test_integer_weights_equal_repeated_rows_where_the_batch_order_allows():
    """One full batch and no sampling (the float MLP): the fit with integer weights equals the fit on repeated
    rows up to the summation order of the batch (the SQNNs also draw Bernoulli samples per row position)."""
    x, y, s, rng = _data(200)
    w = rng.integers(1, 4, len(x)).astype(np.float64)
    rep = np.repeat(np.arange(len(x)), w.astype(int))
    kw = {"hidden": (8,), "epochs": 5, "batch_size": 10_000, "random_state": 0}
    a = MLPBaseline(**kw).fit(x, y, s, sample_weight=w)
    b = MLPBaseline(**kw).fit(x[rep], y[rep], s[rep])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), rtol=0, atol=1e-5)
