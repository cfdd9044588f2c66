"""Pure writers: ``BinaryNetSpec`` -> ``{filename: text}`` for the fixed ``sqnn_core`` (nothing touches disk).

Files (all ``$readmemh`` text, one word per line, MSB-first hexadecimal, full width):

========================  ==========  ====================================================================
file                      words       word
========================  ==========  ====================================================================
edges.mem                 N_THERM     signed EDGE_BITS-bit edge of thermometer bit j (two's complement)
edge_feature.mem          N_THERM     index of the feature that thermometer bit j compares
layer<l>_weights.mem      m_l         k_l bits, bit i = weight of input i of that neuron (1 means +1)
layer<l>_thresholds.mem   m_l         signed THR_BITS-bit threshold, clamped to [-k_l, k_l + 1]
output_weights.mem        n_out       output-layer weights, as above
output_bias.mem           n_out       signed SCORE_BITS-bit bias
sqnn_params.vh            -           ``localparam`` widths, depths, LATENCY, CLASS_THR
========================  ==========  ====================================================================

plus ``.coe`` (Xilinx) and ``.mif`` (Intel) copies of every ROM, the fixed HDL sources and a README.txt.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from importlib import resources

import numpy as np
from bitarray import bitarray
from bitarray.util import ba2hex

from sqnn_kernels.reference import unpack_bits
from sqnn_kernels.scoring import probabilities
from sqnn_kernels.spec import BinaryNetSpec

from .graph import AdderGraph, build_graph
from .quantize import auto_frac_bits, check_format, int_range, per_feature, quantize_edges
from .stochastic import StochasticConfig, layer_seeds, noise_table, threshold_clamp

MAX_LAYERS = 3
HDL_SOURCES = (
    "sqnn_core.v", "sqnn_thermometer.v", "sqnn_layer.v", "sqnn_output.v", "sqnn_graph.v", "sqnn_graph_chunk.v"
)
TESTBENCH = "sqnn_tb.v"
MANIFEST = "manifest.json"
PARAMS = "sqnn_params.vh"
STRUCTURE = "sqnn_struct.vh"
HEADERS = (PARAMS, STRUCTURE)
OUTPUT_SLOT = 3  # slot of the output layer in sqnn_struct.vh (hidden layers are 0 .. MAX_LAYERS - 1)
MANIFEST_VERSION = 1
_INT32 = (int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max))


# -- small helpers --------------------------------------------------------------------------------------
def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's complement width (>= 2) holding every integer in ``[lo, hi]``."""
    b = 2
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def unsigned_bits(n: int) -> int:
    """Width (>= 1) of an unsigned index in ``[0, n - 1]``."""
    return max(1, (max(n, 1) - 1).bit_length())


def _hex_word(value: int, width: int) -> str:
    """Two's complement ``value`` on ``width`` bits as ceil(width/4) hex digits, MSB first."""
    return format(value & ((1 << width) - 1), f"0{(width + 3) // 4}x")


def _row_hex(bits: np.ndarray) -> str:
    """Bit row (element j = bit j) as MSB-first hex of ceil(k/4) digits, using :mod:`bitarray`."""
    k = bits.size
    ba = bitarray("0" * ((-k) % 4), endian="big")
    ba.extend(bits[::-1].astype(bool).tolist())
    return ba2hex(ba)


def _weight_lines(weights: np.ndarray, k: int) -> list[str]:
    return [_row_hex(row) for row in unpack_bits(weights, k)]


def _mem_text(lines: list[str], title: str) -> str:
    return f"// {title}\n" + "\n".join(lines) + "\n"


