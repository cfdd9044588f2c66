"""Atomic file and folder replacement shared by every writer of the project.

Rules every writer gets from here, once:

* a reader sees the old complete file (folder) or the new complete one, never a partial write;
* a new file gets the usual mode ``0o666 & ~umask`` (``0644`` under umask 022); a replaced one keeps its mode;
* a symbolic link at the target stays a link: the file (folder) it points to is replaced;
* temporary names are short (``.sqnn-tmp-<pid>-<random>``), so a target name of up to the file system's limit
  (255 bytes) works, and temporaries that a killed process left behind are removed by the next write into the
  same folder (only names with that prefix, whose process is gone and which are older than a minute);
* :func:`check_not_input` refuses to write an output over an input file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

TMP_PREFIX = ".sqnn-tmp-"
_TMP_RE = re.compile(re.escape(TMP_PREFIX) + r"(\d+)-[0-9a-f]{8}(\.[A-Za-z0-9._-]{0,16})?$")
STALE_SECONDS = 60.0  # a temporary of a dead process younger than this is left alone (clock skew, NFS)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep it
    return True


def clean_stale_temporaries(folder, *, now: float | None = None) -> list[Path]:
    """Remove temporaries named ``.sqnn-tmp-<pid>-<hex>[.suffix]`` whose writer is gone; return them.

    A temporary is stale when its process no longer runs and it was last modified more than
    :data:`STALE_SECONDS` ago. Nothing else in ``folder`` is touched.
    """
    folder = Path(folder)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if not m:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_uid != os.getuid() or now - st.st_mtime < STALE_SECONDS or _pid_alive(int(m.group(1))):
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def temporary_name(suffix: str = "") -> str:
    """A short hidden name ``.sqnn-tmp-<pid>-<8 hex>`` + ``suffix`` (recognised by the stale cleanup)."""
    return f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def resolve_target(path) -> Path:
    """The absolute path to write: ``path`` itself, or what it points to if it is a symbolic link."""
    path = Path(os.path.abspath(path))
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def fsync_dir(path: Path) -> None:
    """fsync a folder (makes a rename inside it durable); silently skipped where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # not thread-safe, but only reached where /proc is missing
    os.umask(mask)
    return mask


def new_mode(target: Path, default: int = 0o666) -> int:
    """Mode for a file (folder: ``default=0o777``) replacing ``target``: its mode, else default & ~umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return default & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it onto ``path``.

    A reader sees either the old complete file or the new complete one, never a partial write. If the body
    raises (or the process is interrupted), the temporary file is removed and ``path`` is left untouched.
    The new file gets ``0o666 & ~umask``, or the mode of the file it replaces; if ``path`` is a symbolic
    link, the file it points to is replaced and the link stays.
    """
    target = resolve_target(path)
    if target.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(target.parent)
    mode = new_mode(target)
    while True:
        tmp = target.parent / temporary_name(suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        break
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_not_input(out, *inputs, what: str = "output") -> None:
    """Raise ``ValueError`` if ``out`` is (a link to) one of the ``inputs``: writing it would destroy it."""
    out = Path(out)
    if not out.exists():
        return
    for inp in inputs:
        if inp is None:
            continue
        try:
            same = os.path.samefile(out, inp)
        except OSError:
            continue
        if same:
            raise ValueError(f"{out}: the {what} would overwrite the input file {inp}; choose another path")
