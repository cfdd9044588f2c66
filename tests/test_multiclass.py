"""K >= 3 classes: softmax output trained by cross-entropy; spec, fused engine, layered path, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from spec_factory import JET_CLASSES, five_class_data, five_class_spec

import sqnn_kernels as sk
from sqnn_kernels.engine import supports
from sqnn_kernels.scoring import probabilities
from training import GradientReversalClassifier, MLPBaseline, SQNNClassifier
from training.autograd import Tensor
from training.losses import softmax_cross_entropy

FAST = {"hidden": (24, 12), "epochs": 12, "batch_size": 256, "n_bins": 6, "lr": 0.02, "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    x, y, s = five_class_data()
    return SQNNClassifier(gamma=0.2, mi_group_size=2, **FAST).fit(x, y, s), x, y, s


def test_five_classes_learned_with_k_outputs(fitted):
    model, x, y, _ = fitted
    assert list(model.classes_) == sorted(JET_CLASSES)
    spec = model.to_spec()
    assert spec.output.n_out == 5 and spec.output.offset == 0.0
    assert model.score(x, y) > 0.6  # chance is 0.2
    p = model.predict_proba(x)
    assert p.shape == (len(x), 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert model.decision_function(x).shape == (len(x), 5)


def test_predictions_are_the_spec_rule(fitted):
    model, x, _, _ = fitted
    spec = model.to_spec()
    scores = sk.predict_scores(spec, x)
    np.testing.assert_array_equal(model.predict_proba(x), probabilities(scores, spec.output.scale, 0.0))
    np.testing.assert_array_equal(model.predict(x), model.classes_[np.argmax(scores, axis=1)])
    layered, _ = sk.forward(spec, x)  # the layered path gives the same K scores as the fused engine
    np.testing.assert_array_equal(layered, scores)


def test_save_load_keeps_classes_and_outputs(fitted, tmp_path):
    model, x, _, _ = fitted
    model.save(tmp_path / "m.npz")
    loaded = SQNNClassifier.load(tmp_path / "m.npz")
    assert list(loaded.classes_) == list(model.classes_)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(loaded.predict_proba(x, stochastic=True, random_state=2),
                                  model.predict_proba(x, stochastic=True, random_state=2))
    spec = sk.BinaryNetSpec.from_npz(tmp_path / "m.npz")
    np.testing.assert_array_equal(spec.predict_scores(x), sk.predict_scores(model.to_spec(), x))


def test_integer_biases_fold_exactly(fitted):
    """The trained per-class bias is an integer in dot units: the deployed spec is the trained network."""
    model, x, _, _ = fitted
    bias = model.to_spec().output.bias
    assert bias.dtype == np.int32 and np.array_equal(bias, model.output_["bias"])
    h = model.transform(x).astype(np.float64) * 2 - 1
    dot = h @ np.where(model.output_["W"] >= 0, 1.0, -1.0)
    np.testing.assert_array_equal(sk.predict_scores(model.to_spec(), x), (dot + bias).astype(np.int32))


@pytest.mark.parametrize("make", [
    lambda: GradientReversalClassifier(**FAST),
    lambda: MLPBaseline(hidden=(16,), epochs=10, batch_size=256, lr=0.02, random_state=0),
])
def test_baselines_take_five_classes(make):
    x, y, s = five_class_data(800, seed=1)
    model = make().fit(x, y, s)
    assert model.predict_proba(x).shape == (len(x), 5) and model.score(x, y) > 0.5


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 5))
    y = np.array([0, 4, -1, 2, 2, 1, -1])
    t = Tensor(z.copy())
    loss = softmax_cross_entropy(t, y)
    loss.backward()
    lab = y >= 0
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    assert float(loss.data) == pytest.approx(-logp[lab, y[lab]].mean(), rel=1e-12)
    expected = np.exp(logp)
    expected[lab, y[lab]] -= 1.0
    expected[~lab] = 0.0
    np.testing.assert_allclose(t.grad, expected / lab.sum(), rtol=1e-10, atol=1e-14)


def test_five_class_spec_engine_matches_layered_path():
    rng = np.random.default_rng(4)
    spec = five_class_spec(rng)
    assert supports(spec)  # K = 5 outputs run in the fused engine
    x = rng.normal(size=(300, 6))
    np.testing.assert_array_equal(sk.predict_scores(spec, x), sk.forward(spec, x)[0])
    p = spec.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
