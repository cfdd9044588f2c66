"""FPGA export without a simulator: fixed-point encoding, pure writers, atomic folder, verification."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from test_fpga_helpers import random_spec

import fpga
from fpga.quantize import int_range
from fpga.render import MANIFEST, encode_vectors
from sqnn_kernels.reference import pack_bits, unpack_bits
from sqnn_kernels.spec import BinaryNetSpec, OutputLayer


def _words(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith("//")]


@pytest.fixture
def spec():
    return random_spec(np.random.default_rng(3), 3, [2, 5, 3], [70, 9], n_out=2)


# -- fixed point ---------------------------------------------------------------------------------------
def test_quantize_features_counts_and_warns_saturation():
    x = np.array([[0.0, 1.5, -1.5], [127.99, 128.0, -128.5], [1e9, -1e9, 0.25]])
    with pytest.warns(fpga.SaturationWarning, match="4 of 9"):
        q, n = fpga.quantize_features(x, 16, 8)
    assert n == 4
    assert q.dtype == np.int64
    lo, hi = int_range(16)
    assert q.tolist() == [[0, 384, -384], [32765, hi, lo], [hi, lo, 64]]


def test_quantize_features_silent_without_saturation_and_rounds_half_even():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        q, n = fpga.quantize_features(np.array([[0.5, 1.5, -0.5, 2.5]]), 8, 0)
    assert n == 0 and q.tolist() == [[0, 2, 0, 2]]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_quantize_features_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="finite"):
        fpga.quantize_features(np.array([[0.0, bad]]), 16, 8)


def test_quantize_features_rejects_bad_format():
    with pytest.raises(ValueError, match="2-D"):
        fpga.quantize_features(np.zeros(3), 16, 8)
    with pytest.raises(ValueError, match="feature_bits"):
        fpga.quantize_features(np.zeros((1, 1)), 1, 0)
    with pytest.raises(TypeError, match="frac_bits"):
        fpga.quantize_features(np.zeros((1, 1)), 16, 2.5)


@pytest.mark.parametrize("frac", [-2, 0, 3])
def test_edges_rounded_up_are_exact_on_every_grid_input(frac):
    """Exhaustive over a 7-bit grid: x_int >= e_int <=> x >= e, including edges out of range."""
    rng = np.random.default_rng(frac + 10)
    fb = 7
    lo, hi = int_range(fb)
    grid = np.arange(lo, hi + 1)
    x = np.ldexp(grid.astype(float), -frac)
    edges = np.sort(
        np.concatenate(
            [
                rng.normal(0, 2.0 ** (fb - 1 - frac) / 2, 40),
                x[[0, 5, -1]],
                [x[0] - 1e-3, x[-1] + 1e-3, -1e300, 1e300, 0.0, -0.0],
            ]
        )
    )
    (e_int,) = fpga.quantize_edges([edges], fb, frac)
    assert e_int.min() >= lo and e_int.max() <= hi + 1
    assert np.array_equal(grid[:, None] >= e_int[None, :], x[:, None] >= edges[None, :])


def test_auto_frac_bits_is_per_feature_finest_grid_with_one_bit_headroom():
    edges = [np.array([-3.2, 0.1, 7.9]), np.array([100.0]), np.array([0.0])]
    frac = fpga.auto_frac_bits(edges, 16)
    assert frac == (
        11,
        7,
        14,
    )  # 7.9 * 2^12 = 32358 <= 32767 < 64717; 100 * 2^8 = 25600; all-zero edges: 16 - 2
    lo, hi = int_range(16)
    for e, f in zip(edges[:2], frac[:2], strict=True):
        fits = [all(lo <= v <= hi for v in fpga.quantize_edges([e], 16, g)[0]) for g in (f + 1, f + 2)]
        assert fits == [True, False]
    assert fpga.auto_frac_bits(edges, 16, headroom=0)[:2] == (12, 8)


def test_per_feature_frac_bits_round_trip():
    x = np.array([[1.5, 100.25, -0.001], [-2.0, 3.0, 0.5]])
    q, n = fpga.quantize_features(x, 16, [4, 2, 12])
    assert n == 0
    assert q.tolist() == [[24, 401, -4], [-32, 12, 2048]]
    np.testing.assert_array_equal(
        fpga.dequantize_features(q, [4, 2, 12]), [[1.5, 100.25, -4 / 4096], [-2, 3, 0.5]]
    )
    with pytest.raises(ValueError, match="3 features"):
        fpga.quantize_features(x, 16, [4, 2])


# -- class threshold -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scale,offset",
    [(1.0, 0.0), (0.37, -2.9), (0.01, 5.0), (3.0, 1e-17), (2.0, -1.0), (1e-6, -1.0), (1e-6, 1.0), (0.5, 0.5)],
)
def test_class_threshold_matches_the_probability_rule_on_every_score(scale, offset):
    out = OutputLayer(np.zeros((1, 1), np.uint64), 40, np.array([3]), scale=scale, offset=offset)
    spec = BinaryNetSpec([np.array([0.0] * 40)], [], out)
    lo, hi = -40 + 3, 40 + 3
    thr = fpga.class_threshold(spec, lo, hi)
    s = np.arange(lo, hi + 1)
    p = 1 / (1 + np.exp(-(scale * s.astype(float) + offset)))
    assert np.array_equal(s >= thr, p >= 0.5)
    assert lo <= thr <= hi + 1


def test_class_threshold_bisection_on_a_huge_range_agrees_with_enumeration():
    out = OutputLayer(np.zeros((1, 1), np.uint64), 1, np.array([0]), scale=0.001, offset=-123.4567)
    spec = BinaryNetSpec([np.array([0.0])], [], out)
    big = fpga.class_threshold(spec, -(2**31), 2**31 - 1)
    small = fpga.class_threshold(spec, big - 1000, big + 1000)
    assert big == small == 123457


# -- pure writers --------------------------------------------------------------------------------------
def test_render_is_pure_and_deterministic(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = fpga.render_project(spec, 16, 8)
    b = fpga.render_project(spec, 16, 8)
    assert a == b
    assert list(tmp_path.iterdir()) == []
    for name in (
        "sqnn_params.vh",
        "edges.mem",
        "edge_feature.mem",
        "layer0_weights.mem",
        "layer1_thresholds.mem",
        "output_weights.mem",
        "output_bias.mem",
        "sqnn_core.v",
        "README.txt",
        MANIFEST,
        "layer0_weights.coe",
        "output_bias.mif",
    ):
        assert name in a, name


def test_weight_memories_are_msb_first_full_width_one_line_per_neuron(spec):
    files = fpga.render_memories(spec, 16, 8)
    for name, weights, k in [
        ("layer0_weights.mem", spec.layers[0].weights, spec.layers[0].k),
        ("layer1_weights.mem", spec.layers[1].weights, spec.layers[1].k),
        ("output_weights.mem", spec.output.weights, spec.output.k),
    ]:
        words = _words(files[name])
        bits = unpack_bits(weights, k)
        assert len(words) == bits.shape[0]
        for word, row in zip(words, bits, strict=True):
            assert len(word) == (k + 3) // 4
            value = int(word, 16)
            assert value >> k == 0
            assert [(value >> j) & 1 for j in range(k)] == row.tolist()


def test_threshold_bias_and_edge_memories_decode(spec):
    facts = fpga.model_facts(spec, 16, 8)
    files = fpga.render_memories(spec, 16, 8)

    def decode(name, width):
        vals = [int(w, 16) for w in _words(files[name])]
        return [v - (1 << width) if v >> (width - 1) else v for v in vals]

    for i, layer in enumerate(spec.layers):  # thr' = clip(thr) + D, D = #(+1) - #(-1) weights
        got = decode(f"layer{i}_thresholds.mem", facts["slots"][i]["THR_BITS"])
        d = 2 * unpack_bits(layer.weights, layer.k).sum(axis=1).astype(int) - layer.k
        assert got == (np.clip(layer.thresholds, -layer.k, layer.k + 1) + d).tolist()
    d = 2 * unpack_bits(spec.output.weights, spec.output.k).sum(axis=1).astype(int) - spec.output.k
    assert decode("output_bias.mem", facts["SCORE_BITS"]) == (spec.output.bias - d).tolist()
    edges = decode("edges.mem", facts["EDGE_BITS"])
    assert edges == [v for e in fpga.quantize_edges(spec.edges, 16, 8) for v in e.tolist()]
    feats = [int(w, 16) for w in _words(files["edge_feature.mem"])]
    assert feats == [f for f, e in enumerate(spec.edges) for _ in e]


def test_params_header(spec):
    text = fpga.render_params(spec, 12, 5)["sqnn_params.vh"]
    assert "ifndef" not in text  # no include guard: included inside two modules
    for line in (
        "localparam N_FEATURES   = 3;",
        "localparam FEATURE_BITS = 12;",
        "localparam FRAC_BITS    = 5;",
        "localparam N_THERM      = 10;",
        "localparam N_LAYERS     = 2;",
        "localparam L0_M         = 70;",
        "localparam L2_M         = 9;",
        "localparam OUT_K        = 9;",
        "localparam N_OUT        = 2;",
        "localparam LATENCY      = 8;",
    ):
        assert line in text


def test_coe_and_mif_hold_the_same_words(spec):
    mem = fpga.render_memories(spec, 16, 8)["layer0_weights.mem"]
    coe = fpga.render_coe(spec, 16, 8)["layer0_weights.coe"]
    mif = fpga.render_mif(spec, 16, 8)["layer0_weights.mif"]
    words = _words(mem)
    assert coe.split("memory_initialization_vector=\n")[1].replace(";", "").replace(",", "").split() == words
    assert f"DEPTH={len(words)};" in mif and "WIDTH=10;" in mif
    assert [ln.split(":")[1].strip(" ;") for ln in mif.splitlines() if " : " in ln] == words


def test_score_bits_wrap_to_32_like_int32():
    rng = np.random.default_rng(5)
    spec = random_spec(rng, 2, 3, [4], n_out=2)
    spec = BinaryNetSpec(
        spec.edges,
        spec.layers,
        OutputLayer(spec.output.weights, 4, np.array([2**31 - 1, -(2**31)]), 1.0, 0.0),
    )
    assert fpga.model_facts(spec)["SCORE_BITS"] == 32


def test_encode_vectors_twos_complement_feature0_low():
    text = encode_vectors(np.array([[-1, 2], [5, -32768]]), 16)
    assert text.split() == ["0002ffff", "80000005"]


def test_model_facts_rejects_four_hidden_layers():
    spec = random_spec(np.random.default_rng(1), 2, 2, [3, 3, 3, 3])
    with pytest.raises(ValueError, match="at most 3"):
        fpga.model_facts(spec)


# -- the folder ----------------------------------------------------------------------------------------
def test_write_project_is_self_contained_with_manifest(spec, tmp_path):
    out = fpga.write_project(spec, tmp_path / "proj", frac_bits=8)
    manifest = json.loads((out / MANIFEST).read_text())
    names = sorted(p.name for p in out.iterdir())
    assert sorted([*manifest["files"], MANIFEST]) == names
    assert manifest["frac_bits"] == 8 and manifest["feature_bits"] == 16
    assert (out / "sqnn_core.v").read_text() == fpga.render_hdl()["sqnn_core.v"]
    fpga.verify_project(out, spec)
    fpga.verify_project(out)


def test_write_project_replaces_atomically_and_cleans_up(spec, tmp_path):
    out = tmp_path / "proj"
    fpga.write_project(spec, out, frac_bits=8)
    other = random_spec(np.random.default_rng(9), 2, 3, [5])
    fpga.write_project(other, out, frac_bits=8)
    fpga.verify_project(out, other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no temporary folders left


def test_write_project_failure_leaves_old_folder_intact(spec, tmp_path, monkeypatch):
    out = tmp_path / "proj"
    fpga.write_project(spec, out, frac_bits=8)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real_fsync = os.fsync

    def flaky_fsync(fd):
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr("fpga.project.os.fsync", flaky_fsync)
    other = random_spec(np.random.default_rng(9), 2, 3, [5])
    with pytest.raises(OSError, match="No space"):
        fpga.write_project(other, out, frac_bits=8)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
    fpga.verify_project(out, spec)


def test_write_project_refuses_to_replace_a_foreign_folder(spec, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not an sqnn FPGA project"):
        fpga.write_project(spec, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_verify_project_detects_missing_truncated_altered_and_foreign(spec, tmp_path):
    out = fpga.write_project(spec, tmp_path / "proj", frac_bits=8)
    path = out / "layer1_weights.mem"
    original = path.read_bytes()

    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(ValueError, match=r"layer1_weights\.mem"):
        fpga.verify_project(out, spec)
    path.write_bytes(original.replace(b"\n", b"\r\n"))
    with pytest.raises(ValueError, match=r"altered or truncated file layer1_weights\.mem"):
        fpga.verify_project(out)
    path.unlink()
    with pytest.raises(ValueError, match=r"missing file layer1_weights\.mem"):
        fpga.verify_project(out)
    path.write_bytes(original)
    fpga.verify_project(out, spec)

    other = random_spec(np.random.default_rng(4), 3, [2, 5, 3], [70, 9], n_out=2)
    with pytest.raises(ValueError, match="does not match the model"):
        fpga.verify_project(out, other)
    (out / MANIFEST).unlink()
    with pytest.raises(ValueError, match=r"missing manifest\.json"):
        fpga.verify_project(out, spec)


def test_export_cli_round_trip(spec, tmp_path):
    model = tmp_path / "model.npz"
    spec.to_npz(model)
    out = fpga.export_cli(model, tmp_path / "fpga", feature_bits=14)
    manifest = fpga.read_manifest(out)
    assert manifest["feature_bits"] == 14
    assert manifest["frac_bits"] == list(fpga.auto_frac_bits(spec.edges, 14))
    with pytest.raises(FileNotFoundError):
        fpga.export_cli(tmp_path / "nope.npz", tmp_path / "x")


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"slope": 0.0}, ValueError),
        ({"slope": float("nan")}, ValueError),
        ({"slope": 1.0, "rng_bits": 0}, ValueError),
        ({"slope": 1.0, "rng_bits": 17}, ValueError),
        ({"slope": 1.0, "rng_bits": 2.0}, TypeError),
    ],
)
def test_stochastic_config_validation(kwargs, error):
    with pytest.raises(error):
        fpga.StochasticConfig(**kwargs)


def test_stochastic_project_files_and_manifest(spec, tmp_path):
    config = fpga.StochasticConfig(slope=2.0, rng_bits=5, seed=7)
    out = fpga.write_project(spec, tmp_path / "s", frac_bits=8, stochastic=config)
    manifest = fpga.read_manifest(out)
    assert manifest["stochastic"] == {"slope": 2.0, "rng_bits": 5, "seed": 7}
    for i, layer in enumerate(spec.layers):
        assert len(_words((out / f"layer{i}_noise.mem").read_text())) == 32
        seeds = [int(w, 16) for w in _words((out / f"layer{i}_seeds.mem").read_text())]
        assert len(set(seeds)) == layer.m and 0 < min(seeds) and max(seeds) < 2**31
    assert "localparam STOCHASTIC   = 1;" in (out / "sqnn_params.vh").read_text()
    fpga.verify_project(out, spec)
    plain = fpga.write_project(spec, tmp_path / "d", frac_bits=8)
    assert "localparam STOCHASTIC   = 0;" in (plain / "sqnn_params.vh").read_text()
    assert not list(plain.glob("*_noise.mem"))


@pytest.mark.parametrize("seed", range(5))
def test_selection_and_cut_reproduce_the_neuron_rule(seed):
    """q = ±(4P - 2T) = dot + D, and (u >= C) xor inv with u = 2P - T is dot >= thr, on random layers."""
    rng = np.random.default_rng(seed)
    k, m = int(rng.integers(1, 90)), int(rng.integers(1, 12))
    w = rng.integers(0, 2, (m, k)).astype(bool)
    w[0] = True  # all weights +1: the rarer sign has no input
    thr = rng.integers(-k - 3, k + 4, m)
    pol, indices, d = fpga.render.selection(pack_bits(w), k)
    cut, inv = fpga.render.deterministic_cut(thr, pol, d, k)
    t = rng.integers(0, 2, (200, k)).astype(bool)
    dot = (2 * t.astype(int) - 1) @ (2 * w.astype(int) - 1).T
    big_t = t.sum(axis=1)[:, None]
    p = np.stack([t[:, ix].sum(axis=1) for ix in indices], axis=1)
    q = np.where(pol == 1, 4 * p - 2 * big_t, 2 * big_t - 4 * p)
    np.testing.assert_array_equal(q, dot + d)
    assert len(indices[0]) == 0 and all(len(ix) <= k // 2 for ix in indices)
    np.testing.assert_array_equal(((2 * p - big_t) >= cut) ^ (inv == 1), dot >= thr)
