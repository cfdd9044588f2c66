"""What a user would write without sqnn: numpy/BLAS baselines each kernel is measured against."""

from __future__ import annotations

import numpy as np


def numpy_float_dense(x_pm1: np.ndarray, w_pm1: np.ndarray) -> np.ndarray:
    """±1 dot products as a float32 BLAS matmul ``x @ w.T``."""
    return x_pm1 @ w_pm1.T


def numpy_popcount_dense(xp: np.ndarray, wp: np.ndarray, k: int, rows: int = 64) -> np.ndarray:
    """``k - 2 popcount(x XOR w)`` with ``np.bitwise_count`` on broadcast XORs, in row blocks."""
    out = np.empty((len(xp), len(wp)), dtype=np.int32)
    for i in range(0, len(xp), rows):
        pc = np.bitwise_count(xp[i : i + rows, None, :] ^ wp[None, :, :]).sum(axis=2, dtype=np.int32)
        out[i : i + rows] = k - 2 * pc
    return out


def numpy_bernoulli_packbits(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rng.random(p.shape) < p`` then ``np.packbits`` (little bit order)."""
    return np.packbits(rng.random(p.shape) < p, axis=1, bitorder="little")


# -- training: the hot ops of the trainer as plain numpy-autograd compositions (before training.fused) --
def autograd_activation(dot, b, k: int, slope: float):
    """``θ = σ(slope · (dot / k + b))`` as four autograd ops (scale, add, scale, sigmoid)."""
    return ((dot * (1.0 / k) + b) * slope).sigmoid()


def autograd_layer(x, packed, w, b, slope: float):
    """:func:`training.fused.binary_layer` from autograd ops: a float matrix product with ``sign(W)``, then
    :func:`autograd_activation` (``packed`` is not used)."""
    return autograd_activation(x @ w.sign_ste(), b, w.shape[0], slope)


def autograd_thermometer_layer(levels, widths, w, b, slope: float):
    """:func:`training.fused.thermometer_layer` from autograd ops: the dense ±1 thermometer code (feature
    ``f``'s bits ``+1`` for its first ``levels[r, f]`` edges), then :func:`autograd_layer`."""
    from training.autograd import Tensor

    cols = [np.where(np.arange(wf)[None, :] < levels[:, f:f + 1], 1.0, -1.0) for f, wf in enumerate(widths)]
    x = Tensor(np.concatenate(cols, axis=1).astype(w.data.dtype), requires_grad=False)
    return autograd_layer(x, None, w, b, slope)


def autograd_dot(x, packed, w):
    """:func:`training.fused.binary_dot` as the float matrix product ``x @ sign(W)`` (``packed`` not used)."""
    return x @ w.sign_ste()


def autograd_logit(x, packed, w, rho, c):
    """:func:`training.fused.binary_logit` from autograd ops (``packed`` not used)."""
    return x @ w.sign_ste() * (rho.exp() * (1.0 / w.shape[0])) + c


def autograd_code_information(cond, pi: np.ndarray):
    """:func:`training.losses.code_information` as its thirteen autograd ops."""
    from training.autograd import Tensor

    c = cond.relu()
    ratio = (c + 1e-30).log() - (Tensor(pi[None, :], requires_grad=False) @ c + 1e-30).log()
    return ((c * ratio).sum(axis=1) * pi).sum() * (1.0 / float(np.log(2.0)))


def autograd_bce_with_logits(z, y: np.ndarray, w: np.ndarray | None = None, weight_mean: float = 1.0):
    """:func:`training.losses.bce_with_logits` as autograd ops (log-sigmoid of ``±z``, weighted sums)."""
    from training.autograd import Tensor

    y = np.asarray(y)
    lab = y >= 0
    n_lab = int(lab.sum())
    if n_lab == 0:
        return Tensor(np.zeros((), dtype=z.data.dtype), requires_grad=False)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    coef = (np.where(lab, w, 0.0) / (n_lab * float(weight_mean))).astype(z.data.dtype)
    w_pos = np.where(y == 1, coef, 0).astype(z.data.dtype)
    w_neg = np.where(y == 0, coef, 0).astype(z.data.dtype)
    return -((z.log_sigmoid() * w_pos).sum() + ((-z).log_sigmoid() * w_neg).sum())


def numpy_adam_kernel(p, g, m, v, b1, one_minus_b1, b2, one_minus_b2, step, c2, eps) -> None:
    """``training.optim._adam_kernel`` as numpy expressions on the flat arrays (in place)."""
    m *= b1
    m += one_minus_b1 * g
    v *= b2
    v += one_minus_b2 * g * g
    p -= step * m / (np.sqrt(v / c2) + eps)


def autograd_code_means(theta, perm: np.ndarray, a: np.ndarray, size: int, eps: float):
    """:func:`training.fused.group_code_means` from autograd ops: permute, clip, then per part of equal-size
    groups ``P = exp(log θ' @ B + log(1 − θ') @ (1 − B))`` (one matmul over all (row, group) pairs, a custom
    op for the exp-of-matmul) and ``A @ P``; parts concatenated."""
    from training.autograd import Tensor, concat

    m = theta.shape[1]
    dt = theta.data.dtype
    theta = theta.permute_columns(np.asarray(perm)) * (1.0 - 2.0 * eps) + eps
    a_t = Tensor(np.asarray(a, dtype=dt), requires_grad=False)
    parts = []
    full, rest = divmod(m, size)
    for lo, n_groups, sz in ((0, full, size), (full * size, 1, rest)):
        if not n_groups or not sz:
            continue
        sel = np.zeros((m, n_groups * sz), dtype=dt)
        sel[lo + np.arange(n_groups * sz), np.arange(n_groups * sz)] = 1.0
        part = theta @ Tensor(sel, requires_grad=False) if (lo, n_groups * sz) != (0, m) else theta
        parts.append(a_t @ _code_probs(part, n_groups, sz))
    return parts[0] if len(parts) == 1 else concat(parts, axis=1)


def _code_probs(theta, n_groups: int, size: int):
    """Probabilities (n, groups · 2^size) of every code of each group of ``size`` consecutive columns."""
    n = theta.shape[0]
    dt = theta.data.dtype
    codes = ((np.arange(1 << size)[None, :] >> np.arange(size)[:, None]) & 1).astype(dt)  # (size, 2^size)
    anti = (1.0 - codes).astype(dt)
    th = theta.data.reshape(n * n_groups, size)
    probs = np.exp(np.log(th) @ codes + np.log1p(-th) @ anti)

    def backward(g):
        gp = g.reshape(n * n_groups, 1 << size) * probs
        theta._acc(((gp @ codes.T) / th - (gp @ anti.T) / (1.0 - th)).reshape(theta.data.shape))

    return theta._child(probs.reshape(n, n_groups << size), (theta,), "code_probs", backward)
