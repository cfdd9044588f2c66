"""What a user would write without sqnn: numpy/BLAS baselines each kernel is measured against."""

from __future__ import annotations

import numpy as np


def numpy_float_dense(x_pm1: np.ndarray, w_pm1: np.ndarray) -> np.ndarray:
    """±1 dot products as a float32 BLAS matmul ``x @ w.T``."""
    return x_pm1 @ w_pm1.T


def numpy_popcount_dense(xp: np.ndarray, wp: np.ndarray, k: int, rows: int = 64) -> np.ndarray:
    """``k - 2 popcount(x XOR w)`` with ``np.bitwise_count`` on broadcast XORs, in row blocks."""
    out = np.empty((len(xp), len(wp)), dtype=np.int32)
    for i in range(0, len(xp), rows):
        pc = np.bitwise_count(xp[i : i + rows, None, :] ^ wp[None, :, :]).sum(axis=2, dtype=np.int32)
        out[i : i + rows] = k - 2 * pc
    return out


def numpy_bernoulli_packbits(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rng.random(p.shape) < p`` then ``np.packbits`` (little bit order)."""
    return np.packbits(rng.random(p.shape) < p, axis=1, bitorder="little")
