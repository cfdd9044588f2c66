"""Fused autograd ops for the hot part of SQNN training, computed by numba kernels.

Each op is one :class:`~training.autograd.Tensor` node whose forward and backward are numba kernels; the
plain numpy twins of the kernels are in :mod:`training.fused_reference` and the tests compare the two and
check every gradient with :func:`~training.autograd.gradcheck`.

* :func:`stochastic_activation`: the activation probability of a hidden layer from its ±1 dot product::

      θ = σ(slope · (dot / k + b))                               (n, m)
      ∂θ/∂dot = slope θ (1 − θ) / k,    ∂θ/∂b = slope θ (1 − θ)

* :func:`group_code_means`: per-category means of the joint code probabilities of groups of neurons, the
  inner part of the grouped information ``Σ_g I(T_g; S)`` (:func:`training.losses.grouped_mi_tensor`).
  Neurons ``perm[g·size : (g+1)·size]`` form group ``g`` (the last group takes the remainder); with
  ``θ' = θ (1 − 2ε) + ε`` (kept inside (0, 1)) the probability of code ``t`` (bit ``i`` = neuron ``i``) is a
  product, and its mean over the rows of category ``v`` is an ``A``-weighted sum. Each row weighs into one
  category at most (``A[v, r] = 0`` for ``v ≠ s_r``, as per-category means have), so the kernels take each
  category's rows together and sum a row into its own category only::

      P_rg(t) = Π_i θ'_ri^{t_i} (1 − θ'_ri)^{1 − t_i}
      cond[v, g·2^size + t] = Σ_{r: s_r = v} A[v, r] P_rg(t)

  The backward pass uses that ``Σ_t G(t) P_rg(t)`` is multilinear in the ``θ'_ri``: with
  ``G(t) = ∂L/∂cond[s_r, g·2^size + t]``,

      ∂L/∂θ_ri = (1 − 2ε) A[s_r, r] Σ_{t_-i} P_r,-i(t_-i) (G(t_-i, t_i = 1) − G(t_-i, t_i = 0))

  evaluated by summing the other neurons of the group out one at a time, ``F ← F(0) + θ' (F(1) − F(0))``
  (no division, ``size · 2^(size − 1)`` steps per row and group). The (n, groups · 2^size) matrix of code
  probabilities is never stored. Both are float64 inside.

* :func:`binary_dot` and :func:`binary_layer`: a layer's ±1 dot product ``dot = x · sign(W)`` from the packed
  bits of its ±1 input (XNOR-popcount, :func:`sqnn_kernels.xnor_popcount_dense`; exact, as the float32 matrix
  product of ±1 values is for ``k < 2^24``), with the straight-through gradient of ``sign``::

      ∂L/∂x = ∂L/∂dot · sign(W)ᵀ,    ∂L/∂W = (xᵀ ∂L/∂dot) ⊙ 1[|W| ≤ 1]

  :func:`binary_layer` adds :func:`stochastic_activation`; its forward looks θ up in a table of the
  ``k + 1`` values ``dot ∈ {−k, −k + 2, …, k}`` can take (per neuron), computed by the same kernel as
  :func:`stochastic_activation`, so θ is the same to the bit with ``(k + 1) m`` instead of ``n m``
  exponentials.

* :func:`thermometer_layer`: :func:`binary_layer` for the first layer, whose input is a thermometer code
  given by its per-feature levels: dot products from per-feature tables (exact), the weight gradient from
  per-level sums (``O(n F m)`` for ``F`` features instead of ``O(n k m)``; see its docstring).

* :func:`sample_pm1`: a layer's Bernoulli sample as packed bits (those of
  :func:`sqnn_kernels.bernoulli_pack`) and as the dense ±1 matrix, in one pass.

Threads: every kernel gives each output element to exactly one thread and sums in a fixed order, so results
are bit-identical for any ``numba.get_num_threads()``. Arithmetic is float64 inside; outputs take the dtype
of ``θ`` (float32 in training).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

import sqnn_kernels as sk
from sqnn_kernels._jit import PARALLEL_MIN_WORK, Dual, dual, jit
from sqnn_kernels.bernoulli import draw, row_key, seed_key
from sqnn_kernels.validation import check_seed

from .autograd import Tensor, sign_pm1, ste_window, unbroadcast

__all__ = ["binary_dot", "binary_layer", "binary_logit", "category_rows", "group_code_means",
           "n_code_columns", "sample_pm1", "stochastic_activation", "thermometer_layer", "unpack_pm1"]

_BLOCK = 64  # rows per block: the innermost, vectorised loop of the code kernels runs over a block's rows


def n_code_columns(m: int, size: int) -> int:
    """Columns of :func:`group_code_means`: ``2^size`` per full group, ``2^(m mod size)`` for a remainder."""
    full, rest = divmod(m, size)
    return (full << size) + ((1 << rest) if rest else 0)


def _run(kernel: Dual, work: int, *args) -> None:
    """The parallel build of ``kernel`` for at least ``PARALLEL_MIN_WORK`` elementary operations when more
    than one numba thread is available (through :class:`~sqnn_kernels._jit.Dual`, which also keeps a process
    forked after OpenMP threads started on the serial build), the serial build otherwise (same result)."""
    if work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1:
        kernel(work, *args)
    else:
        kernel.serial(*args)


# -- kernels ----------------------------------------------------------------------------------------------
@dual
def _activation_forward(dot, b, inv_k, slope, theta):
    n, m = dot.shape
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        for r in range(blk * _BLOCK, min(n, blk * _BLOCK + _BLOCK)):
            for j in range(m):
                theta[r, j] = -slope * (np.float64(dot[r, j]) * inv_k + np.float64(b[j]))
                theta[r, j] = 1.0 / (1.0 + np.exp(theta[r, j]))  # exp in θ's precision (expf for float32)


@jit(inline="always")
def _sigmoid_grad(theta, g, slope):
    """∂L/∂a = ∂L/∂θ · slope · θ (1 − θ) for θ = sigmoid(slope · a), in float64."""
    t = np.float64(theta)
    return np.float64(g) * slope * t * (1.0 - t)


@dual
def _activation_backward(theta, g, slope, ga):
    n, m = theta.shape
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        for r in range(blk * _BLOCK, min(n, blk * _BLOCK + _BLOCK)):
            for j in range(m):
                ga[r, j] = _sigmoid_grad(theta[r, j], g[r, j], slope)


@dual
def _layer_backward(theta, g, slope, inv_k, ga, gdot):
    n, m = theta.shape
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        for r in range(blk * _BLOCK, min(n, blk * _BLOCK + _BLOCK)):
            for j in range(m):
                ga[r, j] = _sigmoid_grad(theta[r, j], g[r, j], slope)
                gdot[r, j] = ga[r, j] * inv_k  # rounded to gdot's precision on store


@dual
def _table_lookup(dot, table, k, theta):
    n, m = dot.shape
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        for r in range(blk * _BLOCK, min(n, blk * _BLOCK + _BLOCK)):
            for j in range(m):
                theta[r, j] = table[(dot[r, j] + k) >> 1, j]


@dual
def _unpack_pm1(packed, out):
    n, k = out.shape
    for r in prange(n):
        for wd in range(packed.shape[1]):
            word = packed[r, wd]
            base = wd * 64
            for i in range(min(64, k - base)):
                out[r, base + i] = 1.0 if (word >> np.uint64(i)) & np.uint64(1) else -1.0


@dual
def _sample_pm1(theta, seed, packed, dense):
    n, m = theta.shape
    key0 = seed_key(seed)
    for r in prange(n):
        key = row_key(key0, r)
        for j in range(m):
            dense[r, j] = 1.0 if draw(key, j, np.float64(theta[r, j])) else -1.0
        for wd in range(packed.shape[1]):
            base = wd * 64
            acc = np.uint64(0)
            for i in range(min(64, m - base)):
                acc |= np.uint64(dense[r, base + i] > 0) << np.uint64(i)
            packed[r, wd] = acc


# The code kernels take the rows of each category together: ``order`` lists the rows that weigh into some
# category (``coef != 0``), sorted by category, ``starts[v]:starts[v + 1]`` being category ``v``'s share, and
# ``coef[q]`` is the weight ``A[v, order[q]]``. So every block of rows belongs to one category, the forward
# sums each row into its own category only, and the backward reads one category's ``∂L/∂cond`` as scalars.
# The inner loops run over the rows of a block through 1-D views (``p_t = p[t]``), which numba types as
# contiguous so LLVM vectorises them; a full block passes the constant ``_BLOCK`` as the trip count.
@jit(inline="always")
def _gather_block(theta, perm, lo, sz, order, q0, nb, scale, eps, th):
    """``th[i, j] = θ'`` of neuron ``perm[lo + i]`` at row ``order[q0 + j]``, ``j < nb``."""
    for i in range(sz):
        c = perm[lo + i]
        th_i = th[i]
        for j in range(nb):
            th_i[j] = np.float64(theta[order[q0 + j], c]) * scale + eps


