"""``SQNNClassifier``: a Stochastically Quantized Neural Network trained with an I(T; S) penalty.

Training minimises, over mini-batches holding every (domain, label) cell in proportion::

    L = CE(labelled rows) + γ_t · Σ_l I(T_l; S)          (CE in nats, I in bits)

with ``γ_t = γ · min(1, t / warmup)`` (warm-up over the first epochs) and the information term computed on
the batch's activation probabilities θ_l of every hidden layer (see :mod:`training.losses`). Rows with
``y = −1`` (unlabelled, e.g. real data) enter only the information term. Hidden neurons are sampled with the
counter-based :func:`sqnn_kernels.bernoulli_pack`; per-batch seeds come from a ``numpy.random.Generator``
built from ``random_state`` (the global numpy RNG is never used). See :mod:`training.layers` for the layer
maths and the exact fold to :class:`sqnn_kernels.BinaryNetSpec`.
"""

from __future__ import annotations

import itertools
import json
import time
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

import sqnn_kernels as sk

from . import budget as _budget
from ._validation import check_fit_targets, check_s, check_saved_latents, check_x, check_y
from .autograd import Tensor, _sigmoid
from .layers import activation, bits_to_pm1, encode_pm1, fit_edges, fold_thresholds, pack_sign
from .losses import MAX_JOINT_NEURONS, MI_KINDS, bce_with_logits, layer_mi
from .optim import Adam

__all__ = ["SQNNClassifier", "stratified_batches"]

_MODEL_KIND = "SQNNClassifier"
_SEED_MAX = 2**63


