"""Table-lookup XNOR-popcount tiles for AVX2 (the "LUT GEMM" of T-MAC / LUT-GEMM for low-bit weights).

A packed row of width k is read as ``C = ceil(k/4)`` chunks of 4 bits: chunk c is bits 4c..4c+3, i.e. the low
(c even) or high (c odd) nibble of byte c // 2 of the little-endian words. For each input row x and chunk c a
16-byte table holds, for every nibble value v,

    T[x, c][v] = popcount(x_c XOR v)     (0..4 bits),

so ``popcount(x XOR w) = sum_c T[x, c][w_c]``: one ``vpshufb`` (16-entry lookup in each 128-bit lane) looks
up the tables of one row for 32 neurons at once when the weights are stored one nibble per byte, neurons
fastest (:func:`weight_nibbles`). A tile of R rows x 64 neurons then costs, per chunk, two weight loads, R
broadcast table loads (``vbroadcasti128``) and 2R (``vpshufb`` + ``vpaddb``) into byte counters: 2 ALU
instructions per 128 bit-MACs, against 3 per 128 (``vpxor`` + ``vpshufb`` + ``vpaddb`` on pre-split nibbles)
for XOR-then-count. A byte counter gains at most 4 per chunk, so it is widened into uint16 counters every
<= 63 chunks (``63 x 4 = 252 <= 255``), and those into int32 every 260 such groups (65,520 bits). Tables
cost 16 bytes per 4 input bits per row and are built once per row tile (:func:`row_tables`: one ``vpshufb``
to spread two nibbles over the lanes, one ``vpxor`` with 0..15 and one ``vpshufb`` of the 4-bit popcount
table per 2 chunks), so they cost about 1 / (neurons / 32) of the lookups.

Padding is exact without masks: nibbles past the width are 0 in both x and w, and ``T[x, c][0] = popcount(0)
= 0`` for an all-zero chunk; neurons past m have all-zero weight nibbles, and their results are never kept
(threshold ``> k`` in the bits form). Every intrinsic has a pure-numpy stand-in for ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import _data, _literal, jit

NEURONS = 64  # neurons per tile: two 32-byte vectors of weight nibbles, one output word in the bits form
GROUP = 63  # chunks summed in byte counters before widening: 63 chunks x 4 bits <= 255
SUPER = 260  # groups summed in uint16 counters before widening: 260 x 252 <= 65535
LANE_NEURON = np.array([32 * (b // 32) + 16 * (b % 2) + (b % 32) // 2 for b in range(64)])
"""Neuron (of the tile's 64) whose weight nibble sits at byte b: within each 32-byte vector, byte 2i holds
neuron i and byte 2i + 1 neuron 16 + i, so the even and odd bytes of the counters are neurons in order."""
NEURON_LANE = np.argsort(LANE_NEURON)  # byte of the tile that holds neuron n (the inverse permutation)
CHUNKS_PER_WORD = 16  # 4-bit chunks per uint64 word: tables and weight nibbles cover whole words
NO_FIRE = np.iinfo(np.int32).max  # threshold of a padding neuron: no dot product reaches it


def _weight_nibbles_numpy(wp: np.ndarray) -> np.ndarray:
    """Plain-numpy twin of :func:`weight_nibbles` (and its stand-in when ``NUMBA_DISABLE_JIT=1``)."""
    m, words = wp.shape
    pairs = -(-m // NEURONS)
    b = np.zeros((pairs * NEURONS, 8 * words), np.uint8)
    b[:m] = np.ascontiguousarray(wp).view(np.uint8).reshape(m, 8 * words)
    nib = np.empty((pairs * NEURONS, CHUNKS_PER_WORD * words), np.uint8)
    np.bitwise_and(b, 15, out=nib[:, 0::2])
    np.right_shift(b, 4, out=nib[:, 1::2])
    tiles = nib.reshape(pairs, NEURONS, -1)[:, LANE_NEURON]  # byte order within a tile (LANE_NEURON)
    return np.ascontiguousarray(tiles.transpose(0, 2, 1))


@jit
def _weight_nibbles_kernel(wp, out):
    """``out[j // 64, c, NEURON_LANE[j % 64]] = chunk c of wp[j]`` for every neuron j (out zeroed)."""
    low = np.uint64(15)
    for j in range(wp.shape[0]):
        p, lane = j // NEURONS, NEURON_LANE[j % NEURONS]
        for w in range(wp.shape[1]):
            v = wp[j, w]
            for c in range(CHUNKS_PER_WORD):
                out[p, CHUNKS_PER_WORD * w + c, lane] = np.uint8((v >> np.uint64(4 * c)) & low)


def weight_nibbles(wp: np.ndarray) -> np.ndarray:
    """Weights one nibble per byte, 64 neurons side by side: uint8 (ceil(m/64), 16 words, 64).

    ``out[p, c, b]`` is chunk c (bits 4c..4c+3) of neuron ``64 p + LANE_NEURON[b]``; neurons past m are all
    zero. ``wp``: C-contiguous uint64 (m, words).
    """
    if nb.config.DISABLE_JIT:
        return _weight_nibbles_numpy(wp)
    out = np.zeros((-(-wp.shape[0] // NEURONS), CHUNKS_PER_WORD * wp.shape[1], NEURONS), np.uint8)
    _weight_nibbles_kernel(wp, out)
    return out


def padded_thresholds(thresholds: np.ndarray, pairs: int) -> np.ndarray:
    """int32 thresholds padded to ``64 pairs`` neurons with :data:`NO_FIRE` (padding bits stay 0)."""
    out = np.full(pairs * NEURONS, NO_FIRE, np.int32)
    out[: len(thresholds)] = thresholds
    return out


def _i8p(builder, ptr):
    return builder.bitcast(ptr, ir.IntType(8).as_pointer())


def _at(builder, base, byte_offset, vty):
    """``base + byte_offset`` (bytes) as a pointer to ``vty``."""
    return builder.bitcast(builder.gep(base, [byte_offset]), vty.as_pointer())


def _pshufb(builder):
    vb = ir.VectorType(ir.IntType(8), 32)
    kind = ir.FunctionType(vb, [vb, vb])
    return cgutils.get_or_insert_function(builder.module, kind, "llvm.x86.avx2.pshuf.b")


@intrinsic
def _row_tables_intrinsic(typingctx, xp, row, tables, slot):
    ok = (isinstance(xp, types.Array) and xp.dtype == types.uint64 and xp.ndim == 2 and xp.layout == "C"
          and isinstance(tables, types.Array) and tables.dtype == types.uint8 and tables.ndim == 3
          and tables.layout == "C")
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        vb, v8 = ir.VectorType(i8, 32), ir.VectorType(i8, 8)
        pshufb = _pshufb(builder)
        xa, r, ta, s = args
        xs = cgutils.create_struct_proxy(xp)(context, builder, value=xa)
        ts = cgutils.create_struct_proxy(tables)(context, builder, value=ta)
        words = builder.extract_value(xs.shape, 1)
        xd, td = _i8p(builder, xs.data), _i8p(builder, ts.data)
        row_byte = builder.mul(builder.mul(r, words), i64(8))
        slot_byte = builder.mul(s, builder.mul(builder.extract_value(ts.shape, 1), i64(16)))
        lut = ir.Constant(vb, [i8(bin(b & 15).count("1")) for b in range(32)])
        iota = ir.Constant(vb, [i8(b & 15) for b in range(32)])
        spread = ir.Constant(ir.VectorType(i32, 32), [*range(8), *range(8), *range(8, 16), *range(8, 16)])
        with cgutils.for_range(builder, words) as loop:
            at = builder.add(row_byte, builder.mul(loop.index, i64(8)))
            v = builder.load(_at(builder, xd, at, v8), align=1)
            lo = builder.and_(v, ir.Constant(v8, [i8(15)] * 8))
            hi = builder.lshr(v, ir.Constant(v8, [i8(4)] * 8))
            both = builder.shuffle_vector(lo, hi, spread)  # lane 0: low nibbles (chunks 2i), lane 1: high
            base = builder.add(slot_byte, builder.mul(loop.index, i64(16 * 16)))
            for i in range(8):  # byte i of the word: chunks 2i (lane 0) and 2i + 1 (lane 1)
                nib = builder.call(pshufb, [both, ir.Constant(vb, [i8(i)] * 32)])
                table = builder.call(pshufb, [lut, builder.xor(nib, iota)])
                builder.store(table, _at(builder, td, builder.add(base, i64(32 * i)), vb), align=1)
        return context.get_dummy_value()

    return types.none(xp, row, tables, slot), codegen


def _row_tables_python(xp, row, tables, slot):
    """Pure-numpy ``row_tables`` used when ``NUMBA_DISABLE_JIT=1``."""
    b = np.ascontiguousarray(xp[row]).view(np.uint8)
    nib = np.empty(2 * len(b), np.uint8)
    nib[0::2], nib[1::2] = b & 15, b >> 4
    v = np.arange(16, dtype=np.uint8)
    tables[slot] = np.bitwise_count(nib[:, None] ^ v[None, :])


row_tables = _row_tables_python if nb.config.DISABLE_JIT else _row_tables_intrinsic
"""``row_tables(xp, row, tables, slot)``: ``tables[slot, c, v] = popcount(chunk c of xp[row] XOR v)`` for
every chunk c < 16 words and v < 16. ``xp``: C-contiguous uint64 (n, words); ``tables``: C-contiguous uint8
(slots, 16 words, 16)."""


def _clamp_range(builder, index, size, total):
    """(start, length) of block ``index`` of ``size`` items out of ``total``."""
    i64 = ir.IntType(64)
    start = builder.mul(index, i64(size))
    rest = builder.sub(total, start)
    return start, builder.select(builder.icmp_signed("<", rest, i64(size)), rest, i64(size))


def _tile_counts(context, builder, T, W, ta, wa, p, nc, r_n):
    """Popcounts of an R-row x 64-neuron tile: per row, two ``<32 x i32>`` vectors of neurons 0-31, 32-63.

    Three levels of counters: bytes (<= :data:`GROUP` chunks, in registers), then uint16 (<= :data:`SUPER`
    groups) split into the even and odd bytes (``vpand`` / ``vpsrlw``, no lane crossing), then int32 once per
    super-group. Byte 2i of a weight vector holds neuron i, byte 2i + 1 neuron 16 + i (:data:`LANE_NEURON`),
    so the even and odd uint16 halves are neurons 0-15 and 16-31 in order.
    """
    i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
    vb, v16 = ir.VectorType(i8, 32), ir.VectorType(i8, 16)
    vw, vd = ir.VectorType(i16, 16), ir.VectorType(i32, 16)
    pshufb = _pshufb(builder)
    ts = cgutils.create_struct_proxy(T)(context, builder, value=ta)
    ws = cgutils.create_struct_proxy(W)(context, builder, value=wa)
    td, wd = _i8p(builder, ts.data), _i8p(builder, ws.data)
    t_row = builder.mul(builder.extract_value(ts.shape, 1), i64(16))  # bytes per row of tables
    w_base = builder.mul(p, builder.mul(builder.extract_value(ws.shape, 1), i64(NEURONS)))
    count8 = [[cgutils.alloca_once(builder, vb) for _ in range(2)] for _ in range(r_n)]
    count16 = [[cgutils.alloca_once(builder, vw) for _ in range(4)] for _ in range(r_n)]
    count32 = [[cgutils.alloca_once(builder, vd) for _ in range(4)] for _ in range(r_n)]
    for row in count32:
        for slot in row:
            builder.store(ir.Constant(vd, [i32(0)] * 16), slot)
    bcast = ir.Constant(ir.VectorType(i32, 32), [*range(16), *range(16)])
    low = ir.Constant(vw, [i16(0xFF)] * 16)
    eight = ir.Constant(vw, [i16(8)] * 16)
    groups = builder.sdiv(builder.add(nc, i64(GROUP - 1)), i64(GROUP))
    supers = builder.sdiv(builder.add(groups, i64(SUPER - 1)), i64(SUPER))
    with cgutils.for_range(builder, supers) as sl:
        s0, slen = _clamp_range(builder, sl.index, SUPER, groups)
        for row in count16:
            for slot in row:
                builder.store(ir.Constant(vw, [i16(0)] * 16), slot)
        with cgutils.for_range(builder, slen) as gl:
            g0, glen = _clamp_range(builder, builder.add(s0, gl.index), GROUP, nc)
            for row in count8:
                for slot in row:
                    builder.store(ir.Constant(vb, [i8(0)] * 32), slot)
            with cgutils.for_range(builder, glen) as cl:
                c = builder.add(g0, cl.index)
                w_at = builder.add(w_base, builder.mul(c, i64(NEURONS)))
                wv = [builder.load(_at(builder, wd, builder.add(w_at, i64(32 * h)), vb), align=1)
                      for h in range(2)]
                for q in range(r_n):
                    t_at = builder.add(builder.mul(t_row, i64(q)), builder.mul(c, i64(16)))
                    t16 = builder.load(_at(builder, td, t_at, v16), align=1)
                    t = builder.shuffle_vector(t16, t16, bcast)  # the table in both 128-bit lanes
                    for h in range(2):
                        slot = count8[q][h]
                        builder.store(builder.add(builder.load(slot), builder.call(pshufb, [t, wv[h]])), slot)
            for q in range(r_n):
                for h in range(2):
                    words = builder.bitcast(builder.load(count8[q][h]), vw)
                    halves = (builder.and_(words, low), builder.lshr(words, eight))  # even, odd bytes
                    for e in range(2):
                        slot = count16[q][2 * h + e]
                        builder.store(builder.add(builder.load(slot), halves[e]), slot)
        for q in range(r_n):
            for j in range(4):
                slot = count32[q][j]
                wide = builder.zext(builder.load(count16[q][j]), vd)
                builder.store(builder.add(builder.load(slot), wide), slot)
    cat = ir.Constant(ir.VectorType(i32, 32), list(range(32)))
    return [[builder.shuffle_vector(builder.load(row[2 * h]), builder.load(row[2 * h + 1]), cat)
             for h in range(2)] for row in count32]


def _dots(builder, counts, k):
    """``k - 2 count`` per lane (the ±1 dot products) of every ``<32 x i32>`` count vector."""
    vd = counts[0][0].type
    kv = builder.insert_element(ir.Constant(vd, ir.Undefined), builder.trunc(k, ir.IntType(32)),
                                ir.IntType(32)(0))
    kv = builder.shuffle_vector(kv, kv, ir.Constant(vd, [ir.IntType(32)(0)] * 32))
    return [[builder.sub(kv, builder.shl(c, ir.Constant(vd, [ir.IntType(32)(1)] * 32))) for c in pair]
            for pair in counts]


def _tile_ok(T, W, R):
    return (isinstance(T, types.Array) and T.dtype == types.uint8 and T.ndim == 3 and T.layout == "C"
            and isinstance(W, types.Array) and W.dtype == types.uint8 and W.ndim == 3 and W.layout == "C"
            and _literal(R) is not None)


@intrinsic(prefer_literal=True)
def _lut_dots_intrinsic(typingctx, T, W, p, nchunks, k, dst, r0, c0, R):
    ok = (_tile_ok(T, W, R) and isinstance(dst, types.Array) and dst.dtype == types.int32 and dst.ndim == 2
          and dst.layout == "C")
    if not ok:
        return None
    r_n = _literal(R)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        dots = _dots(builder, _tile_counts(context, builder, T, W, *args[:4], r_n), args[4])
        ds = cgutils.create_struct_proxy(dst)(context, builder, value=args[5])
        dd, ld = _i8p(builder, ds.data), builder.extract_value(ds.shape, 1)
        for q in range(r_n):
            at = builder.add(builder.mul(builder.add(args[6], i64(q)), ld), args[7])
            for h in range(2):
                ptr = _at(builder, dd, builder.mul(builder.add(at, i64(32 * h)), i64(4)), dots[q][h].type)
                builder.store(dots[q][h], ptr, align=4)
        return context.get_dummy_value()

    return types.none(T, W, p, nchunks, k, dst, r0, c0, R), codegen


def _lut_dots_python(T, W, p, nchunks, k, dst, r0, c0, R):
    """Pure-numpy ``lut_dots`` used when ``NUMBA_DISABLE_JIT=1``."""
    dst[r0 : r0 + R, c0 : c0 + NEURONS] = k - 2 * _counts_python(T, W, p, nchunks, R)


def _counts_python(T, W, p, nchunks, R):
    c = np.arange(nchunks)
    counts = np.zeros((R, NEURONS), np.int64)
    counts[:, LANE_NEURON] = T[:R, c[:, None], W[p, :nchunks]].sum(axis=1, dtype=np.int64)  # sum over chunks
    return counts


lut_dots = _lut_dots_python if nb.config.DISABLE_JIT else _lut_dots_intrinsic
"""``lut_dots(T, W, p, nchunks, k, dst, r0, c0, R)``: ``dst[r0 + q, c0 + l] = k - 2 sum_{c < nchunks}
T[q, c, W[p, c, l]]`` for q < R (a literal), l < 64: the ±1 dot products of the R rows whose tables are in
``T`` (:func:`row_tables`) with neurons ``64 p + l`` (:func:`weight_nibbles`). ``dst``: C-contiguous int32;
the caller guarantees the tile lies inside it."""


@intrinsic(prefer_literal=True)
def _lut_bits_intrinsic(typingctx, T, W, p, nchunks, k, thresholds, dst, r0, R):
    ok = (_tile_ok(T, W, R) and isinstance(dst, types.Array) and dst.dtype == types.uint64 and dst.ndim == 2
          and dst.layout == "C" and isinstance(thresholds, types.Array) and thresholds.dtype == types.int32
          and thresholds.layout == "C")
    if not ok:
        return None
    r_n = _literal(R)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        dots = _dots(builder, _tile_counts(context, builder, T, W, *args[:4], r_n), args[4])
        vd = dots[0][0].type
        td = _i8p(builder, _data(context, builder, args[5], thresholds))
        t_at = builder.mul(args[2], i64(4 * NEURONS))
        th = [builder.load(_at(builder, td, builder.add(t_at, i64(4 * 32 * h)), vd), align=4)
              for h in range(2)]
        ds = cgutils.create_struct_proxy(dst)(context, builder, value=args[6])
        dd, ld = _i8p(builder, ds.data), builder.extract_value(ds.shape, 1)
        cat = ir.Constant(ir.VectorType(ir.IntType(32), 64), list(range(64)))
        for q in range(r_n):
            fire = [builder.icmp_signed(">=", dots[q][h], th[h]) for h in range(2)]
            word = builder.bitcast(builder.shuffle_vector(fire[0], fire[1], cat), i64)
            at = builder.add(builder.mul(builder.add(args[7], i64(q)), ld), args[2])
            builder.store(word, _at(builder, dd, builder.mul(at, i64(8)), i64), align=8)
        return context.get_dummy_value()

    return types.none(T, W, p, nchunks, k, thresholds, dst, r0, R), codegen


def _lut_bits_python(T, W, p, nchunks, k, thresholds, dst, r0, R):
    """Pure-numpy ``lut_bits`` used when ``NUMBA_DISABLE_JIT=1``."""
    fire = (k - 2 * _counts_python(T, W, p, nchunks, R)) >= thresholds[NEURONS * p : NEURONS * (p + 1)]
    bits = fire.astype(np.uint64) << np.arange(NEURONS, dtype=np.uint64)
    dst[r0 : r0 + R, p] = bits.sum(axis=1, dtype=np.uint64)


lut_bits = _lut_bits_python if nb.config.DISABLE_JIT else _lut_bits_intrinsic
"""``lut_bits(T, W, p, nchunks, k, thresholds, dst, r0, R)``: word ``dst[r0 + q, p]`` gets bit l set iff the
dot product of row q with neuron ``64 p + l`` (as in :func:`lut_dots`) is ``>= thresholds[64 p + l]``.
``thresholds``: int32, padded to whole words (:func:`padded_thresholds`)."""
