"""XNOR-popcount dense layers on packed ±1 rows.

For packed rows x, w of true width k, the ±1 dot product is ``dot = k - 2 popcount(x XOR w)`` (padding bits
are 0 in both, so they XOR to 0). Kernels work on a 4-row x 2-neuron register tile: the six rows of words
stream through the inner loop once while eight popcount accumulators stay in registers. Each word count W
up to 16 (1024 bits) gets its own compiled kernel, with W a compile-time constant (closure cell), so LLVM
fully unrolls and vectorises the word loop (``vpopcntq`` on AVX-512 VPOPCNTDQ); wider rows share one kernel
with a runtime word count. numba caches each on disk.

Where the target CPU has AVX2 but no vector popcount (``_jit.target_has_vector_popcount()`` false), LLVM's
own ``ctpop`` lowering costs nine vector instructions per 256 bits and tile entry (nibble split, two table
lookups, ``vpsadbw``, add). There the rows are first split into low and high nibbles once
(``_split_nibbles``, O((n + m) W)): since ``lo(x XOR w) = lo(x) XOR lo(w)``, each tile entry then costs
``vpxor`` + ``vpshufb`` + ``vpaddb`` per half, with byte counts summed by one ``vpsadbw`` per call
(:func:`._jit.nibble_tile`); tiles run in blocks of 32 rows x 32 neurons, so both blocks of split words stay
in L1.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from ._jit import NIBBLE_WORDS, dual, jit, nibble_tile, popcount, target_has_avx2, target_has_vector_popcount
from .validation import check_int32_vector, check_packed, check_width

SPECIALISED_WORDS = 16  # widths up to 1024 bits get a kernel with the word count fixed at compile time
NIBBLE_PATH = target_has_avx2() and not target_has_vector_popcount()  # AVX2 without VPOPCNTDQ: nibble tiles
BLOCK_ROWS = 32  # nibble path: 32 rows x 32 neurons of 1024 bits = 2 x 16 KB of split words, in L1
BLOCK_NEURONS = 32
_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)


@jit(inline="always")
def _tile_dots(xp, wp, r0, j, nw, k):
    """±1 dot products of rows r0..r0+3 with neurons j, j+1: the 4 x 2 register tile.

    The six rows of words stream through the loop once; the eight popcount sums stay in registers.
    Returns (d00, d01, d10, d11, d20, d21, d30, d31) with d_qc the dot of row r0+q and neuron j+c.
    """
    a00 = np.uint64(0)
    a01 = np.uint64(0)
    a10 = np.uint64(0)
    a11 = np.uint64(0)
    a20 = np.uint64(0)
    a21 = np.uint64(0)
    a30 = np.uint64(0)
    a31 = np.uint64(0)
    for w in range(nw):
        w0 = wp[j, w]
        w1 = wp[j + 1, w]
        x0 = xp[r0, w]
        x1 = xp[r0 + 1, w]
        x2 = xp[r0 + 2, w]
        x3 = xp[r0 + 3, w]
        a00 += popcount(x0 ^ w0)
        a01 += popcount(x0 ^ w1)
        a10 += popcount(x1 ^ w0)
        a11 += popcount(x1 ^ w1)
        a20 += popcount(x2 ^ w0)
        a21 += popcount(x2 ^ w1)
        a30 += popcount(x3 ^ w0)
        a31 += popcount(x3 ^ w1)
    return (
        k - 2 * np.int64(a00), k - 2 * np.int64(a01), k - 2 * np.int64(a10), k - 2 * np.int64(a11),
        k - 2 * np.int64(a20), k - 2 * np.int64(a21), k - 2 * np.int64(a30), k - 2 * np.int64(a31),
    )


@jit(inline="always")
def _row_dot(xp, wp, r, j, nw, k):
    """±1 dot product of row r with neuron j (the edges of the tiled loops)."""
    acc = np.uint64(0)
    for w in range(nw):
        acc += popcount(xp[r, w] ^ wp[j, w])
    return k - 2 * np.int64(acc)


@functools.cache
def _kernels(W: int):
    """Compile (dot, threshold) kernels for exactly ``W`` words per row (``W = 0``: any word count)."""

    @dual
    def dot_kernel(xp, wp, k, out):
        nw = W if W > 0 else xp.shape[1]
        n = xp.shape[0]
        m = wp.shape[0]
        m2 = m - (m % 2)
        for b in prange((n + 3) // 4):
            r0 = b * 4
            full = r0 + 4 <= n
            if full:
                for j in range(0, m2, 2):
                    d = _tile_dots(xp, wp, r0, j, nw, k)
                    for q in range(4):
                        out[r0 + q, j] = np.int32(d[2 * q])
                        out[r0 + q, j + 1] = np.int32(d[2 * q + 1])
            for r in range(r0, min(r0 + 4, n)):
                for j in range(m2 if full else 0, m):
                    out[r, j] = np.int32(_row_dot(xp, wp, r, j, nw, k))

    @dual
    def threshold_kernel(xp, wp, k, thresholds, out):
        nw = W if W > 0 else xp.shape[1]
        n = xp.shape[0]
        m = wp.shape[0]
        m2 = m - (m % 2)
        one = np.uint64(1)
        for b in prange((n + 3) // 4):
            r0 = b * 4
            full = r0 + 4 <= n
            if full:
                for j in range(0, m2, 2):
                    d00, d01, d10, d11, d20, d21, d30, d31 = _tile_dots(xp, wp, r0, j, nw, k)
                    t0 = thresholds[j]
                    t1 = thresholds[j + 1]
                    word = j >> 6  # j is even, so neurons j and j + 1 share a word
                    s0 = np.uint64(j & 63)
                    s1 = np.uint64((j + 1) & 63)
                    out[r0, word] |= (np.uint64(d00 >= t0) << s0) | (np.uint64(d01 >= t1) << s1)
                    out[r0 + 1, word] |= (np.uint64(d10 >= t0) << s0) | (np.uint64(d11 >= t1) << s1)
                    out[r0 + 2, word] |= (np.uint64(d20 >= t0) << s0) | (np.uint64(d21 >= t1) << s1)
                    out[r0 + 3, word] |= (np.uint64(d30 >= t0) << s0) | (np.uint64(d31 >= t1) << s1)
            for r in range(r0, min(r0 + 4, n)):
                for j in range(m2 if full else 0, m):
                    if _row_dot(xp, wp, r, j, nw, k) >= thresholds[j]:
                        out[r, j >> 6] |= one << np.uint64(j & 63)

    return dot_kernel, threshold_kernel


def _kernels_for(words: int):
    """The specialised kernels for ``words`` up to :data:`SPECIALISED_WORDS`, else the generic ones."""
    return _kernels(words if words <= SPECIALISED_WORDS else 0)


def _split_nibbles(p: np.ndarray) -> tuple[np.ndarray, int]:
    """Nibble-split copy of packed rows for :func:`._jit.nibble_tile`: ``(s, half)``.

    ``s[:, :half]`` holds ``p & 0x0F..0F`` (the low nibble of every byte), ``s[:, half:]`` holds
    ``(p >> 4) & 0x0F..0F``; ``half`` is the word count rounded up to a whole vector (4 words), the extra
    words are 0 in every row, so they add 0 to every popcount.
    """
    words = p.shape[1]
    half = -(-words // NIBBLE_WORDS) * NIBBLE_WORDS
    s = np.zeros((p.shape[0], 2 * half), dtype=np.uint64)
    np.bitwise_and(p, _LOW_NIBBLES, out=s[:, :words])
    np.bitwise_and(p >> np.uint64(4), _LOW_NIBBLES, out=s[:, half:half + words])
    return s, half


@functools.cache
def _nibble_kernels(V: int):
    """(dot, threshold) kernels on nibble-split rows of exactly ``V`` vectors (``V = 0``: any count)."""

    @jit(inline="always")
    def counts(xs, ws, xrow, wrow, half):
        if V > 0:
            return nibble_tile(xs, ws, xrow, wrow, 0, half, V)
        z = np.uint64(0)
        c = (z, z, z, z, z, z, z, z)
        big = half - half % (4 * NIBBLE_WORDS)
        for off in range(0, big, 4 * NIBBLE_WORDS):  # byte counters hold at most 31 vectors: sum per 4
            t = nibble_tile(xs, ws, xrow, wrow, off, half, 4)
            c = (c[0] + t[0], c[1] + t[1], c[2] + t[2], c[3] + t[3], c[4] + t[4], c[5] + t[5], c[6] + t[6],
                 c[7] + t[7])
        for off in range(big, half, NIBBLE_WORDS):
            t = nibble_tile(xs, ws, xrow, wrow, off, half, 1)
            c = (c[0] + t[0], c[1] + t[1], c[2] + t[2], c[3] + t[3], c[4] + t[4], c[5] + t[5], c[6] + t[6],
                 c[7] + t[7])
        return c

    @jit(inline="always")
    def tile(xs, ws, r0, j, n, m, half, k):
        """Dots of rows r0..r0+3 with neurons j, j+1; rows past n and a neuron past m repeat the last one."""
        s = xs.shape[1]
        xrow = (r0 * s, min(r0 + 1, n - 1) * s, min(r0 + 2, n - 1) * s, min(r0 + 3, n - 1) * s)
        wrow = (j * s, min(j + 1, m - 1) * s)
        c = counts(xs, ws, xrow, wrow, half)
        return (k - 2 * np.int64(c[0]), k - 2 * np.int64(c[1]), k - 2 * np.int64(c[2]),
                k - 2 * np.int64(c[3]), k - 2 * np.int64(c[4]), k - 2 * np.int64(c[5]),
                k - 2 * np.int64(c[6]), k - 2 * np.int64(c[7]))

    @dual
    def dot_kernel(xs, ws, half, k, out):
        n, m = out.shape
        for g in prange((n + BLOCK_ROWS - 1) // BLOCK_ROWS):
            for jb in range(0, m, BLOCK_NEURONS):  # a block of rows x a block of neurons: both stay in L1
                for r0 in range(g * BLOCK_ROWS, min(g * BLOCK_ROWS + BLOCK_ROWS, n), 4):
                    for j in range(jb, min(jb + BLOCK_NEURONS, m), 2):
                        d = tile(xs, ws, r0, j, n, m, half, k)
                        for q in range(min(4, n - r0)):
                            out[r0 + q, j] = np.int32(d[2 * q])
                            if j + 1 < m:
                                out[r0 + q, j + 1] = np.int32(d[2 * q + 1])

    @dual
    def threshold_kernel(xs, ws, half, k, thresholds, out):
        n = xs.shape[0]
        m = ws.shape[0]
        for g in prange((n + BLOCK_ROWS - 1) // BLOCK_ROWS):
            for jb in range(0, m, BLOCK_NEURONS):
                for r0 in range(g * BLOCK_ROWS, min(g * BLOCK_ROWS + BLOCK_ROWS, n), 4):
                    for j in range(jb, min(jb + BLOCK_NEURONS, m), 2):
                        d = tile(xs, ws, r0, j, n, m, half, k)
                        word = j >> 6  # j is even, so neurons j and j + 1 share a word
                        for q in range(min(4, n - r0)):
                            bits = np.uint64(d[2 * q] >= thresholds[j]) << np.uint64(j & 63)
                            if j + 1 < m:
                                above = np.uint64(d[2 * q + 1] >= thresholds[j + 1])
                                bits |= above << np.uint64((j + 1) & 63)
                            out[r0 + q, word] |= bits

    return dot_kernel, threshold_kernel


def kernels_used(words: int):
    """The (dot, threshold) kernels rows of ``words`` words run on this target CPU (nibble or popcount)."""
    if NIBBLE_PATH:
        half = -(-words // NIBBLE_WORDS) * NIBBLE_WORDS
        return _nibble_kernels(half // NIBBLE_WORDS if half <= SPECIALISED_WORDS else 0)
    return _kernels_for(words)


def _run(which: int, xp, wp, k: int, *rest) -> None:
    """Run kernel ``which`` (0: dot, 1: threshold) on the target CPU's path (nibble tiles or popcount)."""
    work = xp.shape[0] * wp.shape[0] * xp.shape[1]
    kernel = kernels_used(xp.shape[1])[which]
    if NIBBLE_PATH:
        xs, half = _split_nibbles(xp)
        ws, _ = _split_nibbles(wp)
        kernel(work, xs, ws, np.int64(half), np.int64(k), *rest)
    else:
        kernel(work, xp, wp, np.int64(k), *rest)


