"""The project's one home for argument checks on arrays and numbers (kernels, spec, FPGA writers, streaming).

One vocabulary everywhere: ``TypeError`` when the argument has the wrong type (a string for an integer, a
float array where packed uint64 words are expected), ``ValueError`` when the type is right but the value is
not (out of range, wrong shape, NaN). Every message names the argument and what was expected.
Estimator-specific checks (labels, fit targets) live in ``training/_validation.py`` and build on these.
"""

from __future__ import annotations

import numpy as np


def words_for(k: int) -> int:
    """Number of uint64 words holding ``k`` bits: ``ceil(k / 64)``."""
    return (int(k) + 63) // 64


def as_2d(a, name: str, *, dtype=None) -> np.ndarray:
    """Return ``a`` as a C-contiguous 2-D array, or raise naming ``name``."""
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a 2-D array, got {type(a).__name__}")
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, columns), got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return np.ascontiguousarray(arr)


def check_int(value, name: str, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """A Python/numpy integer (not a bool, float or string: ``TypeError``) within bounds (``ValueError``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if (min_value is not None and v < min_value) or (max_value is not None and v > max_value):
        if max_value is None:
            raise ValueError(f"{name} must be >= {min_value}, got {v}")
        if min_value is None:
            raise ValueError(f"{name} must be <= {max_value}, got {v}")
        raise ValueError(f"{name} must be in [{min_value}, {max_value}], got {v}")
    return v


def check_real(value, name: str, *, finite: bool = True) -> float:
    """A real number: int or float, Python or numpy, 0-d array too (else TypeError); finite (ValueError)."""
    kind = np.asarray(value).dtype.kind if isinstance(value, (np.ndarray, np.generic)) else None
    ok = kind in ("i", "u", "f") and np.ndim(value) == 0
    if not ok and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if finite and not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_width(k, name: str = "k") -> int:
    """Validate a bit width: a positive Python/numpy integer."""
    return check_int(k, name, min_value=1)


def check_packed(p, name: str, k: int) -> np.ndarray:
    """A packed uint64 (rows, ceil(k/64)) array whose padding bits beyond ``k`` are zero."""
    if isinstance(p, (str, bytes)) or p is None:
        raise TypeError(f"{name} must be a packed uint64 array, got {type(p).__name__}")
    arr = np.asarray(p)
    if arr.dtype != np.uint64:
        raise TypeError(f"{name} must have dtype uint64 (packed bits), got {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, words), got shape {arr.shape}")
    words = words_for(k)
    if arr.shape[1] != words:
        raise ValueError(
            f"{name} has {arr.shape[1]} words per row but width k={k} needs ceil(k/64)={words}"
        )
    rem = k % 64
    if rem and arr.shape[0] and np.any(arr[:, -1] >> np.uint64(rem)):
        raise ValueError(f"{name} has non-zero padding bits beyond width k={k}")
    return np.ascontiguousarray(arr)


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise if ``a`` holds NaN or infinity."""
    if a.size and not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name} must be finite; it holds {bad} NaN/inf value(s)")


def check_probabilities(p, name: str = "p", *, ndim: int | None = 2) -> np.ndarray:
    """Float64 array of probabilities in [0, 1], finite."""
    if isinstance(p, (str, bytes)) or p is None:
        raise TypeError(f"{name} must be an array of probabilities, got {type(p).__name__}")
    arr = np.asarray(p)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array of probabilities, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    check_finite(arr, name)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{name} must lie in [0, 1]; got values in [{arr.min()}, {arr.max()}]")
    return arr


def check_domain(s, n: int, name: str = "s") -> np.ndarray:
    """Integer domain labels, shape (n,), values in 0..255 (small categories), as int64."""
    if isinstance(s, (str, bytes)) or s is None:
        raise TypeError(f"{name} must be a 1-D integer array, got {type(s).__name__}")
    arr = np.asarray(s)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one label per row, got {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            bad = float(arr[~np.isfinite(arr) | (arr != np.round(arr))][0])
            raise ValueError(f"{name} must hold integer category labels, got non-integer value {bad!r}")
    elif not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer category labels, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):  # checked before any cast: 1e30 stays 1e30
        lo, hi = arr.min().item(), arr.max().item()
        raise ValueError(f"{name} labels must be integers in 0..255, got range [{lo!r}, {hi!r}]")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_seed(seed, name: str = "seed") -> int:
    """A non-negative integer seed below 2**64."""
    return check_int(seed, name, min_value=0, max_value=2**64 - 1)


def check_int32_vector(v, m: int, name: str) -> np.ndarray:
    """int32 (m,) integers, one per neuron (thresholds, biases)."""
    arr = np.asarray(v)
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"{name} must have shape ({m},), one per neuron, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers (dot products are integers), got dtype {arr.dtype}")
    fits = np.can_cast(arr.dtype, np.int32)  # int8/16/32, uint8/16: every value fits, no scan needed
    if arr.size and not fits and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{name} must fit in int32")
    return np.ascontiguousarray(arr, dtype=np.int32)
