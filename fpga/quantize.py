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

``frac_bits`` may be one integer or one per feature; the automatic choice (:func:`auto_frac_bits`) is per
feature, since features of different scales (GeV masses, radians, ratios) need different grids.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sqnn_kernels.validation import check_int

MIN_FEATURE_BITS = 2
MAX_FEATURE_BITS = 48
MAX_ABS_FRAC_BITS = 62


class SaturationWarning(UserWarning):
    """Some feature values were clipped to the fixed-point range."""


def check_format(feature_bits: int, frac_bits):
    """Validate a fixed-point format; returns ``(feature_bits, frac_bits)`` with ``frac_bits`` an int or a
    tuple of ints (one per feature)."""
    feature_bits = check_int(feature_bits, "feature_bits")
    if not MIN_FEATURE_BITS <= feature_bits <= MAX_FEATURE_BITS:
        raise ValueError(
            f"feature_bits must be in [{MIN_FEATURE_BITS}, {MAX_FEATURE_BITS}], got {feature_bits}"
        )
    if isinstance(frac_bits, (list, tuple, np.ndarray)):
        fracs = tuple(check_int(f, "frac_bits") for f in np.asarray(frac_bits, dtype=object).ravel())
        if not fracs:
            raise ValueError("frac_bits must not be empty")
    else:
        fracs = (check_int(frac_bits, "frac_bits"),)
    for f in fracs:
        if abs(f) > MAX_ABS_FRAC_BITS:
            raise ValueError(f"frac_bits must be in [-{MAX_ABS_FRAC_BITS}, {MAX_ABS_FRAC_BITS}], got {f}")
    if isinstance(frac_bits, (list, tuple, np.ndarray)):
        return feature_bits, fracs
    return feature_bits, fracs[0]


def per_feature(frac_bits, n_features: int) -> np.ndarray:
    """``frac_bits`` (int or one per feature) as an int64 array of length ``n_features``."""
    fracs = np.atleast_1d(np.asarray(frac_bits, dtype=np.int64))
    if fracs.size == 1:
        return np.full(n_features, int(fracs[0]), dtype=np.int64)
    if fracs.size != n_features:
        raise ValueError(f"frac_bits has {fracs.size} entries for {n_features} features")
    return fracs


def int_range(feature_bits: int) -> tuple[int, int]:
    """``(min_int, max_int)`` of a ``feature_bits``-bit two's complement integer."""
    return -(1 << (feature_bits - 1)), (1 << (feature_bits - 1)) - 1


def _edge_int(e: float, frac_bits: int, lo: int, hi: int) -> int:
    scaled = math.ldexp(float(e), frac_bits)  # exact (power-of-two scaling) unless it overflows to inf
    if math.isinf(scaled):
        return hi + 1 if scaled > 0 else lo
    return min(max(math.ceil(scaled), lo), hi + 1)


def quantize_edges(edges, feature_bits: int, frac_bits) -> list[np.ndarray]:
    """Edges on the grid, rounded up and clamped to ``[min_int, max_int + 1]``; int64 arrays, one per feature.

    Parameters
    ----------
    edges : list of 1-D float arrays
        Sorted thermometer thresholds per feature (``BinaryNetSpec.edges``).
    feature_bits : int
        Width of the inputs.
    frac_bits : int or sequence of int
        Fractional bits, for all features or one per feature.

    Returns
    -------
    list of numpy.ndarray
        ``e_int`` per feature (sorted, since ceil and clamping are monotone).
    """
    feature_bits, frac_bits = check_format(feature_bits, frac_bits)
    fracs = per_feature(frac_bits, len(edges))
    lo, hi = int_range(feature_bits)
    return [
        np.array([_edge_int(e, int(fr), lo, hi) for e in np.asarray(f, dtype=np.float64)], np.int64)
        for f, fr in zip(edges, fracs, strict=True)
    ]


def _finest_frac(values: list[float], lo: int, hi: int) -> int:
    for frac in range(MAX_ABS_FRAC_BITS, -MAX_ABS_FRAC_BITS - 1, -1):
        if all(lo <= _edge_int(e, frac, lo, hi) <= hi for e in values):
            return frac
    raise ValueError("no frac_bits makes every edge representable; pass frac_bits explicitly")


def auto_frac_bits(edges, feature_bits: int, headroom: int = 1) -> tuple[int, ...]:
    """Per-feature ``frac_bits``: the finest grid on which every edge of the feature is representable, minus
    ``headroom`` bits (so inputs up to ~2^headroom times the largest edge magnitude do not saturate).

    With every edge representable, clipping an input never changes a comparison, so the grid only sets how
    finely off-grid inputs are rounded. A feature whose edges are all 0 gets ``feature_bits - 2``.
    """
    feature_bits, _ = check_format(feature_bits, 0)
    lo, hi = int_range(feature_bits)
    out = []
    for f in edges:
        values = [float(e) for e in np.asarray(f, dtype=np.float64)]
        if all(v == 0 for v in values):
            out.append(feature_bits - 2)
            continue
        out.append(max(_finest_frac(values, lo, hi) - headroom, -MAX_ABS_FRAC_BITS))
    return tuple(out)


def quantize_features(X, feature_bits: int, frac_bits) -> tuple[np.ndarray, int]:
    """Encode float features as saturating fixed-point integers.

    Parameters
    ----------
    X : array_like, shape (n, n_features)
        Finite feature values.
    feature_bits : int
        Word width (two's complement).
    frac_bits : int or sequence of int
        Fractional bits, for all features or one per feature: ``x_int = clip(rint(x · 2^frac_bits))``.

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
    fracs = per_feature(frac_bits, x.shape[1]) if x.shape[1] else np.zeros(0, np.int64)
    with np.errstate(over="ignore"):
        scaled = np.rint(np.ldexp(x, fracs[None, :]))
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


def dequantize_features(x_int, frac_bits) -> np.ndarray:
    """Grid values ``x_int · 2^-frac_bits`` as float64 (exact for |x_int| < 2^53); ``frac_bits`` is an int or
    one per feature (column)."""
    x = np.asarray(x_int, dtype=np.float64)
    fracs = per_feature(frac_bits, x.shape[-1]) if x.ndim else np.asarray(frac_bits)
    return np.ldexp(x, -fracs)