def _check_pair(xp, wp, k):
    k = check_width(k)
    xp = check_packed(xp, "xp", k)
    wp = check_packed(wp, "wp", k)
    if wp.shape[0] == 0:
        raise ValueError("wp must hold at least one neuron (row)")
    return xp, wp, k


def xnor_popcount_dense(xp, wp, k: int) -> np.ndarray:
    """±1 dot products of packed rows: ``out_ij = k - 2 popcount(xp_i XOR wp_j)``.

    Parameters
    ----------
    xp : uint64 array, shape (n, ceil(k/64))
        Packed inputs (bit 1 = +1, padding 0).
    wp : uint64 array, shape (m, ceil(k/64))
        Packed weights, one row per neuron.
    k : int
        True bit width.

    Returns
    -------
    int32 array, shape (n, m), values in [-k, k] with the parity of k.
    """
    xp, wp, k = _check_pair(xp, wp, k)
    out = np.empty((xp.shape[0], wp.shape[0]), dtype=np.int32)
    if xp.shape[0]:
        _run(0, xp, wp, k, out)
    return out


def binary_dense_threshold(xp, wp, k: int, thresholds) -> np.ndarray:
    """Fused binary layer: ``bit_ij = [k - 2 popcount(xp_i XOR wp_j) >= thresholds_j]``.

    Returns packed uint64 (n, ceil(m/64)) with padding bits 0; the int32 dot products are never stored.
    """
    xp, wp, k = _check_pair(xp, wp, k)
    t = check_int32_vector(thresholds, wp.shape[0], "thresholds")
    out = np.zeros((xp.shape[0], (wp.shape[0] + 63) // 64), dtype=np.uint64)
    if xp.shape[0]:
        _run(1, xp, wp, k, t, out)
    return out
