"""Optimisers over :class:`~training.autograd.Tensor` parameters."""

from __future__ import annotations

import numpy as np

from .autograd import Tensor

__all__ = ["Adam"]


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
            g = p.grad
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            lr = self.lr * self._lr_scale.get(id(p), 1.0)
            p.data -= (lr / c1) * m / (np.sqrt(v / c2) + self.eps)
            if id(p) in self._clip:
                np.clip(p.data, -1.0, 1.0, out=p.data)
