"""Pure cost model of ``sqnn_core``: latency, LUT and flip-flop estimates without synthesis.

The core's area follows from the spec alone (see ``fpga/hdl``):

* the input register, ``F · FEATURE_BITS`` flip-flops;
* the thermometer comparators, one ``EDGE_BITS``-bit comparison against a constant edge per thermometer bit
  (plain logic, ``_LUT_PER_CMP_BIT`` LUT6 per compared bit) and one flip-flop per thermometer bit;
* per layer, the shared count ``T`` of all ``k`` inputs and, per neuron, the count ``P_j`` of the ``n_j``
  inputs of its rarer weight sign (:func:`fpga.render.selection`): 6-bit group counters and an adder tree,
  ``_LUT_PER_POP_BIT`` LUT6 per counted bit; ``P_j`` and ``T`` are registered (``clog2(k + 1)`` bits each);
* per hidden neuron, ``u = 2 P - T`` and the compare with its constant cut (``_LUT_PER_U_BIT`` per bit of
  ``u``) and the output flip-flop; per output, the score adder and the score, class and index registers.

Every term is ``coefficient × structural size``; the coefficients are fitted to yosys
``synth_xilinx -flatten -nobram -nolutram`` on the trained test nets (``tests/data/fpga_*.npz``), and
``tests/test_fpga_cost.py`` checks the estimate against the recorded synthesis (within 15 %).
"""

from __future__ import annotations

from sqnn_kernels.spec import BinaryNetSpec

from .render import model_facts, selection, unsigned_bits

# LUT6 per compared bit, per counted bit and per bit of u = 2P - T (fitted to yosys synth_xilinx)
_LUT_PER_CMP_BIT = 0.19
_LUT_PER_POP_BIT = 1.33
_LUT_PER_U_BIT = 1.0


def _count_width(k: int) -> int:
    """Width of a count in ``[0, k]`` as in the HDL (at least 3 bits)."""
    return max(3, unsigned_bits(k + 1))


def estimate_cost(spec: BinaryNetSpec, feature_bits: int = 16) -> dict:
    """Latency (clocks), LUT and flip-flop estimate of ``sqnn_core`` for ``spec``, without synthesis.

    Parameters
    ----------
    spec : BinaryNetSpec
        The model.
    feature_bits : int
        Width of each input feature (the comparators are ``feature_bits + 1`` bits wide).

    Returns
    -------
    dict
        ``{"latency_clocks": 4 + 2 · n_layers, "lut": int, "ff": int, "breakdown": {part: {"lut", "ff"}}}``
        with parts ``input``, ``thermometer``, ``layer<l>``, ``output`` and ``valid``; ``lut`` and ``ff`` are
        the sums of the parts.
    """
    facts = model_facts(spec, feature_bits, 0)  # validates spec and feature_bits; widths only
    parts: dict[str, dict[str, float]] = {
        "input": {"lut": 0.0, "ff": spec.n_features * feature_bits},
        "thermometer": {"lut": _LUT_PER_CMP_BIT * facts["EDGE_BITS"] * spec.n_inputs, "ff": spec.n_inputs},
    }
    for i, layer in enumerate(spec.layers):
        _, indices, _ = selection(layer.weights, layer.k)
        cw = _count_width(layer.k)
        counted = layer.k + sum(len(ix) for ix in indices)
        parts[f"layer{i}"] = {
            "lut": _LUT_PER_POP_BIT * counted + _LUT_PER_U_BIT * (cw + 2) * layer.m,
            "ff": cw + layer.m * (cw + 1),
        }
    out = spec.output
    _, indices, _ = selection(out.weights, out.k)
    cw = _count_width(out.k)
    sb = facts["SCORE_BITS"]
    parts["output"] = {
        "lut": _LUT_PER_POP_BIT * (out.k + sum(len(ix) for ix in indices)) + sb * out.n_out,
        "ff": cw + out.n_out * (cw + sb + 1) + facts["INDEX_BITS"],
    }
    parts["valid"] = {"lut": 0.0, "ff": facts["LATENCY"]}
    breakdown = {name: {key: round(v) for key, v in part.items()} for name, part in parts.items()}
    return {
        "latency_clocks": facts["LATENCY"],
        "lut": sum(p["lut"] for p in breakdown.values()),
        "ff": sum(p["ff"] for p in breakdown.values()),
        "breakdown": breakdown,
    }


__all__ = ["estimate_cost"]
