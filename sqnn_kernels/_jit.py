"""Project-wide numba options and the small LLVM intrinsics the kernels need.

All kernels are compiled for the host CPU (numba's default ``-march=native``) and cached on disk.
``popcount`` lowers to LLVM's ``llvm.ctpop.i64``; inside a loop over contiguous words LLVM vectorises it
(``vpopcntq`` on AVX-512 VPOPCNTDQ, a nibble-LUT ``vpshufb`` sequence on AVX2). ``ge_mask64`` compares 64
integers at once and returns the 64 answers as the bits of one word, written in portable LLVM vector IR
(``<64 x i16>`` compare, bitcast ``<64 x i1>`` to ``i64``): ``vpcmpw`` + ``kunpck`` on AVX-512, ``vpcmpgtw`` +
``vpmovmskb`` on AVX2. ``lane_codes`` is the fused engine's first pass for one row, written as explicit
``<8 x float>`` compares and ``<8 x i32>`` counts. All have pure-Python stand-ins (``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import types as types_module

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import _threads
from ._cache import enable_disk_cache, kernel_dispatcher

JIT_OPTIONS = {"nogil": True, "fastmath": False, "error_model": "numpy"}


def _njit(args, options):
    """``numba.njit(*args, **options)`` whose dispatchers use the project's disk cache (:mod:`._cache`)."""
    cache = options.pop("cache", True)
    function = args[0] if args and callable(args[0]) else None
    make = nb.njit(**options) if function is not None else nb.njit(*args, **options)

    def build(fn):
        if not cache or nb.config.DISABLE_JIT:
            return make(fn)
        if args and function is None:  # signatures given: compiled when decorated
            return enable_disk_cache(make(fn))
        return kernel_dispatcher(fn, options)

    return build(function) if function is not None else build


def jit(*args, **kwargs):
    """``numba.njit`` with the project's options (``nogil=True``, cached on disk by :mod:`._cache`)."""
    return _njit(args, {**JIT_OPTIONS, **kwargs})


def pjit(*args, **kwargs):
    """``jit`` with ``parallel=True`` for kernels that ``prange`` over rows or fixed-size chunks."""
    return _njit(args, {**JIT_OPTIONS, "parallel": True, **kwargs})


def target_features() -> list[str] | None:
    """The LLVM feature list numba compiles for, by numba's own rule: ``NUMBA_CPU_FEATURES`` when set, else
    the host's features, even when ``NUMBA_CPU_NAME`` names another CPU (``NUMBA_CPU_NAME=haswell`` alone
    keeps the host's AVX-512 and only changes the tuning). ``None`` when the list is set but empty: LLVM then
    takes the named CPU's own features (``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=`` is AVX2 code)."""
    if nb.config.CPU_FEATURES is not None:
        return [f for f in nb.config.CPU_FEATURES.split(",") if f] or None
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_features().flatten().split(",")


def _target_cpu_name() -> str:
    """The LLVM CPU name numba compiles for: ``NUMBA_CPU_NAME``, else the host's."""
    if nb.config.CPU_NAME and nb.config.CPU_NAME != "host":
        return nb.config.CPU_NAME
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


_VECTOR_POPCOUNT_CPUS = ("icelake-server", "icelake-client", "tigerlake", "sapphirerapids", "emeraldrapids",
                         "graniterapids", "znver4", "znver5")


def target_has_avx512() -> bool:
    """Whether numba's target has AVX-512F (zmm registers, mask compares): see :func:`target_features`."""
    features = target_features()
    if features is None:
        return _target_cpu_name() in (*_VECTOR_POPCOUNT_CPUS, "skylake-avx512", "cascadelake", "cooperlake")
    return "+avx512f" in features


