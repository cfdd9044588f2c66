"""Losses of SQNN training: cross-entropy on labelled rows and differentiable I(T; S) estimates, in bits.

A hidden layer gives, for each row r of a batch, activation probabilities ``θ_r ∈ [0, 1]^m``; given r its
neurons are independent Bernoulli variables. ``S`` is a small integer domain/nuisance category per row.

* ``per_neuron`` (the SQNN paper's closed form, a sum of single-neuron informations)::

      I_pn = Σ_i [ H_b(θ̄_i) − Σ_v π_v H_b(θ̄_i|v) ],   θ̄_i|v = mean_{r: s_r = v} θ_ri,  π_v = N_v / N

* ``joint`` (exact for the layer as a mixture of product-Bernoullis, ``m ≤ 16``)::

      P(t|v) = mean_{r: s_r = v} Π_i θ_ri^{t_i} (1 − θ_ri)^{1 − t_i},  P(t) = Σ_v π_v P(t|v)
      I = Σ_v π_v Σ_t P(t|v) log2 P(t|v) / P(t)

* ``conditional``: ``I(T; S | Y) = Σ_y P(y) I_pn(T; S | Y = y)`` on labelled rows only (keeps the part of
  the domain dependence that the label explains).

* ``grouped`` (the classifier's default): the neurons are shuffled and cut into disjoint groups ``g`` of
  ``group_size`` (default 4) and the exact joint informations are summed, ``Σ_g I(T_g; S)``. It contains the
  per-neuron terms' information and also the dependence carried by combinations of neurons within a group
  (which a domain classifier reading all bits exploits); a new random grouping every batch covers every pair
  over training. Cost ``O(n m 2^group_size / group_size)``.

All are functions of ``θ`` built from :class:`~training.autograd.Tensor` ops, so they are differentiable.
They match :func:`sqnn_kernels.per_neuron_mi` and :func:`sqnn_kernels.joint_mi` on the same numbers.

Event weights ``w`` (optional, every function): every mean over rows above is the weighted mean
(``π_v = W_v / W``, ``θ̄_i|v = Σ w_r θ_ri / W_v``; see :func:`group_matrix`), so integer weights equal
replicated rows exactly. Negative weights (NLO generators) are allowed: a domain whose batch weights sum to
≤ 0 is left out of that batch's term, entropies clip their argument to ``[ε, 1 − ε]`` and the code
probabilities ``P(t|v)`` of the joint and grouped forms are clamped at 0 (a weighted mean with negative
weights can leave [0, 1]); with non-negative weights none of these clamps acts.
"""

from __future__ import annotations

import numpy as np

from .autograd import Tensor, _sigmoid
from .fused import group_code_means

__all__ = [
    "MAX_JOINT_NEURONS",
    "MI_KINDS",
    "bce_with_logits",
    "code_information",
    "cross_entropy",
    "group_matrix",
    "layer_mi",
    "softmax_cross_entropy",
]

MI_KINDS = ("per_neuron", "joint", "conditional", "grouped")
MAX_JOINT_NEURONS = 16
_LN2 = float(np.log(2.0))


def _label_coefficients(y: np.ndarray, w: np.ndarray | None, weight_mean: float,
                        dtype) -> tuple[np.ndarray, int]:
    """Per-row factors ``w_r / (N_lab · w̄)`` of the labelled rows (0 for ``y = −1``) and ``N_lab``."""
    y = np.asarray(y)
    lab = y >= 0
    n_lab = int(lab.sum())
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    coef = np.where(lab, w, 0.0) / (max(n_lab, 1) * float(weight_mean))
    return coef.astype(dtype), n_lab


def bce_with_logits(z: Tensor, y: np.ndarray, w: np.ndarray | None = None,
                    weight_mean: float = 1.0) -> Tensor:
    """Weighted binary cross-entropy (nats) over labelled rows (``y ∈ {0, 1}``); rows with ``y = −1`` weigh 0.

    ``CE = −1/(N_lab w̄) Σ_{r: y_r ≥ 0} w_r [y_r log σ(z_r) + (1 − y_r) log σ(−z_r)]`` with event weights
    ``w_r`` (default 1, negative allowed) and ``w̄`` the mean weight of the labelled training rows (so a
    batch estimates the training-set weighted mean without dividing by a batch sum that negative weights
    could bring near 0). Unlabelled rows contribute exactly zero to the value and the gradient. Returns 0 if
    the batch has no labelled row.
    """
    y = np.asarray(y)
    coef, n_lab = _label_coefficients(y, w, weight_mean, z.data.dtype)
    if n_lab == 0:
        return Tensor(np.zeros((), dtype=z.data.dtype), requires_grad=False)
    dt = z.data.dtype
    w_pos = np.where(y == 1, coef, 0).astype(dt)
    w_neg = np.where(y == 0, coef, 0).astype(dt)
    # One graph node with the value and gradient of the autograd composition
    # −((z.log_sigmoid() · w⁺).sum() + ((−z).log_sigmoid() · w⁻).sum()) bit for bit (same numpy operations):
    # ∂CE/∂z = −g w⁺ (1 − σ(z)) + g w⁻ (1 − σ(−z)), log σ(x) = min(x, 0) − log1p(e^{−|x|}).
    x = z.data
    value = -(((np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))) * w_pos).sum()
              + ((np.minimum(-x, 0.0) - np.log1p(np.exp(-np.abs(-x)))) * w_neg).sum())

    def _backward(g):
        g = -g
        g_pos = np.broadcast_to(g, x.shape) * w_pos * (1.0 - _sigmoid(x))
        g_neg = np.broadcast_to(g, x.shape) * w_neg * (1.0 - _sigmoid(-x))
        z._acc(g_pos + -g_neg)

    return z._child(value, (z,), "bce_with_logits", _backward)


