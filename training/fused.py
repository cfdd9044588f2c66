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
  product, and its mean over the rows of category ``v`` is an ``A``-weighted sum::

      P_rg(t) = Π_i θ'_ri^{t_i} (1 − θ'_ri)^{1 − t_i}
      cond[v, g·2^size + t] = Σ_r A[v, r] P_rg(t)
      ∂cond[v, g, t]/∂θ_ri = (1 − 2ε) A[v, r] P_rg(t) (t_i / θ'_ri − (1 − t_i) / (1 − θ'_ri))

  The (n, groups · 2^size) matrix of code probabilities is never stored: the backward pass recomputes it.

* :func:`binary_dot` and :func:`binary_layer`: a layer's ±1 dot product ``dot = x · sign(W)`` from the packed
  bits of its ±1 input (XNOR-popcount, :func:`sqnn_kernels.xnor_popcount_dense`; exact, as the float32 matrix
  product of ±1 values is for ``k < 2^24``), with the straight-through gradient of ``sign``::

      ∂L/∂x = ∂L/∂dot · sign(W)ᵀ,    ∂L/∂W = (xᵀ ∂L/∂dot) ⊙ 1[|W| ≤ 1]

  :func:`binary_layer` adds :func:`stochastic_activation`; its forward looks θ up in a table of the
  ``k + 1`` values ``dot ∈ {−k, −k + 2, …, k}`` can take (per neuron), computed by the same kernel as
  :func:`stochastic_activation`, so θ is the same to the bit with ``(k + 1) m`` instead of ``n m``
  exponentials.

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

from .autograd import Tensor, sign_pm1, ste_window, unbroadcast

__all__ = ["binary_dot", "binary_layer", "binary_logit", "group_code_means", "n_code_columns",
           "stochastic_activation", "unpack_pm1"]

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


# The inner loops below run over one row of a 2-D buffer through a 1-D view (``p_t = p[t]``): numba types
# such a view as contiguous, so LLVM vectorises the loop without stride checks (measured 2x on the
# accumulation). Each element's arithmetic and summation order are unchanged.
@jit(inline="always")
def _block_codes(theta, perm, lo, sz, r0, nb, scale, eps, th, p):
    """``th[i, j] = θ'`` of neuron ``perm[lo + i]`` and ``p[t, j] = P(t)`` for rows ``r0 + j``, ``j < nb``."""
    for i in range(sz):
        c = perm[lo + i]
        th_i = th[i]
        for j in range(nb):
            th_i[j] = np.float64(theta[r0 + j, c]) * scale + eps
    p_0 = p[0]
    for j in range(nb):
        p_0[j] = 1.0
    for i in range(sz):
        half = 1 << i
        th_i = th[i]
        for t in range(half):
            p_t = p[t]
            p_u = p[t + half]
            for j in range(nb):  # rows innermost: contiguous, vectorised
                x = p_t[j]
                p_u[j] = x * th_i[j]
                p_t[j] = x * (1.0 - th_i[j])


@dual
def _codes_forward(theta, perm, a, size, eps, cond):
    n, m = theta.shape
    n_cat = a.shape[0]
    n_groups = (m + size - 1) // size
    scale = 1.0 - 2.0 * eps
    for g in prange(n_groups):  # each group owns its columns of cond; its rows are summed in a fixed order
        lo = g * size
        sz = min(size, m - lo)
        col0 = g << size
        th = np.empty((sz, _BLOCK))
        p = np.empty((1 << sz, _BLOCK))
        a_v = np.empty(_BLOCK)
        acc = np.zeros((n_cat << sz, _BLOCK))  # one partial sum per row slot j: no reassociation needed
        for r0 in range(0, n, _BLOCK):
            nb = min(_BLOCK, n - r0)
            _block_codes(theta, perm, lo, sz, r0, nb, scale, eps, th, p)
            for v in range(n_cat):
                for j in range(nb):
                    a_v[j] = np.float64(a[v, r0 + j])
                for t in range(1 << sz):
                    acc_vt = acc[(v << sz) + t]
                    p_t = p[t]
                    for j in range(nb):
                        acc_vt[j] += a_v[j] * p_t[j]
        for v in range(n_cat):
            for t in range(1 << sz):
                acc_vt = acc[(v << sz) + t]
                total = 0.0
                for j in range(_BLOCK):
                    total += acc_vt[j]
                cond[v, col0 + t] = total