def target_has_vector_popcount() -> bool:
    """Whether numba's target has a vector popcount (AVX-512 VPOPCNTDQ): see :func:`target_features`; a CPU
    named without features counts if it is one of a few known names."""
    features = target_features()
    if features is None:
        return _target_cpu_name() in _VECTOR_POPCOUNT_CPUS
    return "+avx512vpopcntdq" in features


PARALLEL_MIN_WORK = 1 << 20  # below ~1 ms of work, waking worker threads costs more than it saves


class Dual:
    """One kernel source compiled twice: serial for small calls, ``parallel=True`` for large ones.

    ``kernel(work, *args)`` runs the parallel build when ``work >= PARALLEL_MIN_WORK`` (``work`` counts
    elementary operations), through :func:`._threads.launch` (a lock on thread-unsafe threading layers), and
    the serial build in a process forked after OpenMP threads started (:mod:`._threads`). Both builds compute
    the same result; only the thread fan-out differs.
    """

    def __init__(self, fn):
        serial = types_module.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
        )
        serial.__qualname__ = f"{fn.__qualname__}_serial"  # its own numba cache file
        self.serial = jit(serial)
        self.parallel = pjit(fn)
        self.__doc__ = fn.__doc__

    def __call__(self, work: int, *args):
        if work < PARALLEL_MIN_WORK or _threads.serial_only():
            return self.serial(*args)
        return _threads.launch(self.parallel, *args)


def dual(fn) -> Dual:
    """Decorator: compile ``fn`` (which may use ``prange``) as a :class:`Dual` kernel."""
    return Dual(fn)


