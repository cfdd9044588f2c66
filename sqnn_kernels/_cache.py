"""The on-disk cache of compiled kernels: stable keys across processes; a broken cache never breaks a kernel.

numba's own ``FunctionCache`` keys an entry by the signature, the target CPU, the function's bytecode and a
pickle of its closure cells. A cell holding another jitted function pickles with that dispatcher's random
per-process id, so a kernel made by a factory (``engine._kernel``: the block kernel captures its helpers)
never found its entry again: every new process compiled it anew and appended another copy to the cache folder.
:class:`KernelCache` keys a captured function by what fixes its code instead: module, qualified name,
bytecode and, recursively, its own closure. The key also holds the size and modification time of every module
of this package, so editing a helper invalidates the kernels that inline it (numba tracks only the kernel's
own file).

Every data file is named after, and holds, the key it was compiled for (:class:`_KeyedCacheFile`). numba
numbers data files from the index it last read, so two processes compiling kernels of one factory at once
(dask workers, batch jobs, a test run beside a benchmark) could leave one kernel's machine code under the
other's entry, and a later process would run the wrong kernel; here a file is used only by its own key.

Machine code from different processes shares one process once loaded, and numba names its symbols by the
function's qualified name, argument types and a per-process counter (``FunctionIdentity``'s unique id, 1,
2, ... in compile order). Two processes compiling two kernels of one factory in the same order gave both the
same symbol names; a helper linked into a kernel (the engine's ``block``) is a weak symbol, so a process that
loaded both kernels ran the first one's helper for the second kernel: wrong scores, silently. Importing this
module therefore starts the counter at a random 62-bit value, drawn anew in every process and after every
``fork``, so symbols of code compiled in different processes never meet (:func:`_distinct_symbol_ids`).

A cache that cannot be read or written (a corrupt index or data file, a full disk, a read-only folder) does
not stop the kernel: it is compiled in memory instead, with one :class:`KernelCacheWarning` per process
naming the folder and the error.

Loading is quick (:class:`KernelDispatcher`): before numba loads even a cached entry, its dispatcher runs
every ``numba_extensions`` entry point of the environment (awkward's imports awkward and pyarrow) and
refreshes its compiler registries (which import scipy.linalg and the whole numba library of typed
implementations), about 0.5-1 s in a new process. Machine code read from the cache needs none of that: only
numba's runtime (NRT) symbols it links against. A kernel's first call with new argument types therefore
looks for its cache entry first, with only the runtime set up, and takes numba's full path (entry points,
registries, compile) only on a miss. Numba's state is otherwise left as it was: the entry points and
registries still load, once, when anything is compiled.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import threading
import types
import warnings
from pathlib import Path

from numba.core.bytecode import FunctionIdentity
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher, OmittedArg
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys
from numba.core.serialize import dumps
from numba.core.typing.typeof import Purpose, typeof

from . import _compile_helper


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


def _distinct_symbol_ids() -> None:
    """Start numba's function ids (the ``v<id>`` tag of every compiled symbol) at a random 62-bit value.

    Code compiled in another process and loaded from the cache then never shares a symbol name with code
    compiled here or loaded from a third process (a collision needs two draws within the number of compiles
    of each other: probability ~ compiles / 2^61). Called at import and in every forked child.
    """
    FunctionIdentity._unique_ids = itertools.count(secrets.randbits(62) + 1)


_distinct_symbol_ids()
os.register_at_fork(after_in_child=_distinct_symbol_ids)


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


class _KeyedCacheFile(IndexDataCacheFile):
    """numba's index + data files, with each data file named by a hash of its key and holding that key.

    ``load`` returns an entry only if the file holds the same key and the same source stamp, so a file left
    by a concurrent writer of another kernel or another source version is recompiled, never run.
    """

    def _keyed_name(self, key) -> tuple[str, str]:
        tag = repr((key, self._source_stamp))
        digest = hashlib.sha256(tag.encode()).hexdigest()[:20]
        return tag, self._data_name_pattern.replace("{number:d}", digest)

    def save(self, key, data):
        tag, name = self._keyed_name(key)
        self._save_data(name, (tag, data))  # the data first: an index entry never names a missing file
        overloads = self._load_index()
        if overloads.get(key) != name:
            overloads[key] = name
            self._save_index(overloads)

    def load(self, key):
        tag, name = self._keyed_name(key)
        if self._load_index().get(key) != name:
            return None
        try:
            stored = self._load_data(name)
        except OSError:  # removed while the index still named it
            return None
        if not (isinstance(stored, tuple) and len(stored) == 2 and stored[0] == tag):
            return None  # another kernel's or another version's code under this name
        return stored[1]


class KernelCache(FunctionCache):
    """numba's per-function disk cache with a process-independent key, data files checked against their
    key (:class:`_KeyedCacheFile`), and a fallback on any cache error."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = _KeyedCacheFile(self._cache_path, self._impl.filename_base,
                                           self._impl.locator.get_source_stamp())

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

    def load_compiled(self, sig, target_context):
        """The cached entry for ``sig``, or None, with only numba's runtime initialised (not its compiler
        registries, which cached machine code does not use). Any error is left to :meth:`load_overload`,
        which the caller's full path then runs (and reports)."""
        rtsys.initialize(target_context)  # the NRT symbols (allocation, reference counts) the code links to
        try:
            return self._load_overload(sig, target_context)
        except Exception:
            return None


