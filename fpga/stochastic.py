"""Optional stochastic mode of the core: hidden neurons fire with their probability θ instead of θ >= 0.5.

A hidden neuron with integer pre-activation ``z = dot - threshold`` has (SQNN, DESIGN.md)

    θ(z) = sigmoid(slope · (z + 1/2) / k)

where the ``+ 1/2`` places the deterministic cut ``θ >= 0.5 <=> z >= 0`` (the spec's threshold) midway
between two integers. In hardware each neuron draws ``u``, ``rng_bits`` fresh bits of its own 31-bit LFSR,
and fires iff ``z >= noise[u]``; the per-layer ROM ``noise[u] = min{z : θ(z) > (u + 1/2) / 2^rng_bits}`` is
the inverse CDF, evaluated exactly (float rule checked at every returned integer). Hence

    P(bit = 1 | z) = #{u : noise[u] <= z} / 2^rng_bits = θ(z) rounded to rng_bits bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sqnn_kernels.validation import check_int, check_real

_LIMIT = 1 << 30


@dataclass(frozen=True)
class StochasticConfig:
    """Stochastic-mode settings: ``slope`` of θ, LFSR bits per draw and the seed of the LFSR seeds."""

    slope: float
    rng_bits: int = 8
    seed: int = 0

    def __post_init__(self):
        slope = check_real(self.slope, "stochastic slope")
        if not slope > 0:
            raise ValueError(f"stochastic slope must be a positive finite number, got {self.slope!r}")
        object.__setattr__(self, "slope", slope)
        object.__setattr__(self, "rng_bits", check_int(self.rng_bits, "rng_bits", min_value=1, max_value=16))
        object.__setattr__(self, "seed", check_int(self.seed, "seed"))

    def as_dict(self) -> dict:
        """JSON-friendly form stored in the project manifest."""
        return {"slope": self.slope, "rng_bits": self.rng_bits, "seed": self.seed}


def theta(z, k: int, slope: float) -> np.ndarray:
    """``sigmoid(slope · (z + 1/2) / k)`` as float64."""
    a = slope * (np.asarray(z, dtype=np.float64) + 0.5) / k
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


def noise_table(k: int, config: StochasticConfig) -> np.ndarray:
    """The inverse-CDF ROM of a layer with input width ``k``: int64 (2^rng_bits,), non-decreasing."""
    n = 1 << config.rng_bits
    out = np.empty(n, dtype=np.int64)
    for u in range(n):
        q = (u + 0.5) / n

        def fires(z: int, q: float = q) -> bool:
            return bool(theta(z, k, config.slope) > q)

        guess = math.log(q / (1 - q)) * k / config.slope - 0.5
        z = int(min(max(math.floor(guess), -_LIMIT), _LIMIT))
        while z > -_LIMIT and fires(z - 1):
            z -= 1
        while z < _LIMIT and not fires(z):
            z += 1
        out[u] = z
    return out


def threshold_clamp(k: int, table: np.ndarray) -> tuple[int, int]:
    """Range to which thresholds can be clamped without changing any stochastic bit (dot is in [-k, k])."""
    return min(-k, -k - int(table.max())), max(k + 1, k - int(table.min()) + 1)


def theta_quantized(z, table: np.ndarray) -> np.ndarray:
    """``P(bit = 1 | z)`` realised by the hardware: ``#{u : table[u] <= z} / len(table)``."""
    z = np.asarray(z, dtype=np.int64)
    return np.searchsorted(table, z, side="right") / table.size


def layer_seeds(config: StochasticConfig, layer: int, m: int) -> np.ndarray:
    """Distinct non-zero 31-bit LFSR seeds of the ``m`` neurons of hidden layer ``layer``."""
    rng = np.random.default_rng([config.seed, layer])
    seeds: list[int] = []
    seen: set[int] = set()
    while len(seeds) < m:
        for v in rng.integers(1, 1 << 31, size=m).tolist():
            if v not in seen and len(seeds) < m:
                seen.add(v)
                seeds.append(v)
    return np.array(seeds, dtype=np.int64)