@intrinsic
def _popcount_intrinsic(typingctx, x):
    """Number of set bits of a 64-bit integer, via LLVM ``ctpop`` (returns uint64)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.uint64(x)

    def codegen(context, builder, signature, args):
        (val,) = args
        val = builder.zext(val, context.get_value_type(types.uint64)) if val.type.width < 64 else val
        return builder.ctpop(val)

    return sig, codegen


def _popcount_python(x) -> int:
    """Pure-Python popcount used when ``NUMBA_DISABLE_JIT=1`` (coverage runs)."""
    return int(x).bit_count()


popcount = _popcount_python if nb.config.DISABLE_JIT else _popcount_intrinsic


@intrinsic
def stack_empty(typingctx, size, dtype):
    """Uninitialised buffer of ``size`` elements on the stack (``alloca`` in the function's entry block),
    aligned to 64 bytes.

    Use with a compile-time constant size through ``numba.carray(stack_empty(n, np.int16), (n,))``: LLVM can
    keep such a small buffer in vector registers, which a heap array (``np.empty``) never is.
    """
    def codegen(context, builder, signature, args):
        ty = context.get_value_type(dtype.dtype)
        ptr = cgutils.alloca_once(builder, ty, size=args[0])
        ptr.align = 64  # whole cache lines: vector loads never split, whatever the stack pointer is
        return ptr

    return types.CPointer(dtype.dtype)(types.int64, dtype), codegen


if nb.config.DISABLE_JIT:

    def stack_array(n, dtype):
        """Pure-Python stand-in: a heap array."""
        import numpy as np

        return np.empty(n, dtype)

else:

    @nb.njit(inline="always")
    def stack_array(n, dtype):
        """``n`` uninitialised elements of ``dtype`` on the caller's stack (inlined; n compile-time)."""
        return nb.carray(stack_empty(n, dtype), (n,))


def _data(context, builder, arr, arrty):
    """Data pointer of a numba array value (for the vector intrinsics below)."""
    return cgutils.create_struct_proxy(arrty)(context, builder, value=arr).data


def _vector_ptr(builder, ptr, index, vty):
    """``&ptr[index]`` as a pointer to the vector type ``vty`` (loads/stores then use ``align=1``)."""
    return builder.bitcast(builder.gep(ptr, [index]), vty.as_pointer())


@intrinsic
def _ge_mask64_intrinsic(typingctx, a, ia, b, ib):
    """uint64 with bit j = ``a[ia + j] >= b[ib + j]`` (signed), j < 64: one 64-lane vector compare."""
    ok = (isinstance(a, types.Array) and isinstance(b, types.Array) and a.dtype == b.dtype
          and isinstance(a.dtype, types.Integer) and a.layout == "C" and b.layout == "C")
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        vty = ir.VectorType(context.get_value_type(a.dtype), 64)
        va = builder.load(_vector_ptr(builder, _data(context, builder, args[0], a), args[1], vty), align=1)
        vb = builder.load(_vector_ptr(builder, _data(context, builder, args[2], b), args[3], vty), align=1)
        return builder.bitcast(builder.icmp_signed(">=", va, vb), ir.IntType(64))

    return types.uint64(a, ia, b, ib), codegen


def _ge_mask64_python(a, ia, b, ib) -> int:
    """Pure-Python ``ge_mask64`` used when ``NUMBA_DISABLE_JIT=1``."""
    return sum(1 << j for j in range(64) if a[ia + j] >= b[ib + j])


ge_mask64 = _ge_mask64_python if nb.config.DISABLE_JIT else _ge_mask64_intrinsic
"""``ge_mask64(a, ia, b, ib)``: bits ``a[ia + j] >= b[ib + j]``, j < 64, as one uint64. ``a`` and ``b``: same
integer dtype, C-contiguous; the caller guarantees 64 readable elements from ``ia`` and ``ib`` (a raw vector
load, no bounds check)."""


@intrinsic
def _sum_rows64_intrinsic(typingctx, table, o, p0, p1, off, acc, ia):
    """``acc[ia:ia+64] += Σ_{p0 <= p < p1} table[o[p] + off : +64]``: uint8 chains, int16 accumulator."""
    ok = (isinstance(table, types.Array) and table.dtype == types.uint8 and table.layout == "C"
          and isinstance(o, types.Array) and o.dtype == types.uint32 and o.layout == "C"
          and isinstance(acc, types.Array) and acc.dtype == types.int16 and acc.layout == "C")
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        vb, vw = ir.VectorType(ir.IntType(8), 64), ir.VectorType(ir.IntType(16), 64)
        td = _data(context, builder, args[0], table)
        od = _data(context, builder, args[1], o)
        start, stop, offset = (context.cast(builder, v, t, types.int64)
                               for v, t in zip((args[2], args[3], args[4]), signature.args[2:5], strict=True))
        chains = [cgutils.alloca_once_value(builder, ir.Constant(vb, None)) for _ in range(2)]

        def row(p):
            at = builder.add(builder.zext(builder.load(builder.gep(od, [p])), i64), offset)
            return builder.load(_vector_ptr(builder, td, at, vb), align=1)

        with cgutils.for_range_slice(builder, start, stop, i64(2), intp=i64) as (p, _):
            for c, q in enumerate((p, builder.add(p, i64(1)))):  # two independent chains (p1 - p0 even)
                builder.store(builder.add(builder.load(chains[c]), row(q)), chains[c])
        dst = _vector_ptr(builder, _data(context, builder, args[5], acc),
                          context.cast(builder, args[6], signature.args[6], types.int64), vw)
        total = builder.load(dst, align=1)
        for chain in chains:
            total = builder.add(total, builder.zext(builder.load(chain), vw))
        builder.store(total, dst, align=1)
        return context.get_dummy_value()

    return types.none(table, o, p0, p1, off, acc, ia), codegen


def _sum_rows64_python(table, o, p0, p1, off, acc, ia) -> None:
    """Pure-Python ``sum_rows64`` used when ``NUMBA_DISABLE_JIT=1`` (uint8 chains wrap as in the kernel)."""
    import numpy as np

    for first in (p0, p0 + 1):
        chain = np.zeros(64, np.uint8)
        for p in range(first, p1, 2):
            chain += table[int(o[p]) + off : int(o[p]) + off + 64]
        acc[ia : ia + 64] += chain


sum_rows64 = _sum_rows64_python if nb.config.DISABLE_JIT else _sum_rows64_intrinsic
"""``sum_rows64(table, o, p0, p1, off, acc, ia)``: add the 64-byte table rows ``table[o[p] + off:]``,
``p0 <= p < p1`` (``p1 - p0`` even), to the int16 ``acc[ia:ia + 64]``. The rows go into two uint8 chains
(even and odd p, so at most ``⌈(p1 - p0) / 2⌉`` rows each: the caller keeps their sum <= 255), widened once.
Explicit ``<64 x i8>`` vector IR: one ``vpaddb`` with a memory operand per row on zmm registers where the
target has AVX-512BW (LLVM's auto-vectoriser stops at 256 bits under the host's ``prefer-256-bit`` tuning),
two on AVX2. ``table``, ``o`` (uint32) and ``acc`` (int16) are C-contiguous; no bounds check."""


@intrinsic
def _byte_word_sum_intrinsic(typingctx, lut, base, x, mp, acc):
    """``acc[:64] = Σ_q lut[base + (256 q + byte_q(x)) mp : +64]`` over the 8 bytes of ``x``, as int8."""
    ok = (isinstance(lut, types.Array) and lut.dtype == types.uint8 and lut.layout == "C"
          and isinstance(acc, types.Array) and acc.dtype == types.int8 and acc.layout == "C"
          and isinstance(x, types.Integer) and x.bitwidth == 64)
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        vb = ir.VectorType(ir.IntType(8), 64)
        ld = _data(context, builder, args[0], lut)
        at0 = context.cast(builder, args[1], signature.args[1], types.int64)
        word = args[2]
        stride = context.cast(builder, args[3], signature.args[3], types.int64)
        chains = []
        for q in range(8):  # two independent chains (even and odd bytes), 4 rows each
            byte = builder.and_(builder.lshr(word, i64(8 * q)), i64(255))
            at = builder.add(at0, builder.mul(builder.add(byte, i64(256 * q)), stride))
            row = builder.load(_vector_ptr(builder, ld, at, vb), align=1)
            if q < 2:
                chains.append(row)
            else:
                chains[q & 1] = builder.add(chains[q & 1], row)
        dst = _vector_ptr(builder, _data(context, builder, args[4], acc), i64(0), vb)
        builder.store(builder.add(chains[0], chains[1]), dst, align=1)
        return context.get_dummy_value()

    return types.none(lut, base, x, mp, acc), codegen


def _byte_word_sum_python(lut, base, x, mp, acc) -> None:
    """Pure-Python ``byte_word_sum`` used when ``NUMBA_DISABLE_JIT=1``."""
    import numpy as np

    total = np.zeros(64, np.int64)
    for q in range(8):
        at = int(base) + (256 * q + (int(x) >> (8 * q) & 255)) * int(mp)
        total += lut[at : at + 64]
    acc[:64] = total.astype(np.uint8).view(np.int8)


byte_word_sum = _byte_word_sum_python if nb.config.DISABLE_JIT else _byte_word_sum_intrinsic
"""``byte_word_sum(lut, base, x, mp, acc)``: ``acc[j] = Σ_{q<8} lut[base + (256 q + v_q) mp + j]``, j < 64,
with ``v_q`` byte q of the uint64 ``x``: the agreeing bits of a one-word input against 64 neurons of a later
layer (its 8 byte tables, rows of ``mp`` bytes). Two int8 chains of 4 rows each, in explicit ``<64 x i8>`` IR
(one zmm ``vpaddb`` with a memory operand per row on AVX-512BW, two ymm on AVX2); the caller keeps the sum
<= 127.
``lut`` (uint8) and ``acc`` (int8) are C-contiguous; no bounds check."""


def _literal(t) -> int | None:
    return t.literal_value if isinstance(t, types.IntegerLiteral) else None


@intrinsic(prefer_literal=True)
def _lane_codes_intrinsic(typingctx, x, start, h, edges, o, seen, HP, G, B, LANE, ROW):
    """One row of the engine's first pass in explicit vector IR (``<8 x float>`` / ``<8 x i32>`` chunks)."""
    consts = [_literal(t) for t in (HP, G, B, LANE, ROW)]
    ok = (isinstance(x, types.Array) and isinstance(edges, types.Array) and x.dtype == edges.dtype
          and isinstance(x.dtype, types.Float) and None not in consts)
    if not ok:
        return None
    hp, g_n, b_n, lane, row = consts

    def codegen(context, builder, signature, args):
        xa, st, hh, ea, oa, sa = args[:6]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        ft = context.get_value_type(x.dtype)
        w = 8  # lanes per vector: a power of two (HP is a multiple of 8); <24 x float> legalised badly
        vf, vi = ir.VectorType(ft, w), ir.VectorType(i32, w)

        def vptr(ptr, index, vty):
            return _vector_ptr(builder, ptr, index, vty)

        def splat(value):
            return ir.Constant(vi, [i32(value)] * w)

        xd, ed = _data(context, builder, xa, x), _data(context, builder, ea, edges)
        od, sd = _data(context, builder, oa, o), _data(context, builder, sa, seen)
        bits = 32 if x.dtype == types.float32 else 64
        fabs_name = f"llvm.fabs.v{w}f{bits}"
        fabs = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vf, [vf]), fabs_name)
        inf = ir.Constant(vf, [ft(float("inf"))] * w)
        # float64 without AVX-512: a <4 x double> compare gives <4 x i64> masks; taking the low 32 bits of
        # two of them is an in-lane shuffle (vshufps) if the lanes stay in the order of ``pack``, which the
        # codes then keep until one permute per chunk (LLVM's own lowering permuted after every compare)
        halves = bits == 64 and target_has_avx2() and not target_has_avx512()  # x86 only

        def mask(values):
            return ir.Constant(ir.VectorType(i32, len(values)), [i32(v) for v in values])

        vd = ir.VectorType(ir.DoubleType(), 4)
        if halves:  # the x86 compare itself: LLVM merged two plain fcmp halves back into one and split it
            cmppd = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vd, [vd, vd, ir.IntType(8)]), "llvm.x86.avx.cmp.pd.256")
            fabs4 = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vd, [vd]),
                                                   "llvm.fabs.v4f64")
            inf4 = ir.Constant(vd, [float("inf")] * 4)
        pack = mask([0, 2, 8, 10, 4, 6, 12, 14])  # lanes 0 1 4 5 2 3 6 7
        unpack = mask([0, 1, 4, 5, 2, 3, 6, 7])
        for c in range(0, hp, w):
            bad = builder.load(vptr(sd, i64(c), vi), align=1)
            if halves:  # into the order of ``pack`` (the permutation is its own inverse)
                bad = builder.shuffle_vector(bad, bad, unpack)
            code = splat(0)
            for g in range(g_n):
                start = builder.add(builder.add(st, builder.mul(hh, ir.Constant(hh.type, g))), i64(c))
                count = splat(0)
                if halves:  # NaN or ±inf: |x| == inf, unordered (predicate 8), in the order of ``pack``
                    xh = [builder.load(vptr(xd, builder.add(start, i64(4 * k)), vd), align=1)
                          for k in range(2)]
                    nf = [builder.bitcast(builder.call(
                        cmppd, [builder.call(fabs4, [v]), inf4, ir.IntType(8)(8)]), vi) for v in xh]
                    bad = builder.sub(bad, builder.shuffle_vector(nf[0], nf[1], pack))
                else:
                    xv = builder.load(vptr(xd, start, vf), align=1)
                    nonfinite = builder.fcmp_unordered("==", builder.call(fabs, [xv]), inf)  # NaN or ±inf
                    bad = builder.sub(bad, builder.sext(nonfinite, vi))
                for b in range(b_n):
                    at = (g * b_n + b) * hp + c
                    if halves:  # lanes in the order of ``pack``: no cross-lane permute per edge
                        ge = [builder.bitcast(builder.call(cmppd, [
                            xh[k], builder.load(vptr(ed, i64(at + 4 * k), vd), align=1), ir.IntType(8)(29)]),
                            vi) for k in range(2)]  # predicate 29: x >= e, ordered and quiet (NaN: false)
                        count = builder.sub(count, builder.shuffle_vector(ge[0], ge[1], pack))
                    else:
                        ev = builder.load(vptr(ed, i64(at), vf), align=1)
                        count = builder.sub(count, builder.sext(builder.fcmp_ordered(">=", xv, ev), vi))
                code = builder.add(builder.mul(code, splat(b_n + 1)), count) if g else count
            if halves:  # back to lane order, once per chunk
                code = builder.shuffle_vector(code, code, unpack)
                bad = builder.shuffle_vector(bad, bad, unpack)
            base = ir.Constant(vi, [i32((c + p) * lane) for p in range(w)])
            builder.store(builder.add(base, builder.mul(code, splat(row))), vptr(od, i64(c), vi), align=1)
            builder.store(bad, vptr(sd, i64(c), vi), align=1)
        return context.get_dummy_value()

    return types.none(x, start, h, edges, o, seen, HP, G, B, LANE, ROW), codegen


