"""Invariance diagnostics and the fixed evaluation protocol of issue #10.

* label ROC AUC (all labelled rows, and the ``s = 1`` rows alone);
* adversary AUC: how well a fresh ``HistGradientBoostingClassifier(max_iter=200, random_state=0)`` predicts
  ``S`` from the deterministic hidden bits (5-fold cross-validated ROC AUC; 0.5 = invariant);
* Kolmogorov–Smirnov ``KS = sup_t |F_0(t) − F_1(t)|`` and Cramér–von Mises
  ``CvM = ∫ (F_0 − F_1)² dF_pooled`` distances between the output scores of domains 0 and 1;
* per layer: ``per_neuron_mi`` and (m ≤ 16) ``joint_mi`` of the activation probabilities, in bits, each with
  its estimator bias measured by a permutation null (the same estimate with ``S`` permuted, seeded), and given
  labels the conditional ``I(T; S | Y) = Σ_c P(Y = c) I_pn(T; S | Y = c)`` (the equalized-odds budget; its
  null permutes ``S`` within each class);
* fairness (optional extra ``[fair]``, fairlearn's implementations) of the predicted class ``Ŷ``:
  demographic-parity difference ``max_v P(Ŷ = 1 | S = v) − min_v P(Ŷ = 1 | S = v)`` and equalized-odds
  difference, the larger of the true- and false-positive-rate gaps between the groups of ``S``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.utils.metadata_routing import _MetadataRequester

import sqnn_kernels as sk

from ._validation import check_s, check_weights, labelled_mask

__all__ = [
    "InvarianceScorer",
    "adversary_auc",
    "cvm_distance",
    "evaluate_protocol",
    "fairness_metrics",
    "invariance_report",
    "ks_distance",
    "layer_information",
    "protocol_run",
    "summarise_runs",
]


def _ecdfs(a: np.ndarray, b: np.ndarray, wa, wb, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Weighted empirical CDFs of samples ``a`` and ``b`` at every pooled sample point."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"{name} needs two non-empty samples")
    t = np.concatenate([a, b])
    out = []
    for x, w in ((a, wa), (b, wb)):
        order = np.argsort(x, kind="stable")
        xs = x[order]
        if w is None:
            out.append(np.searchsorted(xs, t, side="right") / x.size)
            continue
        w = check_weights(w, x.size)
        total = w.sum()
        if not total > 0:
            raise ValueError(f"{name}: the weights of each sample must sum to a positive number")
        cum = np.concatenate([[0.0], np.cumsum(w[order])])
        out.append(cum[np.searchsorted(xs, t, side="right")] / total)
    return out[0], out[1]


def ks_distance(a: np.ndarray, b: np.ndarray, wa=None, wb=None) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``sup_t |F_a(t) − F_b(t)|`` (exact over all sample points).

    ``wa``, ``wb``: optional event weights; ``F`` is then the weighted empirical CDF
    ``F_a(t) = Σ_{a_i ≤ t} w_i / Σ_i w_i`` (weights of a sample must sum to a positive number).
    """
    fa, fb = _ecdfs(a, b, wa, wb, "ks_distance")
    return float(np.max(np.abs(fa - fb)))


def cvm_distance(a: np.ndarray, b: np.ndarray, wa=None, wb=None) -> float:
    """Cramér–von Mises distance ``mean_{t ∈ a ∪ b} (F_a(t) − F_b(t))²`` (pooled-sample average).

    With weights, ``F`` are weighted empirical CDFs (as :func:`ks_distance`) and the pooled average is
    weighted by the pooled weights.
    """
    fa, fb = _ecdfs(a, b, wa, wb, "cvm_distance")
    if wa is None and wb is None:
        return float(np.mean((fa - fb) ** 2))
    na, nb = np.asarray(a).size, np.asarray(b).size
    w = np.concatenate([check_weights(wa, na), check_weights(wb, nb)])
    return float(np.sum(w * (fa - fb) ** 2) / np.sum(w))


