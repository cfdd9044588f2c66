"""``fpga.estimate_cost``: the synthesis-free LUT/FF model against recorded yosys results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_fpga_helpers import random_spec

import fpga
from sqnn_kernels.spec import BinaryNetSpec

DATA = Path(__file__).parent / "data"
RECORDED = json.loads((DATA / "fpga_yosys_recorded.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(RECORDED["nets"]))
def test_estimate_is_within_15_percent_of_yosys(name):
    spec = BinaryNetSpec.from_npz(DATA / name)
    est = fpga.estimate_cost(spec)
    rec = RECORDED["nets"][name]
    for key in ("lut", "ff"):
        assert abs(est[key] - rec[key]) <= 0.15 * rec[key], (key, est[key], rec[key])


def test_estimate_parts_add_up_and_latency_is_the_core_latency():
    spec = random_spec(np.random.default_rng(0), 3, [2, 5, 3], [7, 9], n_out=2)
    est = fpga.estimate_cost(spec)
    assert est["latency_clocks"] == fpga.model_facts(spec)["LATENCY"] == 8
    assert est["lut"] == sum(p["lut"] for p in est["breakdown"].values())
    assert est["ff"] == sum(p["ff"] for p in est["breakdown"].values())
    assert est["carry"] == sum(p["carry"] for p in est["breakdown"].values())
    assert {"input", "thermometer", "layer0", "layer1", "output"} <= set(est["breakdown"])
    wider = fpga.estimate_cost(spec, feature_bits=24)
    # wider features: longer comparator carry chains and input registers, no more LUTs
    assert wider["ff"] > est["ff"] and wider["carry"] > est["carry"] and wider["lut"] == est["lut"]


def test_estimate_rejects_bad_arguments():
    spec = random_spec(np.random.default_rng(0), 2, [2, 3], [4], n_out=1)
    with pytest.raises(TypeError, match="spec"):
        fpga.estimate_cost("spec")
    with pytest.raises(TypeError, match="feature_bits"):
        fpga.estimate_cost(spec, feature_bits=16.0)
    with pytest.raises(ValueError, match="feature_bits"):
        fpga.estimate_cost(spec, feature_bits=1)
