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


JET_CLASSES = ("g", "q", "W", "Z", "t")


def five_class_data(n: int = 1500, seed: int = 0, n_features: int = 6):
    """A synthetic 5-class set shaped like the jet-tagging benchmark (g, q, W, Z, t): X, y (class names), s.

    Each class shifts a different pair of features; ``s`` (two domains) shifts the last feature only, so
    the classes are learnable and the domain is a nuisance.
    """
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 5, n)
    s = rng.integers(0, 2, n)
    x = rng.normal(size=(n, n_features))
    for k in range(5):
        x[c == k, k % n_features] += 2.0
        x[c == k, (k + 1) % n_features] -= 1.0
    x[:, -1] += 0.8 * s
    return x, np.array(JET_CLASSES)[c], s


def five_class_spec(rng: np.random.Generator, n_features: int = 6, hidden: tuple[int, ...] = (24, 12),
                    max_bins: int = 8) -> sk.BinaryNetSpec:
    """A random K = 5 output spec (softmax probabilities, argmax class) for the multiclass paths."""
    return random_spec(rng, n_features, hidden, n_out=5, max_bins=max_bins)


def domain_toy(n: int, seed: int, *, label: float = 1.5, label2: float = 0.0, domain: float = 0.8,
               domain_feature: int = 2):
    """Toy two-class, two-domain data: 4 standard-normal features; y (0/1) adds ``label`` to feature 0 and
    subtracts ``label2`` from feature 1, s (0/1) adds ``domain`` to ``domain_feature``.

    Returns x, y, s and the generator, for further draws from the same stream (e.g. hiding labels).
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4))
    x[:, 0] += label * y
    x[:, 1] -= label2 * y
    x[:, domain_feature] += domain * s
    return x, y, s, rng
