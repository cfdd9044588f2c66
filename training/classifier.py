"""``SQNNClassifier``: a Stochastically Quantized Neural Network trained with an I(T; S) penalty.

Training minimises, over mini-batches holding every (domain, label) cell in proportion::

    L = CE(labelled rows) + γ_t · Σ_l I(T_l; S)          (CE in nats, I in bits)

with ``γ_t = γ · min(1, t / warmup)`` (warm-up over the first epochs) and the information term computed on
the batch's activation probabilities θ_l of every hidden layer (see :mod:`training.losses`). Rows whose
label equals the ``unlabelled`` marker (default −1; e.g. real data) enter only the information term.

Classes: any labels (numbers, strings, ±1 with ``unlabelled=None`` or another marker) are encoded as
``classes_`` (sorted). Two classes use one output and the sigmoid; K ≥ 3 classes use K outputs, a softmax and
the categorical cross-entropy, with integer per-class biases (trained through a rounding straight-through
estimator, so the deployed :class:`sqnn_kernels.BinaryNetSpec` is exact). Probabilities always come from the
one rule of :mod:`sqnn_kernels.scoring`.

Event weights ``sample_weight`` (negative allowed, e.g. NLO generators) weight both terms: the cross-entropy
is ``−Σ w_r log p(y_r) / (N_lab w̄)`` per batch (``w̄`` = mean weight of the labelled training rows) and every
mean of θ in the information term (per-domain means and domain priors) is the weighted mean, a domain whose
batch weights do not sum to a positive number being left out of that batch's term (see
:func:`training.losses.group_matrix`). Rows of weight 0 are removed before anything else, so they are
exactly equivalent to dropped rows. The thermometer edges are quantiles of the rows of non-zero weight,
unweighted (a quantisation grid, not a fit). Hidden neurons are sampled with the
counter-based :func:`sqnn_kernels.bernoulli_pack`; per-batch seeds come from a ``numpy.random.Generator``
built from ``random_state`` (the global numpy RNG is never used). See :mod:`training.layers` for the layer
maths and the exact fold to :class:`sqnn_kernels.BinaryNetSpec`.
"""

from __future__ import annotations

import itertools
import json
import time
from contextlib import contextmanager
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
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

import sqnn_kernels as sk
from sqnn_kernels._compile_helper import compile_elsewhere
from sqnn_kernels._threads import sleeping_threads
from sqnn_kernels.scoring import classes as score_classes
from sqnn_kernels.scoring import logits as score_logits
from sqnn_kernels.scoring import probabilities

from . import budget as _budget
from ._validation import (
    check_fit_targets,
    check_s,
    check_saved_latents,
    check_weights,
    encode_targets,
    labelled_mask,
)
from .autograd import Tensor
from .fused import binary_dot, binary_layer, binary_logit, sample_pm1, thermometer_layer, unpack_pm1
from .layers import PackedSigns, activation, bits_to_pm1, encode_pm1, fit_edges, fold_thresholds, pack_sign
from .losses import MAX_JOINT_NEURONS, MI_KINDS, cross_entropy, layer_mi
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


def _fit_threads() -> int:
    """The threads ``fit`` runs its kernels on: numba's thread count (``NUMBA_NUM_THREADS``,
    ``numba.set_num_threads``; all cores by default), at most the smallest thread limit threadpoolctl reports
    for the native libraries (so ``threadpool_limits(1)`` around a fit makes it single-threaded) and at most
    the number of CPUs the process may run on."""
    import os

    import numba
    from threadpoolctl import threadpool_info

    limits = [int(lib["num_threads"]) for lib in threadpool_info() if lib.get("num_threads")]
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may run on (numba counts every CPU)
        limits.append(len(os.sched_getaffinity(0)))
    return max(1, min([numba.get_num_threads(), *limits]))


