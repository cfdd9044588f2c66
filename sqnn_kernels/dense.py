"""XNOR-popcount dense layers on packed ±1 rows.

For packed rows x, w of true width k, the ±1 dot product is ``dot = k - 2 popcount(x XOR w)`` (padding bits
are 0 in both, so they XOR to 0). Kernels work on a 4-row x 2-neuron register tile: the six rows of words
stream through the inner loop once while eight popcount accumulators stay in registers. Each word count W
up to 16 (1024 bits) gets its own compiled kernel, with W a compile-time constant (closure cell), so LLVM
fully unrolls and vectorises the word loop (``vpopcntq`` on AVX-512 VPOPCNTDQ); wider rows share one kernel
with a runtime word count. numba caches each on disk.

Where the target CPU has AVX2 but no vector popcount (``_jit.target_has_vector_popcount()`` false), LLVM's
own ``ctpop`` lowering costs nine vector instructions per 256 bits and tile entry (nibble split, two table
lookups, ``vpsadbw``, add). There the kernels look the counts up instead (:mod:`._lut`, the "LUT GEMM" of
T-MAC): each input row gets a 16-byte table per 4 bits, ``T[c][v] = popcount(x_c XOR v)``, the weights are
stored one 4-bit chunk per byte with 64 neurons side by side (:func:`._lut.weight_nibbles`, O(m W) per call),
and a tile of :data:`LUT_ROWS` rows x 64 neurons costs one ``vpshufb`` + one ``vpaddb`` per row, 32 neurons
and 4 bits: 2 instructions per 128 bit-MACs, against 3 (``vpxor`` + ``vpshufb`` + ``vpaddb``) for counting
``x XOR w`` on nibble-split words. A row tile's tables (4 KB per 1024 bits and row) stay in L1 while the
weights stream past them. Layers narrower than 32-64 neurons keep the popcount kernels (a tile holds 64
neurons), and on VPOPCNTDQ hosts the lookup runs only where it measured faster than ``vpopcntq``
(:func:`use_lookup`: rows of up to 16 words, whose word loop fills no whole zmm, and enough rows to repay the
weight layout).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from ._jit import dual, jit, popcount, target_has_avx2, target_has_vector_popcount
from ._lut import CHUNKS_PER_WORD, NEURONS, lut_bits, lut_dots, padded_thresholds, row_tables, weight_nibbles
from .validation import check_int32_vector, check_packed, check_width

SPECIALISED_WORDS = 16  # widths up to 1024 bits get a kernel with the word count fixed at compile time
HAS_AVX2 = target_has_avx2()
LUT_PATH = HAS_AVX2 and not target_has_vector_popcount()  # AVX2 without VPOPCNTDQ: always table lookup
LUT_MIN_NEURONS = (64, 32)  # (dot, threshold): narrower layers waste most of a 64-neuron tile
LUT_MIN_ROWS = (256, 64)  # VPOPCNTDQ hosts, (dot, threshold): fewer rows do not repay the weight layout
LUT_WORDS = ((3, 15), (1, 16))  # VPOPCNTDQ hosts, (dot, threshold): words per row where lookup wins
# Measured on an Emerald Rapids Xeon, 1 thread, median of alternating pairs, lookup / popcount time.
# AVX-512 code (vpopcntq): threshold 20000x64->64 0.55, 10000x280->64 0.43, 256x280->64 0.62, 64x280->64 0.90,
# 4096x1024->1024 0.71, but 16x280->64 1.6 and 2000x2048->256 1.0 (4 rows' tables outgrow L1); dot
# 10000x128->64 1.19, 20000x190->64 0.83, 10000x256->128 0.68, 5000x640->128 0.42, 4096x1024->1024 1.0,
# 64x280->64 1.08. Both ISAs, 10000x280->m: threshold m=16 1.7-1.8, m=32 0.9; dot m=32 1.2-1.4, m=64 0.8
# (AVX2 code); m=1 5-17x slower. AVX2 code, 1-word dots 10000x64->64: 1.5.
LUT_ROWS = 4  # table-lookup path: rows per tile (their tables, 4 KB per 1024 bits each, stay in L1)


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


@dual
def _lut_dot_kernel(xp, wn, nchunks, k, out):
    """Dots ``out[i, j]`` by table lookup (:mod:`._lut`), tiles of :data:`LUT_ROWS` rows x 64 neurons."""
    n, m = out.shape
    pairs = wn.shape[0]
    for g in prange((n + LUT_ROWS - 1) // LUT_ROWS):
        r0 = g * LUT_ROWS
        tables = np.empty((LUT_ROWS, CHUNKS_PER_WORD * xp.shape[1], 16), np.uint8)
        for q in range(LUT_ROWS):  # rows past n repeat the last one; their results are not kept
            row_tables(xp, min(r0 + q, n - 1), tables, q)
        edge = np.empty((LUT_ROWS, NEURONS), np.int32)
        for p in range(pairs):
            c0 = p * NEURONS
            if r0 + LUT_ROWS <= n and c0 + NEURONS <= m:
                lut_dots(tables, wn, p, nchunks, k, out, r0, c0, LUT_ROWS)
            else:
                lut_dots(tables, wn, p, nchunks, k, edge, 0, 0, LUT_ROWS)
                for q in range(min(LUT_ROWS, n - r0)):
                    for j in range(min(NEURONS, m - c0)):
                        out[r0 + q, c0 + j] = edge[q, j]


@dual
def _lut_threshold_kernel(xp, wn, nchunks, k, thresholds, out):
    """Packed ``out[i, j // 64]`` bit ``j % 64`` = [dot >= thresholds[j]] by table lookup (:mod:`._lut`)."""
    n = xp.shape[0]
    pairs = wn.shape[0]
    for g in prange((n + LUT_ROWS - 1) // LUT_ROWS):
        r0 = g * LUT_ROWS
        tables = np.empty((LUT_ROWS, CHUNKS_PER_WORD * xp.shape[1], 16), np.uint8)
        for q in range(LUT_ROWS):
            row_tables(xp, min(r0 + q, n - 1), tables, q)
        if r0 + LUT_ROWS <= n:
            for p in range(pairs):
                lut_bits(tables, wn, p, nchunks, k, thresholds, out, r0, LUT_ROWS)
        else:
            edge = np.empty((LUT_ROWS, pairs), np.uint64)
            for p in range(pairs):
                lut_bits(tables, wn, p, nchunks, k, thresholds, edge, 0, LUT_ROWS)
            for q in range(n - r0):
                for p in range(pairs):
                    out[r0 + q, p] = edge[q, p]


def use_lookup(which: int, rows: int, words: int, neurons: int) -> bool:
    """Whether kernel ``which`` (0: dot, 1: threshold) runs by table lookup for ``rows`` rows of ``words``
    words and ``neurons`` neurons: on AVX2 without VPOPCNTDQ for layers of :data:`LUT_MIN_NEURONS` neurons
    (dots: of 2 words or more); on VPOPCNTDQ hosts also only where it measured faster than ``vpopcntq``
    (:data:`LUT_MIN_ROWS`, :data:`LUT_WORDS`); never without AVX2."""
    if not HAS_AVX2 or neurons < LUT_MIN_NEURONS[which]:
        return False
    if LUT_PATH:
        return which == 1 or words >= 2
    low, high = LUT_WORDS[which]
    return rows >= LUT_MIN_ROWS[which] and low <= words <= high


def kernels_used(words: int, lut: bool = LUT_PATH):
    """The (dot, threshold) kernels rows of ``words`` words run on: table lookup (``lut``, the default on AVX2
    without VPOPCNTDQ) or popcount."""
    return (_lut_dot_kernel, _lut_threshold_kernel) if lut else _kernels_for(words)


def _run(which: int, xp, wp, k: int, *rest, lut: bool | None = None) -> None:
    """Run kernel ``which`` (0: dot, 1: threshold) by table lookup (``lut``; needs AVX2) or by popcount;
    ``lut=None``: as :func:`use_lookup` chooses."""
    if lut is None:
        lut = use_lookup(which, xp.shape[0], xp.shape[1], wp.shape[0])
    work = xp.shape[0] * wp.shape[0] * xp.shape[1]
    kernel = kernels_used(xp.shape[1], lut)[which]
    if lut:
        wn = weight_nibbles(wp)
        if which == 1:
            rest = (padded_thresholds(rest[0], wn.shape[0]), *rest[1:])
        kernel(work, xp, wn, np.int64(-(-k // 4)), np.int64(k), *rest)
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