def adversary_auc(codes: np.ndarray, s: np.ndarray, *, n_splits: int = 5, random_state: int = 0,
                  max_iter: int = 200, n_threads: int | None = 1, sample_weight=None) -> float:
    """5-fold cross-validated ROC AUC of ``HistGradientBoostingClassifier(max_iter=200)`` predicting ``s``.

    ``codes`` are the features the adversary sees (e.g. hidden bits). For more than two categories the
    one-vs-rest macro AUC is returned. Constant codes give exactly 0.5. ``n_threads`` limits OpenMP threads
    (default 1: on a busy 2-core machine spinning OpenMP workers are far slower than one thread).
    ``sample_weight``: event weights for the adversary's fits and the AUC.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D array (n, d), got shape {codes.shape}")
    s = check_s(s, codes.shape[0])
    if np.unique(s).size < 2:
        raise ValueError("adversary_auc needs at least two domains in s")
    w = None if sample_weight is None else check_weights(sample_weight, s.size)
    if np.all(codes == codes[:1]):
        return 0.5
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(max_iter=max_iter, random_state=random_state)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    params = {} if w is None else {"sample_weight": w}
    with threadpool_limits(limits=n_threads):
        proba = cross_val_predict(clf, codes.astype(np.float64), s, cv=cv, method="predict_proba",
                                  params=params)
    if proba.shape[1] == 2:
        return float(roc_auc_score(s, proba[:, 1], sample_weight=w))
    return float(roc_auc_score(s, proba, multi_class="ovr", sample_weight=w))


def _mi(theta: np.ndarray, s: np.ndarray, w: np.ndarray | None, joint: bool) -> float:
    """Per-neuron or joint ``I(T; S)`` in bits: the kernels, or with weights :mod:`training.losses`."""
    if w is None:
        return float(sk.joint_mi(theta, s) if joint else sk.per_neuron_mi(theta, s))
    from .autograd import Tensor
    from .losses import joint_mi_tensor, per_neuron_mi_tensor

    t = Tensor(theta, requires_grad=False)
    return float((joint_mi_tensor(t, s, w=w) if joint else per_neuron_mi_tensor(t, s, w=w)).data)


def layer_information(theta: np.ndarray, s: np.ndarray, *, n_permutations: int = 3,
                      random_state: int = 0, sample_weight=None,
                      y: np.ndarray | None = None) -> dict[str, float]:
    """Per-neuron (and, for m ≤ 16, joint) MI of a layer with ``S`` in bits, with permutation-null bias.

    ``bias`` is the mean estimate over ``n_permutations`` random permutations of ``s`` (true MI 0), i.e. the
    plug-in estimator's upward bias at this sample size; ``*_corrected = max(0, estimate − bias)``.
    With ``sample_weight`` every mean over rows is a weighted mean (the estimators of
    :mod:`training.losses`, evaluated without gradients); without, the kernels ``sqnn_kernels.per_neuron_mi``
    and ``joint_mi``.
    """
    theta = np.asarray(theta, dtype=np.float64)
    s = check_s(s, theta.shape[0])
    rng = np.random.default_rng(random_state)
    perms = [rng.permutation(s) for _ in range(n_permutations)]
    w = None if sample_weight is None else check_weights(sample_weight, theta.shape[0])

    def per_neuron(th, v):
        return _mi(th, v, w, joint=False)

    def joint(th, v):
        return _mi(th, v, w, joint=True)

    out = {"per_neuron": per_neuron(theta, s)}
    out["per_neuron_bias"] = float(np.mean([per_neuron(theta, p) for p in perms]))
    out["per_neuron_corrected"] = max(0.0, out["per_neuron"] - out["per_neuron_bias"])
    if theta.shape[1] <= 16:
        out["joint"] = joint(theta, s)
        out["joint_bias"] = float(np.mean([joint(theta, p) for p in perms]))
        out["joint_corrected"] = max(0.0, out["joint"] - out["joint_bias"])
    if y is not None:
        y = np.asarray(y).astype(np.int64)
        cells = [np.flatnonzero(y == c) for c in np.unique(y[y >= 0])]
        total = sum(len(r) if w is None else float(w[r].sum()) for r in cells)

        def conditional(v: np.ndarray) -> float:
            return sum((len(r) if w is None else float(w[r].sum())) / total
                       * _mi(theta[r], v[r], None if w is None else w[r], joint=False) for r in cells)

        def permute_within() -> np.ndarray:
            v = s.copy()
            for r in cells:
                v[r] = rng.permutation(s[r])
            return v

        out["conditional"] = conditional(s)
        null = [conditional(permute_within()) for _ in range(n_permutations)]
        out["conditional_bias"] = float(np.mean(null))
        out["conditional_corrected"] = max(0.0, out["conditional"] - out["conditional_bias"])
    return out


def fairness_metrics(y_true: np.ndarray, y_pred: np.ndarray, s: np.ndarray,
                     sample_weight=None) -> dict[str, float]:
    """Demographic-parity and equalized-odds differences of 0/1 predictions ``y_pred`` across groups ``s``.

    Uses ``fairlearn.metrics`` (install the extra: ``pip install sqnn[fair]``); 0 means parity.
    """
    try:
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    except ImportError as err:
        raise ImportError("fairness metrics need fairlearn: pip install 'sqnn[fair]'") from err
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    return {
        "demographic_parity_difference": float(demographic_parity_difference(y_true, y_pred,
                                                                             sensitive_features=s, **kw)),
        "equalized_odds_difference": float(equalized_odds_difference(y_true, y_pred, sensitive_features=s,
                                                                     **kw)),
    }


def _hidden_codes(model, x) -> np.ndarray:
    """Last hidden representation a model exposes through ``transform``."""
    return np.asarray(model.transform(x))


def _class_scores(model, x) -> np.ndarray:
    """Probabilities compared between domains: P(classes_[1]) (n, 1) for two classes, else all K columns."""
    p = np.asarray(model.predict_proba(x))
    return p[:, 1:] if p.shape[1] == 2 else p


def _label_auc(y: np.ndarray, p: np.ndarray, classes, w) -> float:
    """ROC AUC of labels ``y`` (values of ``classes``) from probabilities ``p`` (one-vs-rest for K ≥ 3)."""
    if p.shape[1] == 1:
        return float(roc_auc_score(y, p[:, 0], sample_weight=w))
    return float(roc_auc_score(y, p, multi_class="ovr", labels=classes, sample_weight=w))


def invariance_report(model, X, y, s, *, adversary: bool = True, mi: bool = True,
                      random_state: int = 0, adversary_max_iter: int = 200, sample_weight=None,
                      fairness: bool | None = None) -> dict:
    """Diagnostics of a fitted model on ``(X, y, s)`` (see module docstring).

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``, ``classes_`` and ``transform`` (``activations`` for MI)
    X : test rows, as the model takes them (array or DataFrame with the fitted column names)
    y : labels of the kind the model was fitted with; rows equal to the model's ``unlabelled`` marker
        (default −1) are skipped by the label AUCs
    s : integer domains (0..255); non-integer values are rejected, not truncated
    sample_weight : optional event weights of every metric (AUCs, KS/CvM, adversary, MI)
    fairness : for two classes, add :func:`fairness_metrics` of ``model.predict`` on the labelled rows
        (positive class ``classes_[1]``); ``None`` (default) does so when fairlearn is installed, ``True``
        requires it.

    Returns
    -------
    dict with ``label_auc``, ``label_auc_s<v>`` (per domain with labels), ``adversary_auc``, ``ks``, ``cvm``
    ``demographic_parity_difference`` and ``equalized_odds_difference`` (with fairlearn, two classes) and
    ``mi`` (list of per-layer dicts from :func:`layer_information`, with the conditional ``I(T; S | Y)`` on
    the labelled rows). For K ≥ 3 classes the label AUC is
    the one-vs-rest macro AUC and ``ks``/``cvm`` are the largest over the class probabilities.
    """
    y = np.asarray(y)
    n = y.shape[0]
    s = check_s(s, n)
    w = None if sample_weight is None else check_weights(sample_weight, n)
    p = _class_scores(model, X)
    if p.shape[0] != n:
        raise ValueError(f"X has {p.shape[0]} rows but y has {n}")
    lab = labelled_mask(y, getattr(model, "unlabelled", -1))
    classes = getattr(model, "classes_", None)
    rep: dict = {"n": n}

    def sub(v, rows):
        return None if v is None else v[rows]

    if np.unique(y[lab]).size >= 2:
        rep["label_auc"] = _label_auc(y[lab], p[lab], classes, sub(w, lab))
    for v in np.unique(s):
        sel = lab & (s == v)
        if np.unique(y[sel]).size == p.shape[1] + (p.shape[1] == 1):
            rep[f"label_auc_s{v}"] = _label_auc(y[sel], p[sel], classes, sub(w, sel))
    if np.any(s == 0) and np.any(s == 1):
        a, b = s == 0, s == 1
        rep["ks"] = max(ks_distance(p[a, j], p[b, j], sub(w, a), sub(w, b)) for j in range(p.shape[1]))
        rep["cvm"] = max(cvm_distance(p[a, j], p[b, j], sub(w, a), sub(w, b)) for j in range(p.shape[1]))
        if adversary:
            rep["adversary_auc"] = adversary_auc(_hidden_codes(model, X), s, random_state=random_state,
                                                 max_iter=adversary_max_iter, sample_weight=w)
    if fairness is None:
        from importlib.util import find_spec

        fairness = find_spec("fairlearn") is not None
    two = classes is not None and len(classes) == 2
    if fairness and two and np.unique(y[lab]).size == 2 and np.unique(s[lab]).size >= 2:
        pred = (np.asarray(model.predict(X))[lab] == classes[1]).astype(int)
        rep.update(fairness_metrics((y[lab] == classes[1]).astype(int), pred, s[lab], sub(w, lab)))
    if mi and hasattr(model, "activations") and np.unique(s).size >= 2:
        y_cond = None
        if classes is not None:
            y_cond = np.full(n, -1, dtype=np.int64)
            y_cond[lab] = np.searchsorted(np.asarray(classes), y[lab])
        rep["mi"] = [layer_information(t, s, random_state=random_state, sample_weight=w, y=y_cond)
                     for t in model.activations(X)]
    return rep


def evaluate_protocol(make_model: Callable[[int], object], X, y, s, seeds=(0, 1, 2), *,
                      verbose: bool = False, mi: bool = False, adversary_max_iter: int = 200,
                      unlabelled_domain: int | None = 1, sample_weight=None) -> dict:
    """Issue #10's fixed protocol, repeated over ``seeds``; returns per-seed results and mean ± std.

    1. ``train_test_split(test_size=0.5, random_state=0, stratify=10 y + s)``;
    2. fit ``make_model(seed)`` on the training half with ``y = −1`` for every row of domain
       ``unlabelled_domain`` (default 1: the "real data" of a simulation-vs-data shift; ``None`` keeps every
       label, as in fairness data where ``s`` is a sensitive attribute);
    3. on the test half: label ROC AUC on all rows and on ``s = 1`` rows; adversary AUC (5-fold CV
       ``HistGradientBoostingClassifier(max_iter=200, random_state=0)`` predicting ``s`` from the last hidden
       layer's deterministic bits); KS between the ``s = 0`` and ``s = 1`` score distributions.

    ``y`` holds 0/1 labels; ``sample_weight`` (optional event weights) is passed to ``fit`` on the training
    half and weights every metric on the test half. Each seed is one :func:`protocol_run` (a sweep may run
    them as separate tasks); :func:`summarise_runs` aggregates them.

    Returns
    -------
    dict with ``runs`` (list of per-seed dicts incl. ``fit_seconds``, and for a model fitted with an
    information budget its ``gamma_`` and held-out ``mi_heldout_``) and, for each metric, ``<metric>_mean``
    and ``<metric>_std``.
    """
    runs = []
    for seed in seeds:
        run = protocol_run(make_model, X, y, s, seed, mi=mi, adversary_max_iter=adversary_max_iter,
                           unlabelled_domain=unlabelled_domain, sample_weight=sample_weight)
        if verbose:
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in run.items()}, flush=True)
        runs.append(run)
    return summarise_runs(runs)


def protocol_run(make_model: Callable[[int], object], X, y, s, seed: int, *, mi: bool = False,
                 adversary_max_iter: int = 200, unlabelled_domain: int | None = 1,
                 sample_weight=None) -> dict:
    """One seed of :func:`evaluate_protocol`: fit ``make_model(seed)`` on the training half, measure the test
    half; returns the per-seed dict (deterministic for a given seed, whatever process runs it)."""
    import time

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    s = check_s(s, len(y))
    w = None if sample_weight is None else check_weights(sample_weight, len(y))
    idx_tr, idx_te = train_test_split(np.arange(len(X)), test_size=0.5, random_state=0, stratify=y * 10 + s)
    y_tr = y[idx_tr] if unlabelled_domain is None else np.where(s[idx_tr] == unlabelled_domain, -1, y[idx_tr])
    model = make_model(seed)
    t0 = time.perf_counter()
    fit_kw = {} if w is None else {"sample_weight": w[idx_tr]}
    model.fit(X[idx_tr], y_tr, s[idx_tr], **fit_kw)
    fit_s = time.perf_counter() - t0
    xt, yt, st = X[idx_te], y[idx_te], s[idx_te]
    wt = None if w is None else w[idx_te]

    def sub(rows):
        return None if wt is None else wt[rows]

    score = model.predict_proba(xt)[:, 1]
    one = st == 1
    run = {
        "seed": seed,
        "label_auc": float(roc_auc_score(yt, score, sample_weight=wt)),
        "label_auc_s1": float(roc_auc_score(yt[one], score[one], sample_weight=sub(one))),
        "label_auc_s0": float(roc_auc_score(yt[~one], score[~one], sample_weight=sub(~one))),
        "adversary_auc": adversary_auc(_hidden_codes(model, xt), st, max_iter=adversary_max_iter,
                                       sample_weight=wt),
        "ks": ks_distance(score[~one], score[one], sub(~one), sub(one)),
        "fit_seconds": fit_s,
    }
    for attr in ("gamma_", "mi_heldout_"):
        value = getattr(model, attr, None)
        if value is not None and np.ndim(value) == 0:
            run[attr.rstrip("_")] = float(value)
    if mi and hasattr(model, "activations"):
        run["mi"] = [_mi(t, st, wt, joint=False) for t in model.activations(xt)]
    return run


def summarise_runs(runs: list[dict]) -> dict:
    """``{"runs": runs}`` plus ``<metric>_mean`` and ``<metric>_std`` (ddof 1; 0 for one run) of every metric
    that all runs report."""
    out: dict = {"runs": runs}
    for key in ("label_auc", "label_auc_s1", "label_auc_s0", "adversary_auc", "ks", "fit_seconds", "gamma",
                "mi_heldout"):
        if not runs or any(key not in r for r in runs):
            continue
        vals = np.array([r[key] for r in runs])
        out[f"{key}_mean"] = float(vals.mean())
        out[f"{key}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return out


class InvarianceScorer(_MetadataRequester):
    """Model-selection score when the target domain has no labels: label AUC penalised by the domain leak.

    ``score = AUC_label − penalty · leak``, where ``AUC_label`` is the ROC AUC (one-vs-rest macro for K ≥ 3)
    on the rows whose label is not the estimator's ``unlabelled`` marker, and ``leak`` is measured on all rows
    (labelled and unlabelled) of the fold:

    * ``measure="mi"``: ``Σ_l I(T_l; S)`` in bits, per-neuron closed form on the activations θ_l of every
      hidden layer (estimators with ``activations``);
    * ``measure="adversary"``: ``2 · max(0, AUC_adv − 0.5)`` of :func:`adversary_auc` on ``transform(X)``.

    Use as ``GridSearchCV(..., scoring=InvarianceScorer(penalty=1.0))`` with scikit-learn metadata routing
    enabled (``sklearn.set_config(enable_metadata_routing=True)``): the scorer requests ``s`` (and the
    estimators request it for ``fit``), so ``search.fit(X, y, s=s)`` routes each fold's ``s`` to both.
    ``sample_weight``, if routed (``set_score_request(sample_weight=True)``), weights the AUC and the leak.
    """

    __metadata_request__score: ClassVar[dict] = {"s": True}

    def __init__(self, penalty: float = 1.0, measure: str = "mi", adversary_max_iter: int = 50):
        if measure not in ("mi", "adversary"):
            raise ValueError(f"measure must be 'mi' or 'adversary', got {measure!r}")
        if not np.isfinite(penalty) or penalty < 0:
            raise ValueError(f"penalty must be a finite number >= 0, got {penalty!r}")
        self.penalty = float(penalty)
        self.measure = measure
        self.adversary_max_iter = int(adversary_max_iter)

    def __repr__(self) -> str:
        return f"InvarianceScorer(penalty={self.penalty:g}, measure={self.measure!r})"

    def score(self, estimator, X, y, s=None, sample_weight=None) -> float:
        """The score of a fitted ``estimator`` on one fold (greater is better)."""
        if s is None:
            raise ValueError(
                "InvarianceScorer needs s: enable metadata routing (sklearn.set_config("
                "enable_metadata_routing=True)) and pass s to the search's fit, or call the scorer with s="
            )
        y = np.asarray(y)
        n = y.shape[0]
        s = check_s(s, n)
        w = None if sample_weight is None else check_weights(sample_weight, n)
        lab = labelled_mask(y, getattr(estimator, "unlabelled", -1))
        p = _class_scores(estimator, X)
        auc = _label_auc(y[lab], p[lab], getattr(estimator, "classes_", None), None if w is None else w[lab])
        if self.penalty == 0 or np.unique(s).size < 2:
            return auc
        if self.measure == "mi":
            leak = sum(_mi(t, s, w, joint=False) for t in estimator.activations(X))
        else:
            adv = adversary_auc(_hidden_codes(estimator, X), s, max_iter=self.adversary_max_iter,
                                sample_weight=w)
            leak = 2.0 * max(0.0, adv - 0.5)
        return float(auc - self.penalty * leak)

    __call__ = score