def stratified_batches(groups: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Split row indices into ``max(1, n // batch_size)`` shuffled batches, each cell spread evenly.

    ``groups`` is an integer cell id per row (e.g. ``3 s + (y + 1)``); every cell's rows are permuted and
    dealt out with ``np.array_split``, so each batch holds every cell with at least ``n_batches`` rows.
    """
    n = len(groups)
    n_batches = max(1, n // max(1, int(batch_size)))
    parts: list[list[np.ndarray]] = [[] for _ in range(n_batches)]
    for g in np.unique(groups):
        rows = rng.permutation(np.flatnonzero(groups == g))
        offset = int(rng.integers(n_batches))  # spread the remainders of small cells over the batches
        for i, chunk in enumerate(np.array_split(rows, n_batches)):
            parts[(i + offset) % n_batches].append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


@contextmanager
def _single_threaded():
    """Run the per-batch work on one thread (numba and BLAS): batches are small, so thread hand-offs cost
    more than they gain, especially on a busy machine. Kernel results do not depend on the thread count."""
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(before)


class SQNNClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier whose hidden neurons are Bernoulli variables, penalised by ``I(T_l; S)``.

    Parameters
    ----------
    hidden : tuple of int, default (64, 64)
        Neurons per hidden layer.
    gamma : float, default 0.5
        Weight γ ≥ 0 of the information penalty (bits) against the cross-entropy (nats). ``gamma=0`` is the
        plain SQNN baseline. On the embedded data (issue #10 protocol) γ = 0.5 keeps the label AUC within
        0.006 of γ = 0 while the adversary AUC of S from the last hidden layer drops from 0.58 to 0.505.
        With ``max_mi`` set, the initial value of the learned multiplier.
    max_mi : float or None, default None
        Information budget ε in bits: minimise the label loss subject to ``I(T; S) ≤ ε`` measured on held-out
        rows, the multiplier learned by dual ascent (see :mod:`training.budget`; ``gamma_``, ``budget_met_``).
    max_mi_layers : {"last", "all"}, default "last"
        Layers whose information the budget bounds (each with its own multiplier for "all").
    max_mi_holdout : float, default 0.2
        Share of every (domain, label) cell held out from the gradient steps to measure the information.
    mi : {"grouped", "per_neuron", "joint", "conditional"}, default "grouped"
        Estimator of ``I(T_l; S)`` (see :mod:`training.losses`): "per_neuron" is the SQNN paper's closed form
        ``Σ_i I(T_i; S)``; "grouped" (default) adds the dependence carried by combinations of neurons: the
        exact joint ``I(T_g; S)`` summed over disjoint groups of ``mi_group_size`` neurons, regrouped at
        random every batch; "joint" is exact for the whole layer (≤ 16 neurons); "conditional" is
        ``I(T; S | Y)`` on labelled rows (needs labelled rows of several domains).
    mi_layers : {"all", "last"}, default "all"
        Penalise every hidden layer or only the last one.
    n_bins : int, default 16
        Thermometer thresholds per input feature (quantiles ``j / (n_bins + 1)``, deduplicated).
    slope : float, default 32.0
        ``θ = σ(slope · (dot + b) / k)``; large enough that θ is nearly saturated, so the stochastic network
        trained and the deterministic one deployed (``T = [θ ≥ 0.5]``) agree.
    epochs : int, default 60
    batch_size : int, default 2048
        Large batches make the plug-in I(T; S) of a batch less biased.
    lr : float, default 0.005
        Adam step size.
    gamma_warmup : int, default 5
        Epochs over which γ ramps linearly from 0 to ``gamma``.
    mi_group_size : int, default 4
        Group size of ``mi="grouped"`` (cost ``∝ 2^size``).
    mi_momentum : float, default 0.0
        For ``mi="per_neuron"``: evaluate the information at running averages of the per-domain mean
        activations (momentum β) instead of the batch means.
    random_state : int, numpy Generator or None
        Seeds initialisation, batch order and the Bernoulli samples (reproducible for any thread count).
    verbose : bool, default False
        Show a tqdm progress bar with the current loss terms.

    Attributes
    ----------
    edges_ : list of float arrays, thermometer edges per feature.
    layers_ : list of dict with ``W`` (latent weights (k, m)), ``b`` (bias, dot units), ``k``.
    output_ : dict with ``W`` (k, 1), ``alpha`` (> 0), ``c``.
    classes_ : array([0, 1]).
    history_ : dict of per-epoch lists: ``loss``, ``ce``, ``mi`` (bits, per layer), ``seconds`` (and with
        ``max_mi`` ``mi_heldout``, bias-corrected bits per constrained layer).
    gamma_ : float (ndarray per layer for ``max_mi_layers="all"``), the final multiplier (``gamma`` if fixed).
    gamma_history_ : list, the multiplier of every epoch (warm-up ramp included).
    mi_heldout_, mi_heldout_null_std_, budget_met_ : with ``max_mi``: final held-out ``I(T; S)`` (bits,
        bias-corrected), the resolution of that estimate, and whether it is within the budget.
    """

    def __init__(self, hidden=(64, 64), gamma: float = 0.5, mi: str = "grouped", mi_layers: str = "all",
                 n_bins: int = 16, slope: float = 32.0, epochs: int = 60, batch_size: int = 2048,
                 lr: float = 0.005, gamma_warmup: int = 5, mi_group_size: int = 4, mi_momentum: float = 0.0,
                 random_state=None,
                 verbose: bool = False, max_mi: float | None = None, max_mi_layers: str = "last",
                 max_mi_holdout: float = 0.2):
        self.hidden = hidden
        self.gamma = gamma
        self.mi = mi
        self.mi_layers = mi_layers
        self.n_bins = n_bins
        self.slope = slope
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.gamma_warmup = gamma_warmup
        self.mi_group_size = mi_group_size
        self.mi_momentum = mi_momentum
        self.random_state = random_state
        self.verbose = verbose
        self.max_mi = max_mi
        self.max_mi_layers = max_mi_layers
        self.max_mi_holdout = max_mi_holdout

    # -- parameter checks ---------------------------------------------------------------------------------
    def _invariance_weight(self) -> tuple[str, float]:
        """(name, value) of the parameter that makes the fit depend on S; 0 means S is not used."""
        return "gamma", float(self.gamma)

    def _check_params(self) -> tuple[int, ...]:
        hidden = tuple(self.hidden) if np.ndim(self.hidden) else (self.hidden,)
        if len(hidden) == 0 or any(not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive integers, got {self.hidden!r}")
        if not np.isfinite(self.gamma) or self.gamma < 0:
            raise ValueError(f"gamma must be a finite number >= 0, got {self.gamma!r}")
        if self.mi not in MI_KINDS:
            raise ValueError(f"mi must be one of {MI_KINDS}, got {self.mi!r}")
        if self.mi == "joint" and self.gamma > 0 and max(hidden) > MAX_JOINT_NEURONS:
            raise ValueError(
                f"mi='joint' enumerates 2^m codes and allows layers of at most {MAX_JOINT_NEURONS} neurons; "
                f"hidden={hidden} (use mi='per_neuron')"
            )
        if self.mi_layers not in ("all", "last"):
            raise ValueError(f"mi_layers must be 'all' or 'last', got {self.mi_layers!r}")
        for name in ("n_bins", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("slope", "lr"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not isinstance(self.gamma_warmup, (int, np.integer)) or self.gamma_warmup < 0:
            raise ValueError(f"gamma_warmup must be an integer >= 0, got {self.gamma_warmup!r}")
        _budget.check_budget(getattr(self, "max_mi", None), getattr(self, "max_mi_layers", "last"),
                             getattr(self, "max_mi_holdout", 0.2), self.gamma)
        return tuple(int(h) for h in hidden)

    # -- training -----------------------------------------------------------------------------------------
    def _init_params(self, widths: list[int], rng: np.random.Generator) -> None:
        self._tensors = []
        for k, m in itertools.pairwise(widths):
            w = Tensor(rng.uniform(-0.1, 0.1, size=(k, m)).astype(np.float32))
            b = Tensor(np.zeros(m, dtype=np.float32))  # bias / k (normalised pre-activation units)
            self._tensors.append((w, b))
        k = widths[-1]
        self._out_w = Tensor(rng.uniform(-0.1, 0.1, size=(k, 1)).astype(np.float32))
        self._out_rho = Tensor(np.array([np.log(4.0)], dtype=np.float32))
        self._out_c = Tensor(np.zeros(1, dtype=np.float32))

    def _param_list(self) -> tuple[list[Tensor], list[Tensor]]:
        params, clip = [], []
        for w, b in self._tensors:
            params += [w, b]
            clip.append(w)
        params += [self._out_w, self._out_rho, self._out_c]
        clip.append(self._out_w)
        return params, clip

    def _forward_train(self, x: np.ndarray, seeds: np.ndarray) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Stochastic forward of a batch: logits (B, 1), θ per layer, sampled ±1 inputs of each next stage."""
        h = Tensor(np.asarray(x, dtype=self._tensors[0][0].data.dtype), requires_grad=False)
        thetas, samples = [], []
        slope = float(self.slope)
        for (w, b), seed in zip(self._tensors, seeds, strict=True):
            k = w.shape[0]
            a = (h @ w.sign_ste()) * (1.0 / k) + b
            theta = (a * slope).sigmoid()
            bits = sk.unpack_bits(sk.bernoulli_pack(theta.data, int(seed)), theta.shape[1])
            h = (theta * 2.0 - 1.0).ste(bits_to_pm1(bits, theta.data.dtype))
            thetas.append(theta)
            samples.append(h)
        k = self._out_w.shape[0]
        z = (h @ self._out_w.sign_ste()) * (self._out_rho.exp() * (1.0 / k)) + self._out_c
        return z, thetas, samples

    def _extra_loss(self, thetas, samples, s, y, scale) -> Tensor | None:
        """Hook for subclasses (gradient reversal adds an adversary here)."""
        return None

    def _extra_lr_scale(self) -> float:
        """Hook for subclasses: step-size factor of the extra tensors."""
        return 1.0

    def _extra_init(self, rng: np.random.Generator) -> list[Tensor]:
        """Hook for subclasses: extra trainable tensors."""
        return []

    def fit(self, X, y, s=None):
        """Fit on rows ``X`` with labels ``y`` (0/1, or −1 for unlabelled rows) and domains ``s``.

        Parameters
        ----------
        X : float array (n, f), finite
        y : int array (n,), values in {−1, 0, 1}; at least one labelled row
        s : int array (n,), values 0..255, optional (default: one domain, so the penalty is 0)

        Returns
        -------
        self
        """
        hidden = self._check_params()
        X_in = X
        X = check_x(X)
        n = X.shape[0]
        y = check_y(y, n)
        s_given = s
        s = check_s(s, n)
        if n < 2:
            raise ValueError(f"X needs at least 2 rows to fit, got {n}")
        check_fit_targets(y, s_given, s, *self._invariance_weight())
        if self.mi == "conditional" and self.gamma > 0:
            lab = y >= 0
            if np.unique(s[lab]).size < 2:
                raise ValueError("mi='conditional' needs labelled rows from at least two domains of s")
        rng = np.random.default_rng(self.random_state)
        names = getattr(X_in, "columns", None)
        if names is not None:
            self.feature_names_ = [str(c) for c in names]
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.edges_ = fit_edges(X, int(self.n_bins))
        x0 = encode_pm1(X, self.edges_, np.int8)  # exact ±1 in 1 byte; batches become float in _forward_train
        widths = [x0.shape[1], *hidden]
        self._init_params(widths, rng)
        n_cat = int(s.max()) + 1
        self._n_cat = n_cat
        extra = self._extra_init(rng)
        params, clip = self._param_list()
        opt = Adam(params + extra, lr=float(self.lr), clip=clip,
                   lr_scale={id(t): self._extra_lr_scale() for t in extra})
        groups = s * 3 + (y + 1)
        weighting, rows = _budget.make_weighting(self, x0, y, s, groups, n_cat, len(hidden), rng)
        if len(rows) < n:
            x0, y, s, groups = x0[rows], y[rows], s[rows], groups[rows]
        mi_layers = range(len(hidden)) if self.mi_layers == "all" else [len(hidden) - 1]
        history = {"loss": [], "ce": [], "mi": [], "seconds": []}
        bar = None
        epochs = range(int(self.epochs))
        if self.verbose:
            from tqdm.auto import tqdm

            name, weight = self._invariance_weight()  # gradient reversal reports its λ, not γ = 0
            symbol = {"gamma": "γ", "strength": "λ"}.get(name, name)
            bar = tqdm(epochs, desc=f"{type(self).__name__} {symbol}={weight:g}", unit="epoch", leave=False)
            epochs = bar
        with _single_threaded():
            self._train_loop(epochs, x0, y, s, groups, hidden, n_cat, mi_layers, opt, rng, history, bar,
                             weighting)
            weighting.finish(self, [(w.data, b.data) for w, b in self._tensors])
        if bar is not None:
            bar.close()
        self.history_ = history
        self._store_fitted()
        return self

    def _train_loop(self, epochs, x0, y, s, groups, hidden, n_cat, mi_layers, opt, rng, history, bar,
                    weighting):
        running = [{} for _ in hidden]
        for epoch in epochs:
            t0 = time.perf_counter()
            ramp = weighting.ramp(epoch)
            gammas = weighting.multipliers(epoch)
            sums = np.zeros(2 + len(hidden))
            batches = stratified_batches(groups, int(self.batch_size), rng)
            for idx in batches:
                seeds = rng.integers(0, _SEED_MAX, size=len(hidden), dtype=np.int64)
                z, thetas, samples = self._forward_train(x0[idx], seeds)
                ce = bce_with_logits(z.reshape(-1), y[idx])
                loss = ce
                mis = []
                for li in range(len(hidden)):
                    if gammas[li] > 0 and li in mi_layers:
                        term = layer_mi(thetas[li], s[idx], self.mi, y[idx], n_cat, self.mi_group_size, rng,
                                        running[li], float(self.mi_momentum))
                        loss = loss + term * float(gammas[li])
                    else:  # monitoring only
                        term = layer_mi(thetas[li].detach(), s[idx], "per_neuron", None, n_cat)
                    mis.append(float(term.data))
                extra_loss = self._extra_loss(thetas, samples, s[idx], y[idx], ramp)
                if extra_loss is not None:
                    loss = loss + extra_loss
                opt.zero_grad()
                loss.backward()
                opt.step()
                sums += [float(loss.data), float(ce.data), *mis]
            sums /= len(batches)
            history["loss"].append(sums[0])
            history["ce"].append(sums[1])
            history["mi"].append(sums[2:].tolist())
            weighting.end_epoch([(w.data, b.data) for w, b in self._tensors], history)
            history["seconds"].append(time.perf_counter() - t0)
            if bar is not None:
                bar.set_postfix(ce=f"{sums[1]:.3f}", mi=f"{sums[2:].sum():.3f}b")

    def _store_fitted(self) -> None:
        """Copy the trained tensors into plain fitted attributes and build the spec."""
        self.layers_ = []
        for w, b in self._tensors:
            k = w.shape[0]
            self.layers_.append({"W": w.data.astype(np.float64), "b": b.data.astype(np.float64) * k, "k": k})
        self.output_ = {
            "W": self._out_w.data.astype(np.float64),
            "alpha": float(np.exp(self._out_rho.data.astype(np.float64))[0]),
            "c": float(self._out_c.data[0]),
        }
        del self._tensors, self._out_w, self._out_rho, self._out_c
        self._spec = None

    # -- inference ----------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "layers_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y, s) first")

    def to_spec(self) -> sk.BinaryNetSpec:
        """The deterministic network as a :class:`sqnn_kernels.BinaryNetSpec` (exactly what ``predict`` runs).

        Hidden thresholds come from :func:`training.layers.fold_thresholds`; the output layer has
        ``bias = 0``, ``scale = α / k`` and ``offset = c``.
        """
        self._check_fitted()
        if getattr(self, "_spec", None) is not None:
            return self._spec
        layers = [
            sk.HiddenLayer(pack_sign(lay["W"]), lay["k"], fold_thresholds(lay["b"], self.slope, lay["k"]))
            for lay in self.layers_
        ]
        k = self.layers_[-1]["W"].shape[1]
        out = sk.OutputLayer(pack_sign(self.output_["W"]), k, np.zeros(1, np.int32),
                             scale=self.output_["alpha"] / k, offset=self.output_["c"])
        names = getattr(self, "feature_names_", None)
        self._spec = sk.BinaryNetSpec(list(self.edges_), layers, out, names)
        return self._spec

    def decision_function(self, X, *, stochastic: bool = False, random_state=None) -> np.ndarray:
        """Logit ``scale · score + offset`` of P(y = 1), float64 (n,).

        Deterministic (default): the integer spec score from :func:`sqnn_kernels.predict_scores`.
        ``stochastic=True``: hidden bits sampled (see :meth:`predict_proba`).
        """
        self._check_fitted()
        X = check_x(X, n_features=self.n_features_in_)
        if stochastic:
            scores = self._stochastic_scores(X, random_state)
        else:
            scores = sk.predict_scores(self.to_spec(), X)[:, 0].astype(np.float64)
        spec = self.to_spec()
        return spec.output.scale * scores + spec.output.offset

    def predict_proba(self, X, *, stochastic: bool = False, random_state=None,
                      n_samples: int = 1) -> np.ndarray:
        """``[P(y = 0), P(y = 1)]`` per row, float64 (n, 2).

        Deterministic (default): ``σ(scale · score + offset)`` of the spec (hidden ``T = [θ ≥ 0.5]``), via the
        packed kernels. ``stochastic=True``: every hidden bit is sampled, ``T ~ Bernoulli(θ)``, with the
        counter-based sampler seeded from ``random_state``; ``n_samples`` draws are averaged.
        """
        if stochastic:
            rng = np.random.default_rng(random_state)
            p = np.mean([_sigmoid(self.decision_function(X, stochastic=True, random_state=rng))
                         for _ in range(max(1, int(n_samples)))], axis=0)
        else:
            p = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X, **kwargs) -> np.ndarray:
        """Class labels: ``classes_[decision_function(X) > 0]``."""
        return self.classes_[(self.decision_function(X, **kwargs) > 0).astype(int)]

    def _stochastic_scores(self, X: np.ndarray, random_state, chunk: int = 65536) -> np.ndarray:
        rng = np.random.default_rng(random_state)
        seeds = rng.integers(0, _SEED_MAX, size=len(self.layers_), dtype=np.int64)
        out = np.empty(len(X))
        for start in range(0, len(X), chunk):
            h = encode_pm1(X[start:start + chunk], self.edges_, np.float64)
            for lay, seed in zip(self.layers_, seeds, strict=True):
                theta = activation(h @ np.where(lay["W"] >= 0, 1.0, -1.0), lay["b"], self.slope, lay["k"])
                bits = sk.unpack_bits(sk.bernoulli_pack(theta, int(seed), row_offset=start), theta.shape[1])
                h = bits_to_pm1(bits, np.float64)
            out[start:start + chunk] = (h @ np.where(self.output_["W"] >= 0, 1.0, -1.0))[:, 0]
        return out

    def activations(self, X) -> list[np.ndarray]:
        """Activation probabilities θ_l (n, m_l) of every hidden layer, given deterministic earlier layers.

        ``θ_l = σ(slope · (dot_l + b_l) / k_l)`` with ``dot_l`` computed from the deterministic bits of layer
        ``l − 1`` (float64; the MI diagnostics use these).
        """
        self._check_fitted()
        X = check_x(X, n_features=self.n_features_in_)
        h = encode_pm1(X, self.edges_, np.float64)
        thetas = []
        for lay in self.layers_:
            theta = activation(h @ np.where(lay["W"] >= 0, 1.0, -1.0), lay["b"], self.slope, lay["k"])
            thetas.append(theta)
            h = np.where(theta >= 0.5, 1.0, -1.0)
        return thetas

    def transform(self, X, *, layers: str = "last") -> np.ndarray:
        """Deterministic hidden bits {0, 1} as uint8: the last hidden layer (n, m_L), or ``layers="all"``
        for every hidden layer side by side (n, Σ m_l). Computed by :func:`sqnn_kernels.forward`."""
        self._check_fitted()
        if layers not in ("last", "all"):
            raise ValueError(f"layers must be 'last' or 'all', got {layers!r}")
        X = check_x(X, n_features=self.n_features_in_)
        spec = self.to_spec()
        _, hidden = sk.forward(spec, X)
        bits = [sk.unpack_bits(h, lay.m) for h, lay in zip(hidden, spec.layers, strict=True)]
        return bits[-1] if layers == "last" else np.hstack(bits)

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the spec plus latent weights, biases and constructor parameters to ``path`` (.npz).

        Uses :meth:`sqnn_kernels.BinaryNetSpec.to_npz` (atomic write, SHA-256 checksum); the file is also a
        valid BinaryNetSpec file for ``sqnn export-fpga`` and the kernels.
        """
        self._check_fitted()
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        params["random_state"] = params["random_state"] if isinstance(params["random_state"], int) else None
        extra = {
            "model_kind": np.array(_MODEL_KIND),
            "params_json": np.array(json.dumps(params)),
            "output_W": self.output_["W"],
            "output_alpha_c": np.array([self.output_["alpha"], self.output_["c"]]),
        }
        for i, lay in enumerate(self.layers_):
            extra[f"layer{i}_W"] = lay["W"]
            extra[f"layer{i}_b"] = lay["b"]
        self.to_spec().to_npz(path, extra=extra)

    @classmethod
    def load(cls, path) -> SQNNClassifier:
        """Load a model written by :meth:`save` (raises ``ValueError`` for a corrupt or foreign file)."""
        spec, extra = sk.BinaryNetSpec.from_npz(path, return_extra=True)
        if str(extra.get("model_kind", "")) != _MODEL_KIND:
            raise ValueError(f"{path}: not an SQNNClassifier file (a bare BinaryNetSpec?)")
        params = json.loads(str(extra["params_json"]))
        params["hidden"] = tuple(params["hidden"])
        model = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
        model.n_features_in_ = spec.n_features
        model.classes_ = np.array([0, 1])
        model.edges_ = list(spec.edges)
        if spec.feature_names is not None:
            model.feature_names_ = list(spec.feature_names)
        check_saved_latents(extra, spec, path)
        model.layers_ = []
        for i, lay in enumerate(spec.layers):
            model.layers_.append({"W": extra[f"layer{i}_W"], "b": extra[f"layer{i}_b"], "k": lay.k})
        alpha, c = extra["output_alpha_c"]
        model.output_ = {"W": extra["output_W"], "alpha": float(alpha), "c": float(c)}
        model._spec = None  # rebuild from the latents: stochastic and deterministic paths must be one network
        diff = sk.spec_difference(model.to_spec(), spec)
        if diff is not None:
            raise ValueError(f"{path}: the stored latent weights do not give the sealed network ({diff})")
        model._spec = spec
        return model
