"""Fixed-point encoding of the input features and of the thermometer edges.

A feature value ``x`` becomes the ``feature_bits``-bit two's complement integer

    x_int = clip(rint(x · 2^frac_bits), -2^(feature_bits-1), 2^(feature_bits-1) - 1)

(``rint`` rounds half to even). An edge ``e`` becomes ``e_int = ceil(e · 2^frac_bits)`` (rounded **up** to the
grid), so that for every grid input ``x = x_int · 2^-frac_bits``:

    x >= e  <=>  x_int >= e_int        (exactly; x_int is an integer)

Edges outside the representable range are stored clamped to ``[min_int, max_int + 1]`` in
``feature_bits + 1`` bits: an edge above the largest input (``e_int > max_int``) becomes ``max_int + 1``
and its comparator is always 0; an edge at or below the smallest input becomes ``min_int`` and is always
1. Both are exact for grid inputs. When every edge is representable (the automatic ``frac_bits``
guarantees it), saturating an input never changes any comparison.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

MIN_FEATURE_BITS = 2
MAX_FEATURE_BITS = 48
MAX_ABS_FRAC_BITS = 62


class SaturationWarning(UserWarning):
    """Some feature values were clipped to the fixed-point range."""


def check_format(feature_bits: int, frac_bits: int) -> tuple[int, int]:
    """Validate a fixed-point format and return it as Python ints."""
    if isinstance(feature_bits, bool) or not isinstance(feature_bits, (int, np.integer)):
        raise TypeError(f"feature_bits must be an integer, got {feature_bits!r}")
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)):
        raise TypeError(f"frac_bits must be an integer, got {frac_bits!r}")
    feature_bits, frac_bits = int(feature_bits), int(frac_bits)
    if not MIN_FEATURE_BITS <= feature_bits <= MAX_FEATURE_BITS:
        raise ValueError(
            f"feature_bits must be in [{MIN_FEATURE_BITS}, {MAX_FEATURE_BITS}], got {feature_bits}"
        )
    if abs(frac_bits) > MAX_ABS_FRAC_BITS:
        raise ValueError(f"frac_bits must be in [-{MAX_ABS_FRAC_BITS}, {MAX_ABS_FRAC_BITS}], got {frac_bits}")
    return feature_bits, frac_bits


def int_range(feature_bits: int) -> tuple[int, int]:
    """``(min_int, max_int)`` of a ``feature_bits``-bit two's complement integer."""
    return -(1 << (feature_bits - 1)), (1 << (feature_bits - 1)) - 1


def _edge_int(e: float, frac_bits: int, lo: int, hi: int) -> int:
    scaled = math.ldexp(float(e), frac_bits)  # exact (power-of-two scaling) unless it overflows to inf
    if math.isinf(scaled):
        return hi + 1 if scaled > 0 else lo
    return min(max(math.ceil(scaled), lo), hi + 1)


def quantize_edges(edges, feature_bits: int, frac_bits: int) -> list[np.ndarray]:
    """Edges on the grid, rounded up and clamped to ``[min_int, max_int + 1]``; int64 arrays, one per feature.

    Parameters
    ----------
    edges : list of 1-D float arrays
        Sorted thermometer thresholds per feature (``BinaryNetSpec.edges``).
    feature_bits, frac_bits : int
        Fixed-point format of the inputs.

    Returns
    -------
    list of numpy.ndarray
        ``e_int`` per feature (sorted, since ceil and clamping are monotone).
    """
    feature_bits, frac_bits = check_format(feature_bits, frac_bits)
    lo, hi = int_range(feature_bits)
    return [
        np.array([_edge_int(e, frac_bits, lo, hi) for e in np.asarray(f, dtype=np.float64)], np.int64)
        for f in edges
    ]


def auto_frac_bits(edges, feature_bits: int) -> int:
    """Largest ``frac_bits`` for which every edge is representable (finest grid, no edge clamped).

    With every edge representable, clipping an input never changes a comparison, so a larger ``frac_bits``
    only reduces rounding of off-grid inputs.
    """
    feature_bits, _ = check_format(feature_bits, 0)
    lo, hi = int_range(feature_bits)
    values = [float(e) for f in edges for e in np.asarray(f, dtype=np.float64)]
    for frac in range(MAX_ABS_FRAC_BITS, -MAX_ABS_FRAC_BITS - 1, -1):
        if all(lo <= _edge_int(e, frac, lo, hi) <= hi for e in values):
            return frac
    raise ValueError("no frac_bits makes every edge representable; pass frac_bits explicitly")


def quantize_features(X, feature_bits: int, frac_bits: int) -> tuple[np.ndarray, int]:
    """Encode float features as saturating fixed-point integers.

    Parameters
    ----------
    X : array_like, shape (n, n_features)
        Finite feature values.
    feature_bits, frac_bits : int
        Word width and number of fractional bits: ``x_int = clip(rint(x · 2^frac_bits))``.

    Returns
    -------
    x_int : numpy.ndarray of int64, shape (n, n_features)
    n_clipped : int
        How many entries were saturated. A :class:`SaturationWarning` is issued when it is non-zero.
    """
    feature_bits, frac_bits = check_format(feature_bits, frac_bits)
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-D (n, n_features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("X must be finite (no NaN or inf)")
    lo, hi = int_range(feature_bits)
    with np.errstate(over="ignore"):
        scaled = np.rint(np.ldexp(x, frac_bits))
    clipped = (scaled < lo) | (scaled > hi)
    n_clipped = int(np.count_nonzero(clipped))
    if n_clipped:
        warnings.warn(
            f"{n_clipped} of {x.size} feature values saturated to the {feature_bits}-bit range "
            f"[{lo}, {hi}] (frac_bits={frac_bits})",
            SaturationWarning,
            stacklevel=2,
        )
    return np.clip(scaled, lo, hi).astype(np.int64), n_clipped


def dequantize_features(x_int, frac_bits: int) -> np.ndarray:
    """Grid values ``x_int · 2^-frac_bits`` as float64 (exact for |x_int| < 2^53)."""
    return np.ldexp(np.asarray(x_int, dtype=np.float64), -int(frac_bits))