@contextmanager
def _training_threads():
    """Run fit on :func:`_fit_threads` threads.

    The kernels of :mod:`training.fused` (and the packed-bit kernels they call) use that many numba threads
    for work above ``PARALLEL_MIN_WORK``; BLAS runs on one thread (a batch's matrix products are small, and a
    threaded BLAS may split a product differently for another thread count). Every kernel gives each output
    element to one thread and sums in a fixed order, so the fit is the same to the bit for any thread count
    (tested in subprocesses).

    A batch's parallel kernels last about a millisecond each. GNU OpenMP (numba's threading layer on Linux)
    keeps idle threads spinning between them by default, and on a machine busier than its cores the spinning
    threads take the cores the working thread needs (an epoch measured 3x slower on 2 threads than on 1).
    Unless ``OMP_WAIT_POLICY`` is set, fit therefore sets it to ``PASSIVE`` first
    (:func:`sqnn_kernels._threads.sleeping_threads`; idle threads sleep). On a busy machine
    ``NUMBA_NUM_THREADS=1`` (or ``threadpool_limits(1)``) remains the fastest choice.
    """
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    threads = _fit_threads()
    try:
        numba.set_num_threads(threads)
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


def _json_param(value):
    """A constructor parameter as plain JSON (numpy scalars → Python numbers, tuples → lists).

    A ``numpy.random.Generator`` ``random_state`` cannot be saved and becomes ``None``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (Integral, np.integer)):
        return int(value)
    if isinstance(value, (Real, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_param(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    return None


def _check_int_params(estimator, names) -> None:
    """Integer parameters must not be booleans (``epochs=True`` is a mistake, not one epoch)."""
    for name in names:
        v = getattr(estimator, name)
        if isinstance(v, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be an integer, got the bool {v!r}"
            )


def _check_hidden(estimator) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive Python ints (numpy integers accepted)."""
    h = estimator.hidden
    seq = tuple(h) if np.ndim(h) else (h,)
    bad = [v for v in seq
           if isinstance(v, (bool, np.bool_)) or not isinstance(v, (Integral, np.integer)) or v < 1]
    if len(seq) == 0 or bad:
        raise InvalidParameterError(
            f"The 'hidden' parameter of {type(estimator).__name__} must be a positive integer or a non-empty "
            f"sequence of positive integers, got {h!r}"
        )
    return tuple(int(v) for v in seq)


_LABEL_MARKER = [None, Integral, str]
_SEED = [Interval(Integral, 0, None, closed="left"), np.random.Generator, None]


