"""Bit packing: (n, k) ±1/{0,1}/bool arrays <-> uint64 (n, ceil(k/64)), element j in word j//64, bit j%64."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import pjit
from .validation import as_2d, check_width, words_for


@pjit
def _pack_kernel(bits, out):
    n, k = bits.shape
    words = out.shape[1]
    for r in prange(n):
        for wd in range(words):
            start = wd * 64
            stop = min(start + 64, k)
            acc = np.uint64(0)
            for j in range(start, stop):
                acc |= np.uint64(bits[r, j]) << np.uint64(j - start)
            out[r, wd] = acc


@pjit
def _unpack_kernel(packed, k, out):
    n = packed.shape[0]
    for r in prange(n):
        for j in range(k):
            out[r, j] = np.uint8((packed[r, j >> 6] >> np.uint64(j & 63)) & np.uint64(1))


def pack_bits(a) -> np.ndarray:
    """Pack a binary matrix into uint64 words.

    Parameters
    ----------
    a : array_like, shape (n, k)
        bool, {0, 1} or {-1, +1} values; True / positive becomes bit 1 (the value +1).

    Returns
    -------
    numpy.ndarray of uint64, shape (n, ceil(k / 64))
        Element ``j`` of a row in word ``j // 64`` at bit ``j % 64``; padding bits are 0.
    """
    arr = as_2d(a, "a")
    if arr.dtype == np.bool_:
        bits = arr.view(np.uint8)
    else:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"a must be bool or numeric, got dtype {arr.dtype}")
        if arr.size and not np.all((arr == 1) | (arr == 0) | (arr == -1)):
            raise ValueError("a must hold only bool, {0, 1} or {-1, +1} values")
        bits = (arr > 0).view(np.uint8)
    n, k = bits.shape
    if k == 0:
        raise ValueError("a must have at least one column (k >= 1)")
    out = np.empty((n, words_for(k)), dtype=np.uint64)
    if n:
        _pack_kernel(np.ascontiguousarray(bits), out)
    return out


def unpack_bits(p, k: int) -> np.ndarray:
    """Unpack uint64 words into a uint8 (n, k) matrix of {0, 1} (inverse of :func:`pack_bits`)."""
    from .validation import check_packed

    k = check_width(k)
    packed = check_packed(p, "p", k)
    out = np.empty((packed.shape[0], k), dtype=np.uint8)
    if packed.shape[0]:
        _unpack_kernel(packed, k, out)
    return out
