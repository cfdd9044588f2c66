"""Random BinaryNetSpec objects for tests."""

import numpy as np

import sqnn_kernels as sk


def random_spec(rng: np.random.Generator, n_features: int, hidden: tuple[int, ...], n_out: int = 1,
                max_bins: int = 8) -> sk.BinaryNetSpec:
    edges = [np.sort(rng.normal(size=rng.integers(1, max_bins + 1))) for _ in range(n_features)]
    k = sum(e.size for e in edges)
    layers = []
    for m in hidden:
        w = sk.pack_bits(rng.integers(0, 2, (m, k)).astype(bool))
        layers.append(sk.HiddenLayer(w, k, rng.integers(-k // 4 - 1, k // 4 + 2, m)))
        k = m
    w = sk.pack_bits(rng.integers(0, 2, (n_out, k)).astype(bool))
    out = sk.OutputLayer(w, k, rng.integers(-3, 4, n_out), scale=0.1, offset=-0.05)
    return sk.BinaryNetSpec(edges, layers, out)
