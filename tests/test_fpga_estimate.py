"""``fpga.estimate_resources``: the fast flow (the core's parts synthesised in parallel) against the flat
synthesis, and the ``sqnn estimate`` command (Xilinx counts; ECP5 place-and-route, Fmax, latency)."""

from __future__ import annotations

import numpy as np
import pytest
from test_fpga_helpers import random_spec

import fpga
from fpga import resources
from training.cli import build_parser, main


def _project(tmp_path, seed: int, hidden, name: str = "proj"):
    spec = random_spec(np.random.default_rng(seed), 3, [4, 3, 5], hidden, n_out=2)
    return spec, fpga.write_project(spec, tmp_path / name, frac_bits=8, coe=False, mif=False)


def test_parts_add_up_to_the_flat_synthesis(tmp_path):
    _, out = _project(tmp_path, 1, [10, 6])
    fast = fpga.estimate_resources(out, jobs=2)
    flat = fpga.estimate_resources(out, flat=True, report=tmp_path / "flat.rpt")
    assert not fast["flat"] and fast["units"] == 5  # thermometer, 2 layers, output layer, the core's logic
    assert flat["flat"] and flat["units"] == 1
    # every flip-flop of the flat netlist is in one part; the parts may keep a few that the flat synthesis
    # removes across their boundaries (input bits no edge looks at)
    assert flat["ff"] <= fast["ff"] <= 1.1 * flat["ff"]
    assert abs(fast["lut"] - flat["lut"]) <= 0.15 * flat["lut"], (fast["lut"], flat["lut"])
    assert fast["by_type"]["IBUF"] == flat["by_type"]["IBUF"]  # pads only on the core's ports, as flat
    assert not any("sqnn_" in k for k in fast["by_type"])  # the black boxes of the core's run are not cells
    log = (out / "resources_xilinx.rpt").read_text()
    assert log.count("\n==== ") == 5 and "sqnn_layer ====" in log
    assert fast["yosys_cpu_seconds"] > 0 and flat["yosys_cpu_seconds"] > 0


def test_split_finds_the_parts_largest_first_and_refuses_shared_modules(tmp_path):
    il = (
        "attribute \\top 1\nmodule \\top\n  wire \\a\n"
        "  cell $paramod$1\\small \\u_s\n  end\n  cell \\big \\u_b\n  end\n  cell $and $and$1\n  end\nend\n"
        "module $paramod$1\\small\n  wire \\x\nend\n"
        "module \\big\n" + "  wire \\w\n" * 50 + "  cell \\leaf \\u_l\n  end\nend\n"
        "module \\leaf\n" + "  wire \\v\n" * 10 + "end\n"
    )
    assert resources._parts_of(il, "top") == ["\\big", "$paramod$1\\small"]
    assert resources._parts_of(il, "leaf") == []  # no submodule: one flat synthesis
    assert resources._parts_of(il, "big") == []  # one part: nothing to run in parallel
    twice = il.replace("cell \\big \\u_b", "cell $paramod$1\\small \\u_b")
    assert resources._parts_of(twice, "top") == []  # a module used twice would be counted once


def test_estimate_rejects_bad_options(tmp_path):
    _, out = _project(tmp_path, 2, [4])
    with pytest.raises(TypeError, match="flat"):
        fpga.estimate_resources(out, flat="yes")
    with pytest.raises(ValueError, match="jobs"):
        fpga.estimate_resources(out, jobs=0)
    with pytest.raises(ValueError, match="target"):
        fpga.estimate_resources(out, target="stratix")
    with pytest.raises(ValueError, match="timeout"):
        fpga.estimate_resources(out, timeout=0)


def test_cli_targets_are_the_library_targets():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    est = sub.choices["estimate"]
    target = next(a for a in est._actions if a.dest == "target")
    assert sorted(target.choices) == sorted(resources.TARGETS)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--target", "ecp5", "--part", "LFE5U-99F"], "part must be one of"),
        (["--part", "LFE5U-85F"], "part is only used with target='ecp5'"),
        (["--clock-mhz", "50"], "--clock-mhz needs --target ecp5"),
        (["--target", "ecp5", "--clock-mhz", "-5"], "freq_mhz"),
        (["--timeout", "-1"], "timeout must be > 0"),
        (["--report", "{model}"], "report"),
    ],
)
def test_cli_estimate_errors_are_one_line(tmp_path, capsys, argv, match):
    spec, _ = _project(tmp_path, 3, [4])
    model = tmp_path / "m.npz"
    spec.to_npz(model)
    assert main(["estimate", str(model), *[a.replace("{model}", str(model)) for a in argv]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sqnn estimate: error:") and match in err[0], err


def test_cli_estimate_ecp5_from_a_model(tmp_path, capsys):
    spec = random_spec(np.random.default_rng(5), 2, [3, 2], [4], n_out=1)
    model = tmp_path / "m.npz"
    spec.to_npz(model)
    report = tmp_path / "ecp5.rpt"
    argv = ["estimate", str(model), "--target", "ecp5", "--part", "LFE5U-25F", "--clock-mhz", "40",
            "--report", str(report)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "nextpnr-ecp5 on LFE5U-25F" in out and "TRELLIS_FF" in out
    assert "40 MHz met" in out and "latency 6 clocks" in out and "ns at Fmax" in out
    assert "150.0 ns at 40 MHz" in out
    assert report.is_file() and "TRELLIS_FF" in report.read_text()
    assert not list(tmp_path.glob("*/manifest.json"))  # the model's project went to a temporary folder


def test_cli_estimate_of_a_project_passes_the_options_and_prints_the_counts(tmp_path, capsys, monkeypatch):
    _, out = _project(tmp_path, 4, [5])
    calls = []

    def fake(project, **kw):
        calls.append((project, kw))
        return {"lut": 1234, "ff": 56, "carry": 7, "flat": kw["flat"], "units": 1 if kw["flat"] else 5,
                "seconds": 3.0, "report": str(project / "resources_xilinx.rpt")}

    monkeypatch.setattr(fpga, "estimate_resources", fake)
    assert main(["estimate", str(out)]) == 0
    text = capsys.readouterr().out
    assert "(5 units in parallel, 3 s): 1,234 LUT, 56 FF, 7 carry" in text and "resources_xilinx.rpt" in text
    assert calls[-1][0] == out and calls[-1][1]["target"] == "xilinx" and not calls[-1][1]["flat"]
    assert main(["estimate", str(out), "--flat", "--timeout", "60"]) == 0
    assert "(flat, 3 s)" in capsys.readouterr().out
    assert calls[-1][1]["flat"] and calls[-1][1]["timeout"] == 60 and "freq_mhz" not in calls[-1][1]
    assert main(["estimate", str(out), "--feature-bits", "12"]) == 2
    assert "--feature-bits applies to a model file" in capsys.readouterr().err
