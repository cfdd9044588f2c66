"""Plain-numpy twins of every kernel, written for clarity rather than speed.

The tests compare each numba kernel in :mod:`sqnn_kernels` with its twin here, bit for bit (integers) or to
rounding (floats). Conventions (see DESIGN.md): a binary value is ±1, bit 1 means +1; element ``j`` of a row
lives in word ``j // 64``, bit ``j % 64``; padding bits beyond the width ``k`` are 0.
"""

from __future__ import annotations

import itertools

import numpy as np

_MASK64 = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def pack_bits(a: np.ndarray) -> np.ndarray:
    """(n, k) bool/{0,1}/{-1,+1} -> uint64 (n, ceil(k/64)); ``a > 0`` becomes bit 1."""
    a = np.asarray(a)
    n, k = a.shape
    words = (k + 63) // 64
    bits = np.zeros((n, words * 64), dtype=np.uint64)
    bits[:, :k] = a > 0
    weights = np.uint64(1) << np.arange(64, dtype=np.uint64)
    return (bits.reshape(n, words, 64) * weights).sum(axis=2, dtype=np.uint64)


def unpack_bits(p: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: uint8 (n, k) of {0, 1}."""
    p = np.asarray(p, dtype=np.uint64)
    shifts = np.arange(64, dtype=np.uint64)
    bits = (p[:, :, None] >> shifts) & np.uint64(1)
    return bits.reshape(p.shape[0], p.shape[1] * 64)[:, :k].astype(np.uint8)


def to_pm1(bits: np.ndarray) -> np.ndarray:
    """{0, 1} -> {-1, +1} as int32."""
    return 2 * np.asarray(bits, dtype=np.int32) - 1


def xnor_popcount_dense(xp: np.ndarray, wp: np.ndarray, k: int) -> np.ndarray:
    """±1 dot products ``x_i · w_j`` of packed rows, int32 (n, m): ``dot = k - 2 popcount(x XOR w)``."""
    x = to_pm1(unpack_bits(xp, k))
    w = to_pm1(unpack_bits(wp, k))
    return (x @ w.T).astype(np.int32)


def binary_dense_threshold(xp: np.ndarray, wp: np.ndarray, k: int, thresholds: np.ndarray) -> np.ndarray:
    """Fused layer: ``bit_ij = (x_i · w_j >= thresholds_j)``, packed uint64 (n, ceil(m/64))."""
    dot = xnor_popcount_dense(xp, wp, k)
    return pack_bits(dot >= np.asarray(thresholds)[None, :])


def thermometer_bits(x: np.ndarray, edges) -> np.ndarray:
    """Unpacked thermometer code, uint8 (n, sum_f len(edges[f])).

    Feature ``f`` owns the bits ``offset_f + b`` for ``b < len(edges[f])`` with ``offset_f`` the total
    number of edges of the features before it; the bit is ``x[:, f] >= edges[f][b]``.
    """
    x = np.asarray(x, dtype=np.float64)
    cols = [x[:, [f]] >= np.asarray(e, dtype=np.float64)[None, :] for f, e in enumerate(edges)]
    return np.concatenate(cols, axis=1).astype(np.uint8) if cols else np.zeros((len(x), 0), np.uint8)


def thermometer_encode(x: np.ndarray, edges) -> np.ndarray:
    """Packed thermometer code, uint64 (n, ceil(K/64)) with K the total number of edges."""
    return pack_bits(thermometer_bits(x, edges))


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (a bijection of uint64), vectorised with wrap-around arithmetic."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def bernoulli_uniforms(shape: tuple[int, int], seed: int, row_offset: int = 0) -> np.ndarray:
    """Counter-based uniforms u(seed, row, col) in [0, 1) with 53-bit resolution.

    ``key = mix64(mix64(seed) + (row + 1) G)``, ``u = (mix64(key + (col + 1) G) >> 11) / 2**53`` with
    ``G = 0x9E3779B97F4A7C15`` (splitmix64), rows numbered from ``row_offset``.
    """
    n, m = shape
    with np.errstate(over="ignore"):
        seed_key = _mix64(np.array([seed], dtype=np.uint64))[0]
        rows = np.arange(row_offset, row_offset + n, dtype=np.uint64) + np.uint64(1)
        keys = _mix64(seed_key + rows * GOLDEN)
        cols = np.arange(m, dtype=np.uint64) + np.uint64(1)
        z = _mix64(keys[:, None] + cols[None, :] * GOLDEN)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def bernoulli_pack(p: np.ndarray, seed: int, row_offset: int = 0) -> np.ndarray:
    """Packed Bernoulli(p) bits: bit ``(i, j)`` is ``u(seed, row_offset + i, j) < p_ij``."""
    p = np.asarray(p, dtype=np.float64)
    return pack_bits(bernoulli_uniforms(p.shape, seed, row_offset) < p)


def bernoulli_entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy ``H_b(p) = -p log2 p - (1-p) log2(1-p)`` in bits, 0 at p in {0, 1}."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.where((p <= 0) | (p >= 1), 0.0, h)


def per_neuron_mi(p: np.ndarray, s: np.ndarray) -> float:
    """Σ_i [H_b(mean θ_i) − Σ_v (N_v/N) H_b(mean θ_i | s = v)] in bits (SQNN closed form)."""
    p = np.asarray(p, dtype=np.float64)
    s = np.asarray(s)
    if p.shape[0] == 0:
        return 0.0
    total = bernoulli_entropy(p.mean(axis=0)).sum()
    for v in np.unique(s):
        rows = p[s == v]
        total -= len(rows) / len(p) * bernoulli_entropy(rows.mean(axis=0)).sum()
    return float(total)


def code_probabilities(p: np.ndarray) -> np.ndarray:
    """P(T = t | row) for all 2^m codes t, (n, 2^m); code bit i (value 1 << i) is neuron i."""
    p = np.asarray(p, dtype=np.float64)
    n, m = p.shape
    codes = np.arange(2**m)
    bits = (codes[None, :] >> np.arange(m)[:, None]) & 1  # (m, 2^m)
    out = np.ones((n, 2**m))
    for i in range(m):
        out *= np.where(bits[i][None, :] == 1, p[:, [i]], 1 - p[:, [i]])
    return out


def joint_mi(p: np.ndarray, s: np.ndarray) -> float:
    """Exact I(T;S) in bits for T | row ~ Π_i Bernoulli(p_ri), rows drawn uniformly.

    ``P(t | v) = mean_{r: s_r = v} Π_i p_ri^t_i (1 - p_ri)^(1 - t_i)``, ``P(t) = Σ_v π_v P(t | v)``,
    ``I = Σ_v π_v Σ_t P(t | v) log2(P(t | v) / P(t))`` with ``π_v = N_v / N``.
    """
    p = np.asarray(p, dtype=np.float64)
    s = np.asarray(s)
    if p.shape[0] == 0:
        return 0.0
    probs = code_probabilities(p)
    marginal = probs.mean(axis=0)
    total = 0.0
    for v in np.unique(s):
        mask = s == v
        cond = probs[mask].mean(axis=0)
        nz = cond > 0
        total += mask.mean() * float(np.sum(cond[nz] * np.log2(cond[nz] / marginal[nz])))
    return max(total, 0.0)


def joint_mi_bruteforce(p: np.ndarray, s: np.ndarray) -> float:
    """I(T;S) by explicit enumeration of (row, code) pairs with itertools; slow, for tests only."""
    p = np.asarray(p, dtype=np.float64)
    s = np.asarray(s)
    n, m = p.shape
    values = sorted(set(s.tolist()))
    joint: dict[tuple, float] = {}
    for r in range(n):
        for t in itertools.product((0, 1), repeat=m):
            pr = 1.0
            for i, ti in enumerate(t):
                pr *= p[r, i] if ti else 1 - p[r, i]
            joint[(t, s[r])] = joint.get((t, s[r]), 0.0) + pr / n
    p_t: dict[tuple, float] = {}
    p_s = {v: float(np.mean(s == v)) for v in values}
    for (t, _v), q in joint.items():
        p_t[t] = p_t.get(t, 0.0) + q
    return float(
        sum(q * np.log2(q / (p_t[t] * p_s[v])) for (t, v), q in joint.items() if q > 0)
    )


def forward(spec, x: np.ndarray):
    """Whole-network deterministic inference on unpacked ±1 arrays: (scores (n, n_out), hidden bits list)."""
    h = thermometer_bits(x, spec.edges)
    hidden = []
    for layer in spec.layers:
        w = to_pm1(unpack_bits(layer.weights, layer.k))
        dot = to_pm1(h) @ w.T
        h = (dot >= layer.thresholds[None, :]).astype(np.uint8)
        hidden.append(h)
    w = to_pm1(unpack_bits(spec.output.weights, spec.output.k))
    scores = (to_pm1(h) @ w.T + spec.output.bias[None, :]).astype(np.int32)
    return scores, hidden
