"""Random ``BinaryNetSpec`` s and grid inputs for the FPGA tests (built directly, no training)."""

from __future__ import annotations

import numpy as np

from sqnn_kernels.reference import pack_bits
from sqnn_kernels.spec import BinaryNetSpec, HiddenLayer, OutputLayer


def random_packed(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """Random packed ±1 weights (m, ceil(k/64)) with zero padding bits."""
    return pack_bits(rng.integers(0, 2, size=(m, k)).astype(bool))


def random_thresholds(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """Mostly near 0 (neurons that toggle), some anywhere in [-k - 2, k + 2] (constant or clamped neurons)."""
    spread = max(1, int(2 * np.sqrt(k)))
    near = rng.integers(-spread, spread + 1, size=m)
    far = rng.integers(-k - 2, k + 3, size=m)
    return np.where(rng.random(m) < 0.8, near, far)


def center_output(spec: BinaryNetSpec, x: np.ndarray) -> BinaryNetSpec:
    """Same spec with offset 0 and each output bias chosen so that ``score >= 0`` (the class bit) holds on as
    close to half of the rows ``x`` as the score distribution allows."""
    dots = spec.predict_scores(x) - spec.output.bias[None, :]
    bias = []
    for col in dots.T.astype(np.int64):
        candidates = np.unique(col)
        balance = [abs(np.mean(col >= c) - 0.5) for c in candidates]
        bias.append(-int(candidates[int(np.argmin(balance))]))
    out = OutputLayer(spec.output.weights, spec.output.k, np.array(bias), spec.output.scale, 0.0)
    return BinaryNetSpec(spec.edges, spec.layers, out)


def random_spec(
    rng: np.random.Generator,
    n_features: int,
    n_bins,
    hidden,
    n_out: int = 1,
    frac_bits: int = 8,
    on_grid: bool = True,
    bias_range: int | None = None,
    scale: float | None = None,
    offset: float | None = None,
) -> BinaryNetSpec:
    """A random spec: ``n_bins`` edges per feature (int or list), hidden widths, ``n_out`` outputs."""
    if np.isscalar(n_bins):
        n_bins = [int(n_bins)] * n_features
    edges = []
    for nb in n_bins:
        e = np.sort(rng.normal(0.0, 2.0, size=nb))
        if on_grid:
            e = np.round(e * 2**frac_bits) / 2**frac_bits
        edges.append(e)
    k = int(sum(n_bins))
    layers = []
    for m in hidden:
        layers.append(HiddenLayer(random_packed(rng, m, k), k, random_thresholds(rng, m, k)))
        k = m
    br = k if bias_range is None else bias_range
    output = OutputLayer(
        random_packed(rng, n_out, k),
        k,
        rng.integers(-br, br + 1, size=n_out),
        scale=float(rng.uniform(0.01, 1.0)) if scale is None else scale,
        offset=float(rng.normal(0, 2)) if offset is None else offset,
    )
    return BinaryNetSpec(edges, layers, output)


def grid_inputs(
    rng: np.random.Generator, spec: BinaryNetSpec, n: int, frac_bits, feature_bits: int = 16
) -> np.ndarray:
    """Grid-valued float inputs: mostly near the edges (hitting them exactly), some at the range limits.
    ``frac_bits`` is one int or one per feature."""
    lo, hi = -(1 << (feature_bits - 1)), (1 << (feature_bits - 1)) - 1
    fracs = np.broadcast_to(np.asarray(frac_bits, dtype=np.float64), (spec.n_features,))
    cols = []
    for e, frac in zip(spec.edges, fracs, strict=True):
        e_int = np.clip(np.ceil(np.asarray(e) * 2**frac), lo - 1, hi + 1).astype(np.int64)
        pick = e_int[rng.integers(0, e_int.size, size=n)] + rng.integers(-2, 3, size=n)
        wide = rng.integers(lo, hi + 1, size=n)
        col = np.where(rng.random(n) < 0.8, pick, wide)
        col[rng.random(n) < 0.02] = lo
        col[rng.random(n) < 0.02] = hi
        cols.append(np.clip(col, lo, hi))
    return np.stack(cols, axis=1).astype(np.float64) / 2.0 ** fracs[None, :]


def test_random_spec_has_zero_padding_and_sorted_grid_edges():
    rng = np.random.default_rng(0)
    spec = random_spec(rng, 4, [1, 3, 8, 2], [65, 3], n_out=2, frac_bits=6)
    assert spec.widths == [14, 65, 3, 2]
    assert not np.any(spec.layers[0].weights[:, -1] >> np.uint64(14))
    for e in spec.edges:
        assert np.all(np.diff(e) >= 0)
        assert np.array_equal(e * 64, np.round(e * 64))


def test_grid_inputs_are_on_the_grid_and_in_range():
    rng = np.random.default_rng(1)
    spec = random_spec(rng, 3, 4, [5])
    x = grid_inputs(rng, spec, 500, 8, feature_bits=12)
    q = x * 256
    assert np.array_equal(q, np.round(q))
    assert q.min() >= -2048 and q.max() <= 2047
