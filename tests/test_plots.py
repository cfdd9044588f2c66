"""training.plots: each plot returns a Figure with labelled axes and the expected curves."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from training.plots import invariance_front, roc_per_domain, score_distribution


@pytest.fixture
def data(rng):
    n = 2000
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 2, n)
    score = np.clip(0.5 + 0.25 * (2 * y - 1) + 0.1 * s + 0.15 * rng.normal(size=n), 0, 1)
    return y, s, score


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


def test_score_distribution_has_a_ratio_panel(data, tmp_path):
    _, s, score = data
    fig = score_distribution(score, s, domain_names={0: "sim", 1: "data"}, title="t")
    assert isinstance(fig, Figure)
    top, bottom = fig.axes
    assert top.get_ylabel().startswith("density") and bottom.get_xlabel() == "classifier output P(y = 1)"
    assert bottom.get_ylabel() == "ratio to sim"
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        f"sim ({np.sum(s == 0):,} rows)", f"data ({np.sum(s == 1):,} rows)"]
    ratio = bottom.lines[0].get_ydata()
    assert np.nanmax(ratio) > 1.5 and np.nanmin(ratio) < 0.7  # the shift by 0.1 shows in the ratio
    fig.savefig(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="one length"):
        score_distribution(score, s[:-1])


def test_roc_per_domain_skips_unlabelled_rows(data):
    y, s, score = data
    y = y.copy()
    y[:100] = -1
    fig = roc_per_domain(y, {"a": score, "b": 1 - score}, s)
    ax = fig.axes[0]
    assert _labels(ax) == ("false positive rate", "true positive rate")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 4 and texts[0].startswith("a, s=0: AUC 0.9")
    assert texts[2].startswith("b, s=0: AUC 0.0")


def test_invariance_front_draws_methods_and_reference(tmp_path):
    fig = invariance_front({"SQNN": [(0.62, 0.86, "γ=0"), (0.52, 0.84, "γ=3")], "GRL": [(0.55, 0.83)]},
                           reference=[(0.616, 0.859), (0.505, 0.812)], title="front")
    ax = fig.axes[0]
    assert "adversary AUC" in ax.get_xlabel() and "label ROC AUC" in ax.get_ylabel()
    assert [t.get_text() for t in ax.texts] == ["γ=0", "γ=3"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SQNN", "GRL", "reference"]
    with pytest.raises(TypeError, match="mapping"):
        invariance_front([])
    with pytest.raises(ValueError, match="SQNN"):
        invariance_front({"SQNN": [(0.5,)]})


def test_plots_draw_into_subfigures():
    fig = Figure(figsize=(10, 4))
    left, right = fig.subfigures(1, 2)
    assert score_distribution([0.1, 0.2, 0.9], [0, 1, 1], fig=left) is left
    assert invariance_front({"a": [(0.5, 0.8)]}, fig=right) is right
    assert len(fig.axes) == 3