def _lane_codes_python(x, start, h, edges, o, seen, HP, G, B, LANE, ROW) -> None:
    """Pure-Python ``lane_codes`` used when ``NUMBA_DISABLE_JIT=1``."""
    import numpy as np

    code = np.zeros(HP, dtype=np.int64)
    for g in range(G):
        v = x[start + g * h : start + g * h + HP]
        seen[:HP] += ~np.isfinite(v)
        code = code * (B + 1) + (v[None, :] >= edges[g, :B, :HP]).sum(axis=0)
    o[:HP] = np.arange(HP) * LANE + code * ROW


lane_codes = _lane_codes_python if nb.config.DISABLE_JIT else _lane_codes_intrinsic
"""``lane_codes(x, start, h, edges, o, seen, HP, G, B, LANE, ROW)``: pass 1 of the fused engine for one row.

Lane p < HP of slot g < G reads ``v = x[start + g·h + p]``; its code ``c_g`` is the number of edges
``edges[g, b, p]`` (b < B) with ``v >= edge``; ``o[p] = p·LANE + (Σ_g c_g (B+1)^(G−1−g))·ROW`` and ``seen[p]``
grows by the number of non-finite values. HP, G, B, LANE, ROW must be compile-time constants; every lane is
a 32-bit integer in explicit vector IR (``fcmp``, ``sext``, ``sub`` per edge), whatever LLVM's cost model
would pick for a plain loop (on AVX2 it widened the counts to 64 bits and ran 2x slower). float64 input on a
target without AVX-512 compares 4 lanes at a time with the x86 ``vcmppd`` itself and joins two results with
one in-lane ``vshufps``, the lanes permuted until one permute per chunk (1.18-1.22x the float64 engine)."""


_AVX2_CPUS = ("haswell", "broadwell", "skylake", "cascadelake", "cooperlake", "skylake-avx512", "alderlake",
              "znver1", "znver2", "znver3")


def target_has_avx2() -> bool:
    """Whether numba's target has AVX2 (see :func:`target_features`).

    A CPU named with an empty feature list counts as AVX2 only if it is one of a few known AVX2 names
    (``haswell`` and later Intel cores, AMD Zen 1-3): other names get the portable code.
    """
    features = target_features()
    if features is None:
        return _target_cpu_name() in _AVX2_CPUS + _VECTOR_POPCOUNT_CPUS
    return "+avx2" in features

