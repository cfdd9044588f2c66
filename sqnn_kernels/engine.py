"""Fused end-to-end inference: float features -> integer scores, no unpacked intermediates.

The first binary layer reads a thermometer code, so it is a table lookup. With ``c_f`` the number of edges
of feature f that ``x_f`` reaches (its thermometer bits are +1 for ``b < c_f`` and −1 after), ``n_f`` its
edge count and ``N = Σ_f n_f`` the layer's input width, the ±1 dot product of neuron j is

    dot_j = 2 U_j − N,    U_j = Σ_f u[f, c_f, j],
    u[f, c, j] = #{b < c : w_{j,f,b} = +1} + #{b >= c : w_{j,f,b} = −1}

(``u`` counts the agreeing bits, 0 <= u <= n_f, so it fits a byte). Features go in pairs ``(p, p + H)``,
``H = ceil(F / 2)``: one row of the pair table ``u2[p, c_p (B + 1) + c_{p+H}] = u[p, c_p] + u[p+H, c_{p+H}]``
serves two features, and the pair tables of a trigger-sized net fit the L2 cache. Byte rows are added in
uint8, in two independent chains of as many pairs as cannot overflow (``⌊255 / (2B)⌋`` each), then widened
into an int16 accumulator, and
``dot_j >= t_j  ⇔  U_j >= ⌈(t_j + N) / 2⌉``, so 64 neurons become one word with a single vector compare
(:func:`~sqnn_kernels._jit.ge_mask64`). Later layers are XNOR-popcount, vectorised across the neurons:
``k − 2·popcount(h ⊕ w_j) >= t_j  ⇔  popcount(h ⊕ w_j) <= ⌊(k − t_j) / 2⌋``; a later hidden layer whose
table fits ``LUT_BYTES`` (faster on AVX2 and on AVX-512, see there) is instead a lookup like the first layer,
its "features" being the bytes of the packed input (256 codes each, ``A_j >= ⌈(t_j + k) / 2⌉``). A layer of
k <= 64 inputs (one word: 8 byte tables, zero rows past k) runs two rows at once in four int8 chains and
compares the sums (<= 64) as int8, with no widening (45x8-64-64-1 with AVX2 code: 1.13x the whole engine).

Rows go through in blocks of up to 64 (``prange``) and in three passes per block, so that each pass is a
run of independent, vectorised rows the out-of-order core overlaps (one row at a time through all steps
is latency-bound, 2-3x slower): (1) compare every feature of a row with its edges (features across the
vector lanes, the edges of a lane unrolled; explicit 32-bit vector IR, :func:`~sqnn_kernels._jit.lane_codes`,
because a plain loop got 64-bit lanes on AVX2) and write the pair-table offsets, (2) sum the table rows
(:func:`~sqnn_kernels._jit.sum_rows64`, explicit ``<64 x i8>`` IR: one zmm add per row on AVX-512 hosts,
whose ``prefer-256-bit`` tuning kept the plain loop at two ymm adds; 1.18-1.20x there) and pack the first
layer, (3) the later layers, layer by layer over the block, two rows at a time. Each row's result depends
only on that row, so results are identical for any thread count or chunking. Stack buffers are 64-byte
aligned: a vector that straddles two cache lines made the speed vary by 1.6x from one process to the next.

Reads run a few values past each row (the vector of the last pair): rows near the end of the array go
through a zero-padded copy (:func:`fused_scores`). float32 input is compared with float32 edges rounded up
(``x >= e  ⇔  x >= ⌈e⌉_f32`` for every float32 ``x``), float64 input with the float64 edges: exact both ways.

Passes 1 and 2 are specialised (compiled once, cached on disk) on the vector length of a row's features (a
multiple of 8), the edge count rounded up to a power of two >= 8, pairing and the first layer's width
rounded up to a multiple of 64. Pass 3 (:func:`_later_layers`) takes the later layers' shapes as runtime
values (64 neurons per vector step) and is one compiled function for every network and input dtype, which
halves the compile time of each further shape.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import prange

from ._jit import (
    byte_word_sum,
    dual,
    ge_mask64,
    jit,
    lane_codes,
    popcount,
    stack_array,
    sum_rows64,
)
from .bits import unpack_bits
from .spec import BinaryNetSpec

LANES = 8  # features are padded to a multiple of this many vector lanes
MAX_EDGES = 64  # at most this many edges per feature (a pair's byte then stays <= 128)
TABLE_BYTES = 1 << 20  # the largest feature group (<= 3) whose tables fit in ~1 MiB (L2)
MAX_GROUP = 2  # 3 features per lookup (a 750 kB table for 45x8 -> 64) measured 5 % slower
MAX_LATER_WIDTH = 256  # later layers at most this wide run in the engine (4 words per row)
# A later hidden layer is a byte-table lookup (like the first layer) when its table fits LUT_BYTES, else
# XNOR-popcount. On an Emerald Rapids Xeon (1 thread, in-process pairs of the same kernel), byte tables are
# 1.8x faster than popcount with AVX2 code (LLVM's AVX2 popcount costs 2 vpshufb per 4 words and 64 neurons)
# and, since the one-word layer's rows are summed in explicit <64 x i8> IR (one zmm add per row), also
# faster with AVX-512 VPOPCNTDQ code: 1.03-1.05x (45x8-64-64-1), 1.09x (64-32), 1.02x (128-128).
# (Zen 4 measured popcount 47 vs 55 ns per row against 256-bit byte-table code, before that change.)
LUT_BYTES = 1 << 18
OFFSET_STACK_BYTES = 8192  # per-block offsets kept on the stack: rows per block = this / (4 * lanes)


@dataclass(frozen=True)
class CompiledNet:
    """A :class:`BinaryNetSpec` rearranged once for the fused kernel."""

    edges64: np.ndarray  # float64 (G, B, HP): slot s, lane p = edges of feature s·H + p, +inf padded
    edges32: np.ndarray  # float32 (G, B, HP): the same rounded up to float32 (exact for float32 input)
    table: np.ndarray  # uint8 (HP · C^G, M1): agreeing bits per lane code; zero rows for padding lanes
    group: int  # G: features per table lookup (1, 2 or 3)
    n_pairs: int  # H = ceil(F / G): lookups per row; feature f sits in lane f % H, slot f // H
    lanes: int  # HP: H rounded up to a multiple of LANES
    n_bits: int  # N: thermometer bits = first layer's input width
    first_thresholds: np.ndarray  # int16 (M1,): ⌈(t + N) / 2⌉ clipped to [0, N + 1]; N + 1 = never
    weights: np.ndarray  # uint64: hidden layers after the first, word-major (kw, m rounded up to 64) each
    w_offsets: np.ndarray  # int64 (L + 1,) where each of those L layers starts in weights
    ks: np.ndarray  # int64 (L,) their input widths
    ms: np.ndarray  # int64 (L,) their widths rounded up to 64
    thresholds: np.ndarray  # int64: ⌊(k − t) / 2⌋ per neuron (bit = popcount <= this), -1 for padding
    t_offsets: np.ndarray  # int64 (L + 1,)
    lut: np.ndarray  # uint8: byte tables of the layers that use them, (k/8, 256, m rounded up to 64) each
    lut_offsets: np.ndarray  # int64 (L,): where a layer's byte table starts in lut, -1 = popcount path
    agree_thresholds: np.ndarray  # int16, laid out as thresholds: ⌈(t + k) / 2⌉ agreeing bits, k + 1 = never
    agree8: np.ndarray  # int8 copy of agree_thresholds where k <= 64 (one-word byte tables), 0 elsewhere
    out_weights: np.ndarray  # uint64 (n_out, kw) output layer (unused when the first layer is the output)
    out_k: int
    bias: np.ndarray  # int32 (n_out,)
    n_features: int
    n_out: int
    first_is_output: bool

    @property
    def read_width(self) -> int:
        """Values the kernel reads from the start of a row (>= n_features)."""
        return (self.group - 1) * self.n_pairs + self.lanes


def supports(spec: BinaryNetSpec) -> bool:
    """Whether the fused engine runs ``spec``: <= 64 edges per feature, later layers <= 256 wide,
    first layer narrower than 2^15 inputs. Other nets take the layered path (same results)."""
    later = [*spec.layers[1:], spec.output] if spec.layers else []
    m1 = (spec.layers[0] if spec.layers else spec.output).weights.shape[0]
    table_bytes = spec.n_features * (MAX_EDGES + 1) * (m1 + 64)  # unpaired worst case, fits uint32 offsets
    return (max(e.size for e in spec.edges) <= MAX_EDGES and spec.n_inputs < 2**15 - 1
            and table_bytes < 2**31 and all(layer.k <= MAX_LATER_WIDTH for layer in later))


def _agreement_tables(spec: BinaryNetSpec, b_max: int) -> np.ndarray:
    """int64 (F, B + 1, m1): u[f, c, j] = bits of feature f's code c that agree with neuron j's weights."""
    first = spec.layers[0] if spec.layers else spec.output
    w1 = unpack_bits(first.weights, first.k).astype(np.int64)  # (m1, N) of {0, 1}
    table = np.zeros((spec.n_features, b_max + 1, w1.shape[0]), dtype=np.int64)
    offset = 0
    for f, e in enumerate(spec.edges):
        block = w1[:, offset : offset + e.size]
        for c in range(e.size + 1):
            table[f, c] = block[:, :c].sum(axis=1) + (1 - block[:, c:]).sum(axis=1)
        table[f, e.size + 1 :] = table[f, e.size]  # codes no finite x reaches (padded +inf edges)
        offset += e.size
    return table


def _min_agreement(t: np.ndarray, k: int) -> np.ndarray:
    """Fewest agreeing bits A with ``2A − k >= t``: ``⌈(t + k) / 2⌉`` clipped to [0, k + 1] (k + 1: never)."""
    return np.clip(-((-(t.astype(np.int64) + k)) // 2), 0, k + 1)


def _byte_tables(w_bits: np.ndarray, mp: int) -> np.ndarray:
    """uint8 (kb, 256, mp): bits of input byte q (value v) that agree with neuron j's weights there.

    ``w_bits``: {0, 1} (m, k); bits past k (the last byte's padding, always 0 in the input) never count.
    """
    m, k = w_bits.shape
    kb = -(-k // 8)
    wpad = np.zeros((mp, kb * 8), dtype=np.int64)
    wpad[:m, :k] = w_bits
    valid = (np.arange(kb * 8) < k).reshape(kb, 8)
    vbits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8) bit i of byte value v
    tables = np.empty((kb, 256, mp), dtype=np.uint8)
    for q in range(kb):
        wq = wpad[:, 8 * q : 8 * q + 8] * valid[q]
        ones = vbits * valid[q]
        tables[q] = ones @ wq.T + ((1 - vbits) * valid[q]) @ (valid[q] - wq).T
    return tables


def _aligned(a: np.ndarray, align: int = 64) -> np.ndarray:
    """Copy of ``a`` whose data starts on an ``align``-byte boundary (table rows = whole cache lines)."""
    buf = np.empty(a.nbytes + align, dtype=np.uint8)
    start = -buf.ctypes.data % align
    out = buf[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _edge_lanes(spec: BinaryNetSpec, b_max: int, g: int, h: int, hp: int) -> np.ndarray:
    """float64 (G, B, HP): slot s, lane p holds the edges of feature s·H + p, +inf elsewhere."""
    lanes = np.full((g, b_max, hp), np.inf)
    for f, e in enumerate(spec.edges):
        lanes[f // h, : e.size, f % h] = e
    return lanes


def _group_tables(u: np.ndarray, g: int) -> np.ndarray:
    """(H·C^G, m1): row p·C^G + Σ_s c_s C^(G−1−s) = Σ_s u[s·H + p, c_s] (features past F add 0)."""
    f, c1, m1 = u.shape
    h = -(-f // g)
    u = np.concatenate([u, np.zeros((g * h - f, c1, m1), dtype=u.dtype)])
    table = np.zeros((h,) + (c1,) * g + (m1,), dtype=u.dtype)
    for slot in range(g):
        shape = [h] + [1] * g + [m1]
        shape[1 + slot] = c1
        table = table + u[slot * h : (slot + 1) * h].reshape(shape)
    return table.reshape(h * c1**g, m1)


def _round_up_f32(e: np.ndarray) -> np.ndarray:
    """Smallest float32 >= e, elementwise (so ``x >= e  ⇔  x >= result`` for every float32 x)."""
    with np.errstate(over="ignore"):  # edges beyond the float32 range become ±inf: still exact
        r = e.astype(np.float32)
    low = r.astype(np.float64) < e
    r[low] = np.nextafter(r[low], np.float32(np.inf))
    return r


def compile_net(spec: BinaryNetSpec) -> CompiledNet:
    """Build the lookup tables and the flat weight layout of ``spec`` (done once per model)."""
    if not supports(spec):
        raise ValueError("the fused engine does not support this network (see engine.supports)")
    b_max = max(8, 1 << (max(e.size for e in spec.edges) - 1).bit_length())
    u = _agreement_tables(spec, b_max)  # (F, C, m1)
    f, c1, m1 = u.shape
    m1p = m1 + (-m1 % 64)
    g = next(g for g in range(min(MAX_GROUP, f), 0, -1) if g == 1 or -(-f // g) * c1**g * m1p <= TABLE_BYTES)
    h = -(-f // g)
    hp = h + (-h % LANES)
    table = _group_tables(u, g)
    table = np.pad(table, ((0, (hp - h) * c1**g), (0, m1p - m1)))  # padding lanes: zero rows
    n_bits = spec.n_inputs
    thresholds = np.full(m1p, n_bits + 1, dtype=np.int64)  # padding neurons: never set
    if spec.layers:
        thresholds[:m1] = _min_agreement(spec.layers[0].thresholds, n_bits)
    ws, ts, agree, agree8, luts, lut_offsets, lut_size = [], [], [], [], [], [], 0
    for layer in spec.layers[1:]:  # word-major, neurons padded to 64 (threshold -1: bit never set)
        mp = layer.m + (-layer.m % 64)
        wt = np.zeros((layer.weights.shape[1], mp), dtype=np.uint64)
        wt[:, : layer.m] = layer.weights.T
        ws.append(wt.ravel())
        t = layer.thresholds.astype(np.int64)
        tl = np.full(mp, -1, dtype=np.int64)
        tl[: layer.m] = (layer.k - t) // 2
        ts.append(tl)
        ta = np.full(mp, layer.k + 1, dtype=np.int64)
        ta[: layer.m] = _min_agreement(t, layer.k)
        agree.append(ta)
        agree8.append(ta if layer.k <= 64 else np.zeros_like(ta))  # <= 65: exact in int8
        chunks = 8 if layer.k <= 64 else -(-layer.k // 8)  # one-word layers: always 8 byte tables
        if chunks * 256 * mp <= LUT_BYTES:
            tables = np.zeros((chunks, 256, mp), dtype=np.uint8)  # bytes past k are 0: zero rows, add 0
            tables[: -(-layer.k // 8)] = _byte_tables(unpack_bits(layer.weights, layer.k), mp)
            luts.append(tables.ravel())
            lut_offsets.append(lut_size)
            lut_size += luts[-1].size
        else:
            lut_offsets.append(-1)
    ks = [layer.k for layer in spec.layers[1:]]
    w_offsets = np.zeros(len(ws) + 1, dtype=np.int64)
    w_offsets[1:] = np.cumsum([w.size for w in ws], dtype=np.int64)
    t_offsets = np.zeros(len(ts) + 1, dtype=np.int64)
    t_offsets[1:] = np.cumsum([t.size for t in ts], dtype=np.int64)
    edges = _edge_lanes(spec, b_max, g, h, hp)
    return CompiledNet(
        edges64=edges,
        edges32=_round_up_f32(edges),
        table=_aligned(table.astype(np.uint8)),
        group=int(g),
        n_pairs=int(h),
        lanes=int(hp),
        n_bits=int(n_bits),
        first_thresholds=thresholds.astype(np.int16),
        weights=np.concatenate(ws) if ws else np.zeros(0, np.uint64),
        w_offsets=w_offsets,
        ks=np.array(ks, dtype=np.int64),
        ms=np.array([t.size for t in ts], dtype=np.int64),
        thresholds=np.concatenate(ts) if ts else np.zeros(0, np.int64),
        t_offsets=t_offsets,
        lut=_aligned(np.concatenate(luts) if luts else np.zeros(64, np.uint8)),
        lut_offsets=np.array(lut_offsets, dtype=np.int64),
        agree_thresholds=np.concatenate(agree).astype(np.int16) if agree else np.zeros(0, np.int16),
        agree8=np.concatenate(agree8).astype(np.int8) if agree else np.zeros(0, np.int8),
        out_weights=np.ascontiguousarray(spec.output.weights),
        out_k=int(spec.output.k),
        bias=spec.output.bias,
        n_features=f,
        n_out=spec.output.n_out,
        first_is_output=not spec.layers,
    )


@jit(inline="always")
def _byte_layer(h, ra, cur, wmax, k, mp, lut, base, thr16, toff, acc8, acc8b, acc):
    """One later hidden layer of the row at ``h[ra:]`` (byte tables): ``cur`` (k bits) -> ``wmax - cur``."""
    kb = (k + 7) // 8
    for c in range(mp // 64):
        for j in range(64):
            acc8[j] = 0
            acc8b[j] = 0
        for q in range(0, kb, 2):  # two chains of <= 16 bytes: <= 128 agreeing bits each
            va = (h[ra + cur + (q >> 3)] >> np.uint64((q & 7) * 8)) & np.uint64(255)
            rowa = np.uint64(base + (q * 256 + np.int64(va)) * mp + c * 64)
            if q + 1 < kb:
                vb = (h[ra + cur + ((q + 1) >> 3)] >> np.uint64(((q + 1) & 7) * 8)) & np.uint64(255)
                rowb = np.uint64(base + ((q + 1) * 256 + np.int64(vb)) * mp + c * 64)
                for j in range(64):
                    acc8[j] += lut[rowa + np.uint64(j)]
                    acc8b[j] += lut[rowb + np.uint64(j)]
            else:
                for j in range(64):
                    acc8[j] += lut[rowa + np.uint64(j)]
        for j in range(64):
            acc[j] = np.int16(acc8[j]) + np.int16(acc8b[j])
        h[ra + wmax - cur + c] = ge_mask64(acc, 0, thr16, toff + c * 64)


@jit(inline="always")
def _byte_word_layer(h, ra, rb, cur, wmax, mp, lut, base, thr8, toff, a, b):
    """A later hidden layer of k <= 64 inputs (one word) for the rows at ``h[ra:]`` and ``h[rb:]`` at once.

    Each of its 8 byte tables (zero rows for bytes past k) adds one 64-byte row per input byte
    (:func:`~sqnn_kernels._jit.byte_word_sum`: two int8 chains per row); a row's sum of agreeing bits is at
    most 64, so it is compared as int8 with ``⌈(t + k) / 2⌉`` (one ``<64 x i8>`` compare, no widening).
    """
    x = h[ra + cur]
    y = h[rb + cur]
    for c in range(mp // 64):
        byte_word_sum(lut, base + c * 64, x, mp, a)
        byte_word_sum(lut, base + c * 64, y, mp, b)
        h[ra + wmax - cur + c] = ge_mask64(a, 0, thr8, toff + c * 64)
        h[rb + wmax - cur + c] = ge_mask64(b, 0, thr8, toff + c * 64)


@jit
def _later_layers(h, nr, w2, wmax, r0, weights, w_off, ks, ms, thr, t_off, lut, lut_off, thr16, thr8, ow, ok,
                  bias, out):
    """Pass 3 of a block: the hidden layers after the first, then the output layer.

    ``h`` holds the block's packed first hidden layer, row i at ``i·w2`` (two slots of ``wmax`` words each,
    ping-pong); scores of row i go to ``out[r0 + i]``. Layer by layer, each a run of independent rows (two
    at a time), as in passes 1 and 2: the layer's branch is taken once per block, not per row (2-4 % faster
    than all layers row by row). Nothing here depends on the kernel's compile-time shape, so one compiled
    copy (cached once, whatever the input dtype) serves every network. Rows are addressed by offsets into
    ``h``, never by slices (a view per row and layer cost reference-count calls, each spilling the vector
    registers).
    """
    acc8 = stack_array(64, np.uint8)
    acc8b = stack_array(64, np.uint8)
    s8a = stack_array(64, np.int8)  # int8 sums of the one-word byte-table layers (<= 64 each)
    s8b = stack_array(64, np.int8)
    acc = stack_array(64, np.int16)
    dot = stack_array(64, np.int64)
    dot2 = stack_array(64, np.int64)
    n_later = ks.shape[0]
    kw_out = (ok + 63) // 64
    cur = 0
    for li in range(n_later):  # layer by layer: each layer is a run of independent row pairs
        kw = (ks[li] + 63) // 64
        mp = ms[li]
        if lut_off[li] >= 0 and kw == 1:  # one word in: two rows at once, int8 sums
            for i in range(0, nr, 2):
                _byte_word_layer(h, i * w2, i * w2 + w2, cur, wmax, mp, lut, lut_off[li], thr8, t_off[li],
                                 s8a, s8b)
        elif lut_off[li] >= 0:  # byte tables: agreeing bits summed like the first layer
            for i in range(nr):
                _byte_layer(h, i * w2, cur, wmax, ks[li], mp, lut, lut_off[li], thr16, t_off[li], acc8, acc8b,
                            acc)
        else:
            for i in range(0, nr, 2):
                ra = i * w2
                rb = ra + w2  # row i + 1 (uninitialised when i + 1 == nr: computed, never written out)
                for c in range(mp // 64):  # XNOR-popcount, 64 neurons per vector op
                    for j in range(64):
                        dot[j] = 0
                        dot2[j] = 0
                    for wd in range(kw):
                        wa = h[ra + cur + wd]
                        wb = h[rb + cur + wd]
                        base = np.uint64(w_off[li] + wd * mp + c * 64)
                        for j in range(64):
                            w = weights[base + np.uint64(j)]
                            dot[j] += np.int64(popcount(wa ^ w))
                            dot2[j] += np.int64(popcount(wb ^ w))
                    h[ra + wmax - cur + c] = ge_mask64(thr, t_off[li] + c * 64, dot, 0)
                    h[rb + wmax - cur + c] = ge_mask64(thr, t_off[li] + c * 64, dot2, 0)
        cur = wmax - cur
    for i in range(nr):  # output layer: k − 2 popcount + bias
        row = i * w2 + cur
        for j in range(bias.shape[0]):
            d = np.int64(0)
            for wd in range(kw_out):
                d += np.int64(popcount(h[row + wd] ^ ow[j, wd]))
            out[r0 + i, j] = np.int32(ok - 2 * d + bias[j])


@functools.cache
def _kernel(HP: int, B: int, G: int, M1: int):
    """Kernel for HP lanes of G features, B (padded) edges and M1 first-layer neurons (a multiple of 64).

    Only passes 1 and 2 are specialised on these; pass 3 is the shape-independent :func:`_later_layers`.
    """
    C = B + 1  # codes of one feature
    ROW = M1  # table row length (bytes)
    LANE = C**G * ROW  # table bytes per lane
    GROUP = 255 // (G * B)  # byte rows summed in uint8 before widening
    GROUP2 = 2 * GROUP  # two chains of GROUP rows each
    RB = max(8, min(64, OFFSET_STACK_BYTES // (4 * HP)) // 8 * 8)  # rows per block (even: pass 3 pairs)
    OFFS = RB * HP  # stack sizes must be closure constants (alloca in the entry block)
    W1 = M1 // 64
    WMAX = max(W1, MAX_LATER_WIDTH // 64)
    W2 = 2 * WMAX
    HB = RB * W2

    @jit
    def block(xf, F, r0, r1, H, ea, table, t1, n_bits, weights, w_off, ks, ms, thr, t_off, lut, lut_off,
              thr16, thr8, ow, ok, bias, first_out, out):
        offs = stack_array(OFFS, np.uint32)
        seen = stack_array(HP, np.int32)  # non-finite values per lane
        acc = stack_array(M1, np.int16)  # U <= N < 2^15 - 1 (see supports)
        h = stack_array(HB, np.uint64)  # packed hidden layers, row i at i * W2: two slots, ping-pong
        nr = r1 - r0
        bad = 0
        for p in range(HP):
            seen[p] = 0
        for i in range(nr):  # pass 1: table offsets, features across the vector lanes (explicit vector IR)
            lane_codes(xf, (r0 + i) * F, H, ea, offs[i * HP : i * HP + HP], seen, HP, G, B, LANE, ROW)
        for p in range(HP):
            bad += seen[p]
        for i in range(nr):  # pass 2: sum of table rows, then the first layer's bits, row by row
            o = i * HP
            for wd in range(W1):  # 64 neurons at a time: two uint8 chains of table rows, widened per group
                for j in range(64):
                    acc[wd * 64 + j] = 0
                for g in range(0, HP, GROUP2):  # HP and GROUP2 are even
                    sum_rows64(table, offs, o + g, o + min(HP, g + GROUP2), wd * 64, acc, wd * 64)
                if not first_out:  # first hidden layer: one compare per 64 neurons
                    h[i * W2 + wd] = ge_mask64(acc, wd * 64, t1, wd * 64)
            if first_out:
                for j in range(bias.shape[0]):
                    out[r0 + i, j] = np.int32(2 * np.int64(acc[j]) - n_bits + bias[j])
        if not first_out:  # pass 3
            _later_layers(h, nr, W2, WMAX, r0, weights, w_off, ks, ms, thr, t_off, lut, lut_off, thr16, thr8,
                          ow, ok, bias, out)
        return bad

    @dual
    def kernel(xf, F, n, H, ea, table, t1, n_bits, weights, w_off, ks, ms, thr, t_off, lut, lut_off, thr16,
               thr8, ow, ok, bias, first_out, out):
        bad = 0
        for blk in prange((n + RB - 1) // RB):
            r0 = blk * RB
            bad += block(xf, F, r0, min(n, r0 + RB), H, ea, table, t1, n_bits, weights, w_off, ks, ms,
                         thr, t_off, lut, lut_off, thr16, thr8, ow, ok, bias, first_out, out)
        return bad

    return kernel


def compiled(spec: BinaryNetSpec) -> CompiledNet:
    """The :class:`CompiledNet` of ``spec``, built on first use and kept on the (immutable) spec."""
    net = spec.__dict__.get("_compiled")
    if net is None:
        net = compile_net(spec)
        object.__setattr__(spec, "_compiled", net)
    return net


def work(net: CompiledNet, n: int) -> int:
    """Elementary operations of scoring ``n`` rows (picks the serial or the parallel build)."""
    return n * (net.edges64.size + net.n_pairs * net.table.shape[1] + net.weights.size + net.out_weights.size)


def _run(net: CompiledNet, flat: np.ndarray, n: int, f: int, out: np.ndarray, ops: int) -> int:
    """Scores of the first ``n`` rows of the row-major ``flat`` values (``f`` per row) into ``out``.

    ``flat`` must hold ``(n - 1) * f + read_width`` values: the last row's vector reads run past its end.
    ``ops`` (:func:`work` of the whole call) picks the build, so one call compiles at most one.
    Returns the number of non-finite values seen (0 when all are finite).
    """
    kernel = _kernel(net.lanes, net.edges64.shape[1], net.group, net.table.shape[1])
    edges = net.edges32 if flat.dtype == np.float32 else net.edges64
    return kernel(ops, flat, f, n, net.n_pairs, edges, net.table.reshape(-1),
                  net.first_thresholds, net.n_bits, net.weights, net.w_offsets, net.ks, net.ms,
                  net.thresholds, net.t_offsets, net.lut, net.lut_offsets, net.agree_thresholds, net.agree8,
                  net.out_weights, net.out_k, net.bias, net.first_is_output, out)


def fused_scores(net: CompiledNet, x: np.ndarray) -> np.ndarray:
    """Integer scores of a compiled net for a C-contiguous float32/float64 (n, f) array.

    Raises ``ValueError`` if ``x`` holds NaN or infinity (checked inside the kernel, no extra pass).
    """
    n, f = x.shape
    out = np.empty((n, net.n_out), dtype=np.int32)
    if n == 0:
        return out
    over = max(0, net.read_width - f)  # values the last row's reads run past its end
    safe = n - min(n, -(-over // f))  # rows whose reads stay inside x
    ops = work(net, n)
    bad = _run(net, x.reshape(-1), safe, f, out, ops) if safe else 0
    if safe < n:  # the last rows through a zero-padded copy
        tail = np.zeros((n - safe) * f + over, dtype=x.dtype)
        tail[: (n - safe) * f] = x[safe:].ravel()
        bad += _run(net, tail, n - safe, f, out[safe:], ops)
    if bad:
        count = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"x must be finite; it holds {count} NaN/inf value(s)")
    return out
