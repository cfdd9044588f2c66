"""Accuracy–invariance front: SQNN over a γ grid against a float MLP and gradient reversal (issue #10).

Every model is measured by the same fixed protocol, :func:`training.metrics.evaluate_protocol`: 50/50
split (``random_state=0``, stratified on ``10 y + s``), ``s = 1`` rows enter ``fit`` unlabelled, label ROC AUC
on the ``s = 1`` test rows, adversary AUC of ``s`` from the last hidden layer's deterministic bits (5-fold CV
``HistGradientBoostingClassifier``), KS between the domains' test scores; mean ± std over seeds.

``sqnn sweep`` (options in :mod:`training.cli`; or ``python -m benchmarks.invariance``) prints the table,
writes ``front.json`` and ``front.png`` (label AUC on s = 1 vs adversary AUC, one curve per method, the
reference hepinfo 0.1.4 front drawn for comparison) to ``--out``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from sqnn_kernels.fileio import atomic_path

# the authors' hepinfo 0.1.4 (BinaryMI, TensorFlow) on the default data, same protocol: γ -> (AUC, adv, KS)
REFERENCE_FRONT = {
    0.0: (0.859, 0.616, 0.048),
    0.3: (0.856, 0.552, 0.035),
    1.0: (0.850, 0.541, 0.031),
    3.0: (0.836, 0.520, 0.023),
    10.0: (0.812, 0.505, 0.011),
}
DEFAULT_GAMMAS = (0.0, 0.3, 0.5, 1.0, 3.0, 10.0)
DEFAULT_GRL = (0.3, 1.0, 3.0)


def _load(name: str):
    from .datasets import load_csv, load_showers

    if name == "default":
        X, y, s, _ = load_showers()
        return X, y, s
    X, y, s, _ = load_csv(name, label="y", domain="s")
    return X, y, s


def _subsample(X, y, s, n: int | None, seed: int = 0):
    if n is None or n >= len(X):
        return X, y, s
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(X)), train_size=n, random_state=seed, stratify=y * 10 + s)
    return X[idx], y[idx], s[idx]


def model_grid(gammas, grl_strengths, *, quick: bool) -> list[tuple[str, float, object]]:
    """(method, strength, factory(seed) -> unfitted model) for every point of the sweep."""
    from .baselines import GradientReversalClassifier, MLPBaseline
    from .classifier import SQNNClassifier

    extra = {"epochs": 3} if quick else {}
    grid: list[tuple[str, float, object]] = []
    for g in gammas:
        grid.append(("SQNN", g, lambda seed, g=g: SQNNClassifier(gamma=g, random_state=seed, **extra)))
    grid.append(("float MLP", 0.0, lambda seed: MLPBaseline(random_state=seed, **extra)))
    for lam in grl_strengths:
        grid.append(
            ("gradient reversal", lam,
             lambda seed, lam=lam: GradientReversalClassifier(strength=lam, random_state=seed, **extra))
        )
    return grid


def run_sweep(X, y, s, gammas=DEFAULT_GAMMAS, grl_strengths=DEFAULT_GRL, seeds=(0, 1, 2), *,
              quick: bool = False, progress: bool = True) -> list[dict]:
    """Evaluate every model of :func:`model_grid` with the fixed protocol; one dict per (method, strength)."""
    from tqdm.auto import tqdm

    from .metrics import evaluate_protocol

    grid = model_grid(gammas, grl_strengths, quick=quick)
    rows = []
    bar = tqdm(grid, desc="sweep", disable=not progress, file=sys.stderr)
    for method, strength, factory in bar:
        bar.set_postfix_str(f"{method} {strength:g}")
        res = evaluate_protocol(factory, X, y, s, seeds=seeds, adversary_max_iter=50 if quick else 200)
        epochs = [getattr(factory(0), "epochs", None)]
        res.update(method=method, strength=float(strength),
                   seconds_per_epoch=res["fit_seconds_mean"] / epochs[0] if epochs[0] else None)
        rows.append(res)
    return rows


def format_table(rows: list[dict]) -> str:
    """Mean ± std table of the sweep."""
    head = f"{'method':18} {'γ/λ':>6} {'label AUC s=1':>16} {'adversary AUC':>16} {'KS':>14} {'s/epoch':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        spe = f"{r['seconds_per_epoch']:.3f}" if r.get("seconds_per_epoch") else ""
        lines.append(
            f"{r['method']:18} {r['strength']:>6g} "
            f"{r['label_auc_s1_mean']:>8.4f} ± {r['label_auc_s1_std']:.4f} "
            f"{r['adversary_auc_mean']:>8.4f} ± {r['adversary_auc_std']:.4f} "
            f"{r['ks_mean']:>6.4f} ± {r['ks_std']:.4f} {spe:>8}"
        )
    return "\n".join(lines)


def plot_front(rows: list[dict], path: Path, title: str, reference: bool = True) -> None:
    """Label AUC on s = 1 against adversary AUC, one curve per method (error bars: std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for method, marker in (("SQNN", "o"), ("gradient reversal", "s"), ("float MLP", "^")):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["strength"])
        if not rs:
            continue
        ax.errorbar([r["adversary_auc_mean"] for r in rs], [r["label_auc_s1_mean"] for r in rs],
                    xerr=[r["adversary_auc_std"] for r in rs], yerr=[r["label_auc_s1_std"] for r in rs],
                    marker=marker, capsize=2, label=f"sqnn: {method}")
        for r in rs:
            ax.annotate(f"{r['strength']:g}", (r["adversary_auc_mean"], r["label_auc_s1_mean"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    if reference:
        ref = sorted(REFERENCE_FRONT.items())
        ax.plot([v[1] for _, v in ref], [v[0] for _, v in ref], "k--", marker="x",
                label="reference: hepinfo 0.1.4 SQNN")
        for g, v in ref:
            ax.annotate(f"γ={g:g}", (v[1], v[0]), fontsize=7, xytext=(-12, -10), textcoords="offset points")
    ax.axvline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("adversary AUC of S from the last hidden layer (0.5 = invariant)")
    ax.set_ylabel("label ROC AUC on real data (s = 1)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def run(args) -> int:
    """Run the sweep described by parsed arguments; write JSON and PNG per data set."""
    datasets = args.data
    if not datasets:
        datasets = ["default"]
        shift2 = Path(__file__).resolve().parent.parent / "tests" / "data" / "showers_shift2.csv.gz"
        if shift2.exists():
            datasets.append(str(shift2))
    gammas, grl, seeds, n = args.gammas, args.grl, args.seeds, None
    if args.quick:
        gammas, grl, seeds, n = gammas[:1] + gammas[-1:], grl[:1], seeds[:1], 6000
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in datasets:
        X, y, s = _subsample(*_load(name), n)
        label = "default" if name == "default" else Path(name).name.split(".")[0]
        print(f"\n== {label}: {len(X)} rows; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'all')}")
        t0 = time.perf_counter()
        rows = run_sweep(X, y, s, gammas, grl, tuple(seeds), quick=args.quick)
        print(format_table(rows))
        print(f"({time.perf_counter() - t0:.0f} s)")
        results[label] = rows
        plot_front(rows, out / f"front_{label}.png", f"accuracy–invariance front: {label}",
                   reference=(label == "default" and not args.quick))
    with atomic_path(out / "front.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'front.json'} and front_*.png")
    return 0
