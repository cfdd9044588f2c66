"""The score -> probability rule of a :class:`~sqnn_kernels.BinaryNetSpec`: its one owner.

The output layer gives integer scores ``score_o`` (o = 0 .. K-1). With the spec's float ``scale`` > 0 and
``offset``, the logits are ``l_o = scale · score_o + offset`` (float64) and

* K = 1: ``P(y = 1) = sigmoid(l_0) = 1 / (1 + exp(-l_0))``; the class is ``P >= 0.5``;
* K >= 2: ``P(y = o) = softmax(l)_o = exp(l_o - max l) / Σ_j exp(l_j - max l)`` (rows sum to 1); the class
  is ``argmax_o l_o``, ties to the lowest index as :func:`numpy.argmax`. Since ``scale > 0`` this is also the
  argmax of the integer scores.

Every back-end (``BinaryNetSpec.predict_proba``, the streaming writers, the FPGA class threshold, the ONNX
export) evaluates this module's functions, so they agree bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["classes", "logits", "probabilities"]


def _scores_2d(scores) -> np.ndarray:
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (n, n_out), got shape {s.shape}")
    if s.shape[1] < 1:
        raise ValueError("scores must have at least one output column")
    return s


def logits(scores, scale: float, offset: float) -> np.ndarray:
    """``scale · score + offset`` in float64, shape of ``scores`` (n, K)."""
    s = _scores_2d(scores).astype(np.float64)
    return float(scale) * s + float(offset)


def probabilities(scores, scale: float, offset: float) -> np.ndarray:
    """Probabilities of the integer output ``scores`` (n, K), float64 (n, K).

    Parameters
    ----------
    scores : array_like of int, shape (n, K)
        Output-layer scores (``predict_scores``).
    scale, offset : float
        The output layer's affine map to logits ``l = scale · score + offset``.

    Returns
    -------
    numpy.ndarray of float64, shape (n, K)
        K = 1: ``sigmoid(l)`` (P of the positive class). K >= 2: ``softmax(l)`` per row.
    """
    z = logits(scores, scale, offset)
    with np.errstate(over="ignore"):
        if z.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-z))
        if z.shape[0] == 0:
            return z
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def classes(scores, scale: float, offset: float) -> np.ndarray:
    """Class index per row, int64 (n,): ``P >= 0.5`` for K = 1, ``argmax`` of the logits for K >= 2."""
    z = logits(scores, scale, offset)
    if z.shape[1] == 1:
        return (probabilities(scores, scale, offset)[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(z, axis=1).astype(np.int64)
