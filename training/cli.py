"""Command line ``sqnn``: one clear line on error, never a traceback.

Subcommands: ``demo`` (train γ = 0, γ > 0 and gradient reversal on the embedded data and compare them),
``train`` (fit an SQNNClassifier on a CSV file), ``predict`` (score a CSV/Parquet/ROOT file in chunks),
``export-fpga`` (write the FPGA project of a saved model), ``sweep`` (the accuracy–invariance front) and
``bench`` (``benchmarks/report.py`` of a source checkout).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


class CLIError(Exception):
    """An error reported to the user as one line, exit status 2."""


# -- helpers ------------------------------------------------------------------------------------------------
def _write_fpga(spec, outdir: Path) -> str:
    """Call ``fpga.write_project`` if the fpga package is importable; return a one-line status."""
    try:
        import fpga
    except ImportError as err:  # the fpga package is optional for the demo
        return f"FPGA export skipped (fpga package not available: {err})"
    write = getattr(fpga, "write_project", None)
    if write is None:
        return "FPGA export skipped (fpga.write_project not available)"
    path = write(spec, outdir)
    return f"FPGA project written to {path or outdir}"


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        hidden = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise CLIError(f"--hidden must be comma-separated integers like 64,64, got {text!r}") from None
    if not hidden or min(hidden) < 1:
        raise CLIError(f"--hidden must be comma-separated positive integers, got {text!r}")
    return hidden


def _parse_floats(text: str, name: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(f"{name} must be comma-separated numbers, got {text!r}") from None


def _fmt(v, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


# -- demo ---------------------------------------------------------------------------------------------------
REFERENCE_FRONT = {  # hepinfo 0.1.4, γ: (label AUC on s=1, adversary AUC), mean of 3 seeds (data README)
    0: (0.859, 0.616), 0.3: (0.856, 0.552), 1: (0.850, 0.541), 3: (0.836, 0.520), 10: (0.812, 0.505),
}


def _demo(args) -> None:
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    import sqnn_kernels as sk

    from .baselines import GradientReversalClassifier
    from .classifier import SQNNClassifier
    from .datasets import load_showers
    from .metrics import adversary_auc, ks_distance

    t_start = time.perf_counter()
    out = Path(args.out)
    gammas = _parse_floats(args.gammas, "--gammas")
    if not gammas or min(gammas) < 0:
        raise CLIError("--gammas must be non-negative numbers, e.g. 0,1,3")
    if 0.0 not in gammas:
        gammas = [0.0, *gammas]
    if args.rows < 0 or args.epochs < 1:
        raise CLIError("--rows must be >= 0 and --epochs >= 1")
    try:  # refuse before training, not after: D/fpga/ must be absent, empty or an untouched earlier export
        from fpga import check_replaceable
    except ImportError:
        pass
    else:
        check_replaceable(out / "fpga")
    X, y, s, _ = load_showers()
    idx_tr, idx_te = train_test_split(np.arange(len(X)), test_size=0.5, random_state=0, stratify=y * 10 + s)
    if args.rows and args.rows < len(idx_tr):
        rng = np.random.default_rng(args.seed)
        idx_tr = np.sort(rng.choice(idx_tr, args.rows, replace=False))
        idx_te = np.sort(rng.choice(idx_te, args.rows, replace=False))
        note = f"subsample: {args.rows} training and {args.rows} test rows"
    else:
        note = "full protocol: 50k training / 50k test rows"
    print("sqnn demo — quark/gluon jets, s=0 Pythia (labelled), s=1 Vincia+degraded detector (labels hidden)")
    print(f"  {note}, {args.epochs} epochs, seed {args.seed} (issue #10 uses 50k rows, 3 seeds; "
          f"run with --rows 0 --epochs 60 for it)")
    y_tr = np.where(s[idx_tr] == 1, -1, y[idx_tr])
    xt, yt, st = X[idx_te], y[idx_te], s[idx_te]
    common = {"epochs": args.epochs, "random_state": args.seed, "verbose": not args.quiet}
    models = [(f"SQNN γ={g:g}", SQNNClassifier(gamma=g, **common)) for g in gammas]
    grl = GradientReversalClassifier(strength=args.strength, **common)
    models.append((f"GradRev λ={args.strength:g}", grl))
    rows = []
    for name, model in models:
        t0 = time.perf_counter()
        model.fit(X[idx_tr], y_tr, s[idx_tr])
        fit_s = time.perf_counter() - t0
        score = model.predict_proba(xt)[:, 1]
        one = st == 1
        bits = model.transform(xt)
        row = {
            "name": name,
            "model": model,
            "score": score,
            "auc_s1": roc_auc_score(yt[one], score[one]),
            "auc_s0": roc_auc_score(yt[~one], score[~one]),
            "adv": adversary_auc(bits, st),
            "ks": ks_distance(score[~one], score[one]),
            "mi": [sk.per_neuron_mi(t, st) for t in model.activations(xt)],
            "fit_s": fit_s,
            "epoch_s": float(np.median(model.history_["seconds"])),
        }
        rows.append(row)
        if not args.quiet:
            print(f"  trained {name:<16} in {fit_s:5.1f} s: label AUC(s=1) {row['auc_s1']:.3f}, "
                  f"adversary AUC {row['adv']:.3f}", flush=True)
    n_layers = len(rows[0]["mi"])
    header = f"{'model':<16} {'AUC s=1':>8} {'AUC s=0':>8} {'adv AUC':>8} {'KS':>7} " + " ".join(
        f"{'MI L' + str(i + 1) + ' [b]':>11}" for i in range(n_layers)) + f" {'s/epoch':>8}"
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['name']:<16} {r['auc_s1']:8.3f} {r['auc_s0']:8.3f} {r['adv']:8.3f} {r['ks']:7.3f} "
              + " ".join(f"{m:11.4f}" for m in r["mi"]) + f" {r['epoch_s']:8.3f}")
    print("(adversary AUC: 5-fold CV HistGradientBoosting predicting s from the last hidden layer's bits; "
          "MI: per-neuron I(T;S) on test rows, bits)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    best = min((r for r in rows if r["name"].startswith("SQNN") and r["auc_s1"] >= rows[0]["auc_s1"] - 0.03),
               key=lambda r: r["adv"], default=rows[0])
    for r in rows:
        fname = r["name"].replace(" ", "_").replace("γ=", "gamma").replace("λ=", "lambda") + ".npz"
        r["model"].save(out / fname)
        written.append(out / fname)
    png = out / "sqnn_demo.png"
    _demo_plot(rows, best, st, png, note)
    written.append(png)
    status = _write_fpga(best["model"].to_spec(), out / "fpga")
    print()
    print(f"files in {out}/: " + ", ".join(p.name for p in written))
    print(f"{status} (model: {best['name']})")
    print(f"demo finished in {time.perf_counter() - t_start:.0f} s")


def _demo_plot(rows, best, st, path: Path, note: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, r in zip(axes[:2], (rows[0], best), strict=True):
        bins = np.linspace(0, 1, 41)
        for v, label in ((0, "s=0 simulation"), (1, "s=1 data")):
            ax.hist(r["score"][st == v], bins=bins, histtype="step", density=True, label=label)
        ax.set_title(f"{r['name']}: KS={r['ks']:.3f}")
        ax.set_xlabel("P(quark)")
        ax.legend()
    ax = axes[2]
    sq = [r for r in rows if r["name"].startswith("SQNN")]
    ax.plot([r["adv"] for r in sq], [r["auc_s1"] for r in sq], "o-", label="SQNN (this run)")
    for r in sq:
        ax.annotate(r["name"].split()[-1], (r["adv"], r["auc_s1"]), fontsize=8)
    for r in rows:
        if not r["name"].startswith("SQNN"):
            ax.plot(r["adv"], r["auc_s1"], "s", label=r["name"])
    ref = sorted(REFERENCE_FRONT.values(), key=lambda t: t[1])
    ax.plot([a for _, a in ref], [u for u, _ in ref], "x--", color="grey",
            label="hepinfo reference (γ sweep)")
    ax.set_xlabel("adversary AUC of s from hidden bits (0.5 = invariant)")
    ax.set_ylabel("label ROC AUC on s=1")
    ax.legend(fontsize=8)
    if note:
        fig.suptitle(f"sqnn demo ({note}; reference: 50k rows, 3 seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- train / export -----------------------------------------------------------------------------------------
def _train(args) -> None:
    import numpy as np

    from sqnn_kernels.fileio import check_not_input

    from .classifier import SQNNClassifier
    from .datasets import load_csv
    from .metrics import invariance_report

    check_not_input(args.out, args.data, what="model file")
    domain = None if args.domain.lower() in ("", "none") else args.domain
    X, y, s, names = load_csv(args.data, label=args.label, domain=domain)
    if args.unlabelled_domain is not None:
        if s is None:
            raise CLIError("--unlabelled-domain needs --domain")
        y = np.where(s == args.unlabelled_domain, -1, y)
    kwargs = {"mi": args.mi} if args.mi else {}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    model = SQNNClassifier(hidden=_parse_hidden(args.hidden), gamma=args.gamma, random_state=args.seed,
                           verbose=not args.quiet, **kwargs)
    t0 = time.perf_counter()
    model.fit(X, y, s)
    model.feature_names_ = names  # before the first to_spec(), so the saved spec carries them
    print(f"trained on {len(X)} rows ({int((y >= 0).sum())} labelled) in {time.perf_counter() - t0:.1f} s")
    if s is not None and np.unique(s).size >= 2:
        rep = invariance_report(model, X, y, s, adversary=False, mi=True)
        mi = ", ".join(f"{d['per_neuron']:.4f}" for d in rep.get("mi", []))
        print(f"training rows: label AUC {_fmt(rep.get('label_auc'))}, KS {_fmt(rep.get('ks'))}, "
              f"per-neuron MI per layer [bits] {mi}")
    model.save(args.out)
    print(f"model written to {args.out}")


def _export_fpga(args) -> None:
    import sqnn_kernels as sk

    spec = sk.BinaryNetSpec.from_npz(args.model)
    try:
        import fpga
    except ImportError as err:
        raise CLIError(f"the fpga package is not available ({err})") from None
    path = fpga.write_project(spec, Path(args.out))
    print(f"FPGA project for {args.model} ({spec.widths}) written to {path or args.out}")


def _info(args) -> None:
    import sqnn_kernels as sk

    spec = sk.BinaryNetSpec.from_npz(args.model)
    print(f"{args.model}: {spec.summary()}")
    if spec.feature_names:
        print("features: " + ", ".join(spec.feature_names))
    try:
        from fpga import auto_frac_bits, estimate_cost
    except ImportError as err:
        print(f"FPGA: not available ({err})")
        return
    cost = estimate_cost(spec, feature_bits=args.feature_bits)
    fracs = auto_frac_bits(spec.edges, args.feature_bits)
    print(f"FPGA (sqnn_core, {args.feature_bits}-bit features, frac_bits {min(fracs)}..{max(fracs)} per "
          f"feature): latency {cost['latency_clocks']} clocks, ~{cost['lut']:,} LUT6, ~{cost['ff']:,} FF "
          "(estimate calibrated on yosys synth_xilinx; within 15 % on the test nets)")


def _export_onnx(args) -> None:
    import sqnn_kernels as sk

    spec = sk.BinaryNetSpec.from_npz(args.model)
    try:
        path = spec.to_onnx(args.out, qonnx=args.qonnx)
    except ImportError as err:
        raise CLIError(str(err)) from None
    kind = "QONNX" if args.qonnx else "ONNX"
    print(f"{kind} model of {args.model} ({spec.widths}) written to {path}; input 'x' float32 "
          f"(n, {spec.n_features})")


def _bench(args) -> None:
    """``sqnn bench``: the benchmark report of a source checkout (``benchmarks/`` beside the packages)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "report.py").is_file():
        raise CLIError(f"sqnn bench needs a source checkout with benchmarks/ (not found under {root})")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from benchmarks.report import main as report_main
    except ImportError as err:
        raise CLIError(f"sqnn bench needs the test extra (pip install -e '.[test]'): {err}") from None

    status = report_main(list(args.options))
    if status:
        raise CLIError(f"benchmark report failed with status {status}")


