"""Datasets: the embedded quark/gluon showers sample and a loader for users' CSV files.

Both read through the project's one CSV reader, :mod:`training.tables` (same checks, same messages).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["SHOWERS_FILE", "load_csv", "load_showers"]

SHOWERS_FILE = "showers_qg_pythia_vs_vincia.csv.gz"


def load_showers() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The embedded quark/gluon jets sample (Pythia vs Vincia + degraded detector).

    Returns
    -------
    X : float64 (100000, 18) jet-substructure features
    y : int64 (100000,), 1 quark jet, 0 gluon jet (known for both domains)
    s : int64 (100000,), 0 simulation (Pythia), 1 "real data" (Vincia, degraded detector)
    feature_names : list of 18 str
    """
    from .tables import load_csv_file

    ref = resources.files("training") / "data" / SHOWERS_FILE
    with resources.as_file(ref) as path:
        return load_csv_file(path, label="y", domain="s")


def load_csv(path, label: str | None = "y", domain: str | None = "s"):
    """Load a numeric CSV (optionally gzip-compressed, any file name) with a header row.

    Parameters
    ----------
    path : str or Path
    label : str or None
        Column of 0/1 labels (−1 for unlabelled rows); ``None`` if there is none.
    domain : str or None
        Column of integer domains (default ``s``, as ``sqnn train --domain``); ``None`` if the file has none
        (``s`` is then returned as None).

    Returns
    -------
    X (float64 (n, f), every other column), y, s, feature_names. Missing columns, duplicate header names,
    non-numeric values, non-integer labels and truncated files raise ``ValueError`` naming the file.
    """
    from .tables import load_csv_file

    return load_csv_file(path, label=label, domain=domain)