# -- structure: which inputs each neuron counts --------------------------------------------------------
def selection(weights: np.ndarray, k: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Per neuron: the inputs of its rarer weight sign, as counted by ``sqnn_layer`` / ``sqnn_output``.

    With ``pol_j = 1`` if neuron j has at most k/2 weights +1 (else 0), the selected inputs are those
    with weight ``+1`` (pol 1) or ``-1`` (pol 0). For input bits ``t`` with ``T = popcount(t)`` and ``P_j``
    the count of the selected ones, ``q_j = ±(4 P_j - 2 T)`` (sign + for pol 1) equals ``dot_j + D_j`` with
    ``D_j = #(+1 weights) - #(-1 weights)``.

    Returns
    -------
    pol : int64 (m,), indices : list of int64 arrays (ascending input indices), d : int64 (m,)
    """
    bits = unpack_bits(weights, k).astype(bool)
    n_plus = bits.sum(axis=1).astype(np.int64)
    pol = (2 * n_plus <= k).astype(np.int64)
    indices = [np.flatnonzero(row if p else ~row) for row, p in zip(bits, pol, strict=True)]
    return pol, indices, 2 * n_plus - k


def deterministic_cut(
    thresholds: np.ndarray, pol: np.ndarray, d: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron ``(C, inv)`` with ``bit = (u >= C) xor inv`` for ``u = 2 P - T`` (see :func:`selection`).

    ``dot >= thr`` with ``dot + D = ±2u`` (+ for pol 1): pol 1 gives ``u >= ceil((thr + D) / 2)``, pol 0 gives
    ``u <= floor(-(thr + D) / 2)``, i.e. not ``u >= floor(-(thr + D) / 2) + 1``. As ``u`` is in ``[-k, k]``,
    ``C`` is clamped to ``[-k, k + 1]`` (always / never), which changes no bit.
    """
    t = np.clip(np.asarray(thresholds, dtype=np.int64), -k, k + 1) + d
    cut = np.where(pol == 1, -((-t) // 2), (-t) // 2 + 1)
    return np.clip(cut, -k, k + 1), (pol == 0).astype(np.int64)


# -- model facts ----------------------------------------------------------------------------------------
def _rule(spec: BinaryNetSpec, s: np.ndarray) -> np.ndarray:
    """``sigmoid(scale · s + offset) >= 0.5``: the one-output rule of :mod:`sqnn_kernels.scoring`."""
    scores = np.asarray(s, dtype=np.int32).reshape(-1, 1)
    return probabilities(scores, spec.output.scale, spec.output.offset)[:, 0] >= 0.5


def class_threshold(spec: BinaryNetSpec, lo: int, hi: int) -> int:
    """Smallest integer score in ``[lo, hi]`` classified positive, or ``hi + 1`` if none is.

    The rule ``sigmoid(scale · s + offset) >= 0.5`` is evaluated at every integer score of the range (by
    bisection on the monotone rule when the range is wider than 2^20) with the same float arithmetic as
    ``predict_proba``, so the folded integer cut ``score >= CLASS_THR`` agrees with it on every score.
    """
    if hi - lo <= 1 << 20:
        s = np.arange(lo, hi + 1, dtype=np.int64)
        ok = _rule(spec, s)
        first = int(np.argmax(ok)) if ok.any() else ok.size
        if not (np.all(ok[first:]) and not np.any(ok[:first])):
            raise ValueError("the output rule is not monotone in the score")
        return lo + first
    if not _rule(spec, np.array([hi]))[0]:
        return hi + 1
    if _rule(spec, np.array([lo]))[0]:
        return lo
    a, b = lo, hi  # invariant: rule(a) is false, rule(b) is true
    while b - a > 1:
        mid = (a + b) // 2
        if _rule(spec, np.array([mid]))[0]:
            b = mid
        else:
            a = mid
    return b


def model_facts(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict:
    """Every width, depth and constant of the generated files, as a plain dict (used by the writers)."""
    if stochastic is not None and not isinstance(stochastic, StochasticConfig):
        raise TypeError(f"stochastic must be a StochasticConfig or None, got {type(stochastic).__name__}")
    if not isinstance(spec, BinaryNetSpec):
        raise TypeError(f"spec must be a BinaryNetSpec, got {type(spec).__name__}")
    if len(spec.layers) > MAX_LAYERS:
        raise ValueError(
            f"sqnn_core supports at most {MAX_LAYERS} hidden layers, the spec has {len(spec.layers)}"
        )
    if frac_bits is None:
        frac_bits = auto_frac_bits(spec.edges, feature_bits)
    feature_bits, frac_bits = check_format(feature_bits, frac_bits)
    if isinstance(frac_bits, tuple):
        per_feature(frac_bits, spec.n_features)  # length check
        if len(set(frac_bits)) == 1:
            frac_bits = frac_bits[0]
    n_therm = spec.n_inputs
    widths = [n_therm] + [layer.m for layer in spec.layers]
    slots = []
    for i in range(MAX_LAYERS):
        if i < len(spec.layers):
            k = spec.layers[i].k
            slot = {"M": spec.layers[i].m, "T_LO": -k, "T_HI": k + 1, "NOISE_BITS": 2}
            if stochastic is not None:
                table = noise_table(k, stochastic)
                slot["T_LO"], slot["T_HI"] = threshold_clamp(k, table)
                slot["NOISE_BITS"] = signed_bits(int(table.min()), int(table.max()))
                slot["noise"] = table
            # the ROM holds thr' = clip(thr) + D, |D| <= k (see selection)
            slot["THR_BITS"] = signed_bits(slot["T_LO"] - k, slot["T_HI"] + k)
            slots.append(slot)
        else:  # absent layer: identity bypass of the previous width
            slots.append({"M": widths[-1], "THR_BITS": 2, "NOISE_BITS": 2})
    out = spec.output
    lo = max(-out.k + int(out.bias.min()), _INT32[0])
    hi = min(out.k + int(out.bias.max()), _INT32[1])
    score_bits = min(32, signed_bits(-out.k + int(out.bias.min()), out.k + int(out.bias.max())))
    if score_bits == 32:
        lo, hi = _INT32
    return {
        "N_FEATURES": spec.n_features,
        "FEATURE_BITS": feature_bits,
        "FRAC_BITS": frac_bits,
        "EDGE_BITS": feature_bits + 1,
        "N_THERM": n_therm,
        "FIDX_BITS": unsigned_bits(spec.n_features),
        "N_LAYERS": len(spec.layers),
        "slots": slots,
        "OUT_K": out.k,
        "N_OUT": out.n_out,
        "INDEX_BITS": unsigned_bits(out.n_out),
        "SCORE_BITS": score_bits,
        "SCORE_MIN": lo,
        "SCORE_MAX": hi,
        "CLASS_THR": class_threshold(spec, lo, hi),
        "LATENCY": 4 + 2 * len(spec.layers),
        "STOCHASTIC": stochastic,
        "RNG_BITS": stochastic.rng_bits if stochastic is not None else 8,
    }


# -- renderers ------------------------------------------------------------------------------------------
def render_params(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """``sqnn_params.vh``: the localparams the core and testbench ``include`` (no include guard)."""
    f = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    w = f["SCORE_BITS"] + 1
    thr = f["CLASS_THR"]
    thr_lit = f"{'-' if thr < 0 else ''}{w}'sd{abs(thr)}"
    lines = [
        "// sqnn_params.vh -- generated by fpga.render_params; included inside sqnn_core and sqnn_tb.",
        f"// Model: {f['N_FEATURES']} features -> {f['N_THERM']} thermometer bits -> "
        + " -> ".join(str(layer.m) for layer in spec.layers)
        + (" -> " if spec.layers else "")
        + f"{f['N_OUT']} scores.",
        "// Inputs: FEATURE_BITS-bit two's complement, x_int = clip(rint(x * 2^FRAC_BITS)).",
        f"localparam N_FEATURES   = {f['N_FEATURES']};",
        f"localparam FEATURE_BITS = {f['FEATURE_BITS']};",
        (
            f"localparam FRAC_BITS    = {f['FRAC_BITS']};"
            if isinstance(f["FRAC_BITS"], int)
            else "// FRAC_BITS per feature (feature 0 first): " + " ".join(map(str, f["FRAC_BITS"]))
        ),
        f"localparam EDGE_BITS    = {f['EDGE_BITS']};",
        f"localparam N_THERM      = {f['N_THERM']};",
        f"localparam FIDX_BITS    = {f['FIDX_BITS']};",
        f"localparam N_LAYERS     = {f['N_LAYERS']};",
    ]
    for i, slot in enumerate(f["slots"]):
        note = "" if i < f["N_LAYERS"] else "  // absent layer: identity bypass"
        lines.append(f"localparam L{i}_M         = {slot['M']};{note}")
        lines.append(f"localparam L{i}_THR_BITS  = {slot['THR_BITS']};")
        lines.append(f"localparam L{i}_NOISE_BITS = {slot['NOISE_BITS']};")
    st = f["STOCHASTIC"]
    lines += [
        f"localparam STOCHASTIC   = {int(st is not None)};"
        + (f"  // theta = sigmoid({st.slope!r} * (dot - thr + 0.5) / k)" if st is not None else ""),
        f"localparam RNG_BITS     = {f['RNG_BITS']};",
    ]
    lines += [
        f"localparam OUT_K        = {f['OUT_K']};",
        f"localparam N_OUT        = {f['N_OUT']};",
        f"localparam INDEX_BITS   = {f['INDEX_BITS']};",
        f"localparam SCORE_BITS   = {f['SCORE_BITS']};",
        f"// class = (score >= CLASS_THR) <=> "
        f"sigmoid({spec.output.scale!r} * score + {spec.output.offset!r}) >= 0.5",
        f"localparam signed [SCORE_BITS:0] CLASS_THR = {thr_lit};",
        f"localparam LATENCY      = {f['LATENCY']};",
    ]
    return {PARAMS: "\n".join(lines) + "\n"}


def _case_lines(name: str, cases: dict[int, dict[int, str]], width: str, default: str) -> list[str]:
    """A Verilog-2001 constant function ``name(l, j)`` returning ``cases[l][j]`` (else ``default``)."""
    lines = [f"function {width}{name};", "  /* verilator lint_off UNUSEDSIGNAL */  // no case: absent slot",
             "  input integer l;", "  input integer j;", "  /* verilator lint_on UNUSEDSIGNAL */", "  begin",
             f"    {name} = {default};", "    case (l)"]
    for slot, values in cases.items():
        lines.append(f"      {slot}: case (j)")
        lines += [f"        {j}: {name} = {v};" for j, v in values.items()]
        lines.append("        default: ;")
        lines.append("      endcase")
    lines += ["      default: ;", "    endcase", "  end", "endfunction"]
    return lines


_CHUNK = 32  # graph table entries per constant-function case (keeps elaboration linear in the graph size)


def _fields(fields: list[tuple[int, int]]) -> int:
    """``(value, width)`` fields packed into one integer, the first in the low bits."""
    word, shift = 0, 0
    for value, width in fields:
        word |= int(value) << shift
        shift += width
    return word


def _chunks(entries: list[int], width: int) -> dict[int, str]:
    """Entries of ``width`` bits in chunks of ``_CHUNK`` (entry ``e`` in chunk ``e // _CHUNK``, bits
    ``[(e % _CHUNK) * width +: width]``), as ``{chunk: Verilog literal}``."""
    total = _CHUNK * width
    return {
        c: f"{total}'h{_hex_word(_fields([(v, width) for v in entries[c * _CHUNK:(c + 1) * _CHUNK]]), total)}"
        for c in range((len(entries) + _CHUNK - 1) // _CHUNK)
    }


def layer_graphs(spec: BinaryNetSpec) -> dict[int, AdderGraph]:
    """Slot -> the shared adder graph of that layer (rows: ``T``, then ``P_j`` of every neuron)."""
    graphs = {}
    for i, layer in enumerate(spec.layers):  # a hidden neuron compares 2 P - (T + cut): one adder after P
        _, indices, _ = selection(layer.weights, layer.k)
        graphs[i] = build_graph([np.arange(layer.k), *indices], layer.k, tail=1, shallow=(0,))
    out = spec.output  # a score is +-(4 P - 2 T) + bias, then compared: two adders after P
    _, indices, _ = selection(out.weights, out.k)
    graphs[OUTPUT_SLOT] = build_graph([np.arange(out.k), *indices], out.k, tail=2)
    return graphs


def render_structure(spec: BinaryNetSpec) -> dict[str, str]:
    """``sqnn_struct.vh``: which inputs every neuron counts (its weights, as structure of the fixed core).

    Constant functions of the slot ``l`` (0..2 = hidden layers, 3 = output layer) and, where named, the neuron
    ``j``: ``sqnn_pol(l, j)`` 1 if the neuron counts its +1 weights (0: its -1 weights, see
    :func:`selection`); the layer's shared adder graph (:mod:`fpga.graph`, read by ``sqnn_graph.v``):
    ``sqnn_g_nodes(l, 0)``, ``sqnn_g_node(l, c)`` and
    ``sqnn_g_row(l, c)`` (chunk ``c`` of the node and row tables, field layout in ``sqnn_graph.v``); for
    hidden neurons ``sqnn_cut`` and ``sqnn_inv`` of
    :func:`deterministic_cut` (the thresholds of the deterministic mode, as constants).
    """
    if not isinstance(spec, BinaryNetSpec):
        raise TypeError(f"spec must be a BinaryNetSpec, got {type(spec).__name__}")
    stages = [(i, layer.weights, layer.k) for i, layer in enumerate(spec.layers)]
    stages.append((OUTPUT_SLOT, spec.output.weights, spec.output.k))
    sel = {slot: selection(w, k) for slot, w, k in stages}
    cut_cases, inv_cases = {}, {}
    for i, layer in enumerate(spec.layers):
        pol, _, d = sel[i]
        cut, inv = deterministic_cut(layer.thresholds, pol, d, layer.k)
        cut_cases[i] = {j: str(int(c)) for j, c in enumerate(cut)}
        inv_cases[i] = {j: str(int(v)) for j, v in enumerate(inv)}
    pol_cases = {slot: {j: str(int(p)) for j, p in enumerate(pol)} for slot, (pol, _, _) in sel.items()}
    graphs = layer_graphs(spec)
    # slot indices into sqnn_graph.v's operand bus: 2 NS + 2 k + 1 slots (NS = max(1, nodes))
    ib = unsigned_bits(max(2 * max(1, g.n_nodes) + 2 * g.k + 1 for g in graphs.values()))
    wb = unsigned_bits(1 + max(int(g.width.max()) for g in graphs.values()))
    neb = 2 * ib + wb + 2
    nodes_cases, node_cases, row_cases = {}, {}, {}
    for slot, g in graphs.items():
        width, ns = g.width, max(1, g.n_nodes)

        def src(x: int, reader_stage: int, g: AdderGraph = g, ns: int = ns) -> int:
            """Slot of signal ``x`` (input bit or node) as read in clock ``reader_stage`` of the layer."""
            registered = reader_stage == 1 and g.stage[x] == 0
            if x >= g.k:
                return x - g.k + (ns if registered else 0)
            return 2 * ns + x + (g.k if registered else 0)

        nodes_cases[slot] = {0: str(g.n_nodes)}
        entries = []
        for n, (a, b) in enumerate(g.ops.tolist()):
            st = int(g.stage[g.k + n])
            fields = [(width[g.k + n], wb)]
            for x in (a, b):
                slot_x = src(x, st)
                # an unregistered node of the same chunk (slot = node index) is read inside sqnn_graph_chunk
                fields += [(slot_x, ib), (int(slot_x < ns and slot_x // _CHUNK == n // _CHUNK), 1)]
            entries.append(_fields(fields))
        node_cases[slot] = _chunks(entries, neb)
        zero = 2 * ns + 2 * g.k
        row_cases[slot] = _chunks([zero if r < 0 else src(r, 1) for r in g.roots.tolist()], ib)
    lines = [
        "// sqnn_struct.vh -- generated by fpga.render_structure; included in sqnn_layer, sqnn_output and",
        "// sqnn_graph.  Slot l: 0..2 hidden layers, 3 output layer.  Neuron j counts its +1 weights if",
        "// sqnn_pol(l, j) = 1, else its -1 weights (the rarer sign); the counts of all neurons (and T, all",
        "// inputs) come from the shared adder graph sqnn_g_*(l) of the layer (sqnn_graph.v).",
        f"localparam SQNN_G_IB = {ib};",
        f"localparam SQNN_G_WB = {wb};",
        f"localparam SQNN_G_CH = {_CHUNK};",
        *_case_lines("sqnn_pol", pol_cases, "integer ", "0"),
        *_case_lines("sqnn_g_nodes", nodes_cases, "integer ", "0"),
        *_case_lines("sqnn_g_node", node_cases, f"[{_CHUNK * neb - 1}:0] ", "0"),
        *_case_lines("sqnn_g_row", row_cases, f"[{_CHUNK * ib - 1}:0] ", "0"),
        "// Deterministic hidden neurons fire on (u >= sqnn_cut(l, j)) xor sqnn_inv(l, j), u = 2 P - T.",
        *_case_lines("sqnn_cut", cut_cases, "integer ", "0"),
        *_case_lines("sqnn_inv", inv_cases, "integer ", "0"),
    ]
    return {STRUCTURE: "\n".join(lines) + "\n"}


def _roms(spec: BinaryNetSpec, f: dict) -> dict[str, tuple[int, list[str], str]]:
    """ROM name -> (word width, hex words, description)."""
    e_int = quantize_edges(spec.edges, f["FEATURE_BITS"], f["FRAC_BITS"])
    eb = f["EDGE_BITS"]
    roms = {
        "edges": (
            eb,
            [_hex_word(int(v), eb) for e in e_int for v in e],
            f"thermometer edges, signed {eb}-bit, x_int >= edge (frac_bits={_frac_text(f['FRAC_BITS'])})",
        ),
        "edge_feature": (
            f["FIDX_BITS"],
            [_hex_word(i, f["FIDX_BITS"]) for i, e in enumerate(e_int) for _ in e],
            "feature index of each thermometer bit",
        ),
    }
    for i, layer in enumerate(spec.layers):
        slot = f["slots"][i]
        tb = slot["THR_BITS"]
        _, _, d = selection(layer.weights, layer.k)
        thr = np.clip(layer.thresholds.astype(np.int64), slot["T_LO"], slot["T_HI"]) + d
        roms[f"layer{i}_weights"] = (
            layer.k,
            _weight_lines(layer.weights, layer.k),
            f"layer {i} weights, {layer.m} neurons x {layer.k} bits, bit 1 = +1",
        )
        roms[f"layer{i}_thresholds"] = (
            tb,
            [_hex_word(int(t), tb) for t in thr],
            f"layer {i} thresholds thr' = thr + D (D = #(+1) - #(-1) weights), signed {tb}-bit, "
            "bit = dot + D >= thr'",
        )
        if f["STOCHASTIC"] is not None:
            nb = slot["NOISE_BITS"]
            roms[f"layer{i}_noise"] = (
                nb,
                [_hex_word(int(v), nb) for v in slot["noise"]],
                f"layer {i} noise (inverse CDF of theta), signed {nb}-bit, bit = dot - thr >= noise[u]",
            )
            seeds = layer_seeds(f["STOCHASTIC"], i, layer.m)
            roms[f"layer{i}_seeds"] = (31, [_hex_word(int(v), 31) for v in seeds], f"layer {i} LFSR seeds")
    sb = f["SCORE_BITS"]
    _, _, d_out = selection(spec.output.weights, spec.output.k)
    roms["output_weights"] = (
        spec.output.k,
        _weight_lines(spec.output.weights, spec.output.k),
        f"output weights, {spec.output.n_out} outputs x {spec.output.k} bits, bit 1 = +1",
    )
    roms["output_bias"] = (
        sb,
        [_hex_word(int(b), sb) for b in spec.output.bias.astype(np.int64) - d_out],
        f"output bias' = bias - D (D = #(+1) - #(-1) weights), signed {sb}-bit (wraps), "
        "score = (dot + D) + bias'",
    )
    return roms


def render_memories(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """``$readmemh`` files of every ROM (``<name>.mem``)."""
    f = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    return {
        f"{name}.mem": _mem_text(words, f"{desc}; {width}-bit words")
        for name, (width, words, desc) in _roms(spec, f).items()
    }


def render_coe(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """Xilinx ``.coe`` copies of every ROM (radix 16, same words as the ``.mem`` files)."""
    f = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    out = {}
    for name, (width, words, desc) in _roms(spec, f).items():
        body = ",\n".join(words) + ";\n"
        out[f"{name}.coe"] = (
            f"; {desc}; {width}-bit words, depth {len(words)}\n"
            "memory_initialization_radix=16;\nmemory_initialization_vector=\n" + body
        )
    return out


def render_mif(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """Intel (Altera) ``.mif`` copies of every ROM."""
    f = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    out = {}
    for name, (width, words, desc) in _roms(spec, f).items():
        body = "".join(f"  {a} : {w};\n" for a, w in enumerate(words))
        out[f"{name}.mif"] = (
            f"-- {desc}\nWIDTH={width};\nDEPTH={len(words)};\nADDRESS_RADIX=UNS;\n"
            f"DATA_RADIX=HEX;\nCONTENT BEGIN\n{body}END;\n"
        )
    return out


def render_hdl() -> dict[str, str]:
    """The fixed HDL sources (core and testbench), verbatim from ``fpga/hdl``."""
    hdl = resources.files("fpga") / "hdl"
    return {name: (hdl / name).read_text(encoding="utf-8") for name in (*HDL_SOURCES, TESTBENCH)}


def _frac_text(frac) -> str:
    return str(frac) if isinstance(frac, int) else "[" + ", ".join(map(str, frac)) + "] (per feature)"


def _stochastic_note(f: dict) -> str:
    st = f["STOCHASTIC"]
    if st is None:
        return "Mode: deterministic (hidden bit = dot >= threshold).\n"
    return (
        f"Mode: STOCHASTIC -- hidden bit = 1 with prob. sigmoid({st.slope!r} * (dot - thr + 0.5) / k),\n"
        f"      quantised to {st.rng_bits} bits, one LFSR per neuron (seed {st.seed}); scores are random.\n"
    )


def render_readme(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """A short ``README.txt`` describing the folder and how to use it."""
    f = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    arch = " -> ".join(str(w) for w in spec.widths)
    text = f"""SQNN FPGA project (generated by fpga.write_project; do not edit by hand)

Model: {f["N_FEATURES"]} features -> thermometer/hidden/output widths {arch}
Core:  sqnn_core (fixed Verilog-2001, sqnn_*.v); model data: sqnn_params.vh + *.mem
Ports: clk, rst (sync, active high), in_valid, in_features[{f["N_FEATURES"] * f["FEATURE_BITS"]}-1:0]
       -> out_valid, out_score[{f["N_OUT"] * f["SCORE_BITS"]}-1:0] (signed {f["SCORE_BITS"]}-bit per output),
          out_class[{f["N_OUT"]}-1:0]
Inputs: feature f = in_features[f*{f["FEATURE_BITS"]} +: {f["FEATURE_BITS"]}], two's complement,
       x_int = clip(rint(x * 2^frac_bits)), frac_bits = {_frac_text(f["FRAC_BITS"])}
       (fpga.quantize_features; also in manifest.json). Grid inputs give exactly
       sqnn_kernels.predict_scores; edges are rounded up to the grid.
Class: out_class = score >= {f["CLASS_THR"]}  <=>  sigmoid(scale*score + offset) >= 0.5
Throughput: one vector per clock; LATENCY = {f["LATENCY"]} clocks.
{_stochastic_note(f)}
Use: add the sqnn_*.v files (not sqnn_tb.v, the testbench) to the design,
put this folder on the include path (for sqnn_params.vh), and let the core find the .mem files:
  - run the simulator/synthesis from this folder (PARAM_DIR defaults to "."), or
  - instantiate sqnn_core #(.PARAM_DIR("/abs/path/to/this/folder")), or
  - define the macro: -DSQNN_PARAM_DIR=\\"/abs/path/to/this/folder\\".
Vivado/Quartus users may instead initialise the ROMs from the .coe / .mif copies.
Check the folder with fpga.verify_project(folder, spec); manifest.json lists the sha256 of every file.
"""
    return {"README.txt": text}


def render_manifest(files: dict[str, str], facts: dict) -> dict[str, str]:
    """``manifest.json`` with the sha256 of every other file and the fixed-point format."""
    manifest = {
        "format": "sqnn-fpga-project",
        "version": MANIFEST_VERSION,
        "feature_bits": facts["FEATURE_BITS"],
        "frac_bits": facts["FRAC_BITS"] if isinstance(facts["FRAC_BITS"], int) else list(facts["FRAC_BITS"]),
        "latency": facts["LATENCY"],
        "stochastic": facts["STOCHASTIC"].as_dict() if facts["STOCHASTIC"] is not None else None,
        "files": {
            name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in sorted(files.items())
        },
    }
    return {MANIFEST: json.dumps(manifest, indent=2, sort_keys=True) + "\n"}


def render_project(
    spec: BinaryNetSpec,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    coe: bool = True,
    mif: bool = True,
    stochastic: StochasticConfig | None = None,
) -> dict[str, str]:
    """Every file of a project folder, manifest included."""
    facts = model_facts(spec, feature_bits, frac_bits, stochastic=stochastic)
    fb, frac, st = facts["FEATURE_BITS"], facts["FRAC_BITS"], stochastic
    files = {
        **render_params(spec, fb, frac, stochastic=st),
        **render_structure(spec),
        **render_memories(spec, fb, frac, stochastic=st),
        **render_hdl(),
        **render_readme(spec, fb, frac, stochastic=st),
    }
    if coe:
        files.update(render_coe(spec, fb, frac, stochastic=st))
    if mif:
        files.update(render_mif(spec, fb, frac, stochastic=st))
    files.update(render_manifest(files, facts))
    return files


def encode_vectors(x_int: np.ndarray, feature_bits: int) -> str:
    """Testbench input file: one MSB-first hex line per row, feature 0 in the least significant bits."""
    x_int = np.asarray(x_int, dtype=np.int64)
    mask = (1 << feature_bits) - 1
    digits = math.ceil(x_int.shape[1] * feature_bits / 4)
    lines = []
    for row in x_int.tolist():
        word = 0
        for f, v in enumerate(row):
            word |= (v & mask) << (f * feature_bits)
        lines.append(format(word, f"0{digits}x"))
    return "\n".join(lines) + ("\n" if lines else "")


__all__ = [
    "class_threshold",
    "deterministic_cut",
    "encode_vectors",
    "int_range",
    "layer_graphs",
    "model_facts",
    "render_coe",
    "render_hdl",
    "render_manifest",
    "render_memories",
    "render_mif",
    "render_params",
    "render_project",
    "render_readme",
    "render_structure",
    "selection",
    "signed_bits",
    "unsigned_bits",
]