@jit(inline="always")
def _accumulate_codes(coef, q0, nb, sz, th, p, acc):
    """``acc[t, j] += coef[q0 + j] · P_j(t)`` for the block's rows (``P`` built neuron by neuron in ``p``)."""
    p_0 = p[0]
    for j in range(nb):
        p_0[j] = coef[q0 + j]
    for i in range(sz - 1):
        half = 1 << i
        th_i = th[i]
        for t in range(half):
            p_t = p[t]
            p_u = p[t + half]
            for j in range(nb):
                x = p_t[j]
                p_u[j] = x * th_i[j]
                p_t[j] = x * (1.0 - th_i[j])
    half = 1 << (sz - 1)  # the last neuron's factor goes straight into the sums
    th_i = th[sz - 1]
    for t in range(half):
        p_t = p[t]
        acc_t = acc[t]
        acc_u = acc[t + half]
        for j in range(nb):
            x = p_t[j]
            acc_u[j] += x * th_i[j]
            acc_t[j] += x * (1.0 - th_i[j])


@dual
def _codes_forward(theta, perm, order, coef, starts, size, eps, cond):
    m = theta.shape[1]
    n_cat = starts.shape[0] - 1
    n_groups = (m + size - 1) // size
    scale = 1.0 - 2.0 * eps
    for g in prange(n_groups):  # each group owns its columns of cond; its rows are summed in a fixed order
        lo = g * size
        sz = min(size, m - lo)
        col0 = g << size
        th = np.empty((sz, _BLOCK))
        p = np.empty((1 << (sz - 1), _BLOCK))
        acc = np.empty((1 << sz, _BLOCK))  # one partial sum per row slot j
        for v in range(n_cat):
            acc[:] = 0.0
            for q0 in range(starts[v], starts[v + 1], _BLOCK):
                nb = min(_BLOCK, starts[v + 1] - q0)
                if nb == _BLOCK:
                    _gather_block(theta, perm, lo, sz, order, q0, _BLOCK, scale, eps, th)
                    _accumulate_codes(coef, q0, _BLOCK, sz, th, p, acc)
                else:
                    _gather_block(theta, perm, lo, sz, order, q0, nb, scale, eps, th)
                    _accumulate_codes(coef, q0, nb, sz, th, p, acc)
            for t in range(1 << sz):
                acc_t = acc[t]
                total = 0.0
                for j in range(_BLOCK):
                    total += acc_t[j]
                cond[v, col0 + t] = total


