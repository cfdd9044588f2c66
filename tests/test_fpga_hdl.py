"""Co-simulation of the fixed Verilog core against the model's scores (numpy twin of ``predict_scores``;
verilator, iverilog).

Each spec is written and built once (builds are cached by the shape of the model, so the corrupted-file tests
reuse them) and fed >= 1000 grid-valued vectors; scores and class bits must agree on every vector.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_fpga_helpers import center_output, grid_inputs, random_spec

import fpga
from fpga import tools
from sqnn_kernels import scoring
from sqnn_kernels.reference import forward, pack_bits, unpack_bits
from sqnn_kernels.spec import BinaryNetSpec, OutputLayer

pytestmark = pytest.mark.hdl

N_VECTORS = 1200


def _spec_with_extreme_edges(rng):
    """Off-grid edges, plus edges far outside the 10-bit range (always 0 / always 1 comparators)."""
    base = random_spec(rng, 5, [3, 1, 6, 2, 4], [64, 3], n_out=1, on_grid=False)
    edges = [e.copy() for e in base.edges]
    edges[0] = np.sort(np.concatenate([edges[0][:1], [-1e6, 1e6]]))
    edges[3] = np.array([-40.0, 1e-9])
    edges[4] = np.sort(np.concatenate([edges[4][:2], [31.9, 1e300]]))
    return BinaryNetSpec(edges, base.layers, base.output)


def _spec_int32_wrap(rng):
    """Biases at the int32 limits: the score wraps exactly as numpy's int32 does."""
    base = random_spec(rng, 2, [4, 3], [1], n_out=3)
    out = OutputLayer(base.output.weights, 1, np.array([2**31 - 3, -(2**31) + 2, 0]), 0.2, -0.1)
    return BinaryNetSpec(base.edges, base.layers, out)


CASES = {
    # name: (spec factory, feature_bits, frac_bits, gap); output biases are re-centred on the inputs
    # (except int32_wrap) so that the class bits are mixed
    "two_layers_two_outputs": (lambda r: random_spec(r, 3, [2, 5, 3], [70, 9], n_out=2), 16, 8, 7),
    "one_layer_130": (lambda r: random_spec(r, 6, [1, 8, 3, 5, 2, 7], [130], n_out=1), 16, 8, 0),
    "three_layers": (lambda r: random_spec(r, 4, 6, [3, 64, 65], n_out=3, bias_range=50), 16, 8, 3),
    "no_hidden_layer": (lambda r: random_spec(r, 2, [5, 1], [], n_out=4), 12, 6, 0),
    "extreme_edges_10bit": (_spec_with_extreme_edges, 10, 4, 0),
    "int32_wrap": (_spec_int32_wrap, 16, 8, 0),
    "five_classes": (lambda r: random_spec(r, 4, [3, 4, 2, 5], [20], n_out=5), 16, 8, 0),
}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sqnn-fpga-cache")


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    made = {}

    def get(name):
        if name not in made:
            factory, fb, frac, gap = CASES[name]
            rng = np.random.default_rng(sum(map(ord, name)))
            spec = factory(rng)
            x = grid_inputs(rng, spec, N_VECTORS, frac, feature_bits=fb)
            if name != "int32_wrap":
                spec = center_output(spec, x)
            out = fpga.write_project(
                spec, tmp_path_factory.mktemp(name) / "proj", feature_bits=fb, frac_bits=frac
            )
            made[name] = (spec, out, x, gap)
        return made[name]

    return get


def _scores(spec, x):
    """Model scores from the plain numpy twin (``sqnn_kernels.reference.forward``): the HDL is checked against
    the obviously-correct reference, independent of the state of the numba engine in this process."""
    twin = forward(spec, x)[0]
    engine = spec.predict_scores(x)
    wrong = np.flatnonzero((engine != twin).any(axis=1))
    assert wrong.size == 0, f"engine differs from the twin on {wrong.size} rows, first {wrong[:5]}"
    return twin


