"""Fused end-to-end inference: float features -> integer scores, no unpacked intermediates.

The first binary layer reads a thermometer code, so it is a table lookup: with ``c_f`` the number of edges of
feature f that ``x_f`` reaches (its bits are ``+1`` for ``b < c_f`` and ``-1`` after), the ±1 dot product of
neuron j is

    dot_j = Σ_f T[f, c_f, j],   T[f, c, j] = Σ_{b < c} w_{j, o_f + b} − Σ_{c <= b < n_f} w_{j, o_f + b}

(``o_f`` the offset and ``n_f`` the edge count of feature f, ``w`` in ±1). The table is built once per model.
Later layers are XNOR-popcount on packed words in registers-sized per-row buffers, the output layer adds its
integer bias. Rows are processed in fixed blocks in parallel (``prange``); each row's result depends only on
that row, so it is identical for any thread count or chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import prange

from ._jit import pjit, popcount
from .bits import unpack_bits
from .reference import to_pm1
from .spec import BinaryNetSpec

BLOCK = 256


@dataclass(frozen=True)
class CompiledNet:
    """A :class:`BinaryNetSpec` rearranged once for the fused kernel."""

    edges: np.ndarray  # float64 (f, B), padded with +inf (never reached by a finite x)
    table: np.ndarray  # int32 (f, B + 1, m1): first-layer partial dot products
    first_thresholds: np.ndarray  # int32 (m1,), or empty when the first layer is the output layer
    weights: np.ndarray  # uint64 concatenation of the later layers' packed weights, row-major
    w_offsets: np.ndarray  # int64 (L + 1,): start of each later layer in ``weights``
    ks: np.ndarray  # int64 (L,): input width of each later layer
    ms: np.ndarray  # int64 (L,): neurons of each later layer
    thresholds: np.ndarray  # int32 concatenation of later hidden thresholds (empty for the output)
    t_offsets: np.ndarray  # int64 (L + 1,)
    bias: np.ndarray  # int32 (n_out,)
    n_out: int
    first_is_output: bool


def compile_net(spec: BinaryNetSpec) -> CompiledNet:
    """Build the lookup table and the flat weight layout of ``spec`` (done once per model)."""
    n_edges = [e.size for e in spec.edges]
    f, b_max = spec.n_features, max(n_edges)
    edges = np.full((f, b_max), np.inf)
    for i, e in enumerate(spec.edges):
        edges[i, : e.size] = e
    first = spec.layers[0] if spec.layers else spec.output
    w1 = to_pm1(unpack_bits(first.weights, first.k))  # (m1, K)
    m1 = w1.shape[0]
    table = np.zeros((f, b_max + 1, m1), dtype=np.int32)
    offset = 0
    for i, n_f in enumerate(n_edges):
        block = w1[:, offset : offset + n_f]  # (m1, n_f)
        for c in range(n_f + 1):
            table[i, c] = block[:, :c].sum(axis=1) - block[:, c:].sum(axis=1)
        table[i, n_f + 1 :] = table[i, n_f]  # unreachable (padded edges are +inf), kept consistent
        offset += n_f
    later = [*spec.layers[1:], spec.output] if spec.layers else []
    weights = [layer.weights.ravel() for layer in later]
    w_offsets = np.zeros(len(later) + 1, dtype=np.int64)
    w_offsets[1:] = np.cumsum([w.size for w in weights]) if later else []
    thresholds = [layer.thresholds for layer in spec.layers[1:]]
    t_offsets = np.zeros(len(later) + 1, dtype=np.int64)
    t_offsets[1 : len(thresholds) + 1] = np.cumsum([t.size for t in thresholds]) if thresholds else []
    t_offsets[len(thresholds) + 1 :] = t_offsets[len(thresholds)]
    return CompiledNet(
        edges=edges,
        table=table,
        first_thresholds=spec.layers[0].thresholds if spec.layers else np.zeros(0, np.int32),
        weights=np.concatenate(weights) if weights else np.zeros(0, np.uint64),
        w_offsets=w_offsets,
        ks=np.array([layer.k for layer in later], dtype=np.int64),
        ms=np.array([layer.weights.shape[0] for layer in later], dtype=np.int64),
        thresholds=np.concatenate(thresholds).astype(np.int32) if thresholds else np.zeros(0, np.int32),
        t_offsets=t_offsets,
        bias=spec.output.bias,
        n_out=spec.output.n_out,
        first_is_output=not spec.layers,
    )


@pjit
def _fused_kernel(x, edges, table, t1, weights, w_off, ks, ms, thr, t_off, bias, first_is_output, out):
    n, f = x.shape
    b_max = edges.shape[1]
    m1 = table.shape[2]
    n_later = ks.shape[0]
    max_words = (max(m1, ms.max() if n_later else 1) + 63) // 64
    n_blocks = (n + 255) // 256
    bad = 0
    for blk in prange(n_blocks):
        acc = np.empty(m1, dtype=np.int32)
        h = np.zeros(max_words, dtype=np.uint64)
        h2 = np.zeros(max_words, dtype=np.uint64)
        nbad = 0
        for r in range(blk * 256, min(n, (blk + 1) * 256)):
            acc[:] = 0
            for feat in range(f):
                v = x[r, feat]
                nbad += not (np.abs(v) < np.inf)  # NaN or inf
                c = 0
                for b in range(b_max):
                    c += v >= edges[feat, b]
                row = table[feat, c]
                for j in range(m1):
                    acc[j] += row[j]
            if first_is_output:
                for j in range(m1):
                    out[r, j] = acc[j] + bias[j]
                continue
            words = (m1 + 63) // 64
            for wd in range(words):
                word = np.uint64(0)
                for j in range(wd * 64, min(m1, wd * 64 + 64)):
                    word |= np.uint64(acc[j] >= t1[j]) << np.uint64(j - wd * 64)
                h[wd] = word
            for li in range(n_later):
                k = ks[li]
                m = ms[li]
                kw = (k + 63) // 64
                base = w_off[li]
                last = li == n_later - 1
                for wd in range((m + 63) // 64):
                    h2[wd] = 0
                for j in range(m):
                    pc = np.uint64(0)
                    for wd in range(kw):
                        pc += popcount(h[wd] ^ weights[base + j * kw + wd])
                    dot = k - 2 * np.int64(pc)
                    if last:
                        out[r, j] = np.int32(dot + bias[j])
                    elif dot >= thr[t_off[li] + j]:
                        h2[j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                for wd in range((m + 63) // 64):
                    h[wd] = h2[wd]
        bad += nbad
    return bad


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
    bad = _fused_kernel(
        x, net.edges, net.table, net.first_thresholds, net.weights, net.w_offsets, net.ks, net.ms,
        net.thresholds, net.t_offsets, net.bias, net.first_is_output, out,
    )
    if bad:
        raise ValueError(f"x must be finite; it holds {bad} NaN/inf value(s)")
    return out
