"""Peer benchmark: the fixed sqnn core against da4ml on the same trained nets, under the same yosys script.

da4ml (distributed-arithmetic RTL generator used with HGQ/hls4ml; ``pip install -e ".[fpga-peer]"``) is given
the same computation as the core: the thermometer comparisons of the quantised inputs against the quantised
edges, each hidden layer as a constant ±1 matrix-vector product compared with its thresholds, the output
scores, and the core's decision: ``score >= CLASS_THR`` for one output, the argmax index (first maximum, as
``numpy.argmax``) for several. (The core also registers the one-hot class bits of that index, a few LUTs more;
its scores wrap at ``SCORE_BITS`` while da4ml's have the widths their ranges need.) Its pipeline is cut into
as many register stages as the core has clocks of latency. Both designs are
synthesised by :func:`fpga.synthesize_sources` with the same script (Xilinx: ``synth_xilinx -flatten -nobram
-nolutram``; ECP5: ``synth_ecp5`` + ``nextpnr-ecp5``), and da4ml's traced graph is checked to give the model's
scores before it is synthesised.

Usage::

    python -m benchmarks.fpga_peer                       # all nets, Xilinx
    python -m benchmarks.fpga_peer --target ecp5 --nets small
    python -m benchmarks.fpga_peer --nets five --fast     # the 5-class net; core by the fast parallel flow
    python -m benchmarks.fpga_peer --train               # re-train the fixture nets (tests/data/fpga_*.npz)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import fpga
from sqnn_kernels.reference import unpack_bits
from sqnn_kernels.spec import BinaryNetSpec

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data"
# the nets of issue 18: (hidden widths, thermometer bins per feature, training data); "showers" is the first
# TRAIN_ROWS rows of the default data (2 classes), "five_class" the synthetic 5-class jet-tagging-like set of
# the tests (tests/spec_factory.five_class_data: FIVE_CLASS_ROWS rows, 16 features, seed 0)
NETS = {
    "small": ((32,), 8, "showers"),
    "demo": ((64, 64), 16, "showers"),
    "five": ((64, 64), 16, "five_class"),
}
TRAIN_ROWS = 40_000
FIVE_CLASS_ROWS = 20_000
FIVE_CLASS_FEATURES = 16


def fixture_path(name: str) -> Path:
    return FIXTURES / f"fpga_{name}.npz"


def training_data(source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, y, s of a net's training data (see ``NETS``)."""
    if source == "showers":
        from training.datasets import load_showers

        x, y, s, _ = load_showers()
        return x[:TRAIN_ROWS], y[:TRAIN_ROWS], s[:TRAIN_ROWS]
    from tests.spec_factory import five_class_data

    return five_class_data(FIVE_CLASS_ROWS, seed=0, n_features=FIVE_CLASS_FEATURES)


def train_fixture(name: str) -> BinaryNetSpec:
    """Train net ``name`` on its data (``NETS``; few epochs, fixed seed) and save it."""
    from training.classifier import SQNNClassifier

    hidden, bins, source = NETS[name]
    clf = SQNNClassifier(hidden=hidden, n_bins=bins, epochs=3 if source == "showers" else 5, random_state=0)
    clf.fit(*training_data(source))
    spec = clf.to_spec()
    spec.to_npz(fixture_path(name))
    return spec


def _pm1(weights: np.ndarray, k: int) -> np.ndarray:
    return unpack_bits(weights, k).astype(np.int64) * 2 - 1


def da4ml_graph(spec: BinaryNetSpec, feature_bits: int = 16, frac_bits=None):
    """The model as a da4ml combinational graph on the quantised integer features (same maths as the core)."""
    from da4ml.trace import FixedVariableArray, FixedVariableArrayInput, comb_trace

    facts = fpga.model_facts(spec, feature_bits, frac_bits)
    e_int = fpga.quantize_edges(spec.edges, facts["FEATURE_BITS"], facts["FRAC_BITS"])
    inp = FixedVariableArrayInput(spec.n_features)
    x = inp.quantize(k=1, i=facts["FEATURE_BITS"] - 1, f=0)
    h = FixedVariableArray(np.array([x[f] >= float(v) for f, e in enumerate(e_int) for v in e], dtype=object))
    for layer in spec.layers:
        w = _pm1(layer.weights, layer.k)
        s = h @ w.T.astype(np.float64)  # sum_i w_i t_i, t in {0, 1}
        # dot = 2 s - sum(w) >= thr  <=>  s >= ceil((thr + sum(w)) / 2)
        cut = np.ceil((layer.thresholds + w.sum(axis=1)) / 2.0)
        h = FixedVariableArray(np.array([s[j] >= float(cut[j]) for j in range(layer.m)], dtype=object))
    w = _pm1(spec.output.weights, spec.output.k)
    score = (h @ w.T.astype(np.float64)) * 2.0 + (spec.output.bias - w.sum(axis=1)).astype(np.float64)
    outputs = [*score, _decision(list(score), facts["CLASS_THR"])]
    return comb_trace(inp, FixedVariableArray(np.array(outputs, dtype=object))), facts


