"""Invariance diagnostics and the fixed evaluation protocol of issue #10.

* label ROC AUC (all labelled rows, and the ``s = 1`` rows alone);
* adversary AUC: how well a fresh ``HistGradientBoostingClassifier(max_iter=200, random_state=0)`` predicts
  ``S`` from the deterministic hidden bits (5-fold cross-validated ROC AUC; 0.5 = invariant);
* Kolmogorov–Smirnov ``KS = sup_t |F_0(t) − F_1(t)|`` and Cramér–von Mises
  ``CvM = ∫ (F_0 − F_1)² dF_pooled`` distances between the output scores of domains 0 and 1;
* per layer: ``per_neuron_mi`` and (m ≤ 16) ``joint_mi`` of the activation probabilities, in bits, each with
  its estimator bias measured by a permutation null (the same estimate with ``S`` permuted, seeded).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

import sqnn_kernels as sk

__all__ = [
    "adversary_auc",
    "cvm_distance",
    "evaluate_protocol",
    "invariance_report",
    "ks_distance",
    "layer_information",
]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``sup_t |F_a(t) − F_b(t)|`` (exact over all sample points)."""
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("ks_distance needs two non-empty samples")
    t = np.concatenate([a, b])
    fa = np.searchsorted(a, t, side="right") / a.size
    fb = np.searchsorted(b, t, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def cvm_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér–von Mises distance ``mean_{t ∈ a ∪ b} (F_a(t) − F_b(t))²`` (pooled-sample average)."""
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("cvm_distance needs two non-empty samples")
    t = np.concatenate([a, b])
    fa = np.searchsorted(a, t, side="right") / a.size
    fb = np.searchsorted(b, t, side="right") / b.size
    return float(np.mean((fa - fb) ** 2))


def adversary_auc(codes: np.ndarray, s: np.ndarray, *, n_splits: int = 5, random_state: int = 0,
                  max_iter: int = 200, n_threads: int | None = 1) -> float:
    """5-fold cross-validated ROC AUC of ``HistGradientBoostingClassifier(max_iter=200)`` predicting ``s``.

    ``codes`` are the features the adversary sees (e.g. hidden bits). For more than two categories the
    one-vs-rest macro AUC is returned. Constant codes give exactly 0.5. ``n_threads`` limits OpenMP threads
    (default 1: on a busy 2-core machine spinning OpenMP workers are far slower than one thread).
    """
    codes = np.asarray(codes)
    s = np.asarray(s).astype(np.int64)
    if np.unique(s).size < 2:
        raise ValueError("adversary_auc needs at least two domains in s")
    if codes.ndim != 2 or codes.shape[0] != s.size:
        raise ValueError(f"codes must be (n, d) with n = len(s) = {s.size}, got {codes.shape}")
    if np.all(codes == codes[:1]):
        return 0.5
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(max_iter=max_iter, random_state=random_state)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with threadpool_limits(limits=n_threads):
        proba = cross_val_predict(clf, codes.astype(np.float64), s, cv=cv, method="predict_proba")
    if proba.shape[1] == 2:
        return float(roc_auc_score(s, proba[:, 1]))
    return float(roc_auc_score(s, proba, multi_class="ovr"))


def layer_information(theta: np.ndarray, s: np.ndarray, *, n_permutations: int = 3,
                      random_state: int = 0) -> dict[str, float]:
    """Per-neuron (and, for m ≤ 16, joint) MI of a layer with ``S`` in bits, with permutation-null bias.

    ``bias`` is the mean estimate over ``n_permutations`` random permutations of ``s`` (true MI 0), i.e. the
    plug-in estimator's upward bias at this sample size; ``*_corrected = max(0, estimate − bias)``.
    """
    theta = np.asarray(theta, dtype=np.float64)
    s = np.asarray(s).astype(np.int64)
    rng = np.random.default_rng(random_state)
    perms = [rng.permutation(s) for _ in range(n_permutations)]
    out = {"per_neuron": sk.per_neuron_mi(theta, s)}
    out["per_neuron_bias"] = float(np.mean([sk.per_neuron_mi(theta, p) for p in perms]))
    out["per_neuron_corrected"] = max(0.0, out["per_neuron"] - out["per_neuron_bias"])
    if theta.shape[1] <= 16:
        out["joint"] = sk.joint_mi(theta, s)
        out["joint_bias"] = float(np.mean([sk.joint_mi(theta, p) for p in perms]))
        out["joint_corrected"] = max(0.0, out["joint"] - out["joint_bias"])
    return out


def _hidden_codes(model, x: np.ndarray) -> np.ndarray:
    """Last hidden representation a model exposes through ``transform``."""
    return np.asarray(model.transform(x))


def invariance_report(model, X, y, s, *, adversary: bool = True, mi: bool = True,
                      random_state: int = 0, adversary_max_iter: int = 200) -> dict:
    """Diagnostics of a fitted model on ``(X, y, s)`` (see module docstring).

    Parameters
    ----------
    model : fitted estimator with ``predict_proba`` and ``transform`` (and ``activations`` for MI)
    X, y, s : test rows; rows with ``y = −1`` are skipped by the label AUCs.

    Returns
    -------
    dict with ``label_auc``, ``label_auc_s1`` (if domain 1 has labels), ``adversary_auc``, ``ks``, ``cvm``
    and ``mi`` (list of per-layer dicts from :func:`layer_information`).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s).astype(np.int64)
    score = model.predict_proba(X)[:, 1]
    lab = y >= 0
    rep: dict = {"n": len(X)}
    if np.unique(y[lab]).size == 2:
        rep["label_auc"] = float(roc_auc_score(y[lab], score[lab]))
    for v in np.unique(s):
        sel = lab & (s == v)
        if np.unique(y[sel]).size == 2:
            rep[f"label_auc_s{v}"] = float(roc_auc_score(y[sel], score[sel]))
    if np.any(s == 0) and np.any(s == 1):
        rep["ks"] = ks_distance(score[s == 0], score[s == 1])
        rep["cvm"] = cvm_distance(score[s == 0], score[s == 1])
        if adversary:
            rep["adversary_auc"] = adversary_auc(_hidden_codes(model, X), s, random_state=random_state,
                                                 max_iter=adversary_max_iter)
    if mi and hasattr(model, "activations") and np.unique(s).size >= 2:
        rep["mi"] = [layer_information(t, s, random_state=random_state) for t in model.activations(X)]
    return rep


