"""Project-wide numba options and the one popcount intrinsic.

All kernels are compiled for the host CPU (numba's default ``-march=native``) and cached on disk.
``popcount`` lowers to LLVM's ``llvm.ctpop.i64``; inside a loop over contiguous words LLVM vectorises it
(``vpopcntq`` on AVX-512 VPOPCNTDQ, a nibble-LUT ``vpshufb`` sequence on AVX2).
"""

from __future__ import annotations

import types as types_module

import numba as nb
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

JIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def jit(*args, **kwargs):
    """``numba.njit`` with the project's options (``cache=True``, ``nogil=True``)."""
    options = {**JIT_OPTIONS, **kwargs}
    return nb.njit(*args, **options)


def pjit(*args, **kwargs):
    """``jit`` with ``parallel=True`` for kernels that ``prange`` over rows or fixed-size chunks."""
    options = {**JIT_OPTIONS, "parallel": True, **kwargs}
    return nb.njit(*args, **options)


PARALLEL_MIN_WORK = 1 << 20  # below ~1 ms of work, waking worker threads costs more than it saves


class Dual:
    """One kernel source compiled twice: serial for small calls, ``parallel=True`` for large ones.

    ``kernel(work, *args)`` runs the parallel build when ``work >= PARALLEL_MIN_WORK`` (``work`` counts
    elementary operations). Both builds compute the same result; only the thread fan-out differs.
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
        return (self.parallel if work >= PARALLEL_MIN_WORK else self.serial)(*args)


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
    """Uninitialised buffer of ``size`` elements on the stack (``alloca`` in the function's entry block).

    Use with a compile-time constant size through ``numba.carray(stack_empty(n, np.int16), (n,))``: LLVM can
    keep such a small buffer in vector registers, which a heap array (``np.empty``) never is.
    """
    def codegen(context, builder, signature, args):
        ty = context.get_value_type(dtype.dtype)
        return cgutils.alloca_once(builder, ty, size=args[0])

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
