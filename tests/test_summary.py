"""repr(spec) is one short line; spec.summary() and ``sqnn info`` state the network's facts."""

import numpy as np
from spec_factory import random_spec

import sqnn_kernels as sk
from sqnn_kernels.summary import suggested_fixed_point
from training.cli import main


def test_repr_is_one_short_line(rng):
    spec = random_spec(rng, 45, (64, 64), 1)
    for text in (repr(spec), repr(spec.layers[0]), repr(spec.output)):
        assert "\n" not in text and len(text) < 120 and "array" not in text
    assert repr(spec) == f"BinaryNetSpec(features=45, widths={spec.n_inputs} -> 64 -> 64 -> 1, weights=" \
        f"{spec.n_inputs * 64 + 64 * 64 + 64:,})"


def test_summary_counts_weights_macs_and_memory(rng):
    spec = random_spec(rng, 7, (70, 3), 2)
    lines = spec.summary().splitlines()
    row = {ln.split()[0] + (ln.split()[1] if ln.startswith("hidden") else ""): ln.split() for ln in lines}
    k = spec.n_inputs
    memory = 70 * (8 * ((k + 63) // 64) + 4)
    assert row["hidden1"][2:] == [str(k), "70", f"{k * 70:,}", f"{k * 70:,}", f"{memory:,}"]
    assert row["hidden2"][2:] == ["70", "3", "210", "210", f"{3 * (16 + 4)}"]
    assert row["output"][1:] == ["3", "2", "6", "6", f"{2 * (8 + 4)}"]
    assert row["total"][1] == f"{k * 70 + 210 + 6:,}"
    assert "softmax over 2 classes" in spec.summary() and "engine: fused" in spec.summary()
    wide = random_spec(rng, 3, (300, 2), 1)
    assert "engine: layered" in wide.summary() and "sigmoid" in wide.summary()


def test_suggested_fixed_point_covers_twice_the_largest_edge_and_keeps_edges_distinct():
    out = sk.OutputLayer(sk.pack_bits(np.ones((1, 3), bool)), 3, [0])
    for top, integer in ((2.0, 3), (2.5, 4), (0.3, 1), (100.0, 9)):
        spec = sk.BinaryNetSpec([np.array([-0.1, 0.0, top])], [], out)
        assert suggested_fixed_point(spec) == (16, integer)
        assert 2 ** (integer - 1) >= 2 * top or integer == 1
    spec = sk.BinaryNetSpec([np.array([1.0, 1.0 + 1e-4, 90.0])], [], out)  # 16 bits would merge two edges
    total, integer = suggested_fixed_point(spec)
    assert integer == 9 and total == 9 + 14 and 2.0 ** (integer - total) <= 1e-4


def test_cli_info_adds_the_fpga_estimate(tmp_path, capsys, rng):
    spec = random_spec(rng, 5, (16,), 1)
    spec.to_npz(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert spec.summary() in out and "latency 6 clocks" in out and "LUT6" in out
    assert main(["info", str(tmp_path / "nope.npz")]) == 2