def evaluate_protocol(make_model: Callable[[int], object], X, y, s, seeds=(0, 1, 2), *,
                      verbose: bool = False, mi: bool = False, adversary_max_iter: int = 200,
                      unlabelled_domain: int | None = 1) -> dict:
    """Issue #10's fixed protocol, repeated over ``seeds``; returns per-seed results and mean ± std.

    1. ``train_test_split(test_size=0.5, random_state=0, stratify=10 y + s)``;
    2. fit ``make_model(seed)`` on the training half with ``y = −1`` for every row of domain
       ``unlabelled_domain`` (default 1: the "real data" of a simulation-vs-data shift; ``None`` keeps every
       label, as in fairness data where ``s`` is a sensitive attribute);
    3. on the test half: label ROC AUC on all rows and on ``s = 1`` rows; adversary AUC (5-fold CV
       ``HistGradientBoostingClassifier(max_iter=200, random_state=0)`` predicting ``s`` from the last hidden
       layer's deterministic bits); KS between the ``s = 0`` and ``s = 1`` score distributions.

    Returns
    -------
    dict with ``runs`` (list of per-seed dicts incl. ``fit_seconds``, and for a model fitted with an
    information budget its ``gamma_`` and held-out ``mi_heldout_``) and, for each metric, ``<metric>_mean``
    and ``<metric>_std``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s).astype(np.int64)
    idx_tr, idx_te = train_test_split(np.arange(len(X)), test_size=0.5, random_state=0, stratify=y * 10 + s)
    y_tr = y[idx_tr] if unlabelled_domain is None else np.where(s[idx_tr] == unlabelled_domain, -1, y[idx_tr])
    runs = []
    import time

    for seed in seeds:
        model = make_model(seed)
        t0 = time.perf_counter()
        model.fit(X[idx_tr], y_tr, s[idx_tr])
        fit_s = time.perf_counter() - t0
        xt, yt, st = X[idx_te], y[idx_te], s[idx_te]
        score = model.predict_proba(xt)[:, 1]
        one = st == 1
        run = {
            "seed": seed,
            "label_auc": float(roc_auc_score(yt, score)),
            "label_auc_s1": float(roc_auc_score(yt[one], score[one])),
            "label_auc_s0": float(roc_auc_score(yt[~one], score[~one])),
            "adversary_auc": adversary_auc(_hidden_codes(model, xt), st, max_iter=adversary_max_iter),
            "ks": ks_distance(score[~one], score[one]),
            "fit_seconds": fit_s,
        }
        for attr in ("gamma_", "mi_heldout_"):
            if np.ndim(getattr(model, attr, None)) == 0 and getattr(model, attr, None) is not None:
                run[attr.rstrip("_")] = float(getattr(model, attr))
        if mi and hasattr(model, "activations"):
            run["mi"] = [sk.per_neuron_mi(t, st) for t in model.activations(xt)]
        if verbose:
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in run.items()}, flush=True)
        runs.append(run)
    out: dict = {"runs": runs}
    for key in ("label_auc", "label_auc_s1", "label_auc_s0", "adversary_auc", "ks", "fit_seconds", "gamma",
                "mi_heldout"):
        if any(key not in r for r in runs):
            continue
        vals = np.array([r[key] for r in runs])
        out[f"{key}_mean"] = float(vals.mean())
        out[f"{key}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    return out