def _reference(spec, x):
    """Scores and the core's class bits: ``P >= 0.5`` for one output, else the one-hot argmax class."""
    scores = _scores(spec, x)
    with np.errstate(over="ignore"):  # sigmoid of huge scores (int32_wrap) saturates
        index = scoring.classes(scores, spec.output.scale, spec.output.offset)
    if spec.output.n_out == 1:
        return scores, index[:, None].astype(np.uint8)
    return scores, np.eye(spec.output.n_out, dtype=np.uint8)[index]


@pytest.mark.parametrize("name", sorted(CASES))
def test_verilator_matches_predict_scores_on_every_vector(name, projects, cache_dir):
    spec, out, x, gap = projects(name)
    scores, classes = fpga.simulate(out, x, cache_dir=cache_dir, gap=gap)
    ref_scores, ref_classes = _reference(spec, x)
    assert scores.shape == ref_scores.shape == (N_VECTORS, spec.output.n_out)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(classes, ref_classes)
    if name != "int32_wrap":  # both classes (one output) or at least two argmax classes seen
        seen = ref_classes.mean(axis=0)
        assert np.all((seen > 0) & (seen < 1)) if spec.output.n_out == 1 else np.sum(seen > 0) >= 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_core_is_verilator_lint_clean(name, projects):
    _, out, _, _ = projects(name)
    report = fpga.lint(out)
    assert "%Warning" not in report and "%Error" not in report


def test_demo_sized_model(tmp_path, cache_dir):
    """18 features x 8 bins -> 64 -> 64 -> 1, as ``sqnn demo`` exports it."""
    rng = np.random.default_rng(18)
    spec = random_spec(rng, 18, 8, [64, 64], n_out=1)
    frac = fpga.model_facts(spec)["FRAC_BITS"]  # automatic: one per feature
    assert isinstance(frac, tuple) and len(frac) == 18
    x = grid_inputs(rng, spec, 1000, frac)
    spec = center_output(spec, x)
    out = fpga.write_project(spec, tmp_path / "demo")
    scores, classes = fpga.simulate(out, x, cache_dir=cache_dir, gap=11)
    ref_scores, ref_classes = _reference(spec, x)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(classes, ref_classes)


def test_off_grid_inputs_equal_the_model_on_their_quantised_values(projects, cache_dir):
    spec, out, _, _ = projects("two_layers_two_outputs")
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, size=(300, 3))
    scores, _ = fpga.simulate(out, x, cache_dir=cache_dir)
    q, n_clipped = fpga.quantize_features(x, 16, 8)
    assert n_clipped == 0
    np.testing.assert_array_equal(scores, _scores(spec, fpga.dequantize_features(q, 8)))
    codes, _ = fpga.simulate(out, q, quantized=True, cache_dir=cache_dir)
    np.testing.assert_array_equal(codes, scores)


def test_build_is_reused(projects, cache_dir):
    _, out, x, _ = projects("two_layers_two_outputs")
    first = fpga.build(out, cache_dir=cache_dir)
    mtime = first.stat().st_mtime_ns
    assert fpga.build(out, cache_dir=cache_dir) == first
    assert first.stat().st_mtime_ns == mtime
    assert fpga.simulate(out, x[:0], cache_dir=cache_dir)[0].shape == (0, 2)


