"""Optimisers over :class:`~training.autograd.Tensor` parameters."""

from __future__ import annotations

import numpy as np

from sqnn_kernels._jit import jit

from .autograd import Tensor

__all__ = ["Adam"]


@jit
def _adam_kernel(p, g, m, v, b1, one_minus_b1, b2, one_minus_b2, step, c2, eps):
    """One Adam update of flat arrays in place, every operation in the arrays' precision and in the order
    of the numpy expressions of :func:`training.fused_reference.adam_step` (the same result to the bit)."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i] * b1 + one_minus_b1 * gi
        vi = v[i] * b2 + one_minus_b2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - step * mi / (np.sqrt(vi / c2) + eps)


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction.

    ``m ← β1 m + (1 − β1) g``, ``v ← β2 v + (1 − β2) g²``,
    ``p ← p − lr · m̂ / (√v̂ + ε)`` with ``m̂ = m / (1 − β1^t)``, ``v̂ = v / (1 − β2^t)``.
    Parameters listed in ``clip`` are clipped to ``[−1, 1]`` after each step (latent binary weights);
    ``lr_scale`` maps ``id(param)`` to a factor on ``lr`` (e.g. a faster adversary).
    """

    def __init__(self, params: list[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, clip: list[Tensor] | None = None,
                 lr_scale: dict[int, float] | None = None):
        self.params = list(params)
        self.lr = float(lr)
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self._clip = {id(p) for p in (clip or [])}
        self._lr_scale = dict(lr_scale or {})  # id(param) -> factor on lr

    def zero_grad(self) -> None:
        """Reset every parameter's gradient."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update with the accumulated gradients (parameters without gradient are skipped)."""
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            lr = self.lr * self._lr_scale.get(id(p), 1.0)
            x = p.data.dtype.type  # scalars in the parameters' precision (numpy's rule for Python floats)
            g = np.ascontiguousarray(p.grad, dtype=p.data.dtype)
            if not p.data.flags.c_contiguous:  # updated in place through a flat view
                p.data = np.ascontiguousarray(p.data)
            _adam_kernel(p.data.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), x(self.b1),
                         x(1.0 - self.b1), x(self.b2), x(1.0 - self.b2), x(lr / c1), x(c2), x(self.eps))
            if id(p) in self._clip:
                np.clip(p.data, -1.0, 1.0, out=p.data)
