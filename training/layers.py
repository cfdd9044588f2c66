"""SQNN building blocks: thermometer input encoder, stochastic binary layers and the output head.

Hidden layer with latent real weights ``W`` (k, m), ``|W| ≤ 1``, and real bias ``b`` (m,) in units of the
±1 dot product::

    a   = (x · sign(W) + b) / k              x ∈ {−1, +1}^k
    θ   = σ(slope · a)                       P(T = 1 | x)
    T   ~ Bernoulli(θ)  (training, stochastic inference; straight-through gradient ∂T/∂θ = 1)
    T   = [θ ≥ 0.5]     (deterministic inference)

``sign`` has a straight-through gradient ``1[|W| ≤ 1]``. The deterministic rule is a monotone function of
the integer ``dot = x · sign(W) ∈ [−k, k]``, so it folds exactly into ``bit = [dot ≥ threshold]``:
:func:`fold_thresholds` evaluates :func:`fires` at every integer and takes the first one that fires.

Output head: ``logit = α · dot / k + c`` (α > 0, parametrised as ``α = e^ρ``), i.e. the spec's
``sigmoid(scale · (dot + bias) + offset)`` with ``scale = α / k``, ``bias = 0``, ``offset = c``.
"""

from __future__ import annotations

import numpy as np

import sqnn_kernels as sk

from .autograd import _sigmoid

__all__ = ["PackedSigns", "encode_pm1", "fires", "fit_edges", "fold_thresholds", "pack_sign",
           "thermometer_levels"]


