"""Fit time with an information budget beside the fixed-γ fit it replaces (pytest-benchmark group).

Group ``fit 20000 rows: budget vs fixed gamma``: ``SQNNClassifier(gamma=0.5)`` (**baseline**) and
``SQNNClassifier(max_mi=0.01)`` on 20,000 rows of the embedded data (s = 1 unlabelled), hidden 64-64, 10
epochs. The budget trains on the other 80 % of the rows and adds per epoch one measurement: the deterministic
bits of the 20 % held-out rows (the estimator and 8 permutations of its null) and of up to 5,000 training
rows (2 permutations); the issue's bar is a ratio <= 1.3. ``SQNN_BENCH_QUICK=1``: 4000
rows, 3 epochs.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from training import SQNNClassifier, load_showers

QUICK = os.environ.get("SQNN_BENCH_QUICK", "") not in ("", "0")
ROWS, EPOCHS = (4000, 3) if QUICK else (20000, 10)
GROUP = f"fit {ROWS} rows: budget vs fixed gamma"


@pytest.fixture(scope="module")
def fit_data():
    X, y, s, _ = load_showers()
    idx = np.random.default_rng(0).choice(len(X), ROWS, replace=False)
    SQNNClassifier(epochs=1, random_state=0).fit(X[idx[:2000]], y[idx[:2000]], s[idx[:2000]])  # compile
    return X[idx], np.where(s[idx] == 1, -1, y[idx]), s[idx]


def _fit(params, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return SQNNClassifier(epochs=EPOCHS, random_state=0, **params).fit(*data)


@pytest.mark.benchmark(group=GROUP)
def test_fit_fixed_gamma(benchmark, fit_data):
    benchmark.extra_info.update(events=ROWS, baseline=True)
    benchmark.pedantic(_fit, args=({"gamma": 0.5}, fit_data), rounds=3, iterations=1)


@pytest.mark.benchmark(group=GROUP)
def test_fit_budget(benchmark, fit_data):
    benchmark.extra_info.update(events=ROWS)
    model = benchmark.pedantic(_fit, args=({"max_mi": 0.01}, fit_data), rounds=3, iterations=1)
    assert len(model.gamma_history_) == EPOCHS
