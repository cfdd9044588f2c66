"""training.metrics: distances, adversary AUC, MI with permutation-null bias, the protocol; baselines."""

from __future__ import annotations

import numpy as np
import pytest
from spec_factory import domain_toy

from training import GradientReversalClassifier, MLPBaseline, SQNNClassifier, evaluate_protocol
from training.metrics import (
    adversary_auc,
    cvm_distance,
    invariance_report,
    ks_distance,
    layer_information,
)


def test_ks_and_cvm_against_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.0, size=200)
    assert ks_distance(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert ks_distance(a, a) == 0.0
    assert cvm_distance(a, a) == 0.0
    assert cvm_distance(a, b) > cvm_distance(a, rng.normal(size=200))
    # scipy's CvM statistic T = U / (n m (n + m)) ~ N (n+m) mean (F_a - F_b)^2 / (n m) ... compare ordering
    assert stats.cramervonmises_2samp(a, b).statistic > stats.cramervonmises_2samp(a, a[::-1]).statistic


def test_mi_near_zero_without_dependence_and_positive_with_it():
    rng = np.random.default_rng(1)
    n, m = 4000, 8
    s = rng.integers(0, 2, n)
    theta_indep = rng.uniform(0, 1, (n, m))
    info = layer_information(theta_indep, s, random_state=0)
    # no dependence: the estimate is the plug-in bias, matched by the permutation null
    assert info["per_neuron"] < 5e-3
    assert info["per_neuron_bias"] == pytest.approx(info["per_neuron"], abs=2e-3)
    assert info["per_neuron_corrected"] < 2e-3
    assert info["joint"] < 0.05 and info["joint_corrected"] < 0.01
    theta_dep = theta_indep.copy()
    theta_dep[:, 0] = np.where(s == 1, 0.9, 0.1)  # planted dependence: neuron 0 reads S
    dep = layer_information(theta_dep, s, random_state=0)
    expected = 1.0 - (-(0.9 * np.log2(0.9) + 0.1 * np.log2(0.1)))  # H(1/2) - H(0.9) = 0.531 bits
    assert dep["per_neuron_corrected"] == pytest.approx(expected, abs=0.02)
    assert dep["joint_corrected"] > 0.5


def test_adversary_auc_detects_planted_domain_bit():
    rng = np.random.default_rng(2)
    n = 1500
    s = rng.integers(0, 2, n)
    codes = rng.integers(0, 2, (n, 6))
    assert abs(adversary_auc(codes, s, max_iter=30) - 0.5) < 0.06
    leaky = codes.copy()
    leaky[:, 2] = np.where(rng.random(n) < 0.8, s, 1 - s)
    assert adversary_auc(leaky, s, max_iter=30) > 0.75
    assert adversary_auc(np.zeros((n, 3)), s) == 0.5


def _toy(n=1600, seed=0):
    return domain_toy(n, seed, label=1.2, domain=1.5, domain_feature=3)[:3]


def test_invariance_report_keys_and_values():
    x, y, s = _toy()
    model = SQNNClassifier(hidden=(12, 8), epochs=4, batch_size=256, n_bins=4, gamma=0, random_state=0)
    model.fit(x, np.where(s == 1, -1, y), s)
    rep = invariance_report(model, x, y, s, adversary_max_iter=30)
    assert 0.6 < rep["label_auc"] <= 1 and 0.6 < rep["label_auc_s1"] <= 1
    assert 0.0 <= rep["ks"] <= 1 and rep["cvm"] >= 0
    assert 0.4 < rep["adversary_auc"] < 1
    assert len(rep["mi"]) == 2 and "joint" in rep["mi"][1] and "joint" in rep["mi"][0]


def test_evaluate_protocol_small():
    x, y, s = _toy(1200, seed=3)
    res = evaluate_protocol(
        lambda seed: SQNNClassifier(hidden=(8,), epochs=12, batch_size=64, lr=0.02, n_bins=4, gamma=0.5,
                                   random_state=seed),
        x, y, s, seeds=(0, 1), adversary_max_iter=30,
    )
    assert len(res["runs"]) == 2
    assert res["runs"][0]["label_auc_s1"] != res["runs"][1]["label_auc_s1"]
    assert 0.6 < res["label_auc_s1_mean"] <= 1 and res["label_auc_s1_std"] >= 0
    assert 0.3 < res["adversary_auc_mean"] < 1


def test_mlp_baseline_learns():
    x, y, s = _toy(2000, seed=4)
    m = MLPBaseline(hidden=(16,), epochs=20, batch_size=128, lr=0.01, random_state=0)
    m.fit(x[:1000], y[:1000], s[:1000])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[1000:], m.predict_proba(x[1000:])[:, 1]) > 0.75  # Bayes limit ~0.80
    assert m.transform(x[:5]).shape == (5, 16)
    assert m.loss_curve_[-1] < m.loss_curve_[0]