def fit_edges(x: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Per-feature quantile edges of a thermometer code with ``n_bins`` thresholds per feature.

    Edges are the empirical quantiles at levels ``j / (n_bins + 1)``, ``j = 1..n_bins`` (linear
    interpolation), deduplicated (equal edges would give identical bits), so a feature may get fewer edges; a
    constant feature keeps one edge (its value).
    """
    levels = np.arange(1, n_bins + 1) / (n_bins + 1)
    q = np.quantile(x, levels, axis=0)  # (n_bins, f)
    return [np.unique(q[:, f]) for f in range(x.shape[1])]


def encode_pm1(x: np.ndarray, edges: list[np.ndarray], dtype=np.float32) -> np.ndarray:
    """Thermometer code as a dense ±1 matrix (n, K): ``+1`` where ``x_f ≥ edge`` (same bits as the kernel).

    ``dtype=np.int8`` gives the smallest exact form (1 byte per bit; the trainer stores its inputs so and
    converts one batch at a time).
    """
    k = int(sum(e.size for e in edges))
    bits = sk.unpack_bits(sk.thermometer_encode(x, edges), k)
    if np.dtype(dtype) == np.int8 and bits.dtype.itemsize == 1:  # reuse our own {0, 1} bytes in place
        out = bits.view(np.int8)
        out *= 2
        out -= 1
        return out
    return bits_to_pm1(bits, dtype)


class PackedSigns:
    """A ±1 matrix (n, k) kept as its packed bits (8 bytes per 64 entries): the trainer's inputs.

    Row selection (``x[rows]``) gives another :class:`PackedSigns`; ``np.asarray(x, dtype)`` unpacks to a
    dense ±1 array (default int8), exactly :func:`encode_pm1`'s values. The trainer unpacks one batch at a
    time, so the whole encoded data set costs ``n · ceil(k / 64) · 8`` bytes instead of ``n · k · 4``.

    A thermometer code made by :meth:`encode` also keeps its **levels**: ``levels[r, f]`` (n, F) is the number
    of edges of feature ``f`` at or below ``x_rf``, so the ``widths[f]`` bits of feature ``f`` are ``+1`` for
    its first ``levels[r, f]`` edges and ``−1`` after (``levels`` and ``widths`` are None otherwise).
    """

    ndim = 2

    def __init__(self, packed: np.ndarray, k: int, levels: np.ndarray | None = None,
                 widths: np.ndarray | None = None):
        self.packed = np.asarray(packed, dtype=np.uint64)
        self.k = int(k)
        self.levels = levels
        self.widths = widths

    @classmethod
    def encode(cls, x: np.ndarray, edges: list[np.ndarray]) -> PackedSigns:
        """The thermometer code of ``x`` (bit 1 = ``+1`` where ``x_f ≥ edge``), as :func:`encode_pm1`."""
        widths = np.array([e.size for e in edges], dtype=np.int64)
        return cls(sk.thermometer_encode(x, edges), int(widths.sum()), thermometer_levels(x, edges), widths)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, k)."""
        return (self.packed.shape[0], self.k)

    def __len__(self) -> int:
        return self.packed.shape[0]

    def __getitem__(self, rows) -> PackedSigns:
        levels = None if self.levels is None else self.levels[rows]
        return PackedSigns(self.packed[rows], self.k, levels, self.widths)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return bits_to_pm1(sk.unpack_bits(self.packed, self.k), np.int8 if dtype is None else dtype)


def thermometer_levels(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """``levels[r, f]`` = number of edges ``e`` of feature ``f`` with ``x_rf ≥ e`` (the count of its ``+1``
    thermometer bits, which come first), in the smallest unsigned type that holds the widest feature's
    count."""
    x = np.asarray(x)
    dtype = np.min_scalar_type(max((e.size for e in edges), default=0))
    levels = np.empty((x.shape[0], len(edges)), dtype=dtype)
    for f, e in enumerate(edges):
        levels[:, f] = np.searchsorted(e, x[:, f], side="right")  # edges ≤ x, i.e. x ≥ edge
    return levels


def bits_to_pm1(bits: np.ndarray, dtype=np.float32) -> np.ndarray:
    """{0, 1} → {−1, +1} as ``dtype`` (a signed integer or float type), one array of that size allocated."""
    out = bits.astype(dtype)
    out *= 2
    out -= 1
    return out


def activation(dot: np.ndarray, b: np.ndarray, slope: float, k: int) -> np.ndarray:
    """``θ = σ(slope · (dot + b) / k)`` in float64 (the deterministic-inference arithmetic)."""
    dot = np.asarray(dot, dtype=np.float64)
    return _sigmoid(float(slope) * (dot + np.asarray(b, dtype=np.float64)) / float(k))


def fires(dot: np.ndarray, b: np.ndarray, slope: float, k: int) -> np.ndarray:
    """Deterministic neuron rule ``[σ(slope · (dot + b) / k) ≥ 0.5]`` (float64), elementwise/broadcast."""
    return activation(dot, b, slope, k) >= 0.5


def fold_thresholds(b: np.ndarray, slope: float, k: int) -> np.ndarray:
    """Integer thresholds ``t_j`` with ``fires(dot, b_j) ⇔ dot ≥ t_j`` for every integer ``dot ∈ [−k, k]``.

    Found by evaluating :func:`fires` on the whole grid (no closed formula that could be off by one);
    a neuron that never fires gets ``k + 1``.
    """
    b = np.asarray(b, dtype=np.float64)
    grid = np.arange(-k, k + 1, dtype=np.float64)
    table = fires(grid[:, None], b[None, :], slope, k)  # (2k + 1, m)
    if np.any(table[:-1] & ~table[1:]):
        raise ValueError("neuron rule is not monotone in the dot product; cannot fold to a threshold")
    first = np.where(table.any(axis=0), table.argmax(axis=0) - k, k + 1)
    return first.astype(np.int32)


def pack_sign(w: np.ndarray) -> np.ndarray:
    """Packed binary weights (m, ceil(k/64)) of latent ``w`` (k, m): bit 1 where ``w ≥ 0`` (sign(0) = +1)."""
    return sk.pack_bits(np.ascontiguousarray(np.asarray(w).T >= 0))
