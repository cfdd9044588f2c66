"""Command line ``sqnn``: all of its argparse code; one clear line and exit status 2 on error, no traceback.

Subcommands: ``demo`` (train γ = 0, γ > 0 and gradient reversal on the embedded data and compare them),
``train`` (fit an SQNNClassifier on a CSV/Parquet/ROOT table), ``predict`` (score a table in chunks),
``info`` (model summary with the FPGA estimate), ``export-fpga`` (write and verify the FPGA project),
``export-onnx`` (exact ONNX/QONNX graph), ``simulate`` / ``estimate`` (co-simulate / synthesise an FPGA
project), ``sweep`` (the accuracy–invariance front) and ``bench`` (``benchmarks/report.py`` of a checkout).
Only the standard library is imported before a subcommand runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path


class CLIError(Exception):
    """An error reported to the user as one line, exit status 2."""


# -- helpers ------------------------------------------------------------------------------------------------
def _write_fpga(spec, outdir: Path) -> str:
    """Write the FPGA project of ``spec`` and verify it against the model (as ``sqnn export-fpga``)."""
    from fpga import verify_project, write_project

    path = write_project(spec, outdir)
    verify_project(path, spec)
    return f"FPGA project written to {path} and verified against the model"


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
    _demo_plot(rows, best, yt, st, png, note)
    written.append(png)
    status = _write_fpga(best["model"].to_spec(), out / "fpga")
    print()
    print(f"files in {out}/: " + ", ".join(p.name for p in written))
    print(f"{status} (model: {best['name']})")
    print(f"demo finished in {time.perf_counter() - t_start:.0f} s")


def _demo_plot(rows, best, yt, st, path: Path, note: str = "") -> None:
    """One PNG: score distributions per domain (γ = 0 and the chosen model), ROC per domain, the front."""
    from matplotlib.figure import Figure

    from .plots import invariance_front, roc_per_domain, score_distribution
    from .sweep import REFERENCE_FRONT

    domains = {0: "s=0 simulation", 1: "s=1 data"}
    fig = Figure(figsize=(21, 5), layout="constrained")
    panels = fig.subfigures(1, 4, width_ratios=[1, 1, 1, 1.1])
    for panel, r in zip(panels[:2], (rows[0], best), strict=True):
        score_distribution(r["score"], st, xlabel="P(quark)", domain_names=domains,
                           title=f"{r['name']}: KS={r['ks']:.3f}", fig=panel)
    roc_per_domain(yt, {rows[0]["name"]: rows[0]["score"], best["name"]: best["score"]}, st,
                   domain_names=domains, title="label ROC per domain", fig=panels[2])
    sq = [r for r in rows if r["name"].startswith("SQNN")]
    methods = {"SQNN (this run)": [(r["adv"], r["auc_s1"], r["name"].split()[-1]) for r in sq]}
    methods.update({r["name"]: [(r["adv"], r["auc_s1"])] for r in rows if not r["name"].startswith("SQNN")})
    invariance_front(methods, reference=[(v[1], v[0]) for v in REFERENCE_FRONT.values()],
                     reference_name="hepinfo reference (γ sweep)", title="accuracy–invariance front",
                     fig=panels[3])
    if note:
        fig.suptitle(f"sqnn demo ({note}; reference: 50k rows, 3 seeds)", fontsize=10)
    from sqnn_kernels.fileio import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")


# -- train / export -----------------------------------------------------------------------------------------
def _train(args) -> None:
    import numpy as np

    from sqnn_kernels.fileio import check_not_input

    from .classifier import SQNNClassifier
    from .metrics import invariance_report
    from .tables import load_table

    check_not_input(args.out, args.data, what="model file")
    marker = _unlabelled_marker(args.unlabelled)
    domain = None if args.domain.lower() in ("", "none") else args.domain
    X, y, s, names = load_table(args.data, features=_features(args.features), label=args.label,
                                domain=domain, tree=args.tree)
    if args.unlabelled_domain is not None:
        if s is None:
            raise CLIError("--unlabelled-domain needs --domain")
        if marker is None:
            raise CLIError("--unlabelled-domain needs an unlabelled marker (not --unlabelled none)")
        y = np.where(s == args.unlabelled_domain, marker, y)
    kwargs = {"mi": args.mi} if args.mi else {}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    model = SQNNClassifier(hidden=_parse_hidden(args.hidden), gamma=args.gamma, random_state=args.seed,
                           verbose=not args.quiet, unlabelled=marker, **kwargs)
    t0 = time.perf_counter()
    import pandas as pd

    X = pd.DataFrame(X, columns=names)  # the model remembers the names (saved, checked at predict)
    model.fit(X, y, s)
    n_lab = len(y) if marker is None else int(np.count_nonzero(y != marker))
    print(f"trained on {len(X)} rows ({n_lab} labelled, {len(model.classes_)} classes) in "
          f"{time.perf_counter() - t0:.1f} s")
    if s is not None and np.unique(s).size >= 2:
        rep = invariance_report(model, X, y, s, adversary=False, mi=True)
        mi = ", ".join(f"{d['per_neuron']:.4f}" for d in rep.get("mi", []))
        print(f"training rows: label AUC {_fmt(rep.get('label_auc'))}, KS {_fmt(rep.get('ks'))}, "
              f"per-neuron MI per layer [bits] {mi}")
    model.save(args.out)
    print(f"model written to {args.out}")


def _unlabelled_marker(text: str) -> int | None:
    """``--unlabelled``: an integer label value, or ``none`` (every row labelled, e.g. for ±1 labels)."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise CLIError(f"--unlabelled must be an integer label value or 'none', got {text!r}") from None


