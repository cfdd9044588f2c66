"""Choosing the information budget without target labels.

A physicist has labelled simulation (the *source*, ``s = 0``) and unlabelled real data (the *target*,
``s = 1``); the target labels, which would tell which budget classifies real data best, are exactly what is
missing. :func:`select_budget` therefore uses only what is observable:

1. split the source rows (stratified on ``y``) and the target rows into a training and a validation part;
2. for every budget ε fit ``SQNNClassifier(max_mi=ε)`` on the training parts (target rows unlabelled);
3. on the validation parts measure the **source** label ROC AUC and the **audit**: the adversary AUC of
   ``s`` from the last hidden layer's bits (:func:`training.metrics.adversary_auc`, 5-fold cross-validated on
   rows no fit has seen);
4. choose the budget with the largest source-validation AUC among those whose audit is at most
   ``max_adversary_auc`` (ties: the larger ε); if none passes, the one with the smallest audit, flagged.

Why this is a reasonable proxy: once the hidden bits carry (almost) no information about ``s``, the
classifier reads the same representation on both domains, so its accuracy on the source is the best
label-free estimate of its accuracy on the target; the audit guards the first half of that sentence.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array

from .budget import DEFAULT_BUDGETS
from .metrics import adversary_auc

__all__ = ["select_budget"]


def select_budget(X_source, y_source, X_target, *, budgets=DEFAULT_BUDGETS, max_adversary_auc: float = 0.52,
                  validation: float = 0.3, random_state: int = 0, refit: bool = True,
                  model_params: dict | None = None) -> dict:
    """Pick the information budget ε (bits) from labelled source rows and unlabelled target rows only.

    Parameters
    ----------
    X_source, y_source : labelled source rows (two classes; not the unlabelled marker −1), e.g. simulation.
    X_target : unlabelled target rows with the same features, e.g. real data.
    budgets : candidate budgets ε in bits (default :data:`training.budget.DEFAULT_BUDGETS`).
    max_adversary_auc : target of the audit (adversary AUC of the domain from the hidden bits, 0.5 = none).
    validation : share of each domain's rows kept for validation, in (0, 1).
    random_state : seeds the split and every fit.
    refit : refit the chosen budget on all rows and return it as ``model``.
    model_params : further :class:`~training.SQNNClassifier` parameters (e.g. ``{"epochs": 30}``).

    Returns
    -------
    dict with ``max_mi`` (the chosen ε), ``met`` (whether its audit meets the target), ``table`` (one dict
    per budget: ``max_mi``, ``source_auc``, ``adversary_auc``, ``mi_heldout``, ``gamma``) and ``model``
    (the refitted :class:`~training.SQNNClassifier`, or None without ``refit``).
    """
    from .classifier import SQNNClassifier

    xs = check_array(X_source, dtype=np.float64, input_name="X_source")
    xt = check_array(X_target, dtype=np.float64, input_name="X_target")
    if xt.shape[1] != xs.shape[1]:
        raise ValueError(f"X_target has {xt.shape[1]} features but X_source has {xs.shape[1]}")
    ys = np.asarray(y_source)
    if ys.shape != (len(xs),):
        raise ValueError(f"y_source must have shape ({len(xs)},) to match X_source, got {ys.shape}")
    if np.unique(ys).size != 2 or np.any(ys == -1):
        raise ValueError("y_source must hold a label of two classes for every source row (no unlabelled -1)")
    budgets = [float(b) for b in budgets]
    if not budgets or any(not b > 0 for b in budgets):
        raise ValueError(f"budgets must be a non-empty list of positive numbers of bits, got {budgets!r}")
    if not 0 < validation < 1:
        raise ValueError(f"validation must lie strictly between 0 and 1, got {validation!r}")
    if not 0.5 <= max_adversary_auc <= 1:
        raise ValueError(f"max_adversary_auc must lie in [0.5, 1], got {max_adversary_auc!r}")
    params = dict(model_params or {})
    src_tr, src_va = train_test_split(np.arange(len(xs)), test_size=validation, random_state=random_state,
                                      stratify=ys)
    tgt_tr, tgt_va = train_test_split(np.arange(len(xt)), test_size=validation, random_state=random_state)
    x_fit = np.vstack([xs[src_tr], xt[tgt_tr]])
    y_fit = np.concatenate([ys[src_tr], np.full(len(tgt_tr), -1)])
    s_fit = np.concatenate([np.zeros(len(src_tr), np.int64), np.ones(len(tgt_tr), np.int64)])
    x_val = np.vstack([xs[src_va], xt[tgt_va]])
    s_val = np.concatenate([np.zeros(len(src_va), np.int64), np.ones(len(tgt_va), np.int64)])
    table = []
    for eps in budgets:
        model = SQNNClassifier(max_mi=eps, random_state=random_state, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the audit below is the judge
            model.fit(x_fit, y_fit, s_fit)
        table.append({
            "max_mi": eps,
            "source_auc": float(roc_auc_score(ys[src_va] == model.classes_[1],
                                              model.predict_proba(xs[src_va])[:, 1])),
            "adversary_auc": adversary_auc(model.transform(x_val), s_val, random_state=random_state),
            "mi_heldout": float(model.mi_heldout_),
            "gamma": float(model.gamma_),
        })
    passing = [r for r in table if r["adversary_auc"] <= max_adversary_auc]
    met = bool(passing)
    if met:
        best = max(passing, key=lambda r: (r["source_auc"], r["max_mi"]))
    else:
        best = min(table, key=lambda r: (r["adversary_auc"], -r["max_mi"]))
        warnings.warn(f"no budget of {budgets} meets the audit target adversary AUC <= "
                      f"{max_adversary_auc:g}; chose max_mi={best['max_mi']:g} (audit "
                      f"{best['adversary_auc']:.3f}); try smaller budgets",
                      UserWarning, stacklevel=2)
    chosen = None
    if refit:
        chosen = SQNNClassifier(max_mi=best["max_mi"], random_state=random_state, **params)
        chosen.fit(np.vstack([xs, xt]), np.concatenate([ys, np.full(len(xt), -1)]),
                   np.concatenate([np.zeros(len(xs), np.int64), np.ones(len(xt), np.int64)]))
    return {"max_mi": best["max_mi"], "met": met, "table": table, "model": chosen}