class KernelDispatcher(CPUDispatcher):
    """numba's CPU dispatcher whose first call with new argument types loads the cached machine code
    without numba's compiler set-up (see the module docstring); on a cache miss, numba's own path."""

    def _compile_for_args(self, *args, **kws):
        sig = None if kws else self._cacheable_signature(args)
        entry = None if sig is None else self._load_compiled(sig)
        if entry is None and sig is not None and _compile_helper.enabled():
            if _compile_helper.compile_in_helper(self, sig):  # see :mod:`._compile_helper`
                entry = self._load_compiled(sig)
        return entry if entry is not None else super()._compile_for_args(*args, **kws)

    def _cacheable_signature(self, args) -> tuple | None:
        """The argument types of ``args`` as numba's own path types them, if this dispatcher has a usable
        disk cache and every argument has a type; else None (numba's own path then reports it)."""
        cache = self._cache
        if not (self._can_compile and isinstance(cache, KernelCache) and cache._enabled):
            return None
        argtypes = []
        for value in args:
            if isinstance(value, OmittedArg):
                return None
            try:
                argtype = typeof(value, Purpose.argument)  # as numba's own path types the arguments
            except Exception:  # numba's own path reports it (or an extension it loads types the value)
                return None
            if argtype is None:
                return None
            argtypes.append(argtype)
        return tuple(argtypes)

    def _load_compiled(self, sig: tuple):
        """The entry point for argument types ``sig`` (loaded already, or from the disk cache), or None."""
        cache = self._cache
        with global_compiler_lock:  # as numba's ``compile``: one loader or compiler at a time
            existing = self.overloads.get(sig)
            if existing is not None:
                return existing.entry_point
            cres = cache.load_compiled(sig, self.targetctx)
            if cres is None:
                return None
            self._cache_hits[sig] += 1
            if not cres.objectmode:
                self.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            self.add_overload(cres)
            return cres.entry_point


def kernel_dispatcher(fn: types.FunctionType, options: dict) -> Dispatcher:
    """``numba.njit(**options)(fn)`` as a :class:`KernelDispatcher` with a :class:`KernelCache`."""
    options = dict(options)
    local_types = options.pop("locals", {})
    targetoptions = {**options, "nopython": True, "boundscheck": options.get("boundscheck")}
    return enable_disk_cache(KernelDispatcher(py_func=fn, locals=local_types, targetoptions=targetoptions))


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
