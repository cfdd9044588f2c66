"""The scikit-learn contract of the estimators beyond the generic checks: fitted state, feature names,
labels of any kind and the unlabelled marker, hyper-parameter validation, input rejection, routing of s."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from spec_factory import domain_toy

from training import GradientReversalClassifier, MLPBaseline, SQNNClassifier
from training.metrics import invariance_report

FAST = {"hidden": (8,), "epochs": 3, "batch_size": 128, "n_bins": 4, "random_state": 0}


def data(n=300, seed=0):
    return domain_toy(n, seed)[:3]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "transform",
                                    "activations", "to_spec", "save"])
def test_not_fitted_error_before_fit(method, tmp_path):
    x, _, _ = data(10)
    args = () if method == "to_spec" else (tmp_path / "m.npz",) if method == "save" else (x,)
    with pytest.raises(NotFittedError):
        getattr(SQNNClassifier(), method)(*args)


def _state(model) -> dict[str, bytes]:
    """Every attribute of the estimator; the spec by its fields (the engine may memoise tables on it)."""
    out = {k: pickle.dumps(v) for k, v in vars(model).items() if k != "spec_"}
    spec = model.spec_
    out["spec_"] = pickle.dumps((spec.edges, spec.layers, spec.output, spec.feature_names))
    return out


def test_predict_does_not_mutate_the_estimator():
    x, y, s = data()
    model = SQNNClassifier(**FAST).fit(x, y, s)
    before = _state(model)
    spec = model.to_spec()
    model.predict(x)
    model.predict_proba(x, stochastic=True, random_state=1)
    model.transform(x)
    assert model.to_spec() is spec and _state(model) == before


def test_feature_names_checked_at_predict_and_saved(tmp_path):
    x, y, s = data()
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    model = SQNNClassifier(**FAST).fit(df, y, s)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"] and model.n_features_in_ == 4
    assert model.to_spec().feature_names == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(df[["d", "c", "b", "a"]])  # reordered: an error, not permuted inputs
    with pytest.raises(ValueError, match="feature names"):
        model.predict(df.set_axis(["p", "q", "r", "t"], axis=1))
    model.save(tmp_path / "m.npz")
    loaded = SQNNClassifier.load(tmp_path / "m.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.predict_proba(df), model.predict_proba(df))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(df[["b", "a", "c", "d"]])
    assert list(model.get_feature_names_out()) == [f"sqnnclassifier{i}" for i in range(8)]
    out = model.set_output(transform="pandas").transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(model.get_feature_names_out())
    with pytest.raises(ValueError, match="layers='all' needs"):
        model.transform(df, layers="all")
    assert model.set_output(transform="default").transform(df, layers="all").shape == (len(df), 8)


def test_any_labels_and_the_unlabelled_marker():
    x, y, s = data()
    names = np.array(["gluon", "quark"])[y]
    m = SQNNClassifier(**FAST).fit(x, names, s)
    assert list(m.classes_) == ["gluon", "quark"] and set(m.predict(x)) <= {"gluon", "quark"}
    pm = np.where(y == 1, 1, -1)
    m_pm = SQNNClassifier(unlabelled=None, **FAST).fit(x, pm, s)
    assert list(m_pm.classes_) == [-1, 1]
    m01 = SQNNClassifier(**FAST).fit(x, y, s)
    np.testing.assert_array_equal(m_pm.predict(x) == 1, m01.predict(x) == 1)  # same model, other names
    y_str_unl = np.where(s == 1, "?", names)
    m_q = SQNNClassifier(unlabelled="?", **FAST).fit(x, y_str_unl, s)
    assert list(m_q.classes_) == ["gluon", "quark"]
    with pytest.raises(ValueError, match=r"1 class only.*pass unlabelled=None"):  # default marker: ±1
        SQNNClassifier(**FAST).fit(x, pm, s)


def test_score_counts_labelled_rows_only():
    x, y, s = data()
    model = SQNNClassifier(**FAST).fit(x, y, s)
    y_unl = np.where(s == 1, -1, y)
    lab = y_unl >= 0
    expected = np.mean(model.predict(x[lab]) == y[lab])
    assert model.score(x, y_unl) == pytest.approx(expected)
    assert model.score(x, y_unl) != pytest.approx(np.mean(model.predict(x) == y_unl))


def test_s_is_routed_by_default_under_metadata_routing():
    import sklearn
    from sklearn.model_selection import GridSearchCV

    x, y, s = data()
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(SQNNClassifier(**FAST), {"gamma": [0.0, 0.5]}, cv=2)
        search.fit(x, np.where(s == 1, -1, y), s=s)  # no set_fit_request(s=True) needed
    assert search.best_params_["gamma"] in (0.0, 0.5)


def test_numpy_hyper_parameters_train_and_save_as_python_numbers(tmp_path):
    x, y, s = data()
    model = SQNNClassifier(hidden=(np.int64(8), np.int32(4)), n_bins=np.int64(4), epochs=np.int64(2),
                           batch_size=np.int64(128), random_state=np.int64(3), gamma=np.float32(0.5))
    model.fit(x, y, s).save(tmp_path / "m.npz")
    loaded = SQNNClassifier.load(tmp_path / "m.npz")
    assert loaded.random_state == 3 and type(loaded.random_state) is int
    assert loaded.hidden == (8, 4) and all(type(h) is int for h in loaded.hidden)
    import sqnn_kernels as sk

    _, extra = sk.BinaryNetSpec.from_npz(tmp_path / "m.npz", return_extra=True)
    assert json.loads(str(extra["params_json"]))["random_state"] == 3


BAD_PARAMS = [
    ({"gamma": "0.5"}, TypeError, "'gamma' parameter"),
    ({"epochs": True}, TypeError, "'epochs' parameter"),
    ({"epochs": 0}, ValueError, "'epochs' parameter"),
    ({"mi_momentum": 5}, ValueError, "'mi_momentum' parameter"),
    ({"mi_momentum": -1}, ValueError, "'mi_momentum' parameter"),
    ({"mi_momentum": float("nan")}, ValueError, "'mi_momentum' parameter"),
    ({"mi_group_size": 8, "hidden": (4,)}, ValueError, "mi_group_size=8 exceeds the 4 neurons"),
    ({"hidden": (4, True)}, TypeError, "'hidden' parameter"),
    ({"hidden": ()}, ValueError, "'hidden' parameter"),
    ({"random_state": -1}, ValueError, "'random_state' parameter"),
]


@pytest.mark.parametrize(("params", "exc", "match"), BAD_PARAMS)
def test_hyper_parameter_errors(params, exc, match):
    x, y, s = data(50)
    with pytest.raises(exc, match=match):
        SQNNClassifier(**{**FAST, **params}).fit(x, y, s)


def test_gradient_reversal_keeps_every_parameter_through_clone():
    grl = GradientReversalClassifier(mi_group_size=2, mi_momentum=0.5, unlabelled=None)
    c = clone(grl)
    assert (c.mi_group_size, c.mi_momentum, c.unlabelled) == (2, 0.5, None)
    assert set(SQNNClassifier().get_params()) <= set(grl.get_params())


@pytest.mark.parametrize("make", [lambda: SQNNClassifier(**FAST), lambda: MLPBaseline(epochs=1)])
def test_complex_and_sparse_inputs_are_rejected(make):
    import scipy.sparse

    x, y, s = data(50)
    with pytest.raises(ValueError, match="Complex data not supported"):
        make().fit(x + 1j, y, s)
    with pytest.raises(TypeError, match=r"[Ss]parse data was passed"):
        make().fit(scipy.sparse.csr_matrix(x), y, s)
    model = make().fit(x, y, s)
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.predict(x.astype(complex))
    with pytest.raises(TypeError, match=r"[Ss]parse data was passed"):
        model.predict(scipy.sparse.csr_matrix(x))


def test_invariance_report_rejects_fractional_s():
    x, y, s = data()
    model = SQNNClassifier(**FAST).fit(x, y, s)
    with pytest.raises(ValueError, match="s must hold integer"):
        invariance_report(model, x, y, np.where(s == 1, 0.7, 0.3), adversary=False)


def test_invariance_scorer_selects_without_target_labels():
    import sklearn
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV

    import sqnn_kernels as sk
    from training import InvarianceScorer

    x, y, s = data(400)
    y_unl = np.where(s == 1, -1, y)
    scorer = InvarianceScorer(penalty=1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(SQNNClassifier(**FAST), {"gamma": [0.0, 2.0]}, cv=2, scoring=scorer)
        search.fit(x, y_unl, s=s)  # the scorer receives each test fold's s
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    m = SQNNClassifier(**FAST).fit(x, y_unl, s)
    lab = y_unl >= 0
    auc = roc_auc_score(y[lab], m.predict_proba(x[lab])[:, 1])
    mi = sum(sk.per_neuron_mi(t, s) for t in m.activations(x))
    assert mi > 0
    assert scorer(m, x, y_unl, s=s) == pytest.approx(auc - mi, rel=1e-9)
    assert InvarianceScorer(penalty=0.0)(m, x, y_unl, s=s) == pytest.approx(auc)
    adv = InvarianceScorer(measure="adversary", adversary_max_iter=10)(m, x, y_unl, s=s)
    assert adv <= auc
    with pytest.raises(ValueError, match="needs s"):
        scorer(m, x, y_unl)


def test_kernel_path_rejects_complex_and_sparse_inputs():
    """The same fault on the spec path (sqnn_kernels.predict_scores / forward), not only in the estimator."""
    import scipy.sparse

    import sqnn_kernels as sk

    x, y, s = data(50)
    spec = SQNNClassifier(**FAST).fit(x, y, s).to_spec()
    for run in (sk.predict_scores, sk.forward):
        with pytest.raises(TypeError, match="real numbers"):
            run(spec, x + 0.5j)
        with pytest.raises(TypeError, match=r"sparse matrix \(csr_matrix\).*toarray"):
            run(spec, scipy.sparse.csr_matrix(x))