def test_gradient_reversal_reduces_domain_leak():
    x, y, s = _toy(4000, seed=5)
    x[:, 3] += 1.5 * s  # strong domain feature
    yt = np.where(s == 1, -1, y)
    kw = {"hidden": (16,), "epochs": 30, "batch_size": 256, "n_bins": 4, "random_state": 0}
    plain = SQNNClassifier(gamma=0, **kw).fit(x, yt, s)
    grl = GradientReversalClassifier(strength=1.0, **kw).fit(x, yt, s)
    from sqnn_kernels import per_neuron_mi

    assert per_neuron_mi(grl.activations(x)[0], s) < 0.75 * per_neuron_mi(plain.activations(x)[0], s)
    assert grl.get_params()["strength"] == 1.0
    assert grl.to_spec().widths[-2] == 16


def test_fairness_metrics_match_hand_computed_rates():
    from training.metrics import fairness_metrics

    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    out = fairness_metrics(y, pred, s)
    # P(pred=1|s=0) = 3/4, P(pred=1|s=1) = 1/4; TPR 1 vs 1/2, FPR 1/2 vs 0
    assert out["demographic_parity_difference"] == pytest.approx(0.5)
    assert out["equalized_odds_difference"] == pytest.approx(0.5)


def test_conditional_information_sees_through_the_label():
    from training.metrics import layer_information

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    s = np.where(rng.random(4000) < 0.9, y, 1 - y)  # s follows y
    theta = np.column_stack([y, rng.random(4000)]).astype(float)  # neuron 0 = the label
    info = layer_information(theta, s, y=y)
    assert info["per_neuron_corrected"] > 0.4  # T tells S through Y ...
    assert info["conditional_corrected"] < 0.01  # ... but carries nothing about S given Y


def test_invariance_report_has_fairness_and_conditional_information():
    x, y, s = _toy()
    model = SQNNClassifier(hidden=(12, 8), epochs=4, batch_size=256, n_bins=4, gamma=0, random_state=0)
    model.fit(x, y, s)
    rep = invariance_report(model, x, y, s, adversary=False, fairness=True)
    pred = model.predict(x)
    rates = [pred[s == v].mean() for v in (0, 1)]
    assert rep["demographic_parity_difference"] == pytest.approx(abs(rates[0] - rates[1]))
    assert 0 <= rep["equalized_odds_difference"] <= 1
    assert all("conditional_corrected" in layer for layer in rep["mi"])
    assert "demographic_parity_difference" not in invariance_report(model, x, y, s, adversary=False, mi=False,
                                                                     fairness=False)


def test_evaluate_protocol_all_labelled():
    x, y, s = _toy(800, seed=2)
    seen = {}

    class Spy(SQNNClassifier):
        def fit(self, X, y, s=None):
            seen["unlabelled"] = int(np.sum(np.asarray(y) < 0))
            return super().fit(X, y, s)

    res = evaluate_protocol(lambda seed: Spy(hidden=(8,), epochs=6, batch_size=64, lr=0.02, n_bins=4, gamma=0,
                                             random_state=seed),
                            x, y, s, seeds=(0,), adversary_max_iter=20, unlabelled_domain=None)
    assert seen["unlabelled"] == 0 and 0.5 < res["label_auc_mean"] <= 1
