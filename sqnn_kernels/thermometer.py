"""Thermometer encoding of float features straight into packed words."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dual
from .validation import as_2d, check_finite, words_for


def flatten_edges(edges, n_features: int | None = None, name: str = "edges"):
    """Validate per-feature edges and return (flat float64 edges, int64 offsets of length f + 1)."""
    if isinstance(edges, np.ndarray) and edges.ndim == 2:
        edges = list(edges)
    if not isinstance(edges, (list, tuple)) or len(edges) == 0:
        raise TypeError(f"{name} must be a non-empty list with one 1-D array of thresholds per feature")
    if n_features is not None and len(edges) != n_features:
        raise ValueError(f"{name} has {len(edges)} features but x has {n_features} columns")
    flat = []
    for f, e in enumerate(edges):
        e = np.asarray(e, dtype=np.float64)
        if e.ndim != 1 or e.size == 0:
            raise ValueError(f"{name}[{f}] must be a non-empty 1-D array, got shape {e.shape}")
        check_finite(e, f"{name}[{f}]")
        if np.any(np.diff(e) < 0):
            raise ValueError(f"{name}[{f}] must be sorted ascending")
        flat.append(e)
    offsets = np.zeros(len(flat) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([e.size for e in flat])
    return np.ascontiguousarray(np.concatenate(flat)), offsets


@dual
def _thermometer_kernel(x, flat, offsets, out):
    n, f = x.shape
    for r in prange(n):
        for feat in range(f):
            v = x[r, feat]
            lo = offsets[feat]
            c = 0
            for b in range(lo, offsets[feat + 1]):
                c += v >= flat[b]
            # edges are sorted, so the code is a run of c ones starting at bit lo
            pos = lo
            while c > 0:
                shift = pos & 63
                take = min(c, 64 - shift)
                mask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - take)
                out[r, pos >> 6] |= mask << np.uint64(shift)
                pos += take
                c -= take


def thermometer_encode(x, edges) -> np.ndarray:
    """Thermometer code of float features, packed.

    Feature ``f`` owns bits ``offset_f .. offset_f + len(edges[f]) - 1`` (``offset_f`` = number of edges of
    the features before it) and ``bit = [x_f >= edges[f][b]]``, so a value above ``c`` of its edges sets
    exactly its first ``c`` bits.

    Parameters
    ----------
    x : float array, shape (n, f), finite
    edges : list of f sorted 1-D float arrays

    Returns
    -------
    uint64 array, shape (n, ceil(K / 64)) with ``K = Σ_f len(edges[f])``.
    """
    xa = as_2d(x, "x")
    if not (np.issubdtype(xa.dtype, np.number) or xa.dtype == np.bool_):
        raise TypeError(f"x must be a numeric array, got dtype {xa.dtype}")
    xa = np.ascontiguousarray(xa, dtype=np.float64)
    check_finite(xa, "x")
    flat, offsets = flatten_edges(edges, xa.shape[1])
    out = np.zeros((xa.shape[0], words_for(flat.size)), dtype=np.uint64)
    if xa.shape[0]:
        _thermometer_kernel(xa.shape[0] * flat.size, xa, flat, offsets, out)
    return out
