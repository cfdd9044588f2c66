"""Baselines with the same API as :class:`~training.SQNNClassifier` (``fit(X, y, s)``, ``predict_proba``,
``transform``):

* the γ = 0 SQNN: simply ``SQNNClassifier(gamma=0)``;
* :class:`MLPBaseline`: a float ReLU multilayer perceptron on standardised features (numpy autograd);
* :class:`GradientReversalClassifier`: the SQNN with a DANN-style adversary. A small ReLU network ``A``
  reads the last hidden layer's sampled ±1 bits through a gradient-reversal op ``R_λ`` (identity forward,
  ``−λ ·`` gradient backward) and predicts ``S``::

      L = CE_y(labelled rows) + CE_s(A(R_λ(T_L)))   (all rows)

  ``A`` minimises ``CE_s`` while the SQNN layers receive ``−λ ∂CE_s/∂T``, i.e. they maximise it.
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ._validation import check_fit_targets, check_s, check_x, check_y
from .autograd import Tensor, _sigmoid
from .classifier import SQNNClassifier, _single_threaded, stratified_batches
from .losses import bce_with_logits
from .optim import Adam

__all__ = ["GradientReversalClassifier", "MLPBaseline"]


class MLPBaseline(ClassifierMixin, BaseEstimator):
    """Float MLP: ``h_{l+1} = relu(h_l W_l + b_l)``, logit ``= h_L w + c`` on standardised inputs.

    Trained with Adam on the cross-entropy of labelled rows (``y = −1`` rows are ignored; ``s`` only
    stratifies the mini-batches). ``transform`` returns the last hidden layer (float).
    """

    def __init__(self, hidden=(64, 64), epochs: int = 30, batch_size: int = 512, lr: float = 0.003,
                 random_state=None, verbose: bool = False):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, s=None):
        """Fit on labelled rows of ``X``; returns self."""
        X = check_x(X)
        y = check_y(y, len(X))
        check_fit_targets(y, s, check_s(s, len(X)), "gamma", 0.0)
        s = check_s(s, len(X))
        hidden = tuple(int(h) for h in (self.hidden if np.ndim(self.hidden) else (self.hidden,)))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of positive integers, got {self.hidden!r}")
        rng = np.random.default_rng(self.random_state)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        xs = ((X - self.mean_) / self.scale_).astype(np.float32)
        widths = [X.shape[1], *hidden, 1]
        params = []
        for k, m in itertools.pairwise(widths):
            params.append(Tensor(rng.normal(0, np.sqrt(2.0 / k), (k, m)).astype(np.float32)))
            params.append(Tensor(np.zeros(m, np.float32)))
        opt = Adam(params, lr=float(self.lr))
        lab = np.flatnonzero(y >= 0)
        groups = (s * 3 + y + 1)[lab]
        epochs = range(int(self.epochs))
        if self.verbose:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="MLPBaseline", unit="epoch", leave=False)
        self.loss_curve_ = []
        with _single_threaded():
            for _ in epochs:
                total = 0.0
                batches = stratified_batches(groups, int(self.batch_size), rng)
                for b in batches:
                    idx = lab[b]
                    z = self._forward(Tensor(xs[idx], requires_grad=False), params)
                    loss = bce_with_logits(z.reshape(-1), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.data)
                self.loss_curve_.append(total / len(batches))
        self.params_ = [p.data.copy() for p in params]
        return self

    @staticmethod
    def _forward(h: Tensor, params, upto: int | None = None) -> Tensor:
        n_layers = len(params) // 2
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = h.relu()
            if upto is not None and i == upto:
                return h
        return h

    def _scaled(self, X) -> Tensor:
        if not hasattr(self, "params_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this MLPBaseline is not fitted yet; call fit(X, y, s) first")
        X = check_x(X, n_features=self.n_features_in_)
        return Tensor((X - self.mean_) / self.scale_, requires_grad=False)

    def decision_function(self, X) -> np.ndarray:
        """Logit of P(y = 1), float64 (n,)."""
        params = [Tensor(p.astype(np.float64), requires_grad=False) for p in self.params_]
        return self._forward(self._scaled(X), params).data[:, 0]

    def predict_proba(self, X) -> np.ndarray:
        """``[P(y = 0), P(y = 1)]``, float64 (n, 2)."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class labels ``decision_function(X) > 0``."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def transform(self, X) -> np.ndarray:
        """Last hidden layer's ReLU activations, float64 (n, hidden[-1])."""
        params = [Tensor(p.astype(np.float64), requires_grad=False) for p in self.params_]
        return self._forward(self._scaled(X), params, upto=len(self.params_) // 2 - 2).data


class GradientReversalClassifier(SQNNClassifier):
    """SQNN trained against a domain adversary through gradient reversal (DANN; Ganin et al. 2016).

    Parameters are those of :class:`SQNNClassifier` (``gamma`` defaults to 0, so only the adversary acts)
    plus ``strength`` (λ of the reversal, ramped in over ``gamma_warmup`` epochs) and ``adversary_hidden``
    (width of the adversary's one ReLU layer). The adversary predicts every category of ``s`` one-vs-rest.
    The fitted network is a plain SQNN: ``to_spec``, ``save``/``load`` (as an SQNNClassifier) all work.
    """

    def __init__(self, hidden=(64, 64), strength: float = 1.0, adversary_hidden: int = 32,
                 adversary_lr_scale: float = 10.0, gamma: float = 0.0,
                 mi: str = "per_neuron", mi_layers: str = "all", n_bins: int = 16, slope: float = 32.0,
                 epochs: int = 60, batch_size: int = 2048, lr: float = 0.005, gamma_warmup: int = 5,
                 random_state=None, verbose: bool = False):
        super().__init__(hidden=hidden, gamma=gamma, mi=mi, mi_layers=mi_layers, n_bins=n_bins, slope=slope,
                         epochs=epochs, batch_size=batch_size, lr=lr, gamma_warmup=gamma_warmup,
                         random_state=random_state, verbose=verbose)
        self.strength = strength
        self.adversary_hidden = adversary_hidden
        self.adversary_lr_scale = adversary_lr_scale

    def _invariance_weight(self) -> tuple[str, float]:
        if float(self.gamma) > 0:
            return "gamma", float(self.gamma)
        return "strength", float(self.strength)

    def _extra_init(self, rng: np.random.Generator) -> list[Tensor]:
        if not np.isfinite(self.strength) or self.strength < 0:
            raise ValueError(f"strength must be a finite number >= 0, got {self.strength!r}")
        m = self._tensors[-1][0].shape[1]
        a = int(self.adversary_hidden)
        n_cat = max(2, self._n_cat)
        n_out = 1 if n_cat == 2 else n_cat
        self._adv = [
            Tensor(rng.normal(0, np.sqrt(2.0 / m), (m, a)).astype(np.float32)),
            Tensor(np.zeros(a, np.float32)),
            Tensor(rng.normal(0, np.sqrt(1.0 / a), (a, n_out)).astype(np.float32)),
            Tensor(np.zeros(n_out, np.float32)),
        ]
        return self._adv

    def _extra_lr_scale(self) -> float:
        return float(self.adversary_lr_scale)

    def _extra_loss(self, thetas, samples, s, y, scale):
        h = (thetas[-1] * 2.0 - 1.0).grad_reverse(float(self.strength) * scale)
        w1, b1, w2, b2 = self._adv
        z = (h @ w1 + b1).relu() @ w2 + b2
        if z.shape[1] == 1:
            return bce_with_logits(z.reshape(-1), (s == 1).astype(np.int64))
        total = None
        for v in range(z.shape[1]):
            term = bce_with_logits(z[:, v], (s == v).astype(np.int64))
            total = term if total is None else total + term
        return total

    def _store_fitted(self) -> None:
        super()._store_fitted()
        self.adversary_ = [t.data.copy() for t in self._adv]
        del self._adv