class SQNNClassifier(ClassifierMixin, TransformerMixin, ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """Classifier whose hidden neurons are Bernoulli variables, penalised by ``I(T_l; S)``.

    Parameters
    ----------
    hidden : tuple of int, default (64, 64)
        Neurons per hidden layer.
    gamma : float, default 0.5
        Weight γ ≥ 0 of the information penalty (bits) against the cross-entropy (nats). ``gamma=0`` is the
        plain SQNN baseline. On the embedded data (issue #10 protocol) γ = 0.5 keeps the label AUC within
        0.006 of γ = 0 while the adversary AUC of S from the last hidden layer drops from 0.58 to 0.505.
        Not used when ``max_mi`` is set.
    max_mi : float or None, default None
        Information budget ε in bits: minimise the label loss subject to ``I(T; S) ≤ ε`` measured on rows held
        out from the information term, the multiplier learned by dual ascent from 0.01 (see
        :mod:`training.budget`; ``gamma_``, ``budget_met_``).
    max_mi_layers : {"last", "all"}, default "last"
        Layers whose information the budget bounds (each with its own multiplier for "all").
    max_mi_holdout : float, default 0.2
        Share of every (domain, label) cell held out from training to measure the information (and to pick
        the returned epoch by their label AUC).
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
        Group size of ``mi="grouped"`` (cost ``∝ 2^size``), 1..16 and at most the width of every penalised
        layer (an error otherwise; nothing is clamped).
    mi_momentum : float in [0, 1), default 0.0
        For ``mi="per_neuron"``: evaluate the information at running averages of the per-domain mean
        activations (momentum β) instead of the batch means.
    random_state : int, numpy Generator or None
        Seeds initialisation, batch order and the Bernoulli samples (reproducible for any thread count).
        An int is saved with the model; a Generator is not (saved as None).
    verbose : bool, default False
        Show a tqdm progress bar with the current loss terms.
    unlabelled : int, str or None, default -1
        Label value that marks unlabelled rows (they enter only the information term). ``None``: every row
        is labelled (e.g. ±1 labels, where −1 is a class).

    Attributes
    ----------
    classes_ : array (K,), the sorted class labels (``predict`` returns these).
    n_features_in_ : int; feature_names_in_ : array of str (only when ``X`` had column names).
    edges_ : list of float arrays, thermometer edges per feature.
    layers_ : list of dict with ``W`` (latent weights (k, m)), ``b`` (bias, dot units), ``k``.
    output_ : dict with ``W`` (k, n_out), ``alpha`` (> 0), ``c`` (offset) and ``bias`` (int32 (n_out,)).
        ``n_out = 1`` for two classes, K otherwise.
    spec_ : :class:`sqnn_kernels.BinaryNetSpec` built at fit (what ``predict`` runs; see :meth:`to_spec`).
    history_ : dict of per-epoch lists: ``loss``, ``ce``, ``mi`` (bits, per layer), ``seconds`` (and with
        ``max_mi`` ``mi_heldout``, bias-corrected held-out bits, and ``mi_budget``, the dual step's estimate
        of them, per constrained layer; see :mod:`training.budget`).
    gamma_ : float (ndarray per layer for ``max_mi_layers="all"``), the final multiplier (``gamma`` if fixed).
    gamma_history_ : list, the multiplier of every epoch (warm-up ramp included).
    mi_heldout_, mi_heldout_null_std_, budget_met_, best_epoch_ : with ``max_mi``: held-out ``I(T; S)`` of
        the returned network (bits, bias-corrected), the resolution ``σ`` of that estimate, whether it is
        within the budget (``≤ ε + σ``), and the epoch (1-based) whose network is returned: the best
        feasible checkpoint (see :mod:`training.budget`).

    Notes
    -----
    Under scikit-learn metadata routing ``s`` is requested by default (``fit`` needs it to be invariant);
    ``sample_weight`` is requested as usual with ``set_fit_request(sample_weight=True)``.
    """

    __metadata_request__fit: ClassVar[dict] = {"s": True}

    _parameter_constraints: ClassVar[dict] = {
        "hidden": ["array-like", Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "mi": [StrOptions(set(MI_KINDS))],
        "mi_layers": [StrOptions({"all", "last"})],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "slope": [Interval(Real, 0, None, closed="neither")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "gamma_warmup": [Interval(Integral, 0, None, closed="left")],
        "mi_group_size": [Interval(Integral, 1, MAX_JOINT_NEURONS, closed="both")],
        "mi_momentum": [Interval(Real, 0, 1, closed="left")],
        "random_state": _SEED,
        "verbose": ["verbose"],
        "unlabelled": _LABEL_MARKER,
        "max_mi": "no_validation",  # the budget parameters are checked by training.budget.check_budget
        "max_mi_layers": "no_validation",
        "max_mi_holdout": "no_validation",
    }

    def __init__(self, hidden=(64, 64), gamma: float = 0.5, mi: str = "grouped", mi_layers: str = "all",
                 n_bins: int = 16, slope: float = 32.0, epochs: int = 60, batch_size: int = 2048,
                 lr: float = 0.005, gamma_warmup: int = 5, mi_group_size: int = 4, mi_momentum: float = 0.0,
                 random_state=None, verbose: bool = False, max_mi: float | None = None,
                 max_mi_layers: str = "last", max_mi_holdout: float = 0.2, unlabelled=-1):
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
        self.unlabelled = unlabelled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = True
        tags.transformer_tags.preserves_dtype = []  # transform returns hidden bits (uint8)
        return tags

    # -- parameter checks ---------------------------------------------------------------------------------
    def _invariance_weight(self) -> tuple[str, float]:
        """(name, value) of the parameter that makes the fit depend on S; 0 means S is not used."""
        return "gamma", float(self.gamma)

    def _check_params(self) -> tuple[int, ...]:
        """Checks beyond ``_parameter_constraints`` (run by ``fit``): the hidden widths and their coupling."""
        hidden = _check_hidden(self)
        _check_int_params(self, ("n_bins", "epochs", "batch_size", "gamma_warmup", "mi_group_size"))
        if self.mi == "joint" and self.gamma > 0 and max(hidden) > MAX_JOINT_NEURONS:
            raise ValueError(
                f"mi='joint' enumerates 2^m codes and allows layers of at most {MAX_JOINT_NEURONS} neurons; "
                f"hidden={hidden} (use mi='per_neuron')"
            )
        if self.mi == "grouped":
            penalised = range(len(hidden)) if self.mi_layers == "all" else [len(hidden) - 1]
            for li in penalised:
                if self.mi_group_size > hidden[li]:
                    raise ValueError(
                        f"mi_group_size={self.mi_group_size} exceeds the {hidden[li]} neurons of hidden "
                        f"layer {li}; mi='grouped' groups neurons of one layer (use <= {hidden[li]})"
                    )
        _budget.check_budget(getattr(self, "max_mi", None), getattr(self, "max_mi_layers", "last"),
                             getattr(self, "max_mi_holdout", 0.2))
        return hidden

    # -- training -----------------------------------------------------------------------------------------
    def _init_params(self, widths: list[int], n_out: int, rng: np.random.Generator) -> None:
        self._tensors = []
        for k, m in itertools.pairwise(widths):
            w = Tensor(rng.uniform(-0.1, 0.1, size=(k, m)).astype(np.float32))
            b = Tensor(np.zeros(m, dtype=np.float32))  # bias / k (normalised pre-activation units)
            self._tensors.append((w, b))
        k = widths[-1]
        self._out_w = Tensor(rng.uniform(-0.1, 0.1, size=(k, n_out)).astype(np.float32))
        self._out_rho = Tensor(np.array([np.log(4.0)], dtype=np.float32))
        # one output: real offset c; K outputs: per-class bias / k, rounded to integer dot units (forward)
        self._out_c = Tensor(np.zeros(n_out, dtype=np.float32))

    def _param_list(self) -> tuple[list[Tensor], list[Tensor]]:
        params, clip = [], []
        for w, b in self._tensors:
            params += [w, b]
            clip.append(w)
        params += [self._out_w, self._out_rho, self._out_c]
        clip.append(self._out_w)
        return params, clip

    def _forward_train(self, x: np.ndarray, seeds: np.ndarray) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Stochastic forward of a batch: logits (B, n_out), θ per layer, sampled ±1 inputs of each stage."""
        dtype = self._tensors[0][0].data.dtype
        packed = x.packed  # the ±1 rows as bits: the forward dot products are XNOR-popcounts
        h = None  # a thermometer code enters by its levels (thermometer_layer), other inputs densely
        if x.levels is None:
            h = Tensor(unpack_pm1(packed, x.k, dtype), requires_grad=False)  # for the weight gradients
        thetas, samples = [], []
        slope = float(self.slope)
        for (w, b), seed in zip(self._tensors, seeds, strict=True):
            if h is None:
                theta = thermometer_layer(x.levels, x.widths, w, b, slope)
            else:
                theta = binary_layer(h, packed, w, b, slope)  # σ(slope · (h · sign(W) / k + b))
            packed, sample = sample_pm1(theta.data, int(seed), dtype)  # as sk.bernoulli_pack, and dense
            h = theta.ste(sample, 2.0)  # the ±1 sample; ∂(2θ − 1)/∂θ = 2
            thetas.append(theta)
            samples.append(h)
        if self._out_w.shape[1] == 1:  # logit = α/k · dot + c
            return binary_logit(h, packed, self._out_w, self._out_rho, self._out_c), thetas, samples
        k = self._out_w.shape[0]
        dot = binary_dot(h, packed, self._out_w)
        scale = self._out_rho.exp() * (1.0 / k)
        # K outputs: integer biases (dot units), straight-through rounding: logit = α/k (dot + round(k c))
        bias = (self._out_c * float(k)).ste(np.round(self._out_c.data * np.float32(k)))
        return (dot + bias) * scale, thetas, samples

    def _extra_loss(self, thetas, samples, s, y, scale, w=None, weight_mean=1.0) -> Tensor | None:
        """Hook for subclasses (gradient reversal adds an adversary here)."""
        return None

    def _extra_lr_scale(self) -> float:
        """Hook for subclasses: step-size factor of the extra tensors."""
        return 1.0

    def _extra_init(self, rng: np.random.Generator) -> list[Tensor]:
        """Hook for subclasses: extra trainable tensors."""
        return []

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, s=None, sample_weight=None):
        """Fit on rows ``X`` with class labels ``y``, domains ``s`` and event weights ``sample_weight``.

        Parameters
        ----------
        X : float array-like (n, f), finite (a DataFrame's column names are remembered and checked at predict)
        y : array-like (n,) of class labels (any kind; at least two classes among the labelled rows); rows
            equal to ``unlabelled`` (default −1) are unlabelled and enter only the information term
        s : int array (n,), values 0..255, optional (default: one domain, so the penalty is 0)
        sample_weight : float array (n,), optional
            Event weights (negative allowed); weight 0 is the same as leaving the row out.

        Returns
        -------
        self

        Notes
        -----
        Kernels missing from numba's disk cache are compiled in a helper process
        (:mod:`sqnn_kernels._compile_helper`), so a first fit on an empty cache keeps no compiler memory.
        """
        with compile_elsewhere():
            return self._fit(X, y, s, sample_weight)

    def _fit(self, X, y, s, sample_weight):
        hidden = self._check_params()
        sleeping_threads()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        n = X.shape[0]
        s_given = s
        s = check_s(s, n)
        w = check_weights(sample_weight, n)
        classes, y = encode_targets(y, self.unlabelled)
        keep = w != 0
        if not keep.all():
            X, y, s, w = X[keep], y[keep], s[keep], w[keep]
            if not np.any(y >= 0):
                raise ValueError("sample_weight is zero on every labelled row; nothing to fit")
        if X.shape[0] < 2:
            raise ValueError(f"X needs 2 rows of non-zero weight to fit, got n_samples = {X.shape[0]}")
        weight_mean = float(w[y >= 0].mean())
        if not weight_mean > 0:
            raise ValueError("the weights of the labelled rows must sum to a positive number")
        check_fit_targets(s_given, s, *self._invariance_weight())
        if self.mi == "conditional" and self.gamma > 0:
            lab = y >= 0
            if np.unique(s[lab]).size < 2:
                raise ValueError("mi='conditional' needs labelled rows from at least two domains of s")
        rng = np.random.default_rng(self.random_state)
        self.classes_ = classes
        self.edges_ = fit_edges(X, int(self.n_bins))
        x0 = PackedSigns.encode(X, self.edges_)  # packed ±1; _forward_train unpacks one batch at a time
        widths = [x0.shape[1], *hidden]
        n_out = 1 if len(classes) == 2 else len(classes)
        self._init_params(widths, n_out, rng)
        n_cat = int(s.max()) + 1
        self._n_cat = n_cat
        extra = self._extra_init(rng)
        params, clip = self._param_list()
        opt = Adam(params + extra, lr=float(self.lr), clip=clip,
                   lr_scale={id(t): self._extra_lr_scale() for t in extra})
        groups = s * (len(classes) + 1) + (y + 1)
        weighting, rows = _budget.make_weighting(self, x0, y, s, groups, n_cat, len(hidden), rng)
        if len(rows) < len(y):
            x0, y, s, w, groups = x0[rows], y[rows], s[rows], w[rows], groups[rows]
            weight_mean = float(w[y >= 0].mean()) if np.any(y >= 0) else weight_mean
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
        with _training_threads():
            self._train_loop(epochs, x0, y, s, w, weight_mean, groups, hidden, n_cat, mi_layers, opt, rng,
                             history, bar, weighting)
            weighting.finish(self, [(w.data, b.data) for w, b in self._tensors])
        if bar is not None:
            bar.close()
        self.history_ = history
        self._store_fitted()
        return self

    def _train_loop(self, epochs, x0, y, s, w, weight_mean, groups, hidden, n_cat, mi_layers, opt, rng,
                    history, bar, weighting):
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
                ce = cross_entropy(z, y[idx], w[idx], weight_mean)
                loss = ce
                mis = []
                for li in range(len(hidden)):
                    if gammas[li] > 0 and li in mi_layers:
                        th, rows = thetas[li], idx
                        if weighting.mi_rows is not None:  # held-out rows never enter the information term
                            keep = np.flatnonzero(weighting.mi_rows[idx])
                            th, rows = _budget.take_rows(th, keep), idx[keep]
                        term = layer_mi(th, s[rows], self.mi, y[rows], n_cat, self.mi_group_size, rng,
                                        running[li], float(self.mi_momentum), w[rows])
                        loss = loss + term * float(gammas[li])
                    else:  # monitoring only
                        term = layer_mi(thetas[li].detach(), s[idx], "per_neuron", None, n_cat, w=w[idx])
                    mis.append(float(term.data))
                extra_loss = self._extra_loss(thetas, samples, s[idx], y[idx], ramp, w[idx], float(w.mean()))
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
        out_w = self._out_w.data.astype(np.float64)
        k = out_w.shape[0]
        alpha = float(np.exp(self._out_rho.data.astype(np.float64))[0])
        if out_w.shape[1] == 1:
            c, bias = float(self._out_c.data[0]), np.zeros(1, np.int32)
        else:
            c, bias = 0.0, np.round(self._out_c.data * np.float32(k)).astype(np.int32)
        self.output_ = {"W": out_w, "alpha": alpha, "c": c, "bias": bias}
        del self._tensors, self._out_w, self._out_rho, self._out_c
        self.spec_ = self._build_spec()

    def _build_spec(self) -> sk.BinaryNetSpec:
        """The deterministic network of the fitted attributes (hidden thresholds folded exactly)."""
        layers = [
            sk.HiddenLayer(pack_sign(lay["W"]), lay["k"], fold_thresholds(lay["b"], self.slope, lay["k"]))
            for lay in self.layers_
        ]
        k = self.layers_[-1]["W"].shape[1]
        out = sk.OutputLayer(pack_sign(self.output_["W"]), k, self.output_["bias"],
                             scale=self.output_["alpha"] / k, offset=self.output_["c"])
        names = getattr(self, "feature_names_in_", None)
        return sk.BinaryNetSpec(list(self.edges_), layers, out, None if names is None else list(names))

    # -- inference ----------------------------------------------------------------------------------------
    @property
    def _n_features_out(self) -> int:
        """Width of :meth:`transform`'s default output (the last hidden layer)."""
        return int(self.layers_[-1]["W"].shape[1])

    def _validated(self, X) -> np.ndarray:
        """``X`` checked against the fit: fitted model, number of features, and names in the same order."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def to_spec(self) -> sk.BinaryNetSpec:
        """The deterministic network as a :class:`sqnn_kernels.BinaryNetSpec` (exactly what ``predict`` runs).

        Built once at fit (``spec_``): hidden thresholds from :func:`training.layers.fold_thresholds`; the
        output layer has ``scale = α / k`` and, for two classes, ``bias = 0``, ``offset = c``; for K ≥ 3
        classes the integer per-class ``bias`` and ``offset = 0``. Feature names are those seen in fit.
        """
        check_is_fitted(self)
        return self.spec_

    def _scores(self, X: np.ndarray, stochastic: bool, random_state) -> np.ndarray:
        if stochastic:
            return self._stochastic_scores(X, random_state)
        return sk.predict_scores(self.spec_, X)

    def decision_function(self, X, *, stochastic: bool = False, random_state=None) -> np.ndarray:
        """Logits ``scale · score + offset``, float64: (n,) for two classes (of ``classes_[1]``), else (n, K).

        Deterministic (default): the integer spec scores from :func:`sqnn_kernels.predict_scores`.
        ``stochastic=True``: hidden bits sampled (see :meth:`predict_proba`).
        """
        X = self._validated(X)
        out = self.spec_.output
        z = score_logits(self._scores(X, stochastic, random_state), out.scale, out.offset)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X, *, stochastic: bool = False, random_state=None,
                      n_samples: int = 1) -> np.ndarray:
        """Class probabilities, float64 (n, K), columns in the order of ``classes_``.

        Deterministic (default): :func:`sqnn_kernels.scoring.probabilities` of the spec scores (hidden
        ``T = [θ ≥ 0.5]``), via the packed kernels. ``stochastic=True``: every hidden bit is sampled,
        ``T ~ Bernoulli(θ)``, with the counter-based sampler seeded from ``random_state``; the probabilities
        of ``n_samples`` draws are averaged.
        """
        X = self._validated(X)
        out = self.spec_.output
        if stochastic:
            rng = np.random.default_rng(random_state)
            p = np.mean([probabilities(self._stochastic_scores(X, rng), out.scale, out.offset)
                         for _ in range(max(1, int(n_samples)))], axis=0)
        else:
            p = probabilities(sk.predict_scores(self.spec_, X), out.scale, out.offset)
        return np.column_stack([1.0 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 else p

    def predict(self, X, *, stochastic: bool = False, random_state=None) -> np.ndarray:
        """Class labels ``classes_[c]`` with ``c`` the class rule of :func:`sqnn_kernels.scoring.classes`
        (``P ≥ 0.5`` for two classes, the argmax of the scores for K ≥ 3, ties as ``numpy.argmax``)."""
        X = self._validated(X)
        out = self.spec_.output
        return self.classes_[score_classes(self._scores(X, stochastic, random_state), out.scale, out.offset)]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on the labelled rows of ``(X, y)`` (rows equal to ``unlabelled`` are left out)."""
        from sklearn.metrics import accuracy_score

        y = np.asarray(y)
        rows = np.flatnonzero(labelled_mask(y, self.unlabelled))
        if rows.size == 0:
            raise ValueError(f"score needs labelled rows; every y equals unlabelled={self.unlabelled!r}")
        w = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return float(accuracy_score(y[rows], self.predict(_safe_indexing(X, rows)), sample_weight=w))

    def _stochastic_scores(self, X: np.ndarray, random_state, chunk: int = 65536) -> np.ndarray:
        rng = np.random.default_rng(random_state)
        seeds = rng.integers(0, _SEED_MAX, size=len(self.layers_), dtype=np.int64)
        out_w = np.where(self.output_["W"] >= 0, 1.0, -1.0)
        out = np.empty((len(X), out_w.shape[1]))
        for start in range(0, len(X), chunk):
            h = encode_pm1(X[start:start + chunk], self.edges_, np.float64)
            for lay, seed in zip(self.layers_, seeds, strict=True):
                theta = activation(h @ np.where(lay["W"] >= 0, 1.0, -1.0), lay["b"], self.slope, lay["k"])
                bits = sk.unpack_bits(sk.bernoulli_pack(theta, int(seed), row_offset=start), theta.shape[1])
                h = bits_to_pm1(bits, np.float64)
            out[start:start + chunk] = h @ out_w + self.output_["bias"]
        return out

    def activations(self, X) -> list[np.ndarray]:
        """Activation probabilities θ_l (n, m_l) of every hidden layer, given deterministic earlier layers.

        ``θ_l = σ(slope · (dot_l + b_l) / k_l)`` with ``dot_l`` computed from the deterministic bits of layer
        ``l − 1`` (float64; the MI diagnostics use these).
        """
        X = self._validated(X)
        h = encode_pm1(X, self.edges_, np.float64)
        thetas = []
        for lay in self.layers_:
            theta = activation(h @ np.where(lay["W"] >= 0, 1.0, -1.0), lay["b"], self.slope, lay["k"])
            thetas.append(theta)
            h = np.where(theta >= 0.5, 1.0, -1.0)
        return thetas

    def transform(self, X, *, layers: str = "last") -> np.ndarray:
        """Deterministic hidden bits {0, 1} as uint8: the last hidden layer (n, m_L), or ``layers="all"``
        for every hidden layer side by side (n, Σ m_l). Computed by :func:`sqnn_kernels.forward`.

        ``get_feature_names_out`` and ``set_output`` describe the default (last layer) output.
        """
        if layers not in ("last", "all"):
            raise ValueError(f"layers must be 'last' or 'all', got {layers!r}")
        if layers == "all" and _get_output_config("transform", self)["dense"] != "default":
            raise ValueError(
                "set_output names the last hidden layer's bits (get_feature_names_out); layers='all' needs "
                "set_output(transform='default')"
            )
        X = self._validated(X)
        _, hidden = sk.forward(self.spec_, X)
        bits = [sk.unpack_bits(h, lay.m) for h, lay in zip(hidden, self.spec_.layers, strict=True)]
        return bits[-1] if layers == "last" else np.hstack(bits)

    # -- persistence --------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the spec plus latent weights, biases, classes and constructor parameters to ``path`` (.npz).

        Uses :meth:`sqnn_kernels.BinaryNetSpec.to_npz` (atomic write, SHA-256 checksum); the file is also a
        valid BinaryNetSpec file for ``sqnn export-fpga`` and the kernels. Parameters are stored as JSON
        (numpy numbers as Python numbers; a Generator ``random_state`` as None).
        """
        check_is_fitted(self)
        params = {k: _json_param(v) for k, v in self.get_params().items()}
        classes = np.asarray(self.classes_)
        if classes.dtype == object:
            classes = np.asarray([str(c) for c in classes])
        extra = {
            "model_kind": np.array(_MODEL_KIND),
            "params_json": np.array(json.dumps(params)),
            "output_W": self.output_["W"],
            "output_alpha_c": np.array([self.output_["alpha"], self.output_["c"]]),
            "classes": classes,
        }
        for i, lay in enumerate(self.layers_):
            extra[f"layer{i}_W"] = lay["W"]
            extra[f"layer{i}_b"] = lay["b"]
        self.spec_.to_npz(path, extra=extra)

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
        if spec.feature_names is not None:
            model.feature_names_in_ = np.asarray(spec.feature_names, dtype=object)
        n_out = spec.output.n_out
        model.classes_ = np.asarray(extra["classes"]) if "classes" in extra else np.array([0, 1])
        if len(model.classes_) != (2 if n_out == 1 else n_out):
            raise ValueError(f"{path}: {len(model.classes_)} classes stored for a model with {n_out} outputs")
        model.edges_ = list(spec.edges)
        check_saved_latents(extra, spec, path)
        model.layers_ = []
        for i, lay in enumerate(spec.layers):
            model.layers_.append({"W": extra[f"layer{i}_W"], "b": extra[f"layer{i}_b"], "k": lay.k})
        alpha, c = extra["output_alpha_c"]
        model.output_ = {"W": extra["output_W"], "alpha": float(alpha), "c": float(c),
                         "bias": spec.output.bias.copy()}
        diff = sk.spec_difference(model._build_spec(), spec)  # stochastic and deterministic: one network
        if diff is not None:
            raise ValueError(f"{path}: the stored latent weights do not give the sealed network ({diff})")
        model.spec_ = spec
        return model