@jit(inline="always")
def _code_derivatives(gcond, v, col0, sz, nb, th, d, buf, out, perm, lo):
    """``out[perm[lo + i], j] = ∂/∂θ'_i Σ_t gcond[v, col0 + t] P_j(t)`` for the group's neurons ``i``.

    The derivative is multilinear: ``Σ_{t_-i} P_-i(t_-i) (G(t_-i, t_i = 1) − G(t_-i, t_i = 0))``. The
    differences ``d`` are scalars (one category per block); the other neurons are then summed out one at a
    time from the highest, ``F ← F(0) + θ' (F(1) − F(0))``, leaving one value per row.
    """
    for i in range(sz):
        low = (1 << i) - 1
        for u in range(1 << (sz - 1)):
            t0 = ((u >> i) << (i + 1)) | (u & low)
            d[u] = np.float64(gcond[v, col0 + t0 + (1 << i)]) - np.float64(gcond[v, col0 + t0])
        out_i = out[perm[lo + i]]
        if sz == 1:
            for j in range(nb):
                out_i[j] = d[0]
            continue
        k = sz - 2  # the first sum reads the scalar differences
        th_k = th[k if k < i else k + 1]
        half = 1 << k
        for u in range(half):
            du = d[u]
            dd = d[u + half] - du
            buf_u = buf[u]
            for j in range(nb):
                buf_u[j] = du + th_k[j] * dd
        for k in range(sz - 3, -1, -1):
            th_k = th[k if k < i else k + 1]
            half = 1 << k
            for u in range(half):
                buf_u = buf[u]
                buf_h = buf[u + half]
                for j in range(nb):
                    buf_u[j] += th_k[j] * (buf_h[j] - buf_u[j])
        buf_0 = buf[0]
        for j in range(nb):
            out_i[j] = buf_0[j]


