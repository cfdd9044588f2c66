"""The one score -> probability rule (sqnn_kernels.scoring) and its callers."""

import numpy as np
import pytest
from spec_factory import random_spec

import sqnn_kernels as sk
from fpga.render import class_threshold
from sqnn_kernels.scoring import classes, logits, probabilities
from training.streaming import _proba


def _old_binary_rule(scores, scale, offset):
    # the formula each back-end wrote out before the rule had one owner
    return 1.0 / (1.0 + np.exp(-(scale * scores.astype(np.float64) + offset)))


@pytest.mark.parametrize("scale, offset", [(0.1, -0.05), (1.0, 0.0), (3.7, 12.25), (1e-3, -0.4)])
def test_binary_rule_is_bit_identical_to_the_previous_formula(rng, scale, offset):
    scores = rng.integers(-5000, 5000, (1000, 1)).astype(np.int32)
    expected = _old_binary_rule(scores, scale, offset)
    np.testing.assert_array_equal(probabilities(scores, scale, offset), expected)


def test_softmax_rows_sum_to_one_and_class_is_argmax(rng):
    scores = rng.integers(-40, 40, (500, 4)).astype(np.int32)
    p = probabilities(scores, 0.7, 0.3)
    z = 0.7 * scores + 0.3
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(classes(scores, 0.7, 0.3), np.argmax(p, axis=1))


def test_softmax_is_stable_for_huge_logits_and_ties_go_to_the_lowest_index():
    scores = np.array([[100000, 100000, -100000], [-7, 3, 3]], dtype=np.int32)
    p = probabilities(scores, 10.0, 0.0)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]], rtol=0, atol=1e-40)
    assert np.all(np.isfinite(p))
    assert classes(scores, 10.0, 0.0).tolist() == [0, 1]


def test_binary_class_and_empty_input():
    s = np.array([[-1], [0], [1]], dtype=np.int32)
    assert classes(s, 1.0, 0.0).tolist() == [0, 1, 1]
    assert probabilities(np.zeros((0, 3), np.int32), 1.0, 0.0).shape == (0, 3)
    assert logits(s, 2.0, 1.0).dtype == np.float64
    with pytest.raises(ValueError, match="scores"):
        probabilities(np.zeros(3), 1.0, 0.0)


@pytest.mark.parametrize("n_out", [1, 3])
def test_every_back_end_calls_the_rule(rng, n_out):
    spec = random_spec(rng, 5, (16,), n_out)
    x = rng.normal(size=(200, 5))
    scores = sk.predict_scores(spec, x)
    expected = probabilities(scores, spec.output.scale, spec.output.offset)
    np.testing.assert_array_equal(spec.predict_proba(x), expected)
    np.testing.assert_array_equal(_proba(spec, scores), expected)
    if n_out == 1:
        thr = class_threshold(spec, -100, 100)
        np.testing.assert_array_equal(scores[:, 0] >= thr, expected[:, 0] >= 0.5)
