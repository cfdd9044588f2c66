"""The ``sqnn`` command line: train / export / errors as one line with a non-zero exit status."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import SQNNClassifier
from training.cli import build_parser, main
from training.datasets import load_csv, load_showers


def _write_csv(path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 3)) + y[:, None] * 0.8
    rows = zip(x, y, s, strict=True)
    lines = ["a,b,c,y,s"] + [f"{r[0]:.5f},{r[1]:.5f},{r[2]:.5f},{yy},{ss}" for r, yy, ss in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line_error(capsys, code):
    out = capsys.readouterr()
    assert code != 0
    lines = [ln for ln in out.err.strip().splitlines() if ln]
    assert len(lines) == 1, out.err
    assert "Traceback" not in out.err
    return lines[0]


def test_train_and_export(tmp_path, capsys):
    data = _write_csv(tmp_path / "d.csv")
    model_path = tmp_path / "m.npz"
    code = main(["train", "--data", str(data), "--label", "y", "--domain", "s", "--gamma", "0.5",
                 "--hidden", "8", "--epochs", "2", "--out", str(model_path), "--quiet",
                 "--unlabelled-domain", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "model written" in out
    model = SQNNClassifier.load(model_path)
    assert model.gamma == 0.5 and model.hidden == (8,)
    assert model.to_spec().feature_names == ["a", "b", "c"]

    fpga_dir = tmp_path / "fp"
    assert main(["export-fpga", str(model_path), "--out", str(fpga_dir), "--feature-bits", "12",
                 "--frac-bits", "6"]) == 0
    assert "verified" in capsys.readouterr().out
    manifest = json.loads((fpga_dir / "manifest.json").read_text())
    assert manifest["feature_bits"] == 12 and manifest["frac_bits"] == 6
    assert main(["export-fpga", str(model_path), "--out", str(tmp_path / "st"), "--stochastic",
                 "--rng-bits", "6"]) == 0
    assert json.loads((tmp_path / "st" / "manifest.json").read_text())["stochastic"] == {
        "slope": model.slope, "rng_bits": 6, "seed": 0}
    model.to_spec().to_npz(tmp_path / "bare.npz")
    line = _one_line_error(capsys, main(["export-fpga", str(tmp_path / "bare.npz"), "--out",
                                         str(tmp_path / "b"), "--stochastic"]))
    assert "--slope" in line


def test_train_reads_parquet_with_chosen_features(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    cols = {"a": rng.normal(size=200) + y, "junk": np.zeros(200), "b": rng.normal(size=200), "label": y,
            "s": rng.integers(0, 2, 200)}
    pq.write_table(pa.table(cols), tmp_path / "d.parquet")
    code = main(["train", "--data", str(tmp_path / "d.parquet"), "--label", "label", "--features", "b,a",
                 "--hidden", "4", "--epochs", "1", "--out", str(tmp_path / "m.npz"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert SQNNClassifier.load(tmp_path / "m.npz").to_spec().feature_names == ["b", "a"]


def test_every_option_has_help_and_version(capsys):
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("sqnn", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            if action.option_strings:
                assert action.help, f"{name} {action.option_strings} has no help text"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("sqnn ")


def test_cli_import_is_light():
    """``sqnn --help`` imports neither numba, scikit-learn nor the trainer (issue 14: <= 0.8 s)."""
    heavy = "('numba', 'sklearn', 'numpy', 'training.classifier')"
    code = ("import sys, training.cli; training.cli.build_parser(); "
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.strip() == "[]"


def test_fpga_project_commands_fail_in_one_line(tmp_path, capsys):
    line = _one_line_error(capsys, main(["simulate", str(tmp_path / "none"), str(tmp_path / "x.csv")]))
    assert line.startswith("sqnn simulate: error:")
    line = _one_line_error(capsys, main(["estimate", str(tmp_path / "none")]))
    assert line.startswith("sqnn estimate: error:")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "--data", "/nonexistent.csv"], "not found"),
        (["export-fpga", "/nonexistent.npz"], "not found"),
        (["train", "--data", "{csv}", "--label", "nope"], "missing label column 'nope'"),
        (["train", "--data", "{csv}", "--hidden", "a,b"], "--hidden"),
        (["train", "--data", "{csv}", "--domain", "s", "--gamma", "-1", "--epochs", "1"], "gamma"),
        (["demo", "--gammas", "x"], "--gammas"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, argv, match):
    csv = _write_csv(tmp_path / "d.csv", n=40)
    argv = [a.replace("{csv}", str(csv)) for a in argv]
    line = _one_line_error(capsys, main(argv))
    assert match in line
    assert line.startswith(f"sqnn {argv[0]}: error:")


def test_corrupt_model_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    line = _one_line_error(capsys, main(["export-fpga", str(bad)]))
    assert "corrupt" in line


def test_usage_error_exit_code(capsys):
    assert main(["train"]) == 2  # missing --data: argparse usage error
    capsys.readouterr()
    assert main([]) == 0


def test_load_showers_and_csv_errors(tmp_path):
    x, y, s, names = load_showers()
    assert x.shape == (100000, 18) and x.dtype == np.float64
    assert np.bincount(y * 2 + s).tolist() == [25000] * 4
    assert names[0] == "n_const" and len(names) == 18
    p = tmp_path / "x.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,1\n")
    xx, yy, ss, nn = load_csv(p, label="y", domain=None)
    assert xx.tolist() == [[1, 2], [3, 4]] and yy.tolist() == [0, 1] and ss is None and nn == ["a", "b"]
    with pytest.raises(ValueError, match="domain column 's'"):
        load_csv(p, label="y", domain="s")
    p.write_text("a,b,y\n1,x,0\n")
    with pytest.raises(ValueError, match=r"x\.csv: .*'x'"):
        load_csv(p, label="y", domain=None)


def test_demo_small_end_to_end(tmp_path, capsys, monkeypatch):
    import training.metrics as metrics

    real = metrics.adversary_auc
    monkeypatch.setattr(metrics, "adversary_auc", lambda codes, s, **kw: real(codes, s, max_iter=20))
    out = tmp_path / "out"
    code = main(["demo", "--rows", "800", "--epochs", "2", "--gammas", "0,1", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "subsample: 800 training and 800 test rows" in text
    for name in ("SQNN γ=0", "SQNN γ=1", "GradRev λ=1"):
        assert name in text
    files = {p.name for p in out.iterdir()}
    assert {"SQNN_gamma0.npz", "SQNN_gamma1.npz", "GradRev_lambda1.npz", "sqnn_demo.png"} <= files
    assert (out / "sqnn_demo.png").stat().st_size > 10000
    assert "and verified against the model" in text
    SQNNClassifier.load(out / "SQNN_gamma1.npz")


def test_help_lists_every_subcommand(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "train", "predict", "info", "export-fpga", "export-onnx", "simulate", "estimate",
                    "sweep", "bench"):
        assert command in out


def test_bench_hands_options_to_the_report(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["predict", "missing.npz", "in.csv", "--out", "o.parquet"], "model file not found"),
        (["sweep", "--data", "missing.csv", "--quick"], "missing.csv"),
    ],
)
def test_predict_and_sweep_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(capsys, main(argv))
    assert match in line


def test_gradient_reversal_progress_bar_says_lambda(capsys):
    from training import GradientReversalClassifier

    rng = np.random.default_rng(0)
    x, y, s = rng.normal(size=(200, 3)), rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    GradientReversalClassifier(hidden=(4,), strength=2.5, epochs=1, verbose=True, random_state=0).fit(x, y, s)
    err = capsys.readouterr().err
    assert "GradientReversalClassifier λ=2.5" in err and "γ=0" not in err


@pytest.mark.hdl
def test_simulate_compares_the_project_with_the_model(tmp_path, capsys):
    from spec_factory import random_spec

    spec = random_spec(np.random.default_rng(5), 3, (4,), 1)
    spec.to_npz(tmp_path / "m.npz")
    data = _write_csv(tmp_path / "d.csv", n=60)
    assert main(["export-fpga", str(tmp_path / "m.npz"), "--out", str(tmp_path / "prj")]) == 0
    code = main(["simulate", str(tmp_path / "prj"), str(data), "--model", str(tmp_path / "m.npz"),
                 "--features", "a,b,c", "--rows", "50"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scores equal" in out and "for 50 of 50 rows" in out
