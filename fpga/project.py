"""The one function that touches disk (:func:`write_project`), its checker and the CLI entry point."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from sqnn_kernels.fileio import (
    clean_stale_temporaries,
    fsync_dir,
    new_mode,
    resolve_target,
    temporary_name,
)
from sqnn_kernels.spec import BinaryNetSpec

from .render import MANIFEST, render_project
from .stochastic import StochasticConfig

# files that sqnn's own tools write into a project folder (fpga.synthesize_netlist, fpga.estimate_resources):
# derived from the project, so a re-export may replace them with the folder
NETLIST = "sqnn_core_netlist.v"
REPORT = "resources_{target}.rpt"
_DERIVED = re.compile(r"sqnn_core_netlist\.v|resources_[A-Za-z0-9_]+\.rpt")

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def check_replaceable(outdir) -> None:
    """Raise ``ValueError`` unless ``outdir`` may be replaced whole: absent, empty, or exactly our project.

    "Our project" means a ``manifest.json`` written by :func:`write_project` (format ``sqnn-fpga-project``)
    and, besides it, only the files that manifest lists, each unaltered (sha256 as recorded), and the reports
    sqnn's own tools write there (``sqnn_core_netlist.v``, ``resources_<target>.rpt``). Anything else
    (a file or folder the user added, an edited file, a foreign ``manifest.json``) is named in the error, and
    nothing is deleted.
    """
    outdir = Path(outdir)
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise ValueError(f"{outdir} exists and is not a directory")
    entries = sorted(os.listdir(outdir))
    if not entries:
        return
    if MANIFEST not in entries:
        shown = ", ".join(entries[:10]) + (" ..." if len(entries) > 10 else "")
        raise ValueError(
            f"{outdir} is a non-empty folder that is not an sqnn FPGA project (no {MANIFEST}; it holds "
            f"{shown}); refusing to replace it; choose an empty or new folder"
        )
    try:
        manifest = read_manifest(outdir)
    except ValueError as err:
        shown = ", ".join(entries[:10]) + (" ..." if len(entries) > 10 else "")
        raise ValueError(
            f"{outdir} is not an sqnn FPGA project ({err}; it holds {shown}); refusing to replace it; "
            "choose an empty or new folder"
        ) from None
    listed = manifest["files"]
    unexpected = [
        e for e in entries
        if e != MANIFEST and e not in listed and not (_DERIVED.fullmatch(e) and (outdir / e).is_file())
    ]
    altered = []
    for name in entries:
        if name in listed:
            path = outdir / name
            if path.is_symlink() or not path.is_file():
                unexpected.append(name)
            elif hashlib.sha256(path.read_bytes()).hexdigest() != listed[name]:
                altered.append(name)
    if unexpected or altered:
        parts = []
        if unexpected:
            parts.append("files not written by sqnn: " + ", ".join(sorted(set(unexpected))))
        if altered:
            parts.append("files changed since export: " + ", ".join(altered))
        raise ValueError(
            f"{outdir} holds {'; '.join(parts)}; refusing to replace the folder "
            "(move them away or choose another folder)"
        )


def write_project(
    spec: BinaryNetSpec,
    outdir,
    feature_bits: int = 16,
    frac_bits: int | Sequence[int] | None = None,
    *,
    coe: bool = True,
    mif: bool = True,
    stochastic: StochasticConfig | None = None,
) -> Path:
    """Write a complete, self-contained FPGA project folder for ``spec`` atomically.

    The files (see :func:`fpga.render_project`) are written to a temporary sibling directory, flushed to
    disk, and swapped with ``outdir`` in one atomic ``renameat2(RENAME_EXCHANGE)`` (or, where that is not
    available, two renames): a reader sees either the old complete folder or the new complete one.

    Parameters
    ----------
    spec : BinaryNetSpec
        The model.
    outdir : path-like
        Target folder. An existing folder is replaced only if it is empty or exactly an earlier export (see
        :func:`check_replaceable`); anything else raises ``ValueError`` naming the files that are in the way,
        rather than deleting user files. A symbolic link is kept: the folder it points to is replaced.
    feature_bits : int
        Width of each input feature (two's complement).
    frac_bits : int, sequence of int or None
        Fractional bits of the inputs, for all features or one per feature; None picks, per feature, the
        finest grid on which every edge is representable with one bit of headroom (:func:`auto_frac_bits`).
    coe, mif : bool
        Also write Xilinx ``.coe`` / Intel ``.mif`` copies of the ROMs.
    stochastic : StochasticConfig, optional
        Build the optional stochastic mode (hidden neurons sample Bernoulli(θ) from per-neuron LFSRs).

    Returns
    -------
    pathlib.Path
        ``outdir`` (absolute; a symbolic link is not resolved).
    """
    shown = Path(os.path.abspath(outdir))
    outdir = resolve_target(outdir)  # a symbolic link stays: the folder it points to is replaced
    files = render_project(spec, feature_bits, frac_bits, coe=coe, mif=mif, stochastic=stochastic)
    check_replaceable(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(outdir.parent)
    mode = new_mode(outdir, 0o777)
    tmp = outdir.parent / temporary_name()
    os.mkdir(tmp, 0o700)
    try:
        for name, text in files.items():
            with open(tmp / name, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        fsync_dir(tmp)
        if not outdir.exists():
            try:
                os.rename(tmp, outdir)
            except OSError:
                if not outdir.exists():
                    raise
                # someone created it meanwhile: fall through to the exchange
            else:
                fsync_dir(outdir.parent)
                return shown
        check_replaceable(outdir)
        if _exchange(tmp, outdir):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder (checked: only our files)
        else:
            old = outdir.parent / temporary_name()
            os.rename(outdir, old)
            os.rename(tmp, outdir)
            shutil.rmtree(old, ignore_errors=True)
        fsync_dir(outdir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return shown


def read_manifest(outdir) -> dict:
    """Load and sanity-check ``manifest.json`` of a project folder (``ValueError`` if missing/corrupt)."""
    path = Path(outdir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{outdir}: not an sqnn FPGA project (missing {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: corrupt manifest ({err})") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != "sqnn-fpga-project"
        or not isinstance(manifest.get("files"), dict)
    ):
        raise ValueError(f"{path}: not an sqnn FPGA project manifest")
    return manifest


def verify_project(outdir, spec: BinaryNetSpec | None = None) -> None:
    """Check that a project folder is complete, unaltered and (if ``spec`` is given) generated from ``spec``.

    Every file listed in the manifest must exist with the recorded sha256; with ``spec``, the folder is
    re-rendered with the manifest's fixed-point format and every file must match the rendering exactly.

    Raises
    ------
    ValueError
        Naming every missing, truncated or altered file.
    """
    outdir = Path(outdir)
    manifest = read_manifest(outdir)
    problems = []
    for name, digest in sorted(manifest["files"].items()):
        path = outdir / name
        if not path.is_file():
            problems.append(f"missing file {name}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"altered or truncated file {name} (sha256 mismatch)")
    if spec is not None:
        expected = render_project(
            spec,
            manifest.get("feature_bits", 16),
            manifest.get("frac_bits"),
            coe=any(n.endswith(".coe") for n in manifest["files"]),
            mif=any(n.endswith(".mif") for n in manifest["files"]),
            stochastic=StochasticConfig(**st) if (st := manifest.get("stochastic")) else None,
        )
        for name, text in sorted(expected.items()):
            path = outdir / name
            if not path.is_file():
                if f"missing file {name}" not in problems:
                    problems.append(f"missing file {name}")
            elif path.read_bytes() != text.encode("utf-8"):
                problems.append(f"{name} does not match the model (re-rendered content differs)")
        for name in sorted(set(manifest["files"]) - set(expected)):
            problems.append(f"unexpected file {name} in the manifest")
    if problems:
        raise ValueError(f"{outdir}: FPGA project check failed: " + "; ".join(dict.fromkeys(problems)))


def export_cli(
    model_path, outdir, feature_bits: int = 16, frac_bits: int | Sequence[int] | None = None,
    *, stochastic: StochasticConfig | None = None,
) -> Path:
    """Load a ``BinaryNetSpec`` ``.npz``, write its FPGA project and verify it (``sqnn export-fpga``).

    Returns the folder; errors are ``ValueError``/``FileNotFoundError`` with a one-line message.
    """
    spec = BinaryNetSpec.from_npz(model_path)
    out = write_project(spec, outdir, feature_bits=feature_bits, frac_bits=frac_bits, stochastic=stochastic)
    verify_project(out, spec)
    return out