@dual
def _codes_backward(theta, perm, a, size, eps, gcond, gtheta):
    n, m = theta.shape
    n_cat = a.shape[0]
    n_groups = (m + size - 1) // size
    scale = 1.0 - 2.0 * eps
    for blk in prange((n + _BLOCK - 1) // _BLOCK):  # each block of rows owns its rows of gtheta
        r0 = blk * _BLOCK
        nb = min(_BLOCK, n - r0)
        th = np.empty((size, _BLOCK))
        p = np.empty((1 << size, _BLOCK))
        on = np.empty(_BLOCK)
        off = np.empty(_BLOCK)
        a_r = np.empty((n_cat, _BLOCK))
        for v in range(n_cat):
            a_rv = a_r[v]
            for j in range(nb):
                a_rv[j] = np.float64(a[v, r0 + j])
        gt = np.empty((m, _BLOCK))  # this block's ∂L/∂θ transposed: vectorised over rows, then stored
        for g in range(n_groups):
            lo = g * size
            sz = min(size, m - lo)
            col0 = g << size
            _block_codes(theta, perm, lo, sz, r0, nb, scale, eps, th, p)
            for t in range(1 << sz):  # p becomes ∂L/∂P(t) · P(t), ∂L/∂P_r(t) = Σ_v A[v, r] ∂L/∂cond[v, t]
                for j in range(nb):
                    on[j] = 0.0
                for v in range(n_cat):
                    gv = np.float64(gcond[v, col0 + t])
                    a_rv = a_r[v]
                    for j in range(nb):
                        on[j] += a_rv[j] * gv
                p_t = p[t]
                for j in range(nb):
                    p_t[j] *= on[j]
            for i in range(sz):
                for j in range(nb):
                    on[j] = 0.0
                    off[j] = 0.0
                for t in range(1 << sz):
                    p_t = p[t]
                    if (t >> i) & 1:
                        for j in range(nb):
                            on[j] += p_t[j]
                    else:
                        for j in range(nb):
                            off[j] += p_t[j]
                gt_c = gt[perm[lo + i]]
                th_i = th[i]
                for j in range(nb):
                    gt_c[j] = scale * (on[j] / th_i[j] - off[j] / (1.0 - th_i[j]))
        for j in range(nb):
            for c in range(m):
                gtheta[r0 + j, c] = gt[c, j]


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


def group_code_means(theta: Tensor, perm: np.ndarray, a: np.ndarray, size: int, eps: float) -> Tensor:
    """``cond[v, g·2^size + t]`` (C, cols): ``A``-weighted row sums of the code probabilities of each group.

    Parameters
    ----------
    theta : Tensor (n, m)
        Activation probabilities in [0, 1].
    perm : int array (m,)
        Neuron order; consecutive runs of ``size`` form the groups.
    a : float array (C, n)
        Row weights per category (e.g. ``1[s_r = v] / N_v``: per-category means).
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
    cols = n_code_columns(m, size)
    cond = np.empty((a.shape[0], cols), dtype=np.float64)
    work = n * cols * 4
    _run(_codes_forward, work, th, perm, a, size, float(eps), cond)

    def _backward(g):
        gtheta = np.empty((n, m), dtype=th.dtype)  # float64 sums, rounded once on store
        gcond = np.ascontiguousarray(g, dtype=np.float64)
        _run(_codes_backward, work * 2, th, perm, a, size, float(eps), gcond, gtheta)
        theta._acc(gtheta)

    return theta._child(cond.astype(th.dtype), (theta,), "group_code_means", _backward)