def _copy(out, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(out, dst)
    return dst


def test_flipped_weight_bit_is_detected(projects, cache_dir, tmp_path):
    """A folder wired for another weight (structure + bias of a spec with one output weight flipped)."""
    spec, out, x, _ = projects("two_layers_two_outputs")
    w = unpack_bits(spec.output.weights, spec.output.k)
    w[0, 2] ^= 1  # output 0, input 2
    other = BinaryNetSpec(spec.edges, spec.layers, OutputLayer(pack_bits(w), spec.output.k, spec.output.bias,
                                                                 spec.output.scale, spec.output.offset))
    bad = _copy(out, tmp_path)
    files = {**fpga.render_structure(other), **fpga.render_memories(other, 16, 8)}
    for name in ("sqnn_struct.vh", "output_bias.mem"):
        (bad / name).write_text(files[name])
    with pytest.raises(ValueError, match=r"sqnn_struct\.vh"):
        fpga.verify_project(bad, spec)
    scores, _ = fpga.simulate(bad, x[:200], cache_dir=cache_dir)
    ref = _scores(spec, x[:200])
    assert np.all(np.abs(scores[:, 0] - ref[:, 0]) == 2)  # one ±1 product flipped: every score moves by 2
    np.testing.assert_array_equal(scores[:, 1], ref[:, 1])


def test_altered_edge_is_detected(projects, cache_dir, tmp_path):
    spec, out, x, _ = projects("one_layer_130")
    bad = _copy(out, tmp_path)
    path = bad / "edges.mem"
    lines = path.read_text().splitlines()
    lines[1:] = ["00000" if i % 2 else "0ffff" for i in range(len(lines) - 1)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"edges\.mem"):
        fpga.verify_project(bad, spec)
    scores, _ = fpga.simulate(bad, x[:300], cache_dir=cache_dir)
    assert not np.array_equal(scores, _scores(spec, x[:300]))


def test_truncated_memory_file_is_detected(projects, cache_dir, tmp_path):
    spec, out, x, _ = projects("two_layers_two_outputs")
    bad = _copy(out, tmp_path)
    path = bad / "edge_feature.mem"
    path.write_text("\n".join(path.read_text().splitlines()[:-5]) + "\n")
    with pytest.raises(ValueError, match=r"edge_feature\.mem"):
        fpga.verify_project(bad, spec)
    with pytest.raises(fpga.SimulationError, match="readmem"):
        fpga.simulate(bad, x[:50], cache_dir=cache_dir)


def test_missing_memory_file_is_detected(projects, cache_dir, tmp_path):
    spec, out, x, _ = projects("two_layers_two_outputs")
    bad = _copy(out, tmp_path)
    (bad / "edges.mem").unlink()
    with pytest.raises(ValueError, match=r"missing file edges\.mem"):
        fpga.verify_project(bad, spec)
    with pytest.raises(fpga.SimulationError):
        fpga.simulate(bad, x[:50], cache_dir=cache_dir)


@pytest.mark.skipif(
    tools.iverilog() is None, reason="Icarus Verilog (optional second simulator) not installed"
)
@pytest.mark.parametrize(
    "name", ["two_layers_two_outputs", "no_hidden_layer", "extreme_edges_10bit", "five_classes"]
)
def test_iverilog_agrees(name, projects, cache_dir):
    spec, out, x, gap = projects(name)
    scores, classes = fpga.simulate(out, x[:400], simulator="iverilog", cache_dir=cache_dir, gap=gap)
    ref_scores, ref_classes = _reference(spec, x[:400])
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(classes, ref_classes)


def test_estimate_resources_small_model(tmp_path):
    spec = random_spec(np.random.default_rng(0), 3, 4, [16], n_out=1)
    out = fpga.write_project(spec, tmp_path / "proj", frac_bits=8)
    res = fpga.estimate_resources(out)
    assert res["lut"] > 0 and res["ff"] > 0
    assert res["by_type"].get("FDRE", 0) == res["ff"]
    text = (out / "resources_xilinx.rpt").read_text()
    assert "CARRY4" in text or "LUT" in text
    fpga.verify_project(out, spec)  # the report does not disturb the project


def test_five_classes_output_the_numpy_argmax_index(projects, cache_dir):
    """K = 5: out_class is the one-hot code of argmax (first maximum on ties, as numpy.argmax); the testbench
    checks out_index against it on every vector (an ERROR line would fail the simulation)."""
    spec, out, x, _ = projects("five_classes")
    scores, classes = fpga.simulate(out, x, cache_dir=cache_dir)
    ref = _scores(spec, x)
    np.testing.assert_array_equal(scores, ref)
    assert np.all(classes.sum(axis=1) == 1)
    np.testing.assert_array_equal(classes.argmax(axis=1), np.argmax(ref, axis=1))
    assert set(np.argmax(ref, axis=1).tolist()) == set(range(5))  # every class wins somewhere
    assert np.any((ref == ref.max(axis=1, keepdims=True)).sum(axis=1) > 1)  # ties are exercised


def test_ecp5_place_and_route_reports_fmax_and_utilisation(tmp_path):
    spec = random_spec(np.random.default_rng(5), 2, [3, 2], [4], n_out=1)
    out = fpga.write_project(spec, tmp_path / "ecp5", frac_bits=8, coe=False, mif=False)
    res = fpga.estimate_resources(out, target="ecp5", part="LFE5U-85F")
    assert res["part"] == "LFE5U-85F" and res["lut"] > 0 and res["ff"] > 0
    assert res["utilization"]["TRELLIS_FF"]["available"] > 80_000
    assert 0 < res["utilization"]["TRELLIS_FF"]["used"] <= res["ff"]
    assert res["fmax_mhz"] > 40 and res["meets_40mhz"]
    assert res["latency_clocks"] == 6
    assert res["latency_ns_at_fmax"] == pytest.approx(6e3 / res["fmax_mhz"])
    assert res["latency_ns_at_40mhz"] == pytest.approx(150.0)
    with pytest.raises(ValueError, match="part"):
        fpga.estimate_resources(out, target="ecp5", part="LFE5U-99F")
    with pytest.raises(ValueError, match="part"):
        fpga.estimate_resources(out, target="xilinx", part="LFE5U-85F")


# -- optional stochastic mode --------------------------------------------------------------------------
def _stochastic_spec():
    """12 thermometer bits -> 4 hidden neurons -> 1 output with all weights +1 and bias 0, so that
    score = 2 * (number of firing neurons) - 4.  Neuron 2 always fires and neuron 3 never does (thresholds far
    beyond ±k), neurons 0 and 1 fire with probabilities that depend on the input."""
    rng = np.random.default_rng(42)
    base = random_spec(rng, 3, 4, [4], n_out=1)
    layer = base.layers[0]
    thresholds = np.array([0, 2, -10 * layer.k, 10 * layer.k])
    hidden = type(layer)(layer.weights, layer.k, thresholds)
    out = OutputLayer(np.array([[0b1111]], dtype=np.uint64), 4, np.array([0]), 1.0, 0.0)
    return BinaryNetSpec(base.edges, [hidden], out)


def test_stochastic_mode_fires_with_quantised_theta(tmp_path, cache_dir):
    from sqnn_kernels.reference import thermometer_bits, to_pm1, unpack_bits

    spec = _stochastic_spec()
    config = fpga.StochasticConfig(slope=3.0, rng_bits=8, seed=1)
    out = fpga.write_project(spec, tmp_path / "stoch", frac_bits=8, stochastic=config)
    assert fpga.lint(out).count("%Warning") == 0
    fpga.verify_project(out, spec)
    layer = spec.layers[0]
    table = fpga.noise_table(layer.k, config)
    rng = np.random.default_rng(0)
    x = grid_inputs(rng, spec, 400, 8)
    h = to_pm1(thermometer_bits(x, spec.edges))
    z = h @ to_pm1(unpack_bits(layer.weights, layer.k)).T - layer.thresholds[None, :]
    p = fpga.theta_quantized(z, table)
    assert np.all(p[:, 2] == 1) and np.all(p[:, 3] == 0)
    # four inputs spanning low to high firing probability of neurons 0 and 1, each streamed 2500 times
    rows = np.argsort(p[:, 0] + p[:, 1])[[40, 150, 250, 360]]
    n = 2500
    stream = np.repeat(x[rows], n, axis=0)
    scores, _ = fpga.simulate(out, stream, cache_dir=cache_dir)
    fired = (scores[:, 0].reshape(len(rows), n) + 4) // 2 - 1  # neurons 0 and 1
    assert fired.min() >= 0 and fired.max() <= 2  # neuron 2 always fires, neuron 3 never
    for r, counts in zip(rows, fired, strict=True):
        p0, p1 = p[r, 0], p[r, 1]
        mean, var = p0 + p1, p0 * (1 - p0) + p1 * (1 - p1)
        bound = 5 * np.sqrt(var / n) + 1e-9
        assert abs(counts.mean() - mean) <= bound, (r, counts.mean(), mean, bound)
        if var > 0.05:  # independent neurons: the variance adds up (loose bound, ~6 sigma)
            assert abs(counts.var() - var) <= 0.25 * var, (counts.var(), var)


def test_stochastic_theta_table_is_the_quantised_sigmoid():
    config = fpga.StochasticConfig(slope=2.5, rng_bits=7)
    k = 37
    table = fpga.noise_table(k, config)
    z = np.arange(-3 * k, 3 * k)
    theta = 1 / (1 + np.exp(-2.5 * (z + 0.5) / k))
    q = fpga.theta_quantized(z, table)
    assert np.all(np.abs(q - theta) <= 0.5 / 128 + 1e-12)
    assert np.all(np.diff(q) >= 0)
    assert fpga.theta_quantized(0, table) >= 0.5 > fpga.theta_quantized(-1, table)


@pytest.mark.parametrize("simulator", ["verilator", "iverilog"])
def test_param_dir_macro_points_the_core_at_the_folder(simulator, projects, cache_dir):
    if simulator == "iverilog" and tools.iverilog() is None:
        pytest.skip("Icarus Verilog (optional second simulator) not installed")
    spec, out, x, _ = projects("no_hidden_layer")
    scores, classes = fpga.simulate(out, x[:200], simulator, cache_dir=cache_dir, param_dir_macro=True)
    ref_scores, ref_classes = _reference(spec, x[:200])
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(classes, ref_classes)


def test_inconsistent_params_file_fails_at_elaboration(projects, cache_dir, tmp_path):
    _, out, x, _ = projects("no_hidden_layer")
    bad = _copy(out, tmp_path)
    path = bad / "sqnn_params.vh"
    path.write_text(path.read_text().replace("localparam LATENCY      = 4;", "localparam LATENCY      = 5;"))
    with pytest.raises(fpga.SimulationError, match="sqnn_params_latency_mismatch"):
        fpga.simulate(bad, x[:10], cache_dir=cache_dir)


def test_yosys_netlist_reads_the_memories_like_the_simulators(projects, cache_dir, tmp_path):
    """Gate-level simulation of the yosys netlist (ROM files folded in at synthesis) equals the model."""
    spec, out, x, _ = projects("two_layers_two_outputs")
    gate = _copy(out, tmp_path)
    netlist = fpga.synthesize_netlist(out, tmp_path / "netlist.v")
    assert "$readmemh" not in netlist.read_text()
    shutil.copyfile(netlist, gate / "sqnn_core.v")
    scores, classes = fpga.simulate(gate, x[:400], cache_dir=cache_dir, gap=5)
    ref_scores, ref_classes = _reference(spec, x[:400])
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(classes, ref_classes)


def _struct_functions(text: str) -> tuple[dict[str, int], dict[str, dict[int, dict[int, int]]]]:
    """``sqnn_struct.vh`` -> (its localparams, {function: {slot: {case: value}}})."""
    params, funcs, name, slot = {}, {}, None, None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("localparam "):
            key, value = s[len("localparam "):].rstrip(";").split(" = ")
            params[key] = int(value)
        elif s.startswith("function "):
            name = s.rstrip(";").split()[-1]
            funcs[name] = {}
        elif s.endswith(": case (j)"):
            slot = int(s.split(":")[0])
            funcs[name][slot] = {}
        elif name and slot is not None and f": {name} = " in s:
            case, value = s.rstrip(";").split(f": {name} = ")
            funcs[name][slot][int(case)] = int(value.split("'h")[1], 16) if "'h" in value else int(value)
        elif s == "endcase" and slot is None:
            name = None
        elif s == "endcase":
            slot = None
    return params, funcs


def _decode_graph(params, funcs, slot: int, k: int, n_rows: int, bits: np.ndarray) -> np.ndarray:
    """Numpy twin of sqnn_graph.v and sqnn_graph_chunk.v on the tables: (n, k) bits -> (n, n_rows) counts."""
    ib, wb, ch = params["SQNN_G_IB"], params["SQNN_G_WB"], params["SQNN_G_CH"]
    neb = 2 * ib + wb + 2
    nn = funcs["sqnn_g_nodes"].get(slot, {}).get(0, 0)
    ns = max(1, nn)
    field = lambda word, at, width: (word >> at) & ((1 << width) - 1)  # noqa: E731
    nodes = np.zeros((bits.shape[0], ns), dtype=np.int64)

    def src(x: int) -> np.ndarray:
        assert 0 <= x <= 2 * ns + 2 * k, "slot index beyond the operand bus"
        if x < 2 * ns:
            assert x % ns < nn
            return nodes[:, x % ns]  # a node or its registered copy (equal once the pipeline is full)
        return bits[:, (x - 2 * ns) % k] if x < 2 * ns + 2 * k else np.zeros(bits.shape[0], dtype=np.int64)

    for n in range(nn):
        e = field(funcs["sqnn_g_node"][slot][n // ch], (n % ch) * neb, neb)
        w, total = field(e, 0, wb), 0
        for at in (wb, wb + ib + 1):
            x, local = field(e, at, ib), field(e, at + ib, 1)
            if local:  # read inside the chunk: an earlier node of the same chunk
                assert x < n and x // ch == n // ch
            total = total + src(x)
        nodes[:, n] = total % (1 << w)
        assert np.all(nodes[:, n] == total), "a node's width does not hold its sum"
    rows = [field(funcs["sqnn_g_row"][slot][r // ch], (r % ch) * ib, ib) for r in range(n_rows)]
    return np.stack([src(x) for x in rows], axis=1)


@pytest.mark.parametrize("seed, n_bins, hidden", [(0, [3, 1, 6, 2], [64, 3]), (1, [8] * 18, [70, 33]),
                                                  (2, [1, 1], [1]), (3, [5, 4], []), (4, [1], [])])
def test_struct_tables_decode_to_every_neurons_count(seed, n_bins, hidden):
    """The graph tables of sqnn_struct.vh, read as sqnn_graph.v reads them (operand-bus slots, chunk-local
    operands, zero slot for empty rows), give T and every neuron's count P_j on random input bits. The last
    case has an empty row and a zero slot (index 2 NS + 2 k = 4) that needs one more index bit than the other
    slots."""
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, len(n_bins), n_bins, hidden, n_out=2)
    params, funcs = _struct_functions(fpga.render_structure(spec)["sqnn_struct.vh"])
    stages = [(i, layer.weights, layer.k) for i, layer in enumerate(spec.layers)]
    stages.append((3, spec.output.weights, spec.output.k))
    for slot, weights, k in stages:
        _, indices, _ = fpga.render.selection(weights, k)
        bits = rng.integers(0, 2, size=(200, k))
        got = _decode_graph(params, funcs, slot, k, 1 + len(indices), bits)
        want = np.stack([bits.sum(axis=1)] + [bits[:, idx].sum(axis=1) for idx in indices], axis=1)
        np.testing.assert_array_equal(got, want)
