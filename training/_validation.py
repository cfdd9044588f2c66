"""Estimator-specific input checks (``X`` itself goes through scikit-learn's ``validate_data``): every error
names the argument and what was expected."""

from __future__ import annotations

import numpy as np

from sqnn_kernels.validation import check_domain


def check_s(s, n: int, name: str = "s") -> np.ndarray:
    """Domain categories: integers in 0..255, int64 (n,); ``None`` means one domain (all zeros).

    The array rule itself is :func:`sqnn_kernels.validation.check_domain`.
    """
    if s is None:
        return np.zeros(n, dtype=np.int64)
    return check_domain(s, n, name)


def check_fit_targets(s, s_checked: np.ndarray, weight_name: str, weight: float) -> None:
    """Reject an I(T;S) penalty that cannot mean anything: invariance asked for with one domain only.

    ``s`` is the user's argument (``None`` = no domain information), ``s_checked`` its validated form.
    """
    import warnings

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


def labelled_mask(y: np.ndarray, marker) -> np.ndarray:
    """``True`` for the rows of ``y`` that carry a class label, i.e. differ from the unlabelled ``marker``.

    ``marker=None`` means every row is labelled. A marker of another kind than the labels (a number
    among string labels, a string among numbers) matches no row, so nothing is guessed.
    """
    y = np.asarray(y)
    n = y.shape[0]
    if marker is None:
        return np.ones(n, dtype=bool)
    marker_is_str = isinstance(marker, str)
    if y.dtype.kind in "iufb":
        return np.ones(n, dtype=bool) if marker_is_str else np.asarray(y != marker, dtype=bool)
    if y.dtype.kind in "US":
        return np.asarray(y != marker, dtype=bool) if marker_is_str else np.ones(n, dtype=bool)
    return np.fromiter((isinstance(v, str) != marker_is_str or v != marker for v in y), dtype=bool, count=n)


def encode_targets(y: np.ndarray, marker, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Class labels of any kind → ``(classes, codes)``: sorted distinct labels and int64 codes per row.

    Rows equal to ``marker`` (unlabelled) get code −1, every other row the index of its label in
    ``classes`` (``numpy.unique`` order, as scikit-learn's ``LabelEncoder``). Regression targets are rejected
    by :func:`sklearn.utils.multiclass.check_classification_targets`; at least two classes are needed.
    """
    from sklearn.utils.multiclass import check_classification_targets

    y = np.asarray(y)
    lab = labelled_mask(y, marker)
    if not lab.any():
        raise ValueError(
            f"every row of {name} is unlabelled (equal to unlabelled={marker!r}); at least two classes of "
            "labelled rows are needed (pass unlabelled=None if that value is a class)"
        )
    check_classification_targets(y[lab])
    classes, codes_lab = np.unique(y[lab], return_inverse=True)
    if classes.size < 2:
        n_unl = int(y.shape[0] - lab.sum())
        hint = (f"; {n_unl} rows equal unlabelled={marker!r} and count as unlabelled (pass unlabelled=None "
                "if that value is a class, e.g. for ±1 labels)") if n_unl else ""
        raise ValueError(
            f"the labelled rows of {name} hold 1 class only ({classes[0]!r}); fitting needs labelled rows of "
            f"at least two classes{hint}"
        )
    codes = np.full(y.shape[0], -1, dtype=np.int64)
    codes[lab] = codes_lab.reshape(-1)
    return classes, codes


def check_weights(sample_weight, n: int) -> np.ndarray:
    """Event weights as finite float64 (n,); ``None`` means all ones. Negative weights are allowed.

    Raises ``TypeError`` for a non-numeric argument and ``ValueError`` for a wrong shape or non-finite values.
    """
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    if isinstance(sample_weight, (str, bytes)):
        raise TypeError(f"sample_weight must be a 1-D array of numbers, got {type(sample_weight).__name__}")
    w = np.asarray(sample_weight)
    if w.ndim == 0:
        w = np.full(n, w)
    if w.dtype == object or not (np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_):
        raise TypeError(f"sample_weight must hold numbers, got dtype {w.dtype}")
    if np.iscomplexobj(w):
        raise TypeError("sample_weight must be real, got complex values")
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},) to match the rows of X, got {w.shape}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite; it holds NaN/inf")
    return w
