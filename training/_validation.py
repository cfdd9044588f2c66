"""Input checks shared by the estimators: every error names the argument and what was expected."""

from __future__ import annotations

import numpy as np

from sqnn_kernels.validation import check_domain


def check_x(x, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """A finite float64 (n, f) array."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature column")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features but the model was fitted with {n_features}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; it holds {bad} NaN/inf value(s)")
    return arr


def _as_int_vector(v, n: int, name: str) -> np.ndarray:
    if v is None or isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be a 1-D array of integers, got {type(v).__name__}")
    arr = np.asarray(v)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the rows of X, got {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise ValueError(f"{name} must hold integer values, got non-integer or non-finite entries")
    return arr.astype(np.int64)


def check_y(y, n: int, name: str = "y") -> np.ndarray:
    """Labels in {−1, 0, 1} (−1 = unlabelled), int64 (n,), with at least one labelled row."""
    arr = _as_int_vector(y, n, name)
    bad = ~np.isin(arr, (-1, 0, 1))
    if bad.any():
        raise ValueError(
            f"{name} must hold 0/1 labels and -1 for unlabelled rows; got other values "
            f"{np.unique(arr[bad])[:5].tolist()}"
        )
    if n and not np.any(arr >= 0):
        raise ValueError(f"all rows of {name} are unlabelled (-1); at least one labelled row is needed")
    return arr


def check_s(s, n: int, name: str = "s") -> np.ndarray:
    """Domain categories: integers in 0..255, int64 (n,); ``None`` means one domain (all zeros).

    The array rule itself is :func:`sqnn_kernels.validation.check_domain`.
    """
    if s is None:
        return np.zeros(n, dtype=np.int64)
    return check_domain(s, n, name)


def check_fit_targets(y: np.ndarray, s, s_checked: np.ndarray, weight_name: str, weight: float) -> None:
    """Reject fits that cannot mean anything: one label class, or an I(T;S) penalty with one domain.

    ``s`` is the user's argument (``None`` = no domain information), ``s_checked`` its validated form.
    """
    import warnings

    classes = np.unique(y[y >= 0])
    if classes.size < 2:
        raise ValueError(
            f"the labelled rows of y hold only class {int(classes[0])}; "
            "fitting needs labelled rows of both 0 and 1"
        )
    if weight > 0:
        if s is None:
            warnings.warn(
                f"{weight_name}={weight:g} asks for invariance to s but no s was given, so it has no effect; "
                f"pass s (domain per row) or {weight_name}=0",
                UserWarning,
                stacklevel=3,
            )
        elif np.unique(s_checked).size < 2:
            raise ValueError(
                f"s holds one domain only ({int(s_checked[0])}); invariance to s ({weight_name}={weight:g}) "
                f"needs rows of at least two domains; pass {weight_name}=0 to train without it"
            )


def check_saved_latents(extra: dict, spec, path) -> None:
    """Check the latent arrays stored beside a sealed spec by ``SQNNClassifier.save``: present, finite floats,
    shaped as the spec's layers (``layer{i}_W`` (k_i, m_i), ``layer{i}_b`` (m_i,), ``output_W`` (k, n_out),
    ``output_alpha_c`` (2,)); ``ValueError`` naming the file and the array otherwise.
    """
    want = {}
    for i, layer in enumerate(spec.layers):
        want[f"layer{i}_W"] = (layer.k, layer.m)
        want[f"layer{i}_b"] = (layer.m,)
    want["output_W"] = (spec.output.k, spec.output.n_out)
    want["output_alpha_c"] = (2,)
    for name, shape in want.items():
        if name not in extra:
            raise ValueError(f"{path}: not a complete SQNNClassifier file (missing array {name!r})")
        arr = extra[name]
        if arr.shape != shape or not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(
                f"{path}: array {name!r} is {arr.dtype} {arr.shape}, expected float {shape} (sealed network)"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: array {name!r} holds NaN/inf")