def softmax_cross_entropy(z: Tensor, y: np.ndarray, w: np.ndarray | None = None,
                          weight_mean: float = 1.0) -> Tensor:
    """Weighted categorical cross-entropy (nats) of logits ``z`` (B, K), class codes ``y`` (−1 = unlabelled).

    ``CE = −1/(N_lab w̄) Σ_{r: y_r ≥ 0} w_r log softmax(z_r)_{y_r}``,
    ``log softmax(z)_c = z_c − log Σ_j e^{z_j}`` (evaluated as ``m + log Σ_j e^{z_j − m}`` with the row
    maximum ``m``); weights as :func:`bce_with_logits`.
    """
    y = np.asarray(y)
    coef, n_lab = _label_coefficients(y, w, weight_mean, z.data.dtype)
    if n_lab == 0:
        return Tensor(np.zeros((), dtype=z.data.dtype), requires_grad=False)
    m = z.data.max(axis=1, keepdims=True)
    lse = (z - m).exp().sum(axis=1, keepdims=True).log() + m
    onehot = np.zeros(z.shape, dtype=z.data.dtype)
    rows = np.flatnonzero(y >= 0)
    onehot[rows, y[rows]] = coef[rows]
    return -((z - lse) * onehot).sum()


def cross_entropy(z: Tensor, y: np.ndarray, w: np.ndarray | None = None, weight_mean: float = 1.0) -> Tensor:
    """:func:`bce_with_logits` for one logit column (two classes), :func:`softmax_cross_entropy` for K ≥ 3."""
    if z.shape[1] == 1:
        return bce_with_logits(z.reshape(-1), y, w, weight_mean)
    return softmax_cross_entropy(z, y, w, weight_mean)


