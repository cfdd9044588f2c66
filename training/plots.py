"""Plots users of domain-invariant classifiers expect (matplotlib; no pyplot state, Agg-safe).

Each function returns the :class:`matplotlib.figure.Figure` it drew on (pass ``fig=`` a Figure or a
``SubFigure`` to draw into an existing layout; save with ``fig.savefig(path)``):

* :func:`score_distribution`: the classifier output per domain ``s`` (normalised histograms) with a ratio
  panel ``density(s = v) / density(s = reference)``; a domain-invariant output has ratio ≈ 1;
* :func:`roc_per_domain`: the label ROC curve of each domain (labelled rows only, ``y >= 0``), AUC in the
  legend, one colour per model and one line style per domain;
* :func:`invariance_front`: label ROC AUC against the adversary AUC of ``s`` (0.5 = invariant) for one or
  more methods, e.g. an SQNN γ sweep beside gradient reversal, optionally with a reference front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["invariance_front", "roc_per_domain", "score_distribution"]

_STYLES = ("-", "--", ":", "-.")


def _figure(fig, figsize):
    if fig is not None:
        return fig
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _domains(s: np.ndarray, domain_names: Mapping | None) -> list[tuple[int, str]]:
    names = dict(domain_names or {})
    return [(int(v), str(names.get(int(v), f"s={int(v)}"))) for v in np.unique(s)]


def _check_pair(a, b, what_a: str, what_b: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"{what_a} and {what_b} must be 1-D arrays of one length, got shapes {a.shape} "
                         f"and {b.shape}")
    if a.size == 0:
        raise ValueError(f"{what_a} is empty")
    return a, b


def score_distribution(scores, s, *, bins: int = 40, score_range: tuple[float, float] | None = (0.0, 1.0),
                       xlabel: str = "classifier output P(y = 1)", domain_names: Mapping | None = None,
                       title: str | None = None, fig=None):
    """Normalised histograms of ``scores`` per domain of ``s``, with a ratio panel below.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Classifier output per row (probability or score).
    s : array_like of int, shape (n,)
        Domain per row; the lowest value is the reference of the ratio panel.
    bins : int
        Number of equal-width bins over ``score_range`` (None: the range of ``scores``).
    xlabel, title : str
        Axis label of the output and figure title.
    domain_names : mapping, optional
        Legend names per domain value, e.g. ``{0: "simulation", 1: "data"}``.
    fig : Figure or SubFigure, optional
        Where to draw; default a new 6 x 5 inch Figure.

    Returns
    -------
    matplotlib.figure.Figure (or the SubFigure passed in)
    """
    scores, s = _check_pair(scores, s, "scores", "s")
    fig = _figure(fig, (6, 5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    lo, hi = score_range if score_range is not None else (float(scores.min()), float(scores.max()))
    edges = np.linspace(lo, hi, int(bins) + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    densities = []
    for v, name in _domains(s, domain_names):
        d, _ = np.histogram(scores[s == v], bins=edges, density=True)
        densities.append(d)
        top.stairs(d, edges, label=f"{name} ({int(np.sum(s == v)):,} rows)")
    top.set_ylabel("density (normalised per domain)")
    top.legend(fontsize=8)
    if title:
        top.set_title(title)
    ref = densities[0]
    for d, (_, name) in zip(densities[1:], _domains(s, domain_names)[1:], strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ref > 0, d / ref, np.nan)
        bottom.plot(centres, ratio, "o", markersize=3, label=name)
    bottom.axhline(1.0, color="grey", lw=0.8)
    bottom.set_ylabel(f"ratio to {_domains(s, domain_names)[0][1]}")
    bottom.set_xlabel(xlabel)
    return fig


def roc_per_domain(y, scores, s, *, domain_names: Mapping | None = None, title: str | None = None, fig=None):
    """Label ROC curve per domain, for one model or several.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels 0/1; rows with ``y < 0`` (unlabelled) are left out.
    scores : array_like (n,) or mapping name -> array_like (n,)
        Output of one model, or of several models by name.
    s : array_like of int, shape (n,)
        Domain per row.
    domain_names : mapping, optional
        Legend names per domain value.
    title : str, optional
    fig : Figure or SubFigure, optional

    Returns
    -------
    matplotlib.figure.Figure (or the SubFigure passed in)
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    models = dict(scores) if isinstance(scores, Mapping) else {"": scores}
    y, s = _check_pair(y, s, "y", "s")
    fig = _figure(fig, (5.5, 5))
    ax = fig.subplots()
    for colour, (model, sc) in enumerate(models.items()):
        sc, _ = _check_pair(sc, y, f"scores[{model!r}]" if model else "scores", "y")
        for style, (v, name) in zip(_STYLES * 4, _domains(s, domain_names), strict=False):
            rows = (s == v) & (y >= 0)
            if np.unique(y[rows]).size < 2:
                continue  # the ROC curve needs both classes
            fpr, tpr, _ = roc_curve(y[rows], sc[rows])
            auc = roc_auc_score(y[rows], sc[rows])
            label = f"{model + ', ' if model else ''}{name}: AUC {auc:.3f}"
            ax.plot(fpr, tpr, style, color=f"C{colour}", label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return fig


def invariance_front(methods: Mapping[str, Sequence], *, reference: Sequence | None = None,
                     reference_name: str = "reference", title: str | None = None,
                     xlabel: str = "adversary AUC of s from hidden bits (0.5 = invariant)",
                     ylabel: str = "label ROC AUC on s = 1", fig=None):
    """Accuracy–invariance front: one curve per method through its points.

    Parameters
    ----------
    methods : mapping name -> sequence of (adversary_auc, label_auc) or (adversary_auc, label_auc, tag)
        The points of each method (e.g. one per γ), drawn in the given order; ``tag`` annotates a point.
    reference : sequence of (adversary_auc, label_auc), optional
        A reference front (e.g. the published one), drawn dashed grey.
    reference_name, title, xlabel, ylabel : str
    fig : Figure or SubFigure, optional

    Returns
    -------
    matplotlib.figure.Figure (or the SubFigure passed in)
    """
    if not isinstance(methods, Mapping) or not methods:
        raise TypeError("methods must be a non-empty mapping: name -> sequence of (adversary_auc, label_auc)")
    fig = _figure(fig, (6, 5))
    ax = fig.subplots()
    for name, points in methods.items():
        pts = list(points)
        if not pts or any(len(p) not in (2, 3) for p in pts):
            raise ValueError(f"methods[{name!r}] must hold (adversary_auc, label_auc[, tag]) points")
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-" if len(pts) > 1 else "s", label=name)
        for p in pts:
            if len(p) == 3 and p[2] is not None:
                ax.annotate(str(p[2]), (p[0], p[1]), fontsize=8, textcoords="offset points", xytext=(3, 3))
    if reference is not None:
        ref = sorted(reference, key=lambda p: p[0])
        ax.plot([p[0] for p in ref], [p[1] for p in ref], "x--", color="grey", label=reference_name)
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