def _decision(score: list, class_thr: int):
    """The core's decision on da4ml's scores: ``score >= CLASS_THR`` for one output, else the index of the
    first maximum (``numpy.argmax``), by the core's chain of strict compares ``s_c > best`` (the sign of
    ``best - s_c`` selects both the new best and the new index)."""
    if len(score) == 1:
        return score[0] >= float(class_thr)
    best, index = score[0], 0.0
    for c, s in enumerate(score[1:], start=1):
        d = best - s  # negative <=> s > best
        best, index = d.msb_mux(s, best), d.msb_mux(float(c), index)
    return index


def check_da4ml_graph(spec: BinaryNetSpec, comb, facts: dict, n: int = 64, seed: int = 0) -> None:
    """da4ml's graph must give ``predict_scores`` on grid inputs (evaluated by its Python interpreter)."""
    rng = np.random.default_rng(seed)
    steps = 2.0 ** -np.broadcast_to(np.asarray(facts["FRAC_BITS"]), (spec.n_features,))
    grid = [np.concatenate([e, e - d]) for e, d in zip(spec.edges, steps, strict=True)]  # at / below edges
    x = np.stack([rng.choice(g, n) for g in grid], axis=1)
    x_int, _ = fpga.quantize_features(x, facts["FEATURE_BITS"], facts["FRAC_BITS"])
    ref = spec.predict_scores(fpga.dequantize_features(x_int, facts["FRAC_BITS"]))
    got = np.array([comb(row.astype(np.float64)) for row in x_int]).astype(np.int64)
    if not np.array_equal(got[:, :-1], ref.astype(np.int64)):
        raise AssertionError("da4ml graph does not reproduce the model's scores")
    ref_decision = ref[:, 0] >= facts["CLASS_THR"] if spec.output.n_out == 1 else np.argmax(ref, axis=1)
    if not np.array_equal(got[:, -1], ref_decision.astype(np.int64)):
        raise AssertionError("da4ml graph does not reproduce the core's class decision")