def _features(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise CLIError(f"--features must be comma-separated column names, got {text!r}")
    return names


def _load_spec(path):
    import sqnn_kernels as sk

    return sk.BinaryNetSpec.from_npz(path)


def _predict(args) -> None:
    from .streaming import predict_file

    if args.chunk_size is not None and args.chunk_size < 1:
        raise CLIError(f"--chunk-size must be a positive integer, got {args.chunk_size}")
    kwargs = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
    summary = predict_file(args.model, args.input, args.out, progress=not args.quiet,
                           features=_features(args.features), tree=args.tree, proba=args.proba, **kwargs)
    if not args.quiet:
        print(f"wrote {summary.n_rows:,} rows to {summary.out_path} in {summary.seconds:.1f} s "
              f"({summary.rows_per_second:,.0f} rows/s)")


def _parse_frac_bits(text: str | None):
    if text is None:
        return None
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(f"--frac-bits must be an integer or comma-separated integers, got {text!r}") from None
    if not values:
        raise CLIError(f"--frac-bits must be an integer or comma-separated integers, got {text!r}")
    return values[0] if len(values) == 1 else values


def _stochastic_config(args):
    import json

    import sqnn_kernels as sk
    from fpga import StochasticConfig

    slope = args.slope
    if slope is None:
        _, extra = sk.BinaryNetSpec.from_npz(args.model, return_extra=True)
        if "params_json" not in extra:
            raise CLIError("--stochastic needs --slope (the model file is a bare BinaryNetSpec)")
        slope = json.loads(str(extra["params_json"]))["slope"]
    return StochasticConfig(slope=slope, rng_bits=args.rng_bits, seed=args.rng_seed)


def _export_fpga(args) -> None:
    from fpga import export_cli

    stochastic = _stochastic_config(args) if args.stochastic else None
    if not args.stochastic and (args.slope is not None):
        raise CLIError("--slope applies only with --stochastic")
    path = export_cli(args.model, Path(args.out), feature_bits=args.feature_bits,
                      frac_bits=_parse_frac_bits(args.frac_bits), stochastic=stochastic)
    mode = "stochastic" if stochastic else "deterministic"
    print(f"FPGA project ({mode}, {args.feature_bits}-bit features) for {args.model} written to {path} "
          "and verified against the model")


def _simulate(args) -> None:
    import warnings

    import numpy as np

    from fpga import SaturationWarning, dequantize_features, quantize_features, read_manifest, simulate

    from .tables import load_table

    if args.rows < 1:
        raise CLIError(f"--rows must be a positive integer, got {args.rows}")
    manifest = read_manifest(args.project)
    spec = _load_spec(args.model) if args.model else None
    features = _features(args.features)
    if spec is not None and (features is not None or spec.feature_names is not None):
        from .streaming import _model_features

        features = _model_features(spec, features)  # the model's names, in its order (a mismatch is an error)
    X = load_table(args.input, features=features, tree=args.tree)[0][: args.rows]
    try:
        scores, classes = simulate(args.project, X, simulator=args.simulator)
    except RuntimeError as err:  # fpga.SimulationError: a missing tool, a failed build or run
        raise CLIError(str(err)) from None
    print(f"simulated {len(X)} rows with {args.simulator}: {scores.shape[1]} score(s) per row, "
          f"score range [{scores.min() if scores.size else 0}, {scores.max() if scores.size else 0}], "
          f"class 1 on {int(classes[:, 0].sum())} rows")
    if spec is not None:
        fb, frac = manifest.get("feature_bits", 16), manifest.get("frac_bits")
        with warnings.catch_warnings():  # simulate() above already warned about saturated values
            warnings.simplefilter("ignore", SaturationWarning)
            x_int, clipped = quantize_features(X, fb, frac)
        agree = int(np.all(scores == spec.predict_scores(dequantize_features(x_int, frac)), axis=1).sum())
        print(f"scores equal {args.model} on the quantised inputs for {agree} of {len(X)} rows"
              + (f" ({clipped} feature values saturated)" if clipped else ""))
        if agree != len(X):
            raise CLIError(f"co-simulation disagrees with the model on {len(X) - agree} rows")


def _estimate(args) -> None:
    import tempfile

    if args.clock_mhz is not None and args.target != "ecp5":
        raise CLIError(f"--clock-mhz needs --target ecp5 (place-and-route), got --target {args.target}")
    from sqnn_kernels.fileio import check_not_input

    source = Path(args.project)
    if args.report is not None:
        check_not_input(args.report, source, what="report")
    with tempfile.TemporaryDirectory(prefix="sqnn-estimate-") as tmp:
        if source.is_file():  # a model: its project (and, without --report, the log) in a scratch folder
            from fpga import write_project

            project = write_project(_load_spec(source), Path(tmp) / "project", coe=False, mif=False,
                                    feature_bits=16 if args.feature_bits is None else args.feature_bits)
            report = args.report if args.report is not None else Path(tmp) / "report.rpt"
        else:
            if args.feature_bits is not None:
                raise CLIError("--feature-bits applies to a model file; a project already fixes its width")
            project, report = source, args.report
        r = _run_estimate(project, args, report)
        print(_estimate_text(r, args, shown_report=source.is_dir() or args.report is not None))


def _run_estimate(project, args, report) -> dict:
    from fpga import estimate_resources

    options = {"part": args.part, "seed": args.seed}
    if args.clock_mhz is not None:
        options["freq_mhz"] = args.clock_mhz
    try:
        return estimate_resources(project, target=args.target, flat=args.flat, report=report,
                                  timeout=args.timeout, **options)
    except RuntimeError as err:  # yosys or nextpnr missing, failed or timed out
        raise CLIError(str(err)) from None


def _estimate_text(r: dict, args, shown_report: bool) -> str:
    """The lines ``sqnn estimate`` prints for a result of ``fpga.estimate_resources``."""
    flow = "flat" if r["flat"] else f"{r['units']} units in parallel"
    lines = [f"yosys {args.target} ({flow}, {r['seconds']:.0f} s): {r['lut']:,} LUT, {r['ff']:,} FF, "
             f"{r['carry']:,} carry"]
    if "fmax_mhz" in r:
        used = ", ".join(f"{k} {v['used']:,} / {v['available']:,} ({100 * v['used'] / v['available']:.1f} %)"
                         for k, v in sorted(r["utilization"].items()) if v["used"])
        lines.append(f"nextpnr-ecp5 on {r['part']}: {used}")
        met = "met" if r["meets_clock"] else "NOT met"
        lines.append(f"Fmax after place-and-route {r['fmax_mhz']:.1f} MHz: {r['clock_mhz']:g} MHz {met}; "
                     f"latency {r['latency_clocks']} clocks = {r['latency_ns_at_fmax']:.1f} ns at Fmax, "
                     f"{r['latency_ns_at_clock']:.1f} ns at {r['clock_mhz']:g} MHz")
    if shown_report:
        lines.append(f"report {r['report']}")
    return "\n".join(lines)


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
    from sqnn_kernels.fileio import check_not_input

    check_not_input(args.out, args.model, what="ONNX file")
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
    import importlib.util

    need = "sqnn bench needs the test extra (pip install -e '.[test]')"
    missing = [m for m in ("pytest", "pytest_benchmark", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(f"{need}: missing {', '.join(missing)}")
    try:
        from benchmarks.report import main as report_main

        status = report_main(list(args.options))
    except ImportError as err:
        raise CLIError(f"{need}: {err}") from None
    if status:
        raise CLIError(f"benchmark report failed with status {status}")


def _sweep(args) -> None:
    from . import sweep

    if args.gammas is None:
        args.gammas = list(sweep.DEFAULT_GAMMAS)
    if args.grl is None:
        args.grl = list(sweep.DEFAULT_GRL)
    if args.max_mi is None:
        args.max_mi = list(sweep.DEFAULT_BUDGETS)
    sweep.run(args)


MODEL_HELP = "model .npz written by SQNNClassifier.save or BinaryNetSpec.to_npz"


class _VersionAction(argparse.Action):
    """``--version``: reads the installed package metadata only when asked (keeps ``--help`` fast)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib import metadata

        try:
            version = metadata.version("sqnn")
        except metadata.PackageNotFoundError:  # a source tree that is not installed
            version = "unknown (not installed)"
        print(f"sqnn {version}")
        parser.exit()


def _add_table_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--tree", default=None, help="ROOT only: TTree name (needed if the file holds several)")
    p.add_argument("--features", default=None,
                   help=f"comma-separated feature columns, in model order (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    """The ``sqnn`` argument parser (imports nothing beyond the standard library: ``--help`` is instant)."""
    parser = argparse.ArgumentParser(prog="sqnn", description="Stochastically Quantized Neural Networks: "
                                     "train, score, summarise and export binary nets (CPU, ONNX, FPGA)")
    parser.add_argument("--version", action=_VersionAction, help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="train γ = 0, γ > 0 and gradient reversal on the embedded data")
    demo.add_argument("--out", default="sqnn_out", help="output folder (default sqnn_out)")
    demo.add_argument("--gammas", default="0,0.5,1", help="comma-separated γ values (default 0,0.5,1)")
    demo.add_argument("--strength", type=float, default=1.0, help="gradient reversal λ (default 1)")
    demo.add_argument("--rows", type=int, default=25000,
                      help="training and test rows to subsample (default 25000; 0 = full 50k/50k protocol)")
    demo.add_argument("--epochs", type=int, default=40, help="epochs per model (default 40)")
    demo.add_argument("--seed", type=int, default=0,
                      help="seed of the subsample and of every model (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="fit an SQNNClassifier on a CSV/Parquet/ROOT table, save it (.npz)")
    train.add_argument("--data", required=True, help="input table: .csv/.csv.gz, .parquet/.pq or .root")
    train.add_argument("--label", default="y",
                       help="label column: integer classes (2 or more); rows equal to --unlabelled are "
                            "unlabelled (default y)")
    train.add_argument("--unlabelled", default="-1",
                       help="label value of unlabelled rows (default -1); 'none' = every row is labelled, "
                            "e.g. for +-1 labels")
    train.add_argument("--domain", default="s",
                       help="domain column (integers; default s, as training.datasets.load_csv); "
                            "'none' if the file has none")
    _add_table_options(train, "every column but the label and domain")
    train.add_argument("--unlabelled-domain", type=int, default=None,
                       help="treat rows of this domain as unlabelled (y = -1)")
    train.add_argument("--gamma", type=float, default=0.5, help="weight of the I(T;S) penalty (default 0.5)")
    train.add_argument("--mi", default=None, choices=["per_neuron", "joint", "conditional", "grouped"],
                       help="I(T;S) estimator (default: SQNNClassifier's)")
    train.add_argument("--hidden", default="64,64", help="hidden layer sizes (default 64,64)")
    train.add_argument("--epochs", type=int, default=None, help="training epochs (default: SQNNClassifier's)")
    train.add_argument("--seed", type=int, default=0, help="random_state of the classifier (default 0)")
    train.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    predict = sub.add_parser(
        "predict", help="score a CSV/Parquet/ROOT file in chunks and write the scores to Parquet",
        description="Score every row of INPUT with MODEL in bounded memory; write score (int32) and proba "
                    "(float64) columns, row i of the output for row i of the input, to --out (Parquet, "
                    "written atomically).")
    predict.add_argument("model", help=MODEL_HELP)
    predict.add_argument("input", help="input table: .root, .parquet/.pq, .csv or .csv.gz")
    predict.add_argument("--out", "-o", required=True, help="output .parquet file")
    predict.add_argument("--chunk-size", type=int, default=None,
                         help="rows per chunk (default training.streaming.DEFAULT_CHUNK_SIZE, 100000)")
    _add_table_options(predict, "the feature names saved in the model")
    predict.add_argument("--no-proba", dest="proba", action="store_false",
                         help="write only the integer scores")
    predict.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    predict.set_defaults(func=_predict)

    info = sub.add_parser("info", help="summary of a saved model: layers, bits, memory, engine, FPGA cost")
    info.add_argument("model", help=MODEL_HELP)
    info.add_argument("--feature-bits", type=int, default=16,
                      help="FPGA input width per feature for the latency/LUT estimate (default 16)")
    info.set_defaults(func=_info)

    export = sub.add_parser("export-fpga", help="write (and verify) the FPGA project of a saved model")
    export.add_argument("model", help=MODEL_HELP)
    export.add_argument("--out", default="sqnn_fpga", help="output folder (default sqnn_fpga)")
    export.add_argument("--feature-bits", type=int, default=16,
                        help="input width per feature, two's complement (default 16)")
    export.add_argument("--frac-bits", default=None,
                        help="fractional bits of the inputs: one integer, or one per feature comma-separated "
                             "(default: per feature, the finest grid holding every edge, 1 bit headroom)")
    export.add_argument("--stochastic", action="store_true",
                        help="stochastic mode: hidden bits drawn by per-neuron LFSRs against quantised θ")
    export.add_argument("--slope", type=float, default=None,
                        help="stochastic: θ = sigmoid(slope·a) (default: the slope saved with an "
                             "SQNNClassifier)")
    export.add_argument("--rng-bits", type=int, default=8, help="stochastic: LFSR bits per draw (default 8)")
    export.add_argument("--rng-seed", type=int, default=0,
                        help="stochastic: seed of the LFSR seeds (default 0)")
    export.set_defaults(func=_export_fpga)

    onnx = sub.add_parser("export-onnx", help="write the exact ONNX (or QONNX) graph of a saved model")
    onnx.add_argument("model", help=MODEL_HELP)
    onnx.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
    onnx.add_argument("--qonnx", action="store_true",
                      help="QONNX dialect with BipolarQuant activations (for qonnx, FINN, hls4ml), batch 1")
    onnx.set_defaults(func=_export_onnx)

    sim = sub.add_parser("simulate", help="co-simulate an FPGA project (verilator/iverilog) on a table")
    sim.add_argument("project", help="folder written by sqnn export-fpga")
    sim.add_argument("input", help="input table: .csv/.csv.gz, .parquet/.pq or .root")
    sim.add_argument("--model", default=None,
                     help="model .npz: also compare the simulated scores with it on the quantised inputs")
    _add_table_options(sim, "the feature names of --model, else every column")
    sim.add_argument("--rows", type=int, default=1000, help="simulate the first ROWS rows (default 1000)")
    sim.add_argument("--simulator", default="verilator", choices=["verilator", "iverilog"],
                     help="HDL simulator (default verilator)")
    sim.set_defaults(func=_simulate)

    est = sub.add_parser(
        "estimate", help="synthesise an FPGA project (or a model's) with yosys: LUT/FF; ECP5: Fmax, latency",
        description="Synthesise sqnn_core with yosys and count LUTs and flip-flops; with --target ecp5 "
                    "also place and route it with nextpnr-ecp5 and report utilisation, Fmax and the event "
                    "latency.")
    est.add_argument("project", help="folder written by sqnn export-fpga, or a model .npz (its project is "
                                     "written to a temporary folder)")
    est.add_argument("--target", default="xilinx", choices=["ecp5", "generic", "ice40", "xilinx"],
                     help="synthesis flow (default xilinx: synth_xilinx; ecp5: synth_ecp5 + nextpnr-ecp5)")
    est.add_argument("--part", default=None,
                     help="ECP5 device for --target ecp5, e.g. LFE5U-85F (the default), LFE5U-25F, "
                          "LFE5UM-45F")
    est.add_argument("--clock-mhz", type=float, default=None,
                     help="ECP5: clock target of place-and-route and of the 'met' check (default 40 MHz, one "
                          "event per LHC bunch crossing)")
    est.add_argument("--seed", type=int, default=1, help="ECP5: nextpnr placer seed (default 1)")
    est.add_argument("--flat", action="store_true",
                     help="one flat synthesis of the whole core (slower; the default synthesises the "
                          "register-bounded parts in parallel and adds their counts)")
    est.add_argument("--feature-bits", type=int, default=None,
                     help="model input only: input width per feature (default 16)")
    est.add_argument("--report", default=None,
                     help="where to write the tool log (default: <project>/resources_<target>.rpt)")
    est.add_argument("--timeout", type=float, default=1800.0,
                     help="seconds allowed to each tool run (default 1800)")
    est.set_defaults(func=_estimate)

    sweep = sub.add_parser("sweep", help="accuracy–invariance front: SQNN γ and budget grids, MLP, gradient "
                                         "reversal")
    sweep.add_argument("--data", action="append",
                       help="'default' (embedded data) or a CSV with columns y and s; repeatable "
                            "(default: the embedded data, plus tests/data/showers_shift2.csv.gz if present)")
    sweep.add_argument("--gammas", type=float, nargs="+", default=None,
                       help="SQNN γ values (default training.sweep.DEFAULT_GAMMAS: 0 0.3 0.5 1 3 10)")
    sweep.add_argument("--grl", type=float, nargs="+", default=None,
                       help="gradient-reversal strengths λ (default training.sweep.DEFAULT_GRL: 0.3 1 3)")
    sweep.add_argument("--max-mi", default=None,
                       help="comma-separated information budgets ε in bits, each traced by "
                            "SQNNClassifier(max_mi=ε) (default training.budget.DEFAULT_BUDGETS: "
                            "0.1,0.05,0.03,0.02,0.01,0.005,0.003,0.002,0.001; '' for none)")
    sweep.add_argument("--scheduler", default=None,
                       help="dask scheduler address (e.g. tcp://host:8786): every fit runs as a dask task "
                            "(same results as the local run)")
    sweep.add_argument("--all-labelled", action="store_true",
                       help="keep every domain's labels in training (fairness data, s a sensitive "
                            "attribute; default: s = 1 rows are unlabelled); the plot then shows the label "
                            "AUC of all rows")
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                       help="seeds; every point is the mean ± std over them (default 0 1 2)")
    sweep.add_argument("--out", default="sweep_out",
                       help="output folder for front.json and the PNGs (default sweep_out)")
    sweep.add_argument("--quick", action="store_true",
                       help="CI smoke mode: 6000 rows, 3 epochs, 2 γ values, 1 seed, no reference")
    sweep.set_defaults(func=_sweep)

    bench = sub.add_parser("bench", help="benchmark report of a source checkout (options: sqnn bench --help)",
                           add_help=False)
    bench.set_defaults(func=_bench, options=[])  # main() hands every later argument to benchmarks.report
    return parser


# commands that train: every kernel their fits and diagnostics miss in the cache is compiled in a helper
# process (sqnn_kernels._compile_helper), so a first run holds no compiler memory
_TRAINING_COMMANDS = ("demo", "train", "sweep")


def _compiler_for(command: str):
    """:func:`sqnn_kernels._compile_helper.compile_elsewhere` for a training command, else a no-op (the
    other commands do not import numba for it)."""
    if command not in _TRAINING_COMMANDS:
        return contextlib.nullcontext()
    from sqnn_kernels._compile_helper import compile_elsewhere

    return compile_elsewhere()


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
        with _compiler_for(args.command):
            args.func(args)
    except (CLIError, ValueError, TypeError, OSError, KeyError, ImportError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"sqnn {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sqnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