def group_matrix(s: np.ndarray, n_cat: int | None = None, dtype=np.float64,
                 w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted averaging matrix ``A`` (n_cat, n), ``A[v, r] = w_r 1[s_r = v] / W_v``, and ``π_v = W_v / W``.

    ``W_v = Σ_{r: s_r = v} w_r`` (``w`` = event weights, default 1, so ``W_v = N_v``) and ``W`` the sum of the
    positive ``W_v``. A category with no row, or whose weights do not sum to a positive number (possible with
    negative weights), gets a zero row and ``π_v = 0``.
    """
    s = np.asarray(s, dtype=np.int64)
    n_cat = int(s.max()) + 1 if n_cat is None else n_cat
    w = np.ones(len(s)) if w is None else np.asarray(w, dtype=np.float64)
    totals = np.bincount(s, weights=w, minlength=n_cat).astype(np.float64)
    totals = np.where(totals > 0, totals, 0.0)
    onehot = (s[None, :] == np.arange(n_cat)[:, None]) * w[None, :]
    a = np.where(totals[:, None] > 0, onehot / np.where(totals > 0, totals, 1.0)[:, None], 0.0)
    return a.astype(dtype), (totals / max(totals.sum(), np.finfo(float).tiny)).astype(dtype)


def per_neuron_mi_tensor(theta: Tensor, s: np.ndarray, n_cat: int | None = None,
                         running: dict | None = None, momentum: float = 0.0,
                         w: np.ndarray | None = None) -> Tensor:
    """Differentiable closed form ``Σ_i [H_b(θ̄_i) − Σ_v π_v H_b(θ̄_i|v)]`` in bits (see module docstring).

    With ``momentum = β > 0`` and a state dict ``running``, the per-category means are exponential running
    averages over batches, ``θ̄_v ← β θ̄_v + (1 − β) mean_batch θ_v``, used as the point at which the
    information and its gradient are evaluated; the gradient still flows through the current batch means.
    This removes most of the small-batch plug-in bias and noise of the gradient. ``π_v`` also runs.
    """
    a, pi = group_matrix(s, n_cat, theta.data.dtype, w)
    keep = pi > 0
    if momentum > 0 and running is not None:
        cond_batch = Tensor(a, requires_grad=False) @ theta  # (C, m)
        prev = running.get("cond")
        if prev is None or prev.shape != cond_batch.shape:
            prev, prev_pi = cond_batch.data.copy(), pi.copy()
        else:
            prev_pi = running["pi"]
        new = np.where(keep[:, None], momentum * prev + (1 - momentum) * cond_batch.data, prev)
        new_pi = momentum * prev_pi + (1 - momentum) * pi
        running["cond"], running["pi"] = new, new_pi
        sel = new_pi > 0
        if sel.sum() < 2:
            return Tensor(np.zeros((), dtype=theta.data.dtype), requires_grad=False)
        cond = (cond_batch + Tensor(new - cond_batch.data, requires_grad=False))[np.flatnonzero(sel)]
        pi = (new_pi[sel] / new_pi[sel].sum()).astype(theta.data.dtype)
        marginal = Tensor(pi[None, :], requires_grad=False) @ cond
        return marginal.binary_entropy().sum() - (cond.binary_entropy().sum(axis=1) * pi).sum()
    a, pi = a[keep], pi[keep]
    if len(pi) < 2:
        return Tensor(np.zeros((), dtype=theta.data.dtype), requires_grad=False)
    cond = Tensor(a, requires_grad=False) @ theta  # (C, m) per-category means
    marginal = Tensor(pi[None, :], requires_grad=False) @ cond  # (1, m)
    return marginal.binary_entropy().sum() - (cond.binary_entropy().sum(axis=1) * pi).sum()


def _code_matrix(m: int) -> np.ndarray:
    """All 2^m codes as rows of {0, 1} (code c has bit i = (c >> i) & 1)."""
    return ((np.arange(1 << m)[:, None] >> np.arange(m)[None, :]) & 1).astype(np.float64)


def code_information(cond: Tensor, pi: np.ndarray) -> Tensor:
    """``I = Σ_v π_v Σ_t P(t|v) log2(P(t|v) / P(t))`` (bits) from the code probabilities, as one op.

    ``cond`` (C, T) holds ``P(t|v)`` (every group's codes side by side: the sum over ``t`` then runs over
    all groups, giving ``Σ_g I(T_g; S)``); it is clamped at 0 first, and ``P(t) = Σ_v π_v P(t|v)``.
    ``1e-30`` inside both logarithms keeps empty codes finite (they contribute 0).

    The value and the gradient are those of the autograd composition ``c = cond.relu()``,
    ``ratio = (c + 1e-30).log() − (π @ c + 1e-30).log()``, ``((c · ratio).sum(1) · π).sum() / ln 2``
    bit for bit (the same numpy operations in the same order, including the order in which the three
    paths to ``c`` add up), with one graph node instead of thirteen::

        ∂I/∂c = (g_P ⊙ ratio + g_R / (c + 1e-30)) − πᵀ (Σ_v g_R / (P(t) + 1e-30)),
        g_P = g π_v / ln 2 (per row v),   g_R = g_P ⊙ c;    ∂I/∂cond = ∂I/∂c ⊙ 1[cond > 0]
    """
    dt = cond.data.dtype
    tiny = np.asarray(1e-30, dtype=dt)
    inv_ln2 = np.asarray(1.0 / _LN2, dtype=dt)
    pi = np.asarray(pi, dtype=dt)
    pi_row = pi[None, :]
    raw = cond.data
    c = np.maximum(raw, 0.0)
    c_safe = c + tiny
    m_safe = pi_row @ c + tiny
    ratio = np.log(c_safe) - np.log(m_safe)
    value = ((c * ratio).sum(axis=1) * pi).sum() * inv_ln2

    def _backward(g):
        g_s1 = np.broadcast_to(g * inv_ln2, pi.shape) * pi
        g_p = np.broadcast_to(np.expand_dims(g_s1, 1), c.shape)
        g_r = g_p * c
        g_marginal = (-g_r).sum(axis=0, keepdims=True) / m_safe
        g_c = g_p * ratio + g_r / c_safe + np.swapaxes(pi_row, -1, -2) @ g_marginal
        cond._acc(g_c * (raw > 0))

    return cond._child(value, (cond,), "code_information", _backward)


def joint_mi_tensor(theta: Tensor, s: np.ndarray, n_cat: int | None = None, eps: float = 1e-7,
                    w: np.ndarray | None = None) -> Tensor:
    """Differentiable exact ``I(T; S)`` of a layer of ``m ≤ 16`` Bernoulli neurons, in bits.

    ``log P(t|r) = B log θ_r + (1 − B) log(1 − θ_r)`` for the code matrix ``B`` (2^m, m); then per-category
    means, marginal and ``Σ_v π_v Σ_t P(t|v) log2(P(t|v)/P(t))``. Cost ``O(n 2^m m)``.
    """
    m = theta.shape[1]
    if m > MAX_JOINT_NEURONS:
        raise ValueError(
            f"mi='joint' enumerates 2^m codes and allows layers of at most {MAX_JOINT_NEURONS} neurons; "
            f"this layer has {m} (use mi='per_neuron')"
        )
    a, pi = group_matrix(s, n_cat, theta.data.dtype, w)
    keep = pi > 0
    a, pi = a[keep], pi[keep]
    if len(pi) < 2:
        return Tensor(np.zeros((), dtype=theta.data.dtype), requires_grad=False)
    codes = Tensor(_code_matrix(m).T.astype(theta.data.dtype), requires_grad=False)  # (m, 2^m)
    clipped = theta * (1.0 - 2.0 * eps) + eps
    logp = clipped.log() @ codes + (1.0 - clipped).log() @ (1.0 - codes)  # (n, 2^m)
    return code_information(Tensor(a, requires_grad=False) @ logp.exp(), pi)  # P(t | v) (C, 2^m)


def grouped_mi_tensor(theta: Tensor, s: np.ndarray, group_size: int, rng: np.random.Generator | None = None,
                      n_cat: int | None = None, eps: float = 1e-7, w: np.ndarray | None = None) -> Tensor:
    """Sum of exact joint informations ``Σ_g I(T_g; S)`` over disjoint groups of ``group_size`` neurons, bits.

    The neurons are shuffled by ``rng`` (a fresh grouping per call, so over many batches every pair of
    neurons shares a group now and then); without ``rng`` groups are consecutive. A last, smaller group takes
    the remainder. ``group_size = 1`` is :func:`per_neuron_mi_tensor`; ``group_size = m`` the joint MI.
    Between the two it also penalises dependence carried by combinations of neurons at ``O(n m 2^g)`` cost.
    """
    m = theta.shape[1]
    g = int(group_size)
    if not 1 <= g <= min(m, MAX_JOINT_NEURONS):
        raise ValueError(
            f"group_size must be in 1..{min(m, MAX_JOINT_NEURONS)} for a layer of {m} neurons, "
            f"got {group_size!r}"
        )
    a, pi = group_matrix(s, n_cat, theta.data.dtype, w)
    keep = pi > 0
    a, pi = a[keep], pi[keep]
    if len(pi) < 2:
        return Tensor(np.zeros((), dtype=theta.data.dtype), requires_grad=False)
    perm = rng.permutation(m) if rng is not None else np.arange(m)
    # (C, Σ_g 2^|g|): P(t_g | v) of every group, clamped at 0 (negative event weights)
    return code_information(group_code_means(theta, perm, a, g, eps), pi)


def layer_mi(theta: Tensor, s: np.ndarray, kind: str = "per_neuron", y: np.ndarray | None = None,
             n_cat: int | None = None, group_size: int = 4, rng: np.random.Generator | None = None,
             running: dict | None = None, momentum: float = 0.0, w: np.ndarray | None = None) -> Tensor:
    """``I(T; S)`` of one layer by ``kind`` ∈ {"per_neuron", "joint", "grouped", "conditional"} (bits).

    ``w`` are event weights (default 1): every mean over rows is the weighted mean (see :func:`group_matrix`).
    ``conditional`` needs class codes ``y`` and uses only labelled rows (``y ≥ 0``):
    ``Σ_c (W_c / W_lab) I_pn(T; S | Y = c)``.
    """
    if kind == "per_neuron":
        return per_neuron_mi_tensor(theta, s, n_cat, running, momentum, w)
    if kind == "joint":
        return joint_mi_tensor(theta, s, n_cat, w=w)
    if kind == "grouped":
        return grouped_mi_tensor(theta, s, group_size, rng, n_cat, w=w)
    if kind == "conditional":
        if y is None:
            raise ValueError("mi='conditional' needs the labels y")
        y = np.asarray(y)
        wv = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
        lab = np.flatnonzero(y >= 0)
        w_lab = float(wv[lab].sum())
        total = None
        for c in np.unique(y[lab]):
            rows = lab[y[lab] == c]
            if len(rows) < 2 or w_lab <= 0:
                continue
            term = per_neuron_mi_tensor(theta[rows], np.asarray(s)[rows], n_cat, w=wv[rows])
            term = term * (float(wv[rows].sum()) / w_lab)
            total = term if total is None else total + term
        if total is None:
            return Tensor(np.zeros((), dtype=theta.data.dtype), requires_grad=False)
        return total
    raise ValueError(f"mi must be one of {MI_KINDS}, got {kind!r}")