@dual
def _codes_backward(theta, perm, order, coef, blk_start, blk_cat, size, eps, gcond, gtheta):
    m = theta.shape[1]
    n_groups = (m + size - 1) // size
    scale = 1.0 - 2.0 * eps
    for b in prange(blk_cat.shape[0]):  # each block of rows (one category) owns its rows of gtheta
        q0 = blk_start[b]
        nb = blk_start[b + 1] - q0
        v = blk_cat[b]
        th = np.empty((size, _BLOCK))
        d = np.empty(1 << (size - 1))
        buf = np.empty((1 << max(0, size - 2), _BLOCK))
        gt = np.empty((m, _BLOCK))  # this block's ∂L/∂θ' transposed: vectorised over rows, then stored
        for g in range(n_groups):
            lo = g * size
            sz = min(size, m - lo)
            if nb == _BLOCK:
                _gather_block(theta, perm, lo, sz, order, q0, _BLOCK, scale, eps, th)
                _code_derivatives(gcond, v, g << size, sz, _BLOCK, th, d, buf, gt, perm, lo)
            else:
                _gather_block(theta, perm, lo, sz, order, q0, nb, scale, eps, th)
                _code_derivatives(gcond, v, g << size, sz, nb, th, d, buf, gt, perm, lo)
        for j in range(nb):
            f = scale * coef[q0 + j]
            r = order[q0 + j]
            for c in range(m):
                gtheta[r, c] = f * gt[c, j]


@jit
def _thermo_table(signs, widths, table):
    """``table[base_f + c, j]`` = the ±1 dot product of neuron ``j``'s weights of feature ``f`` with that
    feature's thermometer bits at level ``c`` (``c`` bits ``+1``, then ``−1``), ``base_f = o_f + f``."""
    m = signs.shape[1]
    o = 0
    for f in range(widths.shape[0]):
        base = o + f
        for j in range(m):
            total = 0
            for e in range(widths[f]):
                total += signs[o + e, j]
            table[base, j] = -total
        for c in range(widths[f]):
            for j in range(m):
                table[base + c + 1, j] = table[base + c, j] + 2 * signs[o + c, j]
        o += widths[f]


@dual
def _thermo_forward(levels, base, table, k, atable, theta):
    n, n_feat = levels.shape
    m = table.shape[1]
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        acc = np.empty(m, dtype=np.int32)
        for r in range(blk * _BLOCK, min(n, blk * _BLOCK + _BLOCK)):
            for j in range(m):
                acc[j] = 0
            for f in range(n_feat):
                row = table[base[f] + np.int64(levels[r, f])]
                for j in range(m):
                    acc[j] += row[j]
            for j in range(m):
                theta[r, j] = atable[(acc[j] + k) >> 1, j]


