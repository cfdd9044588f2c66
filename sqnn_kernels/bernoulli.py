"""Reproducible, counter-based Bernoulli sampling straight into packed words.

Every bit depends only on (seed, row, column): ``key_r = mix64(mix64(seed) + (r + 1) G)``,
``u_rc = (mix64(key_r + (c + 1) G) >> 11) · 2^-53`` and ``bit = [u_rc < p_rc]``, with the splitmix64
finaliser ``mix64`` and ``G = 0x9E3779B97F4A7C15``. So the same seed gives the same bits for any number of
threads and for any split of a batch into chunks (pass ``row_offset``), and ``P(bit = 1) = p`` up to 2^-53.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import jit, pjit
from .validation import check_probabilities, check_seed

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@jit
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@pjit
def _bernoulli_kernel(p, seed, row_offset, out):
    n, m = p.shape
    words = out.shape[1]
    seed_key = _mix64(np.uint64(seed))
    scale = 2.0**-53
    for r in prange(n):
        key = _mix64(seed_key + (np.uint64(row_offset + r) + np.uint64(1)) * _G)
        for wd in range(words):
            start = wd * 64
            stop = min(start + 64, m)
            acc = np.uint64(0)
            for c in range(start, stop):
                u = _mix64(key + (np.uint64(c) + np.uint64(1)) * _G)
                bit = np.float64(u >> np.uint64(11)) * scale < p[r, c]
                acc |= np.uint64(bit) << np.uint64(c - start)
            out[r, wd] = acc


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
    pa = check_probabilities(p, "p")
    seed = check_seed(seed)
    row_offset = check_seed(row_offset, "row_offset")
    n, m = pa.shape
    if m == 0:
        raise ValueError("p must have at least one column")
    out = np.zeros((n, (m + 63) // 64), dtype=np.uint64)
    if n:
        _bernoulli_kernel(pa, np.uint64(seed), np.uint64(row_offset), out)
    return out