def write_da4ml(comb, outdir: Path, latency: int) -> tuple[list[Path], list[str], str, int]:
    """Write da4ml's Verilog with at most ``latency`` clocks (pipeline stages + the input register, the
    fewest cuts that reach it); returns (files, sources, top, clocks)."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import to_pipeline

    depth = max(op.latency for op in comb.ops)
    chosen = None
    for cut in sorted({depth / s for s in range(1, 4 * latency)}, reverse=True):
        pipe = to_pipeline(comb, cut, verbose=False)
        if len(pipe.solutions) + 1 > latency:
            break
        chosen = pipe
    model = VerilogModel(chosen if chosen is not None else comb, "peer", outdir)
    model.write()
    files = sorted(p for p in outdir.rglob("*.v") if "sim" not in p.parts)
    files = [p for p in files if p.name != "peer_wrapper.v"]
    stages = len(chosen.solutions) + 1 if chosen is not None else 1
    return files, [p.name for p in files], "peer", stages


def compare(name: str, target: str = "xilinx", part: str | None = None, *, flat: bool = True,
            sides: tuple[str, ...] = ("core", "da4ml"), timeout: float = 1800.0) -> dict:
    """Synthesise net ``name`` as the sqnn core and/or as da4ml RTL (``sides``); returns the result dicts.

    ``flat=False`` synthesises the core by :func:`fpga.estimate_resources`' fast flow (Xilinx only; within 1 %
    of the flat script on the small net); da4ml's RTL is always synthesised flat.
    """
    spec = BinaryNetSpec.from_npz(fixture_path(name))
    result = {"net": name, "widths": spec.widths, "estimate": fpga.estimate_cost(spec), "core_flow": "flat"}
    with tempfile.TemporaryDirectory(prefix="sqnn-peer-") as tmp:
        tmp = Path(tmp)
        facts = fpga.model_facts(spec, 16, None)
        if "core" in sides:
            out = fpga.write_project(spec, tmp / "sqnn", coe=False, mif=False)
            core = fpga.estimate_resources(out, target, part=part, flat=flat, report=tmp / "core.rpt",
                                           timeout=timeout)
            core["latency_clocks"] = facts["LATENCY"]
            core.pop("report", None)
            result["core"] = core
            result["core_flow"] = "flat" if core.get("flat", True) else f"{core['units']} parts"
        if "da4ml" in sides:
            comb, facts = da4ml_graph(spec)
            check_da4ml_graph(spec, comb, facts)
            files, sources, top, stages = write_da4ml(comb, tmp / "da4ml", facts["LATENCY"])
            peer = fpga.synthesize_sources(files, sources, top, target, latency=stages, part=part,
                                           timeout=timeout)
            peer.pop("log")
            peer["latency_clocks"] = stages
            result["da4ml"] = peer
    return result


def _row(r: dict) -> str:
    c, d = r["core"], r["da4ml"]
    cells = [
        r["net"] if r["core_flow"] == "flat" else f"{r['net']} (core: {r['core_flow']})",
        "-".join(map(str, r["widths"])),
        f"{c['lut']:,} / {d['lut']:,} ({c['lut'] / d['lut']:.2f}x)",
        f"{c['ff']:,} / {d['ff']:,} ({c['ff'] / d['ff']:.2f}x)",
        f"{c['carry']:,} / {d['carry']:,}",
        f"{c['latency_clocks']} / {d['latency_clocks']}",
        f"{c['yosys_cpu_seconds']:.0f} s / {d['yosys_cpu_seconds']:.0f} s",
        f"{r['estimate']['lut']:,} / {r['estimate']['ff']:,}",
    ]
    if "fmax_mhz" in c:
        comb = [x["utilization"]["TRELLIS_COMB"] for x in (c, d)]  # LUT4 + carry cells after routing
        cells.append(f"{comb[0]['used']:,} / {comb[1]['used']:,} ({comb[0]['used'] / comb[1]['used']:.2f}x)")
        cells.append(f"{100 * comb[0]['used'] / comb[0]['available']:.1f} % / "
                     f"{100 * comb[1]['used'] / comb[1]['available']:.1f} %")
        cells.append(f"{c['fmax_mhz']:.1f} / {d['fmax_mhz']:.1f}")
        cells.append(f"{c['latency_ns_at_fmax']:.0f} / {d['latency_ns_at_fmax']:.0f}")
    return "| " + " | ".join(cells) + " |"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fpga_peer", description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", choices=sorted(NETS), default=sorted(NETS, reverse=True))
    ap.add_argument("--target", choices=["xilinx", "ecp5"], default="xilinx")
    ap.add_argument("--part", default=None, help="ECP5 part (default LFE5U-85F)")
    ap.add_argument("--train", action="store_true", help="re-train the fixture nets first")
    ap.add_argument("--fast", action="store_true",
                    help="synthesise the core by the fast flow (parts in parallel; Xilinx) instead of flat")
    ap.add_argument("--side", choices=["both", "core", "da4ml"], default="both",
                    help="synthesise only one side (e.g. two processes at once); prints the raw results")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results to this JSON file")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to each tool process")
    args = ap.parse_args(argv)
    if args.fast and args.target != "xilinx":
        ap.error("--fast needs --target xilinx (place-and-route needs the whole netlist)")
    if args.train:
        for name in args.nets:
            print(name, train_fixture(name).widths)
    sides = ("core", "da4ml") if args.side == "both" else (args.side,)
    results = []
    for name in args.nets:
        results.append(compare(name, args.target, args.part, flat=not args.fast, sides=sides,
                               timeout=args.timeout))
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1, default=str))
        if args.side != "both":
            print(json.dumps(results[-1], default=str), flush=True)
    if args.side != "both":
        return
    head = ["net", "widths", "LUT sqnn / da4ml", "FF sqnn / da4ml", "carry cells sqnn / da4ml",
            "latency (clk)", "yosys CPU time", "estimate LUT / FF"]
    if args.target == "ecp5":
        head += ["logic cells (TRELLIS_COMB)", "utilisation", "Fmax MHz", "latency ns at Fmax"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        print(_row(r))
    print(f"(shared machine; yosys '{fpga.resources.TARGETS[args.target].format(top='<top>')}')")


if __name__ == "__main__":
    main()
