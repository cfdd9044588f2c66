"""Compiling kernels in a helper process, so that the caller's process never holds numba's compiler.

A kernel compiled in a process stays in that process's memory with everything numba and LLVM built for
it: the compiler's registries and target set-up (~60 MB, once), each kernel's LLVM module and typing
artefacts (5-17 MB per training kernel; measured with numba's compile events and ``/proc/self/statm``).
A fit on an empty cache compiles 14 kernels and their numpy helpers and so kept ~160 MB more than the same
fit loading them from the cache (445 against 318 MB peak, 50k rows, 64-64). Machine code loaded from the
disk cache costs almost nothing.

Inside :func:`compile_elsewhere`, a kernel that misses the disk cache is therefore compiled by a helper
process (:func:`_serve` in a new interpreter, started at the first miss, stopped when the outermost
block ends), which writes it to the same cache; the caller then loads it as a warm process does
(:meth:`._cache.KernelDispatcher._compile_for_args`). The kernel travels as numba's own pickle of the
dispatcher (``numba.core.serialize``: the Python function by reference or, for a factory's closure, by
value) with the argument types; warnings the compile raises are raised again in the caller. The same
machine code results, since the helper compiles the same function for the same target under the same
environment (numba's cache folder and target as set in the caller, and ``sys.path``, are passed on).

Anything that goes wrong (no cache folder, a helper that cannot start or dies, a compile error, an entry
the caller cannot load) ends in numba's own in-process compile, which raises the real error if there is
one. ``SQNN_COMPILE_HELPER=0`` turns the helper off.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator

_HEADER = struct.Struct("<Q")


def enabled() -> bool:
    """Whether misses are compiled in a helper process now (inside :func:`compile_elsewhere`)."""
    return _depth > 0 and os.environ.get("SQNN_COMPILE_HELPER", "1") != "0"


class _Helper:
    """One helper process and its pipes; ``compile`` sends (dispatcher, signature), reads the outcome."""

    def __init__(self) -> None:
        import numba

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        for name in ("CACHE_DIR", "CPU_NAME", "CPU_FEATURES"):  # numba as set here
            value = getattr(numba.config, name)
            if value is not None and (value or name == "CPU_FEATURES"):  # "" features: the named CPU's
                env[f"NUMBA_{name}"] = str(value)
        self.proc = subprocess.Popen([sys.executable, "-c", f"import {__name__} as h; h._serve()"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)

    def compile(self, dispatcher, sig: tuple) -> bool:
        from numba.core.serialize import dumps

        blob = dumps((dispatcher, sig))
        self.proc.stdin.write(_HEADER.pack(len(blob)) + blob)
        self.proc.stdin.flush()
        ok, caught = _read(self.proc.stdout)
        for category, message in caught:
            warnings.warn(message, category, stacklevel=5)
        return ok

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_lock = threading.Lock()
_depth = 0
_helper: _Helper | None = None
_broken = False  # a helper failed in this block: compile in process until it ends


@contextlib.contextmanager
def compile_elsewhere() -> Iterator[None]:
    """Within this block (re-entrant, any thread), compile cache misses in a helper process."""
    global _depth, _helper, _broken
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _helper is not None:
                    _helper.close()
                _helper, _broken = None, False


def compile_in_helper(dispatcher, sig: tuple) -> bool:
    """Compile ``dispatcher`` for argument types ``sig`` into the disk cache in the helper process.
    False if that did not happen (the caller then compiles in process)."""
    global _helper, _broken
    with _lock:
        if _broken or _depth == 0:
            return False
        try:
            if _helper is None:
                _helper = _Helper()
            return _helper.compile(dispatcher, sig)
        except (OSError, EOFError, pickle.PickleError, TypeError, AttributeError):
            _broken = True
            if _helper is not None:
                _helper.proc.kill()
            return False


def _read(stream) -> tuple:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the compile helper exited")
    return pickle.loads(stream.read(_HEADER.unpack(head)[0]))


def _picklable(category: type) -> type:
    """``category``, or RuntimeWarning if the caller could not unpickle it (a class defined in a function)."""
    try:
        return category if pickle.loads(pickle.dumps(category)) is category else RuntimeWarning
    except Exception:
        return RuntimeWarning


def _serve() -> None:
    """The helper's loop: read (dispatcher, signature), compile into the disk cache, answer
    ``(ok, [(warning category, message), ...])``. Ends when its input closes."""
    import importlib

    from ._cache import enable_disk_cache

    importlib.import_module("numba.core.serialize")  # numba's pickle support, before the first load
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not reach the reply pipe
    while True:
        try:
            dispatcher, sig = _read(sys.stdin.buffer)
        except EOFError:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                enable_disk_cache(dispatcher)
                dispatcher.compile(sig)
                ok = True
            except Exception:  # the caller compiles it again in process and raises the real error
                ok = False
        answer = pickle.dumps((ok, [(_picklable(w.category), str(w.message)) for w in caught]))
        replies.write(_HEADER.pack(len(answer)) + answer)
        replies.flush()
