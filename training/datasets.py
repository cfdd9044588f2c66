"""Datasets: the embedded quark/gluon showers sample and a loader for users' CSV files."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["SHOWERS_FILE", "load_csv", "load_showers"]

SHOWERS_FILE = "showers_qg_pythia_vs_vincia.csv.gz"


def _read_csv(text_stream, source: str, label: str | None, domain: str | None):
    header_line = text_stream.readline()
    if not header_line.strip():
        raise ValueError(f"{source}: empty file (no header row)")
    header = [h.strip() for h in next(csv.reader([header_line]))]
    for role, col in (("label", label), ("domain", domain)):
        if col is not None and col not in header:
            hint = " (domain=None, CLI --domain none, if the file has none)" if role == "domain" else ""
            raise ValueError(f"{source}: {role} column {col!r} not found{hint}; columns are {header}")
    try:
        data = np.loadtxt(text_stream, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{source}: all columns must be numeric with {len(header)} values per row "
                         f"({str(err).splitlines()[0]})") from None
    if data.shape[0] == 0:
        raise ValueError(f"{source}: no data rows")
    if data.shape[1] != len(header):
        raise ValueError(
            f"{source}: rows have {data.shape[1]} values but the header names {len(header)} columns"
        )
    special = {label, domain} - {None}
    feat_idx = [i for i, h in enumerate(header) if h not in special]
    if not feat_idx:
        raise ValueError(f"{source}: no feature columns besides the label/domain columns")
    x = np.ascontiguousarray(data[:, feat_idx])
    y = data[:, header.index(label)] if label is not None else None
    s = data[:, header.index(domain)] if domain is not None else None
    for name, v in (("label", y), ("domain", s)):
        if v is not None and np.any(v != np.round(v)):
            raise ValueError(f"{source}: {name} column must hold integers")
    return (x, None if y is None else y.astype(np.int64), None if s is None else s.astype(np.int64),
            [header[i] for i in feat_idx])


def load_showers() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The embedded quark/gluon jets sample (Pythia vs Vincia + degraded detector).

    Returns
    -------
    X : float64 (100000, 18) jet-substructure features
    y : int64 (100000,), 1 quark jet, 0 gluon jet (known for both domains)
    s : int64 (100000,), 0 simulation (Pythia), 1 "real data" (Vincia, degraded detector)
    feature_names : list of 18 str
    """
    ref = resources.files("training") / "data" / SHOWERS_FILE
    with ref.open("rb") as raw, gzip.open(raw, "rt", newline="") as text:
        return _read_csv(text, SHOWERS_FILE, "y", "s")


def load_csv(path, label: str = "y", domain: str | None = "s"):
    """Load a numeric CSV (optionally ``.gz``) with a header row.

    Parameters
    ----------
    path : str or Path
    label : str
        Column of 0/1 labels (−1 for unlabelled rows).
    domain : str or None
        Column of integer domains; ``None`` if the file has none (``s`` is then returned as None).

    Returns
    -------
    X (float64 (n, f), every other column), y, s, feature_names. Missing columns raise ``ValueError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, "rb") as raw:
        head = raw.read(2)
        raw.seek(0)
        if head == b"\x1f\x8b":
            with gzip.open(raw, "rt", newline="") as text:
                return _read_csv(text, str(path), label, domain)
        return _read_csv(io.TextIOWrapper(raw, newline=""), str(path), label, domain)
