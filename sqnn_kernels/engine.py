"""Fused end-to-end inference: float features -> integer scores, no unpacked intermediates.

The first binary layer reads a thermometer code, so it is a table lookup. With ``c_f`` the number of edges
of feature f that ``x_f`` reaches (its thermometer bits are +1 for ``b < c_f`` and −1 after), the ±1 dot
product of neuron j is

    dot_j = Σ_f T[f, c_f, j],   T[f, c, j] = Σ_{b < c} w_{j, o_f + b} − Σ_{c <= b < n_f} w_{j, o_f + b}

with ``o_f`` the offset and ``n_f`` the edge count of feature f and ``w`` in ±1. Features are looked up in
pairs, ``T2[p, c_{2p} (B + 1) + c_{2p+1}] = T[2p, c_{2p}] + T[2p+1, c_{2p+1}]``, when the pair table fits in
the L2 cache, halving the additions. The accumulator lives on the stack (registers), in int16 when the
input width allows. Later layers run neuron by neuron over the whole block of rows, XNOR-popcount
vectorised across the rows (packed bits kept word-major, rows contiguous); the output adds its bias.

Rows go through in blocks of 64 (``prange``); each row's result depends only on that row, so results are
identical for any thread count or chunking. The kernel is specialised (compiled once, cached on disk) on
the edge count rounded up to a power of two >= 8, the first layer's width rounded up to a multiple of 64
and the accumulator type (int16 or int32), so a handful of variants serve all models.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import prange

from ._jit import dual, popcount, stack_array
from .bits import unpack_bits
from .reference import to_pm1
from .spec import BinaryNetSpec

ROWS_PER_BLOCK = 64
PAIR_TABLE_BYTES = 1 << 20  # pair features when the pair table fits in ~1 MiB (L2)


@dataclass(frozen=True)
class CompiledNet:
    """A :class:`BinaryNetSpec` rearranged once for the fused kernel."""

    edges: np.ndarray  # float64 (F2, B) padded with +inf (never reached by finite x); F2 = F, or F + 1 paired
    table: np.ndarray  # int16/int32 (P, C, m1): partial dot products per feature (pair) code
    paired: bool
    m1: int  # first layer's true width (the table is zero-padded to a multiple of 64 columns)
    first_thresholds: np.ndarray  # int32 (m1,); unused when the first layer is the output layer
    weights: np.ndarray  # uint64: later layers' packed weights, concatenated row-major
    w_offsets: np.ndarray  # int64 (L + 1,)
    ks: np.ndarray  # int64 (L,) input widths of the later layers
    ms: np.ndarray  # int64 (L,) neurons of the later layers
    thresholds: np.ndarray  # int32: later hidden layers' thresholds, concatenated
    t_offsets: np.ndarray  # int64 (L + 1,)
    bias: np.ndarray  # int32 (n_out,)
    n_features: int
    n_out: int
    first_is_output: bool


def _single_tables(spec: BinaryNetSpec, b_max: int) -> np.ndarray:
    first = spec.layers[0] if spec.layers else spec.output
    w1 = to_pm1(unpack_bits(first.weights, first.k))  # (m1, K)
    table = np.zeros((spec.n_features, b_max + 1, w1.shape[0]), dtype=np.int64)
    offset = 0
    for f, e in enumerate(spec.edges):
        block = w1[:, offset : offset + e.size]
        for c in range(e.size + 1):
            table[f, c] = block[:, :c].sum(axis=1) - block[:, c:].sum(axis=1)
        table[f, e.size + 1 :] = table[f, e.size]  # unreachable codes (padded +inf edges)
        offset += e.size
    return table


def _padded_thresholds(spec: BinaryNetSpec, m1: int) -> np.ndarray:
    """First-layer thresholds padded to a multiple of 64 with a value no dot product reaches (bit 0)."""
    t = np.full(m1 + (-m1 % 64), np.iinfo(np.int32).max, dtype=np.int32)
    if spec.layers:
        t[:m1] = spec.layers[0].thresholds
    return t


def compile_net(spec: BinaryNetSpec) -> CompiledNet:
    """Build the lookup tables and the flat weight layout of ``spec`` (done once per model)."""
    b_max = max(8, 1 << (max(e.size for e in spec.edges) - 1).bit_length())  # few kernel variants
    single = _single_tables(spec, b_max)  # (F, B + 1, m1)
    f, c1, m1 = single.shape
    dtype = np.int16 if spec.n_inputs < 2**15 else np.int32
    paired = f > 1 and (f + 1) // 2 * c1 * c1 * m1 * np.dtype(dtype).itemsize <= PAIR_TABLE_BYTES
    edges = np.full((f + (f % 2 if paired else 0), b_max), np.inf)
    for i, e in enumerate(spec.edges):
        edges[i, : e.size] = e
    if paired:
        if f % 2:
            single = np.concatenate([single, np.zeros((1, c1, m1), dtype=single.dtype)])
        table = (single[0::2, :, None, :] + single[1::2, None, :, :]).reshape(-1, c1 * c1, m1)
    else:
        table = single
    pad = -m1 % 64
    table = np.concatenate([table, np.zeros((*table.shape[:2], pad), dtype=table.dtype)], axis=2)
    later = [*spec.layers[1:], spec.output] if spec.layers else []
    w_offsets = np.zeros(len(later) + 1, dtype=np.int64)
    w_offsets[1:] = np.cumsum([layer.weights.size for layer in later], dtype=np.int64)
    hidden_later = spec.layers[1:]
    t_offsets = np.zeros(len(later) + 1, dtype=np.int64)
    for i, layer in enumerate(hidden_later):
        t_offsets[i + 1] = t_offsets[i] + layer.m
    t_offsets[len(hidden_later) + 1 :] = t_offsets[len(hidden_later)]
    return CompiledNet(
        edges=edges,
        table=np.ascontiguousarray(table.astype(dtype)),
        paired=bool(paired),
        m1=int(m1),
        first_thresholds=_padded_thresholds(spec, m1),
        weights=np.concatenate([lay.weights.ravel() for lay in later]) if later else np.zeros(0, np.uint64),
        w_offsets=w_offsets,
        ks=np.array([layer.k for layer in later], dtype=np.int64),
        ms=np.array([layer.weights.shape[0] for layer in later], dtype=np.int64),
        thresholds=(
            np.concatenate([layer.thresholds for layer in hidden_later])
            if hidden_later
            else np.zeros(0, np.int32)
        ),
        t_offsets=t_offsets,
        bias=spec.output.bias,
        n_features=f,
        n_out=spec.output.n_out,
        first_is_output=not spec.layers,
    )


@functools.cache
def _kernel(B: int, M1: int, ACC):
    """Kernel for ``B`` (padded) edges per feature, first-layer tables of ``M1`` columns of type ``ACC``."""
    BR = ROWS_PER_BLOCK

    @dual
    def kernel(x, edges, table, paired, m1, t1, weights, w_off, ks, ms, thr, t_off, bias, first_out, out):
        n, f = x.shape
        f2 = edges.shape[0]
        c1 = B + 1
        n_later = ks.shape[0]
        max_m = max(m1, ms.max() if n_later else 1)
        bad = 0
        for blk in prange((n + BR - 1) // BR):
            r0 = blk * BR
            nr = min(n, r0 + BR) - r0
            xt = np.zeros((f2, BR))
            nbad = 0
            for r in range(nr):  # transpose the block: feature-major rows for vector compares
                for feat in range(f):
                    v = x[r0 + r, feat]
                    nbad += not (np.abs(v) < np.inf)  # NaN or inf
                    xt[feat, r] = v
            bad += nbad
            counts = np.zeros((f2, BR), dtype=np.int32)
            for feat in range(f):  # thermometer code of each value = number of edges it reaches
                for b in range(B):
                    e = edges[feat, b]
                    for r in range(BR):
                        counts[feat, r] += np.int32(xt[feat, r] >= e)
            acc = stack_array(M1, ACC)
            words = (max_m + 63) // 64
            h = np.zeros((words, BR), dtype=np.uint64)  # packed bits, word-major: rows contiguous
            h2 = np.zeros((words, BR), dtype=np.uint64)
            dot = np.empty(BR, dtype=np.int64)
            for r in range(nr):
                for j in range(M1):
                    acc[j] = 0
                if paired:
                    for p in range(f2 // 2):
                        row = table[p, counts[2 * p, r] * c1 + counts[2 * p + 1, r]]
                        for j in range(M1):
                            acc[j] += row[j]
                else:
                    for feat in range(f):
                        row = table[feat, counts[feat, r]]
                        for j in range(M1):
                            acc[j] += row[j]
                if first_out:
                    for j in range(m1):
                        out[r0 + r, j] = np.int32(acc[j]) + bias[j]
                    continue
                for wd in range(M1 // 64):  # whole words: padded thresholds give 0 bits past m1
                    word = np.uint64(0)
                    for j in range(64):
                        word |= np.uint64(acc[wd * 64 + j] >= t1[wd * 64 + j]) << np.uint64(j)
                    h[wd, r] = word
            if first_out:
                continue
            for li in range(n_later):  # later layers: neuron by neuron, vectorised across the block's rows
                k = ks[li]
                m = ms[li]
                kw = (k + 63) // 64
                base = w_off[li]
                last = li == n_later - 1
                if not last:
                    h2[: (m + 63) // 64, :] = 0
                for j in range(m):
                    if kw == 1:
                        wj = weights[base + j]
                        for r in range(BR):
                            dot[r] = k - 2 * np.int64(popcount(h[0, r] ^ wj))
                    else:
                        dot[:] = k
                        for wd in range(kw):
                            wj = weights[base + j * kw + wd]
                            for r in range(BR):
                                dot[r] -= 2 * np.int64(popcount(h[wd, r] ^ wj))
                    if last:
                        for r in range(nr):
                            out[r0 + r, j] = np.int32(dot[r] + bias[j])
                    else:
                        t = thr[t_off[li] + j]
                        sh = np.uint64(j & 63)
                        for r in range(BR):
                            h2[j >> 6, r] |= np.uint64(dot[r] >= t) << sh
                if not last:
                    h, h2 = h2, h
        return bad

    return kernel


def compiled(spec: BinaryNetSpec) -> CompiledNet:
    """The :class:`CompiledNet` of ``spec``, built on first use and kept on the (immutable) spec."""
    net = spec.__dict__.get("_compiled")
    if net is None:
        net = compile_net(spec)
        object.__setattr__(spec, "_compiled", net)
    return net


def fused_scores(net: CompiledNet, x: np.ndarray) -> np.ndarray:
    """Integer scores of a compiled net for a C-contiguous float32/float64 (n, f) array.

    Raises ``ValueError`` if ``x`` holds NaN or infinity (checked inside the kernel, no extra pass).
    """
    out = np.empty((x.shape[0], net.n_out), dtype=np.int32)
    if x.shape[0] == 0:
        return out
    kernel = _kernel(net.edges.shape[1], net.table.shape[2], net.table.dtype.type)
    work = x.shape[0] * (net.edges.size + net.table.shape[0] * net.table.shape[2] + net.weights.size)
    bad = kernel(
        work, x, net.edges, net.table, net.paired, net.m1, net.first_thresholds, net.weights, net.w_offsets,
        net.ks, net.ms, net.thresholds, net.t_offsets, net.bias, net.first_is_output, out,
    )
    if bad:
        raise ValueError(f"x must be finite; it holds {bad} NaN/inf value(s)")
    return out
