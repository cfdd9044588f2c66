"""The on-disk cache of compiled kernels: stable keys across processes; a broken cache never breaks a kernel.

numba's own ``FunctionCache`` keys an entry by the signature, the target CPU, the function's bytecode and a
pickle of its closure cells. A cell holding another jitted function pickles with that dispatcher's random
per-process id, so a kernel made by a factory (``engine._kernel``: the block kernel captures its helpers)
never found its entry again: every new process compiled it anew and appended another copy to the cache folder.
:class:`KernelCache` keys a captured function by what fixes its code instead: module, qualified name,
bytecode and, recursively, its own closure. The key also holds the size and modification time of every module
of this package, so editing a helper invalidates the kernels that inline it (numba tracks only the kernel's
own file).

A cache that cannot be read or written (a corrupt index or data file, a full disk, a read-only folder) does
not stop the kernel: it is compiled in memory instead, with one :class:`KernelCacheWarning` per process
naming the folder and the error.
"""

from __future__ import annotations

import hashlib
import threading
import types
import warnings
from pathlib import Path

from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher
from numba.core.serialize import dumps


class KernelCacheWarning(RuntimeWarning):
    """The numba disk cache could not be used: kernels compiled in memory (slower start, same results)."""


def _package_stamp() -> str:
    """Name, size and mtime of every module of this package (any edit changes every key)."""
    here = Path(__file__).parent
    parts = []
    for path in sorted(here.glob("*.py")):
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_PACKAGE_STAMP = _package_stamp()


def _token(value) -> bytes:
    """Bytes that identify a closure cell's value the same way in every process."""
    if isinstance(value, Dispatcher):
        return b"D" + function_digest(value.py_func).encode()
    if isinstance(value, types.FunctionType):
        return b"F" + function_digest(value).encode()
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value).encode()
    return dumps(value)  # numba's default for anything else


def function_digest(fn: types.FunctionType) -> str:
    """sha256 of a function's module, qualified name, bytecode and (recursively) closure cells."""
    h = hashlib.sha256()
    h.update(f"{fn.__module__}.{fn.__qualname__}".encode())
    h.update(fn.__code__.co_code)
    for cell in fn.__closure__ or ():
        h.update(_token(cell.cell_contents))
    return h.hexdigest()


_warn_lock = threading.Lock()
_warned = False


def _fall_back(where: str, exc: BaseException) -> None:
    """Warn (once per process) that the disk cache ``where`` failed and the kernel is compiled in memory."""
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        f"the numba kernel cache {where} is unusable ({type(exc).__name__}: {exc}); compiling in "
        "memory instead (same results, slower start). Delete that folder or set NUMBA_CACHE_DIR to a "
        "writable one.", KernelCacheWarning, stacklevel=4)


class KernelCache(FunctionCache):
    """numba's per-function disk cache with a process-independent key and a fallback on any cache error."""

    def _index_key(self, sig, codegen):
        return (sig, codegen.magic_tuple(), (function_digest(self._py_func), _PACKAGE_STAMP))

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # corrupt pickles raise many types; a save may still repair the entry
            _fall_back(repr(self.cache_path), exc)
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # full disk, read-only folder, unreadable index: keep it in memory
            self.disable()
            _fall_back(repr(self.cache_path), exc)


def enable_disk_cache(disp: Dispatcher) -> Dispatcher:
    """Give ``disp`` a :class:`KernelCache` (in place; returned for decorator use). A plain function
    (``NUMBA_DISABLE_JIT=1``) is returned unchanged."""
    if not isinstance(disp, Dispatcher):
        return disp
    try:
        disp._cache = KernelCache(disp.py_func)
    except Exception as exc:  # numba found no usable cache folder: stay in memory
        _fall_back("(no writable folder: set NUMBA_CACHE_DIR)", exc)
    return disp
