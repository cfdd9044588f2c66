"""Bit packing: (n, k) ±1/{0,1}/bool arrays <-> uint64 (n, ceil(k/64)), element j in word j//64, bit j%64.

Packing is numpy's SIMD ``packbits``/``unpackbits`` with little-endian bit order, viewed as little-endian
uint64 words; the arithmetic twin is :func:`sqnn_kernels.reference.pack_bits`.
"""

from __future__ import annotations

import numpy as np

from .validation import as_2d, check_width, words_for


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
    out = np.zeros((n, words_for(k) * 8), dtype=np.uint8)
    out[:, : (k + 7) // 8] = np.packbits(bits, axis=1, bitorder="little")
    return out.view("<u8").astype(np.uint64, copy=False)


def unpack_bits(p, k: int) -> np.ndarray:
    """Unpack uint64 words into a uint8 (n, k) matrix of {0, 1} (inverse of :func:`pack_bits`)."""
    from .validation import check_packed

    k = check_width(k)
    packed = check_packed(p, "p", k)
    as_bytes = packed.astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, count=k, bitorder="little")
