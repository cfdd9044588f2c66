"""Pure cost model of ``sqnn_core``: latency, LUT, flip-flop and carry-cell estimates without synthesis.

The core's area follows from the spec alone (see ``fpga/hdl``):

* the input register, ``F · FEATURE_BITS`` flip-flops;
* the thermometer comparators: ``x - edge`` on an ``EDGE_BITS + 1``-bit carry chain whose other operand is a
  constant (no LUT on Xilinx: ``ceil((EDGE_BITS + 1) / 4)`` CARRY4 each), one flip-flop per thermometer bit;
* per layer, the shared adder graph of :mod:`fpga.graph` (``T`` and every neuron's ``P_j``): an adder of a
  ``w_a``- and a ``w_b``-bit operand needs a LUT only where both operands have bits, ``min(w_a, w_b)``
  (``_LUT_PER_ADDER_BIT`` each), and ``ceil(max(w_a, w_b) / 4) + 1`` CARRY4; the first-clock signals that the
  second clock reads are registered (their widths in flip-flops);
* per hidden neuron, the compare ``2 P - (T + cut) >= 0`` with its constant cut (``_LUT_PER_U_BIT`` per
  bit of ``u = 2 P - T``) and the output flip-flop; per output, the score adder and the score, class and
  index registers; for ``K >= 2`` outputs the argmax compares every pair of scores (``K (K - 1) / 2``
  comparators of ``SCORE_BITS`` LUTs) and sets one class bit each (a LUT).

The LUT coefficients are fitted to yosys ``synth_xilinx -flatten -nobram -nolutram`` on the trained test nets
(``tests/data/fpga_*.npz``), and ``tests/test_fpga_cost.py`` checks the estimate against the recorded
synthesis (within 15 %).
"""

from __future__ import annotations

from sqnn_kernels.spec import BinaryNetSpec

from .graph import AdderGraph
from .render import layer_graphs, model_facts, unsigned_bits

# LUT6 per adder bit with two live operands, and per bit of u = 2P - T in the compare (fitted to synth_xilinx)
_LUT_PER_ADDER_BIT = 1.06
_LUT_PER_U_BIT = 1.0


def _count_width(k: int) -> int:
    """Width of a count in ``[0, k]`` as in the HDL (at least 3 bits)."""
    return max(3, unsigned_bits(k + 1))


def _graph_cost(g: AdderGraph) -> tuple[float, int, int]:
    """(LUT, flip-flops, CARRY4) of one layer's adder graph."""
    w = g.width
    lut = _LUT_PER_ADDER_BIT * sum(min(int(w[a]), int(w[b])) for a, b in g.ops)
    carry = sum((max(int(w[a]), int(w[b])) + 3) // 4 + 1 for a, b in g.ops)
    read = {int(x) for n, pair in enumerate(g.ops) if g.stage[g.k + n] for x in pair if not g.stage[x]}
    read |= {int(r) for r in g.roots if r >= 0 and not g.stage[r]}
    return lut, sum(int(w[x]) for x in read), carry


def estimate_cost(spec: BinaryNetSpec, feature_bits: int = 16) -> dict:
    """Latency (clocks), LUT, flip-flop and carry estimate of ``sqnn_core`` for ``spec``, without synthesis.

    Parameters
    ----------
    spec : BinaryNetSpec
        The model.
    feature_bits : int
        Width of each input feature (the comparators are ``feature_bits + 2``-bit carry chains).

    Returns
    -------
    dict
        ``{"latency_clocks": 4 + 2 · n_layers, "lut": int, "ff": int, "carry": int,
        "breakdown": {part: {"lut", "ff", "carry"}}}`` with parts ``input``, ``thermometer``, ``layer<l>``,
        ``output`` and ``valid``; ``lut``, ``ff`` and ``carry`` (Xilinx CARRY4) are the sums of the parts.
    """
    facts = model_facts(spec, feature_bits, 0)  # validates spec and feature_bits; widths only
    graphs = layer_graphs(spec)
    parts: dict[str, dict[str, float]] = {
        "input": {"lut": 0.0, "ff": spec.n_features * feature_bits, "carry": 0},
        "thermometer": {
            "lut": 0.0,
            "ff": spec.n_inputs,
            "carry": spec.n_inputs * ((facts["EDGE_BITS"] + 1 + 3) // 4),
        },
    }
    for i, layer in enumerate(spec.layers):
        lut, ff, carry = _graph_cost(graphs[i])
        cw = _count_width(layer.k)
        parts[f"layer{i}"] = {
            "lut": lut + _LUT_PER_U_BIT * (cw + 2) * layer.m,
            "ff": ff + layer.m,
            "carry": carry + layer.m * ((cw + 2 + 3) // 4),
        }
    out = spec.output
    lut, ff, carry = _graph_cost(graphs[3])
    sb = facts["SCORE_BITS"]
    pairs = out.n_out * (out.n_out - 1) // 2  # argmax: every pair of scores compared (sqnn_output.v)
    parts["output"] = {
        "lut": lut + sb * out.n_out + (sb * pairs + out.n_out if out.n_out > 1 else 0),
        "ff": ff + out.n_out * (sb + 1) + facts["INDEX_BITS"],
        "carry": carry + (out.n_out + pairs) * ((sb + 3) // 4),
    }
    parts["valid"] = {"lut": 0.0, "ff": facts["LATENCY"], "carry": 0}
    breakdown = {name: {key: round(v) for key, v in part.items()} for name, part in parts.items()}
    return {
        "latency_clocks": facts["LATENCY"],
        "lut": sum(p["lut"] for p in breakdown.values()),
        "ff": sum(p["ff"] for p in breakdown.values()),
        "carry": sum(p["carry"] for p in breakdown.values()),
        "breakdown": breakdown,
    }


__all__ = ["estimate_cost"]
