"""Plain numpy twins of the kernels of :mod:`training.fused` (readable, slow; the tests compare the two)."""

from __future__ import annotations

import numpy as np

__all__ = ["activation_backward", "activation_forward", "adam_step", "category_rows", "codes_backward",
           "codes_forward", "sample_pm1", "table_lookup", "thermometer_pm1", "thermometer_weight_grad",
           "unpack_pm1"]


def activation_forward(dot: np.ndarray, b: np.ndarray, k: int, slope: float) -> np.ndarray:
    """``θ = σ(slope · (dot / k + b))`` in float64."""
    a = np.asarray(dot, dtype=np.float64) / k + np.asarray(b, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-slope * a))


def activation_backward(theta: np.ndarray, g: np.ndarray, slope: float) -> np.ndarray:
    """``∂L/∂a = g · slope · θ (1 − θ)`` for ``a = dot / k + b`` (float64)."""
    t = np.asarray(theta, dtype=np.float64)
    return np.asarray(g, dtype=np.float64) * slope * t * (1.0 - t)


def adam_step(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, b1: float, b2: float, step: float,
              c2: float, eps: float) -> None:
    """Adam's update in place as numpy expressions (Python-float scalars take the arrays' precision):
    ``m ← β1 m + (1 − β1) g``, ``v ← β2 v + (1 − β2) g²``, ``p ← p − step · m / (√(v / c2) + ε)``."""
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * g * g
    p -= step * m / (np.sqrt(v / c2) + eps)


def table_lookup(dot: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """``θ[r, j] = table[(dot[r, j] + k) / 2, j]``: the table row of each ±1 dot product of width ``k``."""
    dot = np.asarray(dot, dtype=np.int64)
    return table[(dot + k) // 2, np.arange(dot.shape[1])[None, :]]


def unpack_pm1(packed: np.ndarray, k: int, dtype) -> np.ndarray:
    """Dense ±1 (n, k) of packed bits: bit ``j % 64`` of word ``j // 64`` is ``+1`` when set."""
    packed = np.asarray(packed, dtype=np.uint64)
    j = np.arange(k)
    bits = (packed[:, j // 64] >> (j % 64).astype(np.uint64)) & np.uint64(1)
    return np.where(bits == 1, 1, -1).astype(dtype)


def _group_probs(theta: np.ndarray, perm: np.ndarray, size: int, eps: float):
    """Yield ``(column offset, θ' of the group (n, sz), code bits (2^sz, sz), P (n, 2^sz))`` per group."""
    th = np.asarray(theta, dtype=np.float64)[:, np.asarray(perm)] * (1.0 - 2.0 * eps) + eps
    m = th.shape[1]
    for g, lo in enumerate(range(0, m, size)):
        part = th[:, lo:lo + size]
        sz = part.shape[1]
        bits = (np.arange(1 << sz)[:, None] >> np.arange(sz)[None, :]) & 1  # code t has bit i = neuron i
        probs = np.prod(np.where(bits[None, :, :] == 1, part[:, None, :], 1.0 - part[:, None, :]), axis=2)
        yield g << size, part, bits, probs


def category_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a non-zero weight in ``A`` (C, n) sorted by category (stable), their weights, each category's
    first position, and blocks of at most 64 positions within one category (start positions, category)."""
    nz = np.asarray(a) != 0
    if np.any(nz.sum(axis=0) > 1):
        raise ValueError("a must give each row (column of a) at most one non-zero category weight")
    cat = np.argmax(nz, axis=0)
    rows = np.flatnonzero(nz.any(axis=0))
    order = rows[np.argsort(cat[rows], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(np.bincount(cat[order], minlength=a.shape[0]))])
    blocks = [(q, v) for v in range(a.shape[0]) for q in range(starts[v], starts[v + 1], 64)]
    blk_start = np.array([q for q, _ in blocks] + [starts[-1]], dtype=np.int64)
    blk_cat = np.array([v for _, v in blocks], dtype=np.int64)
    return order, np.asarray(a, dtype=np.float64)[cat[order], order], starts, blk_start, blk_cat


def codes_forward(theta: np.ndarray, perm: np.ndarray, a: np.ndarray, size: int, eps: float) -> np.ndarray:
    """``cond[v, g·2^size + t] = Σ_r A[v, r] P_rg(t)`` (float64; see :mod:`training.fused`)."""
    from .fused import n_code_columns

    a = np.asarray(a, dtype=np.float64)
    cond = np.zeros((a.shape[0], n_code_columns(np.shape(theta)[1], size)))
    for col0, _, _, probs in _group_probs(theta, perm, size, eps):
        cond[:, col0:col0 + probs.shape[1]] = a @ probs
    return cond


def codes_backward(theta: np.ndarray, perm: np.ndarray, a: np.ndarray, size: int, eps: float,
                   gcond: np.ndarray) -> np.ndarray:
    """``∂L/∂θ`` (n, m) given ``∂L/∂cond`` (float64)."""
    a = np.asarray(a, dtype=np.float64)
    gcond = np.asarray(gcond, dtype=np.float64)
    gtheta = np.zeros(np.shape(theta))
    perm = np.asarray(perm)
    for col0, part, bits, probs in _group_probs(theta, perm, size, eps):
        sz = part.shape[1]
        gp = (a.T @ gcond[:, col0:col0 + probs.shape[1]]) * probs  # (n, 2^sz)
        g = (gp @ bits) / part - (gp @ (1 - bits)) / (1.0 - part)
        lo = (col0 >> size) * size
        gtheta[:, perm[lo:lo + sz]] = g * (1.0 - 2.0 * eps)
    return gtheta


def thermometer_pm1(levels: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Dense ±1 (n, k) of thermometer levels: feature ``f``'s bits are ``+1`` for its first ``levels[r, f]``
    bits, ``−1`` after."""
    levels = np.asarray(levels, dtype=np.int64)
    cols = [np.where(np.arange(wf)[None, :] < levels[:, f:f + 1], 1.0, -1.0) for f, wf in enumerate(widths)]
    return np.concatenate(cols, axis=1) if cols else np.zeros((levels.shape[0], 0))


def thermometer_weight_grad(levels: np.ndarray, widths: np.ndarray, ga: np.ndarray, k: int) -> np.ndarray:
    """``xᵀ ∂L/∂a / k`` (k, m) in float64 for the thermometer input ``x`` of ``levels``."""
    return thermometer_pm1(levels, widths).T @ np.asarray(ga, dtype=np.float64) / k


def sample_pm1(theta: np.ndarray, seed: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Packed Bernoulli bits of ``θ`` by the kernels' reference generator, and the same bits as dense ±1."""
    from sqnn_kernels import reference

    packed = reference.bernoulli_pack(theta, seed)
    return packed, unpack_pm1(packed, np.shape(theta)[1], dtype)
