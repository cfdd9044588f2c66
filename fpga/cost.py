"""Pure cost model of ``sqnn_core``: latency, LUT and flip-flop estimates without synthesis.

The core's area is dominated by a few structures whose sizes follow from the spec alone (no synthesis):

* the input register, ``F · FEATURE_BITS`` flip-flops;
* the thermometer comparators, one ``EDGE_BITS``-bit signed comparison against a constant per edge, and their
  registered outputs (one flip-flop per thermometer bit);
* per hidden neuron, the population count of its XNOR bits (6-bit groups, one LUT6 level, registered 3-bit
  group counts, then their sum) and the threshold comparison;
* the output layer: one population count per output, the bias adder and the score register.

Every term is ``coefficient × structural size``; the coefficients are calibrated against yosys
``synth_xilinx -flatten -nobram -nolutram`` on the project's test nets (see ``tests/test_fpga_cost.py``,
which checks the estimate against a recorded synthesis).
"""

from __future__ import annotations

import math

from sqnn_kernels.spec import BinaryNetSpec

from .render import model_facts

# LUT6 per comparator bit and per popcount input bit, from yosys synth_xilinx on the calibration nets.
_LUT_PER_CMP_BIT = 0.66
_LUT_PER_POP_BIT = 0.80


def _popcount_cost(k: int) -> tuple[float, int]:
    """(LUTs, flip-flops) of one ``sqnn_popcount`` over ``k`` bits plus the registered compare."""
    groups = math.ceil(k / 6)
    return _LUT_PER_POP_BIT * k, 3 * groups


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
        with parts ``input``, ``thermometer``, ``layer<l>`` and ``output``; ``lut`` and ``ff`` are the sums.
    """
    facts = model_facts(spec, feature_bits, 0)  # validates spec and feature_bits; widths only
    parts: dict[str, dict[str, float]] = {
        "input": {"lut": 0.0, "ff": spec.n_features * feature_bits},
        "thermometer": {
            "lut": _LUT_PER_CMP_BIT * (feature_bits + 1) * spec.n_inputs,
            "ff": spec.n_inputs,
        },
    }
    for i, layer in enumerate(spec.layers):
        lut, ff = _popcount_cost(layer.k)
        parts[f"layer{i}"] = {"lut": layer.m * lut, "ff": layer.m * (ff + 1)}
    lut, ff = _popcount_cost(spec.output.k)
    score_bits = facts["SCORE_BITS"]
    parts["output"] = {"lut": spec.output.n_out * lut, "ff": spec.output.n_out * (ff + score_bits + 1)}
    parts["valid"] = {"lut": 0.0, "ff": 4 + 2 * len(spec.layers)}
    breakdown = {name: {key: round(v) for key, v in part.items()} for name, part in parts.items()}
    return {
        "latency_clocks": 4 + 2 * len(spec.layers),
        "lut": sum(p["lut"] for p in breakdown.values()),
        "ff": sum(p["ff"] for p in breakdown.values()),
        "breakdown": breakdown,
    }


__all__ = ["estimate_cost"]
