"""Human-readable facts about a :class:`~sqnn_kernels.BinaryNetSpec`: ``repr`` line and ``summary()`` table.

Per stage, with ``k`` input bits and ``m`` neurons: ``k · m`` ±1 weights (1 bit each) and ``k · m`` binary
multiply-accumulates per event (XNOR + popcount, the ``op_mac_BIPOLAR`` of ``qonnx.util.inference_cost``);
memory is the packed storage the kernels read: ``m · ⌈k/64⌉ · 8`` bytes of weights plus 4 bytes per
threshold (hidden) or bias (output). The thermometer stage costs one float compare per edge and 8 bytes per
edge (float64).
"""

from __future__ import annotations

import math

import numpy as np

from .validation import words_for

DEFAULT_FEATURE_BITS = 16  # the FPGA core's default input width (``fpga.write_project(feature_bits=16)``)


def short_repr(spec) -> str:
    """One line: features, stage widths, number of ±1 weights."""
    widths = " -> ".join(str(w) for w in spec.widths)
    return f"BinaryNetSpec(features={spec.n_features}, widths={widths}, weights={_n_weights(spec):,})"


def _n_weights(spec) -> int:
    return sum(layer.k * layer.m for layer in spec.layers) + spec.output.k * spec.output.n_out


def _stage_rows(spec) -> list[tuple[str, int, int, int, int]]:
    """(name, k, m, weights, memory bytes) of each binary stage."""
    rows = [(f"hidden {i + 1}", layer.k, layer.m, layer.k * layer.m, layer.m * (words_for(layer.k) * 8 + 4))
            for i, layer in enumerate(spec.layers)]
    out = spec.output
    rows.append(("output", out.k, out.n_out, out.k * out.n_out, out.n_out * (words_for(out.k) * 8 + 4)))
    return rows


def suggested_fixed_point(spec) -> tuple[int, int]:
    """``(total_bits, integer_bits)`` of one signed fixed-point format for every input feature.

    ``integer_bits = ⌈log2(max |edge|)⌉ + 2`` (sign bit and one bit of headroom, at least 1), so inputs up to
    twice the largest edge magnitude are represented. Fraction bits ``f = ⌈log2(1 / g)⌉`` with ``g`` the
    smallest gap between two edges of a feature: with ``lsb = 2^-f <= g`` the edges rounded up to the grid
    stay distinct (``e1 + g <= e2`` gives ``⌈e1⌉ < e1 + lsb <= ⌈e2⌉``); at least ``16 - integer_bits``.
    This is the hls4ml ``fixed<W, I>`` of the inputs; the FPGA core uses a per-feature grid instead
    (``fpga.auto_frac_bits``).
    """
    top = max(float(np.max(np.abs(e))) for e in spec.edges)
    integer = 1 if top == 0 else max(1, math.ceil(math.log2(top)) + 2)
    gaps = np.concatenate([np.diff(e) for e in spec.edges])
    gaps = gaps[gaps > 0]
    frac = max(DEFAULT_FEATURE_BITS - integer, math.ceil(-math.log2(gaps.min())) if gaps.size else 0)
    return integer + frac, integer


def summary_text(spec) -> str:
    """The table of :meth:`BinaryNetSpec.summary` (see the module docstring for the quantities)."""
    from .engine import supports

    edges = np.concatenate(spec.edges)
    counts = [e.size for e in spec.edges]
    gaps = np.concatenate([np.diff(e) for e in spec.edges])
    gaps = gaps[gaps > 0]
    n_out = spec.output.n_out
    rule = "sigmoid(scale·score + offset)" if n_out == 1 else f"softmax over {n_out} classes"
    total, integer = suggested_fixed_point(spec)
    gap = f"; smallest edge gap {gaps.min():.3g}" if gaps.size else ""
    lines = [
        short_repr(spec),
        f"input: {spec.n_features} features, {spec.n_inputs} edges ({min(counts)}-{max(counts)} per "
        f"feature), edge range [{edges.min():.6g}, {edges.max():.6g}]",
        f"  suggested fixed point: fixed<{total},{integer}> (lsb {2.0 ** (integer - total):.3g}{gap}; "
        "edges stay distinct; the FPGA uses per-feature grids: sqnn info)",
        f"{'stage':<12} {'in bits':>8} {'out bits':>8} {'±1 weights':>11} {'binary MACs/event':>18} "
        f"{'memory [B]':>11}",
        f"{'thermometer':<12} {spec.n_features:>8} {spec.n_inputs:>8} {'-':>11} "
        f"{str(spec.n_inputs) + ' compares':>18} {8 * spec.n_inputs:>11,}",
    ]
    rows = _stage_rows(spec)
    for name, k, m, weights, memory in rows:
        lines.append(f"{name:<12} {k:>8} {m:>8} {weights:>11,} {weights:>18,} {memory:>11,}")
    lines.append(f"{'total':<12} {'':>8} {'':>8} {_n_weights(spec):>11,} {_n_weights(spec):>18,} "
                 f"{8 * spec.n_inputs + sum(r[4] for r in rows):>11,}")
    lines.append(f"output: {n_out} integer score(s), probability = {rule} "
                 f"(scale {spec.output.scale:.6g}, offset {spec.output.offset:.6g})")
    lines.append("engine: " + ("fused (sqnn_kernels.engine: table lookup + XNOR-popcount per row)"
                               if supports(spec) else "layered (register-tiled dense kernels, chunked)"))
    return "\n".join(lines)
