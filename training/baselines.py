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
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from sqnn_kernels.scoring import classes as score_classes
from sqnn_kernels.scoring import probabilities

from ._validation import check_fit_targets, check_s, check_weights, encode_targets
from .autograd import Tensor
from .classifier import (
    _LABEL_MARKER,
    _SEED,
    SQNNClassifier,
    _check_hidden,
    _check_int_params,
    _single_threaded,
    stratified_batches,
)
from .losses import bce_with_logits, cross_entropy
from .optim import Adam

__all__ = ["GradientReversalClassifier", "MLPBaseline"]


class MLPBaseline(ClassifierMixin, TransformerMixin, ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """Float MLP: ``h_{l+1} = relu(h_l W_l + b_l)``, logits ``= h_L W + c`` on standardised inputs.

    Trained with Adam on the (weighted) cross-entropy of labelled rows (rows equal to ``unlabelled`` are
    ignored; ``s`` only stratifies the mini-batches): one logit and the sigmoid for two classes, K logits
    and the softmax for K ≥ 3 (:func:`sqnn_kernels.scoring.probabilities` with scale 1, offset 0).
    ``transform`` returns the last hidden layer (float). Inputs are standardised with the weighted mean and
    standard deviation (weights: the positive part of ``sample_weight``, so integer weights equal repeated
    rows; a negative-weight row does not shift the standardisation).
    """

    __metadata_request__fit: ClassVar[dict] = {"s": True}

    _parameter_constraints: ClassVar[dict] = {
        "hidden": ["array-like", Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "random_state": _SEED,
        "verbose": ["verbose"],
        "unlabelled": _LABEL_MARKER,
    }

    def __init__(self, hidden=(64, 64), epochs: int = 30, batch_size: int = 512, lr: float = 0.003,
                 random_state=None, verbose: bool = False, unlabelled=-1):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.verbose = verbose
        self.unlabelled = unlabelled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, s=None, sample_weight=None):
        """Fit on the labelled rows of ``X``, weighted by ``sample_weight`` (negative allowed)."""
        hidden = _check_hidden(self)
        _check_int_params(self, ("epochs", "batch_size"))
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        s_given = s
        s = check_s(s, len(X))
        w = check_weights(sample_weight, len(X))
        classes, y = encode_targets(y, self.unlabelled)
        check_fit_targets(s_given, s, "gamma", 0.0)
        lab = np.flatnonzero((y >= 0) & (w != 0))
        if lab.size == 0:
            raise ValueError("sample_weight is zero on every labelled row; nothing to fit")
        weight_mean = float(w[lab].mean())
        if not weight_mean > 0:
            raise ValueError("the weights of the labelled rows must sum to a positive number")
        rng = np.random.default_rng(self.random_state)
        self.classes_ = classes
        pos = np.maximum(w, 0.0)  # standardisation statistics: weighted by the positive part of the weights
        if not pos.sum() > 0:
            raise ValueError("sample_weight must have positive entries")
        self.mean_ = np.average(X, axis=0, weights=pos)
        std = np.sqrt(np.average((X - self.mean_) ** 2, axis=0, weights=pos))
        self.scale_ = np.where(std > 0, std, 1.0)
        xs = ((X - self.mean_) / self.scale_).astype(np.float32)
        n_out = 1 if len(classes) == 2 else len(classes)
        widths = [X.shape[1], *hidden, n_out]
        params = []
        for k, m in itertools.pairwise(widths):
            params.append(Tensor(rng.normal(0, np.sqrt(2.0 / k), (k, m)).astype(np.float32)))
            params.append(Tensor(np.zeros(m, np.float32)))
        opt = Adam(params, lr=float(self.lr))
        groups = (s * (len(classes) + 1) + y + 1)[lab]
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
                    loss = cross_entropy(z, y[idx], w[idx], weight_mean)
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

    @property
    def _n_features_out(self) -> int:
        return int(self.params_[-2].shape[0])

    def _scaled(self, X) -> Tensor:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return Tensor((X - self.mean_) / self.scale_, requires_grad=False)

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        params = [Tensor(p.astype(np.float64), requires_grad=False) for p in self.params_]
        return self._forward(self._scaled(X), params).data

    def decision_function(self, X) -> np.ndarray:
        """Logits, float64: (n,) for two classes (of ``classes_[1]``), else (n, K)."""
        z = self._logits(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, float64 (n, K), columns in the order of ``classes_``."""
        p = probabilities(self._logits(X), 1.0, 0.0)
        return np.column_stack([1.0 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 else p

    def predict(self, X) -> np.ndarray:
        """Class labels by the rule of :func:`sqnn_kernels.scoring.classes` on the logits."""
        z = self._logits(X)
        return self.classes_[score_classes(z, 1.0, 0.0)]

    score = SQNNClassifier.score

    def transform(self, X) -> np.ndarray:
        """Last hidden layer's ReLU activations, float64 (n, hidden[-1])."""
        check_is_fitted(self)
        params = [Tensor(p.astype(np.float64), requires_grad=False) for p in self.params_]
        return self._forward(self._scaled(X), params, upto=len(self.params_) // 2 - 2).data


class GradientReversalClassifier(SQNNClassifier):
    """SQNN trained against a domain adversary through gradient reversal (DANN; Ganin et al. 2016).

    Parameters are those of :class:`SQNNClassifier` (``gamma`` defaults to 0, so only the adversary acts)
    plus ``strength`` (λ of the reversal, ramped in over ``gamma_warmup`` epochs) and ``adversary_hidden``
    (width of the adversary's one ReLU layer). The adversary predicts every category of ``s`` one-vs-rest,
    with the event weights. The fitted network is a plain SQNN: ``to_spec``, ``save``/``load`` (as an
    SQNNClassifier) all work.
    """

    _parameter_constraints: ClassVar[dict] = {
        **SQNNClassifier._parameter_constraints,
        "strength": [Interval(Real, 0, None, closed="left")],
        "adversary_hidden": [Interval(Integral, 1, None, closed="left")],
        "adversary_lr_scale": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, hidden=(64, 64), strength: float = 1.0, adversary_hidden: int = 32,
                 adversary_lr_scale: float = 10.0, gamma: float = 0.0,
                 mi: str = "per_neuron", mi_layers: str = "all", n_bins: int = 16, slope: float = 32.0,
                 epochs: int = 60, batch_size: int = 2048, lr: float = 0.005, gamma_warmup: int = 5,
                 mi_group_size: int = 4, mi_momentum: float = 0.0, random_state=None, verbose: bool = False,
                 max_mi: float | None = None, max_mi_layers: str = "last", max_mi_holdout: float = 0.2,
                 unlabelled=-1):
        super().__init__(hidden=hidden, gamma=gamma, mi=mi, mi_layers=mi_layers, n_bins=n_bins, slope=slope,
                         epochs=epochs, batch_size=batch_size, lr=lr, gamma_warmup=gamma_warmup,
                         mi_group_size=mi_group_size, mi_momentum=mi_momentum, random_state=random_state,
                         verbose=verbose, max_mi=max_mi, max_mi_layers=max_mi_layers,
                         max_mi_holdout=max_mi_holdout, unlabelled=unlabelled)
        self.strength = strength
        self.adversary_hidden = adversary_hidden
        self.adversary_lr_scale = adversary_lr_scale

    def _invariance_weight(self) -> tuple[str, float]:
        if float(self.gamma) > 0:
            return "gamma", float(self.gamma)
        return "strength", float(self.strength)

    def _check_params(self) -> tuple[int, ...]:
        _check_int_params(self, ("adversary_hidden",))
        return super()._check_params()

    def _extra_init(self, rng: np.random.Generator) -> list[Tensor]:
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

    def _extra_loss(self, thetas, samples, s, y, scale, w=None, weight_mean=1.0):
        h = (thetas[-1] * 2.0 - 1.0).grad_reverse(float(self.strength) * scale)
        w1, b1, w2, b2 = self._adv
        z = (h @ w1 + b1).relu() @ w2 + b2
        if z.shape[1] == 1:
            return bce_with_logits(z.reshape(-1), (s == 1).astype(np.int64), w, weight_mean)
        total = None
        for v in range(z.shape[1]):
            term = bce_with_logits(z[:, v], (s == v).astype(np.int64), w, weight_mean)
            total = term if total is None else total + term
        return total

    def _store_fitted(self) -> None:
        super()._store_fitted()
        self.adversary_ = [t.data.copy() for t in self._adv]
        del self._adv
