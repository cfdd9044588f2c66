"""Reproducible, counter-based Bernoulli sampling straight into packed words.

Every bit depends only on (seed, row, column): ``key_r = mix64(mix64(seed) + (r + 1) G)``,
``u_rc = (mix64(key_r + (c + 1) G) >> 11) · 2^-53`` and ``bit = [u_rc < p_rc]``, with the splitmix64
finaliser ``mix64`` and ``G = 0x9E3779B97F4A7C15``. So the same seed gives the same bits for any number of
threads and for any split of a batch into chunks (pass ``row_offset``), and ``P(bit = 1) = p`` up to 2^-53.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dual, jit
from .validation import check_probabilities, check_seed

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@jit(inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@jit(inline="always")
def seed_key(seed):
    """``mix64(seed)``: the generator's key of ``seed`` (uint64)."""
    return _mix64(np.uint64(seed))


@jit(inline="always")
def row_key(seed_key, row):
    """``key_r = mix64(seed_key + (r + 1) G)`` of row ``r`` (``seed_key = mix64(seed)``)."""
    return _mix64(seed_key + (np.uint64(row) + np.uint64(1)) * _G)


@jit(inline="always")
def draw(key, col, p):
    """The Bernoulli bit of column ``col`` of the row with ``key``: ``[u < p]``, ``u`` the top 53 bits of
    ``mix64(key + (col + 1) G)`` over 2^53 (``u >> 11 < 2^53`` converts to float64 exactly)."""
    u = _mix64(key + np.uint64(col + 1) * _G)
    return np.float64(np.int64(u >> np.uint64(11))) * 2.0**-53 < p


@dual
def _bernoulli_kernel(p, seed, row_offset, out):
    n, m = p.shape
    full = m // 64
    key0 = seed_key(seed)
    bad = 0
    for r in prange(n):
        key = row_key(key0, row_offset + r)
        for wd in range(full + 1):
            base = wd * 64
            count = min(64, m - base)  # 64 except in the last, partial word
            acc = np.uint64(0)
            nbad = 0
            for j in range(count):
                pj = p[r, base + j]
                nbad += not (0.0 <= pj <= 1.0)  # also catches NaN
                acc |= np.uint64(draw(key, base + j, pj)) << np.uint64(j)
            if count > 0:
                out[r, wd] = acc
            bad += nbad
    return bad


def bernoulli_pack(p, seed: int, row_offset: int = 0) -> np.ndarray:
    """Sample independent Bernoulli bits and pack them.

    Parameters
    ----------
    p : float array, shape (n, m), values in [0, 1]
        Probability of bit 1 (the value +1) for each entry.
    seed : int in [0, 2**64)
        Key of the counter-based generator.
    row_offset : int, default 0
        Index of the first row; sampling rows ``a:b`` of a batch with ``row_offset=a`` gives the same bits
        as sampling the whole batch.

    Returns
    -------
    uint64 array, shape (n, ceil(m / 64)); padding bits 0. ``p = 0`` never and ``p = 1`` always sets a bit.
    """
    if isinstance(p, (str, bytes)) or p is None:
        raise TypeError(f"p must be a 2-D array of probabilities, got {type(p).__name__}")
    pa = np.asarray(p)
    if pa.ndim != 2:
        raise ValueError(f"p must be 2-D (rows, neurons), got shape {pa.shape}")
    if not (np.issubdtype(pa.dtype, np.floating) or np.issubdtype(pa.dtype, np.integer) or pa.dtype == bool):
        raise TypeError(f"p must be a numeric array of probabilities, got dtype {pa.dtype}")
    pa = np.ascontiguousarray(pa, dtype=np.float64)
    seed = check_seed(seed)
    row_offset = check_seed(row_offset, "row_offset")
    n, m = pa.shape
    if m == 0:
        raise ValueError("p must have at least one column")
    out = np.zeros((n, (m + 63) // 64), dtype=np.uint64)
    if n and _bernoulli_kernel(n * m, pa, np.uint64(seed), np.uint64(row_offset), out):
        check_probabilities(pa, "p")  # raises with the offending range (the kernel only counts)
    return out