@dual
def _thermo_weight_grad(levels, base, widths, ga, inv_k, hist, gw):
    n, n_feat = levels.shape
    m = ga.shape[1]
    for f in prange(n_feat):  # each feature owns its rows of hist and gw; rows are summed in order
        b = base[f]
        for r in range(n):
            h = hist[b + np.int64(levels[r, f])]
            for j in range(m):
                h[j] += ga[r, j]
        total = np.zeros(m)
        for c in range(widths[f] + 1):
            for j in range(m):
                total[j] += hist[b + c, j]
        below = np.zeros(m)  # Σ of the levels ≤ e: the rows where bit e is −1
        o = b - f
        for e in range(widths[f]):
            for j in range(m):
                below[j] += hist[b + e, j]
                gw[o + e, j] = (total[j] - 2.0 * below[j]) * inv_k


# -- autograd ops -----------------------------------------------------------------------------------------
def stochastic_activation(dot: Tensor, b: Tensor, k: int, slope: float) -> Tensor:
    """``θ = σ(slope · (dot / k + b))`` of a hidden layer as one op (see the module docstring).

    Parameters
    ----------
    dot : Tensor (n, m)
        ±1 dot products ``x · sign(W)``.
    b : Tensor (m,)
        Bias in units of ``dot / k``.
    k, slope : fan-in and steepness.
    """
    d = np.ascontiguousarray(dot.data)
    n, m = d.shape
    theta = np.empty((n, m), dtype=d.dtype)
    bias = np.ascontiguousarray(b.data, dtype=np.float64)
    slope = float(slope)
    inv_k = 1.0 / float(k)
    _run(_activation_forward, n * m * 16, d, bias, inv_k, slope, theta)

    def _backward(g):
        ga = np.empty((n, m), dtype=np.float64)
        _run(_activation_backward, n * m * 4, theta, np.ascontiguousarray(g), slope, ga)
        if b.requires_grad:
            b._acc(ga.sum(axis=0))
        if dot.requires_grad:
            dot._acc((ga * inv_k).astype(d.dtype))

    return dot._child(theta, (dot, b), "stochastic_activation", _backward)


def unpack_pm1(packed: np.ndarray, k: int, dtype=np.float32) -> np.ndarray:
    """The dense ±1 matrix (n, k) of packed bits (n, ceil(k/64)) (bit 1 = +1), in one pass.

    The same values as ``training.layers.bits_to_pm1(sqnn_kernels.unpack_bits(packed, k), dtype)``.
    """
    packed = np.ascontiguousarray(packed, dtype=np.uint64)
    out = np.empty((packed.shape[0], int(k)), dtype=dtype)
    _run(_unpack_pm1, out.size, packed, out)
    return out