def _sweep(args) -> None:
    from .sweep import run

    run(args)


def build_parser() -> argparse.ArgumentParser:
    """The ``sqnn`` argument parser."""
    parser = argparse.ArgumentParser(prog="sqnn", description="Stochastically Quantized Neural Networks")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="train γ = 0, γ > 0 and gradient reversal on the embedded data")
    demo.add_argument("--out", default="sqnn_out", help="output folder (default sqnn_out)")
    demo.add_argument("--gammas", default="0,0.5,1", help="comma-separated γ values (default 0,0.5,1)")
    demo.add_argument("--strength", type=float, default=1.0, help="gradient reversal λ (default 1)")
    demo.add_argument("--rows", type=int, default=25000,
                      help="training and test rows to subsample (default 25000; 0 = full 50k/50k protocol)")
    demo.add_argument("--epochs", type=int, default=40, help="epochs per model (default 40)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="fit an SQNNClassifier on a CSV file and save it (.npz)")
    train.add_argument("--data", required=True, help="CSV file (optionally .gz) with a header row")
    train.add_argument("--label", default="y", help="label column: 0/1, -1 = unlabelled (default y)")
    train.add_argument("--domain", default="s",
                       help="domain column (integers; default s, as training.datasets.load_csv); "
                            "'none' if the file has none")
    train.add_argument("--unlabelled-domain", type=int, default=None,
                       help="treat rows of this domain as unlabelled (y = -1)")
    train.add_argument("--gamma", type=float, default=0.5, help="weight of the I(T;S) penalty (default 0.5)")
    train.add_argument("--mi", default=None, choices=["per_neuron", "joint", "conditional", "grouped"],
                       help="I(T;S) estimator (default: SQNNClassifier's)")
    train.add_argument("--hidden", default="64,64", help="hidden layer sizes (default 64,64)")
    train.add_argument("--epochs", type=int, default=None, help="default: SQNNClassifier's")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)

    export = sub.add_parser("export-fpga", help="write the FPGA project of a saved model (.npz)")
    export.add_argument("model", help="file written by SQNNClassifier.save or BinaryNetSpec.to_npz")
    export.add_argument("--out", default="sqnn_fpga", help="output folder (default sqnn_fpga)")
    export.set_defaults(func=_export_fpga)

    info = sub.add_parser("info", help="summary of a saved model: layers, bits, memory, engine, FPGA cost")
    info.add_argument("model", help="file written by SQNNClassifier.save or BinaryNetSpec.to_npz")
    info.add_argument("--feature-bits", type=int, default=16,
                      help="FPGA input width per feature for the latency/LUT estimate (default 16)")
    info.set_defaults(func=_info)

    onnx = sub.add_parser("export-onnx", help="write the exact ONNX (or QONNX) graph of a saved model")
    onnx.add_argument("model", help="file written by SQNNClassifier.save or BinaryNetSpec.to_npz")
    onnx.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
    onnx.add_argument("--qonnx", action="store_true",
                      help="QONNX dialect with BipolarQuant activations (for qonnx, FINN, hls4ml), batch 1")
    onnx.set_defaults(func=_export_onnx)

    from .streaming import add_predict_parser

    add_predict_parser(sub)

    from .sweep import add_arguments as add_sweep_arguments

    sweep = sub.add_parser("sweep", help="accuracy–invariance front: SQNN γ grid, MLP, gradient reversal")
    add_sweep_arguments(sweep)
    sweep.set_defaults(func=_sweep)

    bench = sub.add_parser("bench", help="benchmark report: kernels vs numpy/BLAS at 1 and 2 threads",
                           add_help=False)
    bench.set_defaults(func=_bench, options=[])  # main() hands every later argument to benchmarks.report
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sqnn`` console script; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:  # options belong to benchmarks.report (--quick, -k, --suite, --out, ...)
            args = argparse.Namespace(command="bench", func=_bench, options=argv[1:])
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError, OSError, KeyError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"sqnn {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sqnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
