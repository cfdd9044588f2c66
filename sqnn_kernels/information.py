"""Entropy and mutual information of layers of Bernoulli neurons, in bits.

A hidden layer of an SQNN is, given an input row r, a vector of independent Bernoulli variables
``T_i | r ~ Bernoulli(θ_ri)``. With rows drawn uniformly and a domain label ``S`` per row:

* ``per_neuron_mi`` — the paper's closed form, a sum over neurons of single-neuron informations:
  ``Σ_i [H_b(mean_r θ_ri) − Σ_v (N_v / N) H_b(mean_{r: s_r = v} θ_ri)]``;
* ``joint_mi`` — the exact ``I(T; S)`` of the whole layer, ``T`` a mixture of product-Bernoullis.

Sums run over fixed-size row chunks reduced in chunk order, so results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import dual, jit
from .validation import check_domain, check_probabilities

_CHUNK = 8192
MAX_JOINT_NEURONS = 16


@jit
def _hb(p):
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))


@dual
def _entropy_kernel(p, out):
    for i in prange(p.size):
        out[i] = _hb(p[i])


def bernoulli_entropy(p) -> np.ndarray:
    """Binary entropy ``H_b(p) = −p log2 p − (1 − p) log2(1 − p)`` in bits, elementwise; exactly 0 at 0 and 1.

    Accepts any shape of probabilities in [0, 1] and returns float64 of the same shape.
    """
    pa = check_probabilities(p, "p", ndim=None)
    out = np.empty(pa.size, dtype=np.float64)
    if pa.size:
        _entropy_kernel(16 * pa.size, pa.ravel(), out)
    return out.reshape(pa.shape)


@dual
def _category_sums(p, s, n_cat, chunk):
    n, m = p.shape
    n_chunks = (n + chunk - 1) // chunk
    sums = np.zeros((n_chunks, n_cat, m))
    counts = np.zeros((n_chunks, n_cat), dtype=np.int64)
    bad = 0
    for c in prange(n_chunks):
        acc = np.zeros((n_cat, m))
        cnt = np.zeros(n_cat, dtype=np.int64)
        nbad = 0
        for r in range(c * chunk, min(n, (c + 1) * chunk)):
            v = s[r]
            cnt[v] += 1
            for i in range(m):
                q = p[r, i]
                nbad += not (0.0 <= q <= 1.0)  # also catches NaN
                acc[v, i] += q
        sums[c] = acc
        counts[c] = cnt
        bad += nbad
    total = np.zeros((n_cat, m))
    total_counts = np.zeros(n_cat, dtype=np.int64)
    for c in range(n_chunks):  # fixed chunk order: identical for any thread count
        total += sums[c]
        total_counts += counts[c]
    return total, total_counts, bad


@jit
def _per_neuron_from_sums(sums, counts):
    n_cat, m = sums.shape
    n = counts.sum()
    result = 0.0
    for i in range(m):
        col = 0.0
        for v in range(n_cat):
            col += sums[v, i]
        result += _hb(col / n)
        for v in range(n_cat):
            if counts[v]:
                result -= counts[v] / n * _hb(sums[v, i] / counts[v])
    return result


def _prepare(p, s, *, check_range: bool = True):
    if isinstance(p, (str, bytes)) or p is None:
        raise TypeError(f"p must be a 2-D array of probabilities, got {type(p).__name__}")
    pa = np.asarray(p)
    if pa.dtype == object or not (np.issubdtype(pa.dtype, np.number) or pa.dtype == np.bool_):
        raise TypeError(f"p must be a numeric array of probabilities, got dtype {pa.dtype}")
    if pa.ndim != 2:
        raise ValueError(f"p must be 2-D (rows, neurons), got shape {pa.shape}")
    pa = np.ascontiguousarray(pa, dtype=np.float64)
    if check_range:
        pa = check_probabilities(pa, "p")
    sa = check_domain(s, pa.shape[0])
    n_cat = int(sa.max()) + 1 if sa.size else 1
    return pa, sa, n_cat


def per_neuron_mi(p, s) -> float:
    """Closed-form SQNN information between a layer and a domain, summed over neurons, in bits.

    ``Σ_i [H_b(θ̄_i) − Σ_v (N_v/N) H_b(θ̄_i|v)]`` with ``θ̄_i`` the mean activation probability of neuron i
    and ``θ̄_i|v`` its mean over rows with ``s = v``. Each term is ``I(T_i; S) >= 0``.

    Parameters
    ----------
    p : float array, shape (n, m), values in [0, 1]
        Activation probabilities θ (rows = events, columns = neurons).
    s : int array, shape (n,), values in 0..255
        Domain (or nuisance category) of each row.
    """
    pa, sa, n_cat = _prepare(p, s, check_range=False)  # the kernel counts values outside [0, 1]
    if pa.shape[0] == 0:
        return 0.0
    sums, counts, bad = _category_sums(pa.size, pa, sa, n_cat, _CHUNK)
    if bad:
        check_probabilities(pa, "p")  # raises, naming the offending range
    return max(float(_per_neuron_from_sums(sums, counts)), 0.0)


@dual
def _code_sums(p, s, n_cat, groups):
    n, m = p.shape
    n_codes = 1 << m
    acc = np.zeros((groups, n_cat, n_codes))
    per = (n + groups - 1) // groups
    for g in prange(groups):
        buf = np.empty(n_codes)
        for r in range(g * per, min(n, (g + 1) * per)):
            buf[0] = 1.0
            size = 1
            for i in range(m):
                q = p[r, i]
                for c in range(size):
                    buf[c + size] = buf[c] * q
                    buf[c] *= 1.0 - q
                size *= 2
            v = s[r]
            for c in range(n_codes):
                acc[g, v, c] += buf[c]
    total = np.zeros((n_cat, n_codes))
    for g in range(groups):
        total += acc[g]
    return total


@jit
def _mi_from_code_sums(sums, counts):
    n_cat, n_codes = sums.shape
    n = counts.sum()
    result = 0.0
    for c in range(n_codes):
        marginal = 0.0
        for v in range(n_cat):
            marginal += sums[v, c]
        marginal /= n
        for v in range(n_cat):
            if counts[v] == 0 or sums[v, c] <= 0.0:
                continue
            cond = sums[v, c] / counts[v]
            result += counts[v] / n * cond * np.log2(cond / marginal)
    return result


def joint_mi(p, s, *, max_neurons: int = MAX_JOINT_NEURONS) -> float:
    """Exact ``I(T; S)`` in bits of a layer of m Bernoulli neurons (a mixture of product-Bernoullis).

    ``P(t | v) = mean_{r: s_r = v} Π_i θ_ri^{t_i} (1 − θ_ri)^{1 − t_i}`` over all ``2^m`` codes t,
    ``P(t) = Σ_v π_v P(t | v)`` and ``I = Σ_v π_v Σ_t P(t | v) log2(P(t | v) / P(t))``, ``π_v = N_v / N``.
    Unlike :func:`per_neuron_mi` it sees dependence carried only by combinations of neurons (XOR-like).
    Cost ``O(n 2^m)``; ``m`` is limited to ``max_neurons`` (default 16).
    """
    pa, sa, n_cat = _prepare(p, s)
    m = pa.shape[1]
    if m > max_neurons:
        raise ValueError(f"p has {m} neurons; joint_mi enumerates 2^m codes and allows m <= {max_neurons}")
    if pa.shape[0] == 0:
        return 0.0
    counts = np.bincount(sa, minlength=n_cat).astype(np.int64)
    groups = int(min(16, pa.shape[0]))
    sums = _code_sums(pa.shape[0] << (m + 1), pa, sa, n_cat, groups)
    return max(float(_mi_from_code_sums(sums, counts)), 0.0)