def sample_pm1(theta: np.ndarray, seed: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli samples of ``θ`` (n, m) as packed bits and as dense ±1 ``dtype``, in one pass.

    The bits are those of :func:`sqnn_kernels.bernoulli_pack` ``(θ, seed)`` (same counter-based generator,
    rows from 0), and the dense matrix is ``unpack_pm1`` of them. ``θ`` must lie in [0, 1] (it is not checked
    here: the trainer's θ come from a sigmoid).
    """
    theta = np.ascontiguousarray(theta)
    n, m = theta.shape
    packed = np.empty((n, (m + 63) // 64), dtype=np.uint64)
    dense = np.empty((n, m), dtype=dtype)
    _run(_sample_pm1, n * m * 16, theta, np.uint64(check_seed(seed)), packed, dense)
    return packed, dense


def _activation_table(b: np.ndarray, k: int, slope: float, dtype) -> np.ndarray:
    """``table[i, j] = θ`` of neuron ``j`` at ``dot = 2i − k`` (the :func:`stochastic_activation` kernel)."""
    m = b.shape[0]
    grid = np.repeat(np.arange(-k, k + 1, 2, dtype=dtype)[:, None], m, axis=1)
    table = np.empty((k + 1, m), dtype=dtype)
    bias = np.ascontiguousarray(b, dtype=np.float64)
    _run(_activation_forward, (k + 1) * m * 16, grid, bias, 1.0 / float(k), float(slope), table)
    return table


def _dot_backward(x: Tensor, w: Tensor, signs: np.ndarray, g: np.ndarray) -> None:
    """Add the shares of ``g = ∂L/∂dot`` (n, m) of ``dot = x · sign(W)`` to ``x`` and ``W``."""
    if w.requires_grad:
        w._acc((np.swapaxes(x.data, -1, -2) @ g) * ste_window(w.data))
    if x.requires_grad:
        x._acc(g @ np.swapaxes(signs, -1, -2))


def _packed_dots(packed: np.ndarray, w: np.ndarray) -> np.ndarray:
    """int32 (n, m) ``x · sign(W)`` of packed ±1 rows ``packed`` (n, ceil(k/64)) and latent ``w`` (k, m)."""
    wp = sk.pack_bits(np.ascontiguousarray(w.T >= 0))  # bit 1 where w ≥ 0: sign(0) = +1, as sign_ste
    return sk.xnor_popcount_dense(packed, wp, w.shape[0])


def binary_dot(x: Tensor, packed: np.ndarray, w: Tensor) -> Tensor:
    """``x @ sign(W)`` (n, m) of a ±1 input as one op, forward by XNOR-popcount (see the module docstring).

    Parameters
    ----------
    x : Tensor (n, k)
        The ±1 input (dense; used by the backward pass only).
    packed : uint64 array (n, ceil(k/64))
        The same input as packed bits (bit 1 = +1).
    w : Tensor (k, m)
        Latent weights; the forward uses ``sign(W)`` (``sign(0) = +1``).
    """
    signs = sign_pm1(w.data)
    dot = _packed_dots(packed, w.data).astype(x.data.dtype)

    def _backward(g):
        _dot_backward(x, w, signs, g)

    return x._child(dot, (x, w), "binary_dot", _backward)


def binary_logit(x: Tensor, packed: np.ndarray, w: Tensor, rho: Tensor, c: Tensor) -> Tensor:
    """The one logit ``z = e^ρ · (x · sign(W)) / k + c`` (n, 1) of the two-class output layer as one op.

    ``w`` is (k, 1), ``rho`` and ``c`` are (1,); other arguments as :func:`binary_dot`. The value and the
    gradients are those of ``binary_dot(x, packed, w) * (rho.exp() * (1 / k)) + c`` bit for bit::

        ∂L/∂dot = g α / k,   ∂L/∂ρ = (Σ_r g_r dot_r) α / k,   ∂L/∂c = Σ_r g_r        (α = e^ρ)
    """
    dtype = x.data.dtype
    k = w.shape[0]
    signs = sign_pm1(w.data)
    dot = _packed_dots(packed, w.data).astype(dtype)
    alpha = np.exp(rho.data)
    inv_k = np.asarray(1.0 / k, dtype=rho.data.dtype)
    scale = alpha * inv_k

    def _backward(g):
        c._acc(g)
        if rho.requires_grad:
            rho._acc(unbroadcast(g * dot, scale.shape) * inv_k * alpha)
        _dot_backward(x, w, signs, g * scale)

    return x._child(dot * scale + c.data, (x, w, rho, c), "binary_logit", _backward)


def binary_layer(x: Tensor, packed: np.ndarray, w: Tensor, b: Tensor, slope: float) -> Tensor:
    """``θ = σ(slope · (x · sign(W) / k + b))`` of a hidden layer as one op.

    The same values and gradients as ``stochastic_activation(x @ w.sign_ste(), b, k, slope)`` (bit for bit);
    arguments as :func:`binary_dot` and :func:`stochastic_activation`.
    """
    k, m = w.shape
    dtype = x.data.dtype
    signs = sign_pm1(w.data)
    dot = _packed_dots(packed, w.data)
    n = dot.shape[0]
    table = _activation_table(b.data, k, slope, dtype)
    theta = np.empty((n, m), dtype=dtype)
    _run(_table_lookup, n * m * 4, dot, table, np.int32(k), theta)
    slope = float(slope)
    inv_k = 1.0 / float(k)

    def _backward(g):
        ga = np.empty((n, m), dtype=np.float64)  # ∂L/∂a, a = dot / k + b
        gdot = np.empty((n, m), dtype=dtype)  # ∂L/∂dot = ∂L/∂a / k
        _run(_layer_backward, n * m * 4, theta, np.ascontiguousarray(g), slope, inv_k, ga, gdot)
        if b.requires_grad:
            b._acc(ga.sum(axis=0))
        _dot_backward(x, w, signs, gdot)

    return x._child(theta, (x, w, b), "binary_layer", _backward)


def thermometer_layer(levels: np.ndarray, widths: np.ndarray, w: Tensor, b: Tensor, slope: float) -> Tensor:
    """``θ = σ(slope · (x · sign(W) / k + b))`` of a layer whose ±1 input ``x`` is a thermometer code, from
    its levels (see :class:`training.layers.PackedSigns`), as one op.

    Feature ``f``'s ``widths[f]`` bits are ``+1`` for the first ``levels[r, f]`` and ``−1`` after, so
    ``dot_r = Σ_f D_f[levels[r, f]]`` with a per-feature table ``D_f`` (``widths[f] + 1`` rows of exact
    integers, built from ``sign(W)`` once per call): θ is that of :func:`binary_layer` bit for bit. The
    weight gradient ``Σ_r x_r ∂L/∂dot_r`` is formed the same way, from per-level sums ``H_f[c] = Σ_{r:
    levels[r, f] = c} ∂L/∂a_r``::

        ∂L/∂W[o_f + e] = (Σ_c H_f[c] − 2 Σ_{c ≤ e} H_f[c]) / k · 1[|W| ≤ 1]

    in float64, rounded once (:func:`binary_layer` forms it as a float32 matrix product, so the two agree to
    float32 rounding, not bit for bit); ``∂L/∂b`` is :func:`binary_layer`'s. Cost ``O(n F m)`` for ``F``
    features instead of ``O(n k m)``.

    Parameters
    ----------
    levels : unsigned int array (n, F)
        Number of ``+1`` bits of each feature, ``0 ≤ levels[r, f] ≤ widths[f]``.
    widths : int array (F,)
        Bits per feature; ``Σ_f widths[f] = k``.
    w : Tensor (k, m)
        Latent weights; the forward uses ``sign(W)`` (``sign(0) = +1``).
    b : Tensor (m,)
        Bias in units of ``dot / k``.
    slope : float
    """
    k, m = w.shape
    dtype = w.data.dtype
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    if int(widths.sum()) != k:
        raise ValueError(f"widths must sum to the weights' input width k={k}, got {int(widths.sum())}")
    levels = np.ascontiguousarray(levels)
    n, n_feat = levels.shape
    base = np.cumsum(widths) - widths + np.arange(n_feat)  # first table row of each feature
    table = np.empty((k + n_feat, m), dtype=np.int32)
    _thermo_table(np.ascontiguousarray(sign_pm1(w.data), dtype=np.int32), widths, table)
    atable = _activation_table(b.data, k, slope, dtype)
    theta = np.empty((n, m), dtype=dtype)
    _run(_thermo_forward, n * m * n_feat, levels, base, table, np.int32(k), atable, theta)
    slope = float(slope)

    def _backward(g):
        ga = np.empty((n, m), dtype=np.float64)  # ∂L/∂a, a = dot / k + b
        _run(_activation_backward, n * m * 4, theta, np.ascontiguousarray(g), slope, ga)
        if b.requires_grad:
            b._acc(ga.sum(axis=0))
        if w.requires_grad:
            gw = np.empty((k, m), dtype=dtype)
            hist = np.zeros((k + n_feat, m))
            _run(_thermo_weight_grad, n * m * n_feat, levels, base, widths, ga, 1.0 / k, hist, gw)
            w._acc(gw * ste_window(w.data))

    return w._child(theta, (w, b), "thermometer_layer", _backward)


@jit
def _category_rows(a, order, coef, starts, blk_start, blk_cat):
    """Fill ``order``, ``coef``, ``starts`` (see the code kernels) and the blocks of at most ``_BLOCK`` rows
    that never straddle two categories (``blk_start``, ``blk_cat``) from ``A`` (C, n), a counting sort that
    keeps the row order within a category. Returns the number of blocks, or −1 if a column of ``A`` has two
    non-zeros."""
    n_cat, n = a.shape
    cat = np.full(n, -1, dtype=np.int64)
    starts[:] = 0
    for r in range(n):
        for v in range(n_cat):
            if a[v, r] != 0:
                if cat[r] >= 0:
                    return -1
                cat[r] = v
        if cat[r] >= 0:
            starts[cat[r] + 1] += 1
    for v in range(n_cat):
        starts[v + 1] += starts[v]
    pos = starts[:n_cat].copy()
    for r in range(n):
        v = cat[r]
        if v >= 0:
            order[pos[v]] = r
            coef[pos[v]] = a[v, r]
            pos[v] += 1
    n_blocks = 0
    for v in range(n_cat):
        for q0 in range(starts[v], starts[v + 1], _BLOCK):
            blk_start[n_blocks] = q0
            blk_cat[n_blocks] = v
            n_blocks += 1
    blk_start[n_blocks] = starts[n_cat]
    return n_blocks


def category_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(order, coef, starts, blk_start, blk_cat)`` of the code kernels for ``A`` (C, n) (float64), which
    must have at most one non-zero per column (a row weighs into one category at most)."""
    n_cat, n = a.shape
    order = np.empty(n, dtype=np.int64)
    coef = np.empty(n, dtype=np.float64)
    starts = np.empty(n_cat + 1, dtype=np.int64)
    blk_start = np.empty(n // _BLOCK + n_cat + 1, dtype=np.int64)
    blk_cat = np.empty(n // _BLOCK + n_cat, dtype=np.int64)
    n_blocks = _category_rows(a, order, coef, starts, blk_start, blk_cat)
    if n_blocks < 0:
        raise ValueError("a must give each row (column of a) at most one non-zero category weight, "
                         "as training.losses.group_matrix does")
    rows = starts[-1]
    return order[:rows], coef[:rows], starts, blk_start[:n_blocks + 1], blk_cat[:n_blocks]


def group_code_means(theta: Tensor, perm: np.ndarray, a: np.ndarray, size: int, eps: float) -> Tensor:
    """``cond[v, g·2^size + t]`` (C, cols): ``A``-weighted row sums of the code probabilities of each group.

    Parameters
    ----------
    theta : Tensor (n, m)
        Activation probabilities in [0, 1].
    perm : int array (m,)
        Neuron order; consecutive runs of ``size`` form the groups.
    a : float array (C, n)
        Row weights per category with at most one non-zero per row (column of ``a``), e.g.
        ``w_r 1[s_r = v] / W_v`` (:func:`training.losses.group_matrix`: per-category weighted means).
    size : int
        Group size, ``1 ≤ size ≤ 16``.
    eps : float
        ``θ`` is mapped to ``θ (1 − 2ε) + ε`` first.
    """
    th = np.ascontiguousarray(theta.data)
    n, m = th.shape
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.float64)
    size = int(size)
    order, coef, starts, blk_start, blk_cat = category_rows(a)
    cols = n_code_columns(m, size)
    cond = np.empty((a.shape[0], cols), dtype=np.float64)
    work = len(order) * cols * 2
    _run(_codes_forward, work, th, perm, order, coef, starts, size, float(eps), cond)

    def _backward(g):
        gtheta = np.zeros((n, m), dtype=th.dtype)  # float64 sums, rounded once on store; 0 where A is 0
        gcond = np.ascontiguousarray(g, dtype=np.float64)
        _run(_codes_backward, work * 2, th, perm, order, coef, blk_start, blk_cat, size, float(eps), gcond,
             gtheta)
        theta._acc(gtheta)

    return theta._child(cond.astype(th.dtype), (theta,), "group_code_means", _backward)
