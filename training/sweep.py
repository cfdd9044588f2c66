"""Accuracy–invariance front: SQNN over a γ grid and a grid of information budgets (bits) against a float MLP
and gradient reversal (issues #10, #19).

Every model is measured by the same fixed protocol, :func:`training.metrics.evaluate_protocol`: 50/50
split (``random_state=0``, stratified on ``10 y + s``), ``s = 1`` rows enter ``fit`` unlabelled, label ROC AUC
on the ``s = 1`` test rows, adversary AUC of ``s`` from the last hidden layer's deterministic bits (5-fold CV
``HistGradientBoostingClassifier``), KS between the domains' test scores; mean ± std over seeds. A budget
point ``SQNNClassifier(max_mi=ε)`` also reports its learned multiplier ``γ`` and the held-out ``I(T; S)`` it
measured (bits), so the budget and the adversary audit stand side by side.

Each (model, seed) fit is one task, :func:`training.metrics.protocol_run`: run in this process, or, given a
dask scheduler address or a ``distributed.Client`` (``scheduler=``), as dask tasks; the results are the same
(every fit is seeded and independent of the thread count), only the timings differ.

``sqnn sweep`` (options in :mod:`training.cli`; or ``python -m benchmarks.invariance``) prints the table,
writes ``front.json`` and ``front_<data>.png`` (label AUC vs adversary AUC, one curve per method, the
reference hepinfo 0.1.4 front drawn for comparison; beside it the budget ε against the measured held-out
I(T; S) and the adversary AUC) to ``--out``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from sqnn_kernels.fileio import atomic_path

from .budget import DEFAULT_BUDGETS

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
BUDGET = "SQNN budget"


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


def _build(method: str, params: dict, seed: int):
    """An unfitted model of the sweep (a module-level function, so a factory pickles to dask workers)."""
    from .baselines import GradientReversalClassifier, MLPBaseline
    from .classifier import SQNNClassifier

    cls = {"SQNN": SQNNClassifier, BUDGET: SQNNClassifier, "float MLP": MLPBaseline,
           "gradient reversal": GradientReversalClassifier}[method]
    return cls(random_state=seed, **params)


def model_grid(gammas, grl_strengths, *, quick: bool, max_mis=()) -> list[tuple[str, float, object]]:
    """(method, strength, factory(seed) -> unfitted model) for every point of the sweep.

    ``strength`` is γ for "SQNN", the budget ε in bits for "SQNN budget" and λ for "gradient reversal".
    """
    extra = {"epochs": 3} if quick else {}
    grid: list[tuple[str, float, object]] = []
    for g in gammas:
        grid.append(("SQNN", float(g), partial(_build, "SQNN", {"gamma": float(g), **extra})))
    for eps in max_mis:
        grid.append((BUDGET, float(eps), partial(_build, BUDGET, {"max_mi": float(eps), **extra})))
    grid.append(("float MLP", 0.0, partial(_build, "float MLP", dict(extra))))
    for lam in grl_strengths:
        grid.append(("gradient reversal", float(lam),
                     partial(_build, "gradient reversal", {"strength": float(lam), **extra})))
    return grid


def _dask_client(scheduler):
    """(client, owned): a ``distributed.Client`` for an address, or the given client."""
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise TypeError(f"scheduler must be a dask scheduler address (str) or a distributed.Client, "
                    f"got {type(scheduler).__name__}")


def _run_tasks(tasks, X, y, s, kwargs: dict, scheduler, bar) -> list[dict]:
    """:func:`~training.metrics.protocol_run` of every (factory, seed), in order; locally or on dask."""
    from .metrics import protocol_run

    if scheduler is None:
        out = []
        for factory, seed in tasks:
            out.append(protocol_run(factory, X, y, s, seed, **kwargs))
            bar.update()
        return out
    from distributed import as_completed

    client, owned = _dask_client(scheduler)
    try:
        data = client.scatter([X, y, s], broadcast=True)
        futures = [client.submit(protocol_run, factory, *data, seed, pure=False, **kwargs)
                   for factory, seed in tasks]
        for _ in as_completed(futures):
            bar.update()
        return client.gather(futures)
    finally:
        if owned:
            client.close()


def run_sweep(X, y, s, gammas=DEFAULT_GAMMAS, grl_strengths=DEFAULT_GRL, seeds=(0, 1, 2), *,
              max_mis=DEFAULT_BUDGETS, quick: bool = False, progress: bool = True, scheduler=None,
              unlabelled_domain: int | None = 1) -> list[dict]:
    """Evaluate every model of :func:`model_grid` with the fixed protocol; one dict per (method, strength).

    Parameters
    ----------
    max_mis : information budgets ε (bits) traced by ``SQNNClassifier(max_mi=ε)``, besides the γ grid.
    scheduler : None (fit in this process), a dask scheduler address such as ``"tcp://host:8786"`` or a
        ``distributed.Client``: every (model, seed) fit is then one dask task. Results are identical.
    unlabelled_domain : domain whose labels the fits do not see (``None``: all labelled, e.g. fairness data).
    """
    import numpy as np
    from tqdm.auto import tqdm

    from .metrics import summarise_runs

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s).astype(np.int64)
    grid = model_grid(gammas, grl_strengths, quick=quick, max_mis=max_mis)
    tasks = [(factory, seed) for _, _, factory in grid for seed in seeds]
    kwargs = {"adversary_max_iter": 50 if quick else 200, "unlabelled_domain": unlabelled_domain}
    with tqdm(total=len(tasks), desc="sweep", disable=not progress, file=sys.stderr) as bar:
        runs = _run_tasks(tasks, X, y, s, kwargs, scheduler, bar)
    rows = []
    for i, (method, strength, factory) in enumerate(grid):
        res = summarise_runs(runs[i * len(seeds):(i + 1) * len(seeds)])
        epochs = getattr(factory(0), "epochs", None)
        res.update(method=method, strength=float(strength),
                   seconds_per_epoch=res["fit_seconds_mean"] / epochs if epochs else None)
        rows.append(res)
    return rows


def format_table(rows: list[dict]) -> str:
    """Mean ± std table of the sweep; budget rows add the learned γ and the held-out I(T; S) (bits)."""
    head = (f"{'method':18} {'γ/λ/ε':>6} {'label AUC s=1':>16} {'label AUC':>8} {'adversary AUC':>16} "
            f"{'KS':>14} {'I held-out':>10} {'γ learned':>9} {'s/epoch':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        spe = f"{r['seconds_per_epoch']:.3f}" if r.get("seconds_per_epoch") else ""
        mi = f"{r['mi_heldout_mean']:.4f}" if "mi_heldout_mean" in r else ""
        gam = f"{r['gamma_mean']:.3g}" if r["method"] == BUDGET and "gamma_mean" in r else ""
        lines.append(
            f"{r['method']:18} {r['strength']:>6g} "
            f"{r['label_auc_s1_mean']:>8.4f} ± {r['label_auc_s1_std']:.4f} "
            f"{r.get('label_auc_mean', 0):>8.4f} "
            f"{r['adversary_auc_mean']:>8.4f} ± {r['adversary_auc_std']:.4f} "
            f"{r['ks_mean']:>6.4f} ± {r['ks_std']:.4f} {mi:>10} {gam:>9} {spe:>8}"
        )
    return "\n".join(lines)


def plot_front(rows: list[dict], path: Path, title: str, reference: bool = True,
               auc_key: str = "label_auc_s1") -> None:
    """Left: label AUC against adversary AUC, one curve per method (error bars: std over seeds). Right (if
    the sweep has budget points): budget ε against the measured held-out I(T; S) and the adversary AUC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = sorted((r for r in rows if r["method"] == BUDGET), key=lambda r: r["strength"])
    fig, axes = plt.subplots(1, 2 if budget else 1, figsize=(12.4 if budget else 6.4, 4.8), squeeze=False)
    ax = axes[0, 0]
    for method, marker in (("SQNN", "o"), (BUDGET, "D"), ("gradient reversal", "s"), ("float MLP", "^")):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["strength"])
        if not rs:
            continue
        ax.errorbar([r["adversary_auc_mean"] for r in rs], [r[f"{auc_key}_mean"] for r in rs],
                    xerr=[r["adversary_auc_std"] for r in rs], yerr=[r[f"{auc_key}_std"] for r in rs],
                    marker=marker, capsize=2,
                    label=f"sqnn: {method}" + (" (ε, bits)" if method == BUDGET else ""))
        for r in rs:
            ax.annotate(f"{r['strength']:g}", (r["adversary_auc_mean"], r[f"{auc_key}_mean"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    if reference:
        ref = sorted(REFERENCE_FRONT.items())
        ax.plot([v[1] for _, v in ref], [v[0] for _, v in ref], "k--", marker="x",
                label="reference: hepinfo 0.1.4 SQNN")
        for g, v in ref:
            ax.annotate(f"γ={g:g}", (v[1], v[0]), fontsize=7, xytext=(-12, -10), textcoords="offset points")
    ax.axvline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("adversary AUC of S from the last hidden layer (0.5 = invariant)")
    ax.set_ylabel("label ROC AUC on real data (s = 1)" if auc_key == "label_auc_s1" else "label ROC AUC")
    ax.set_title(title)
    ax.legend(fontsize=8)
    if budget:
        ax = axes[0, 1]
        eps = [r["strength"] for r in budget]
        floor = min(eps) / 10
        ax.loglog(eps, [max(r.get("mi_heldout_mean", 0.0), floor) for r in budget], "D-",
                  label="measured held-out I(T;S) (bias-corrected)")
        ax.loglog(eps, eps, "k:", lw=1, label="budget (I = ε)")
        ax.set_xlabel("budget ε (bits)")
        ax.set_ylabel(f"held-out I(T;S), bits (values < {floor:g} drawn at {floor:g})")
        twin = ax.twinx()
        twin.errorbar(eps, [r["adversary_auc_mean"] for r in budget],
                      yerr=[r["adversary_auc_std"] for r in budget], color="C3", marker="s", capsize=2,
                      label="adversary AUC (test rows)")
        twin.set_ylabel("adversary AUC")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
        ax.set_title("the budget and the adversary audit")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def _parse_budgets(text) -> list[float]:
    """``--max-mi`` "0.1,0.03" -> [0.1, 0.03]; every budget a positive number of bits."""
    if isinstance(text, (list, tuple)):
        return [float(v) for v in text]
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--max-mi must be comma-separated numbers of bits like 0.1,0.01, "
                         f"got {text!r}") from None
    if any(not v > 0 for v in values):
        raise ValueError(f"--max-mi budgets must be positive numbers of bits, got {text!r}")
    return values


def run(args) -> int:
    """Run the sweep described by parsed arguments; write JSON and PNG per data set."""
    datasets = args.data
    if not datasets:
        datasets = ["default"]
        shift2 = Path(__file__).resolve().parent.parent / "tests" / "data" / "showers_shift2.csv.gz"
        if shift2.exists():
            datasets.append(str(shift2))
    gammas, grl, seeds, n = args.gammas, args.grl, args.seeds, None
    max_mis = _parse_budgets(args.max_mi)
    if args.quick:
        gammas, grl, seeds, n = gammas[:1] + gammas[-1:], grl[:1], seeds[:1], 6000
        max_mis = max_mis[:1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in datasets:
        X, y, s = _subsample(*_load(name), n)
        label = "default" if name == "default" else Path(name).name.split(".")[0]
        print(f"\n== {label}: {len(X)} rows; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'all')}")
        t0 = time.perf_counter()
        rows = run_sweep(X, y, s, gammas, grl, tuple(seeds), max_mis=max_mis, quick=args.quick,
                         scheduler=args.scheduler, unlabelled_domain=None if args.all_labelled else 1)
        print(format_table(rows))
        print(f"({time.perf_counter() - t0:.0f} s)")
        results[label] = rows
        plot_front(rows, out / f"front_{label}.png", f"accuracy–invariance front: {label}",
                   reference=(label == "default" and not args.quick),
                   auc_key="label_auc" if args.all_labelled else "label_auc_s1")
    with atomic_path(out / "front.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'front.json'} and front_*.png")
    return 0
