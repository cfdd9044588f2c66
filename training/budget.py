"""An information budget in bits: minimise the label loss subject to ``I(T; S) ≤ ε`` (dual ascent).

With ``SQNNClassifier(max_mi=ε)`` training solves

    min_w  CE(w)   subject to   Î_l(w) ≤ ε   for each constrained layer l,

through the Lagrangian ``CE + Σ_l γ_l Î_l`` (the multiplier ``γ`` weighs the same information term as the
fixed-``gamma`` loss, so the penalised layers are those of ``mi_layers``). ``Î_l`` is the trainer's own
estimator (``mi=``: grouped, per-neuron, joint or the conditional ``I(T; S | Y)``) applied to the
**deterministic** bits ``T_l = [θ_l ≥ 0.5]`` of the deployed network on rows held out from the information
term's gradient steps, bias-corrected by a permutation null (as :func:`training.metrics.layer_information`):

    Î = I(T; S) − mean_p I(T; S_p),     S_p = a seeded permutation of S     (bits).

The held-out estimate is unbiased for rows the network never fitted but noisy: its spread ``σ_l`` (the
permutation null's) is ~0.015 bit on 2,000 held-out rows of a 64-neuron layer and falls as ``1/n``. The
same estimate on the rows of the information term (``X_l``, up to ``N_INSAMPLE`` = 5,000 of them, the same
groupings, its null from ``N_IN_PERMUTATIONS`` = 2 permutations) is precise but biased: below the held-out
value by ~0.015–0.02 bit on the shower shifts (the network hides ``S`` best on the rows it is fitted to). Its
null correction matters: the plug-in bias falls during training as the bits use fewer codes (the uncorrected
in-sample value minus the held-out estimate went from 0.028 to 0.007 bit over a fit on the default data), and
with an uncorrected ``X_l`` the running gap lagged behind, so the signal read up to 0.01 bit below the
held-out estimate and γ stayed too small. The dual step uses the
control variate

    Ī_l = X_l + G_l,     G_l ← β G_l + (1 − β) (Î_l − X_l)     (β = 0.9; G_l = Î_l − X_l at t = 1),

the precise in-sample value plus a running average of its slowly drifting gap to the held-out estimate:
unbiased for held-out rows, with the noise of the held-out estimate averaged over ~1 / (1 − β) epochs. After
every epoch t the multiplier takes one dual-ascent step in log space,

    d_l = sign(Ī_l − ε) · max(|Ī_l − ε| − σ̄_l, 0)     (only the excess beyond the resolution counts)
    log γ_l ← clip(log γ_l + η_t · tanh(d_l / max(ε, σ̄_l)),  [log 10⁻⁴, log 10²]),
    η_t = η / √(1 + t / 10),   η = 0.3,   γ_l = 0.01 at the start,

with ``σ̄_l`` the standard deviation of ``Ī_l`` under a constant information: ``σ_l √(Σ_j a_j²)`` for the
weights ``a_j`` of the running average (``√((1 − β)/(1 + β))`` after many epochs). The in-sample rows are the
same every epoch, so their sampling error is a constant offset that the gap absorbs. The average, the decaying
step and the dead zone of width ``σ̄_l`` damp the random walk the measurement noise would otherwise drive
(budgets near or below the held-out resolution used to push γ to 20–40, or, on 1,200 held-out rows, leave it
at 0.01 while the adversary still found the domain). The grouped estimator averages ``N_GROUPINGS = 2`` random
neuron groupings per measurement. A bounded, multiplicative step, so the same ``ε`` grid works whatever the
natural scale of ``γ`` on a data set (the motivation of the budget). γ grows while the held-out information
exceeds the budget and decays when the budget is slack; starting small lets the network learn the label before
the constraint binds (a fixed γ = 0.5 from the first epoch costs 0.07 label AUC on fairness data whose useful
γ is ~0.05). The warm-up ramp of ``gamma_warmup`` multiplies the multiplier as in the fixed-``gamma`` loss;
``gamma`` itself is not used.

The returned network is the best *feasible* checkpoint, not necessarily the last epoch: among the epochs after
the warm-up whose ``Ī_l + σ̄_l ≤ ε`` and ``Î_l − σ_l ≤ ε`` (every constrained layer: feasible beyond the noise
of the signal, and not contradicted by the held-out estimate alone), the one with the largest ROC AUC of the
held-out labelled rows (``best_epoch_``; the last epoch when no epoch is feasible or the held-out rows lack a
class). Those rows train nothing, so this is a validation AUC.

Held-out rows: a stratified share ``max_mi_holdout`` of every (domain, label) cell, left out of every gradient
step (the cross-entropy too). Rows the classifier was fitted to are not fresh rows: when the labelled held-out
rows still trained the cross-entropy (earlier versions), the held-out estimate read ~0.03 bit below the same
estimate on as many test rows (third shower shift, 1,200 held-out rows, mean over 60 epochs: 0.001 against
0.032 bit), so budgets did not bind where the adversary still found the domain. The held-out measurement
counts rows without their ``sample_weight``. After ``fit`` the estimator reports the held-out information of
the returned network (``mi_heldout_``, bits, bias-corrected), whether it is within the budget up to the
resolution (``budget_met_``: ``mi_heldout_ ≤ ε + σ``) and warns if it is not.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np

import sqnn_kernels as sk

from .autograd import Tensor
from .layers import PackedSigns, fold_thresholds, pack_sign
from .losses import MAX_JOINT_NEURONS

__all__ = ["BUDGET_LAYERS", "DEFAULT_BUDGETS", "DualAscent", "FixedWeight", "code_information",
           "codes_information", "codes_information_rows", "group_codes", "heldout_information",
           "make_weighting", "neuron_groups", "split_holdout", "take_rows"]

BUDGET_LAYERS = ("last", "all")
GAMMA_START = 0.01
SMOOTHING = 0.9  # β of the running average of the held-out minus in-sample information (the dual step's gap)
N_IN_PERMUTATIONS = 2  # permutations of the in-sample estimate's null (its bias; the spread is not used)
N_INSAMPLE = 5_000  # at most this many information-term rows give the in-sample part of the dual signal
N_GROUPINGS = 2  # neuron groupings averaged by one held-out measurement of the grouped estimator
DEFAULT_BUDGETS = (0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001)  # bits: sqnn sweep --max-mi
_LOG_BOUNDS = (float(np.log(1e-4)), float(np.log(1e2)))


def split_holdout(groups: np.ndarray, fraction: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of row indices into (gradient rows, held-out rows), both sorted.

    Every cell ``g`` of ``groups`` gives ``round(fraction · N_g)`` rows to the held-out part, but always keeps
    at least one row for the gradient steps.
    """
    held = []
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        n_held = min(round(fraction * len(rows)), len(rows) - 1)
        if n_held > 0:
            held.append(rng.choice(rows, n_held, replace=False))
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(groups), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def packed_rows(x0) -> PackedSigns:
    """±1 rows as :class:`~training.layers.PackedSigns` (as given, or an array packed: bit 1 where > 0)."""
    if isinstance(x0, PackedSigns):
        return x0
    x = np.asarray(x0)
    return PackedSigns(sk.pack_bits(x > 0), x.shape[1])


def deterministic_bits(x0, params: list[tuple[np.ndarray, np.ndarray]], slope: float) -> list[np.ndarray]:
    """Deterministic hidden bits ``T_l = [θ_l ≥ 0.5]`` (float {0, 1}) of every layer for ±1 inputs ``x0``
    (an array or :class:`~training.layers.PackedSigns`).

    ``params`` holds the training-time ``(W, b)`` of each layer (latent weights (k, m), bias in units of
    ``dot / k``); ``θ_l`` follows :func:`training.layers.activation` with the sign rule ``sign(0) = +1``,
    applied as the deployed network applies it: XNOR-popcount dots against the integer thresholds of
    :func:`training.layers.fold_thresholds` (:func:`sqnn_kernels.binary_dense_threshold`).
    """
    x = packed_rows(x0)
    packed, k = x.packed, x.k
    bits = []
    for w, b in params:
        thresholds = fold_thresholds(np.asarray(b, dtype=np.float64) * w.shape[0], slope, w.shape[0])
        packed = sk.binary_dense_threshold(packed, pack_sign(w), k, thresholds)
        k = w.shape[1]
        bits.append(sk.unpack_bits(packed, k).astype(np.float64))
    return bits


def take_rows(theta: Tensor, rows: np.ndarray) -> Tensor:
    """``theta[rows]`` for distinct row indices; the backward scatters by assignment (cheaper than the
    general ``__getitem__``'s ``np.add.at``, which must allow repeated indices)."""

    def _backward(g):
        full = np.zeros_like(theta.data)
        full[rows] = g
        theta._acc(full)

    return theta._child(theta.data[rows], (theta,), "take_rows", _backward)


def neuron_groups(m: int, kind: str, group_size: int, grouping_seed: int) -> list[np.ndarray]:
    """Columns of each neuron group the estimator ``kind`` sums over (as :func:`training.losses.layer_mi`):
    single neurons for "per_neuron"/"conditional", all ``m`` for "joint", and for "grouped" consecutive
    chunks of ``min(group_size, m, 16)`` of the permutation ``default_rng(grouping_seed).permutation(m)``."""
    if kind in ("per_neuron", "conditional"):
        return [np.array([i]) for i in range(m)]
    if kind == "joint":
        return [np.arange(m)]
    g = int(min(max(1, group_size), m, MAX_JOINT_NEURONS))
    perm = np.random.default_rng(grouping_seed).permutation(m)
    return [perm[i:i + g] for i in range(0, m, g)]


def group_codes(bits: np.ndarray, groups: list[np.ndarray]) -> list[tuple[np.ndarray, int]]:
    """Integer codes ``Σ_i b_i 2^i`` of every neuron group of hard bits, as ``(codes (n, G), size)`` blocks
    of equal-size groups (codes do not depend on ``S``, so permutation nulls reuse them)."""
    b = (np.asarray(bits) > 0.5).astype(np.float32)
    blocks = []
    for size in sorted({len(g) for g in groups}):
        same = [g for g in groups if len(g) == size]
        place = np.zeros((b.shape[1], len(same)), dtype=np.float32)  # place[i, j] = 2^(position of i in j)
        for j, g in enumerate(same):
            place[g, j] = 2.0 ** np.arange(size)
        # one matrix product; exact: every partial sum is an integer < 2^16 ≤ 2^24
        blocks.append(((b @ place).astype(np.int64), size))
    return blocks


def codes_information(blocks: list[tuple[np.ndarray, int]], s: np.ndarray) -> float:
    """Plug-in ``Σ_g I(T_g; S)`` in bits from the group codes of :func:`group_codes`.

    ``I(T_g; S) = Σ_{t,v} (N_tv / N) log2(N N_tv / (N_t N_v))`` with ``t`` the integer code of the group's
    bits. On hard bits this is what the differentiable estimators of :mod:`training.losses` compute (their
    θ-mixtures collapse to point masses), in ``O(n m)`` instead of ``O(n m 2^g / g)``.
    """
    return float(codes_information_rows(blocks, np.asarray(s)[None, :])[0])


def codes_information_rows(blocks: list[tuple[np.ndarray, int]], s_rows: np.ndarray) -> np.ndarray:
    """:func:`codes_information` for every row of ``s_rows`` (R, n) at once (e.g. ``s`` and its permutations,
    which share one set of values): one ``bincount`` over all rows instead of a Python loop."""
    s_rows = np.asarray(s_rows)
    r_count, n = s_rows.shape
    out = np.zeros(r_count)
    if n == 0:
        return out
    values = np.unique(s_rows[0])
    k = values.size
    if k < 2:
        return out
    s_idx = np.searchsorted(values, s_rows)  # (R, n)
    for codes, size in blocks:
        n_groups = codes.shape[1]
        cells = (n_groups << size) * k
        base = ((codes + (np.arange(n_groups) << size)) * k).astype(np.intp)  # (n, G)
        offset = (s_idx + np.arange(r_count)[:, None] * cells).astype(np.intp)  # (R, n)
        index = np.add(base[None], offset[:, :, None])  # (R, n, G), C order
        joint = np.bincount(index.reshape(-1), minlength=r_count * cells).astype(np.float64)
        joint = joint.reshape(r_count, n_groups, 1 << size, k)
        outer = joint.sum(axis=3, keepdims=True) * joint.sum(axis=2, keepdims=True)
        nz = joint > 0
        terms = np.zeros_like(joint)
        terms[nz] = joint[nz] * np.log2(n * joint[nz] / outer[nz])
        out += terms.sum(axis=(1, 2, 3)) / n
    return out


def code_information(bits: np.ndarray, s: np.ndarray, groups: list[np.ndarray]) -> float:
    """Plug-in ``Σ_g I(T_g; S)`` in bits of hard bits (exactly 0/1): :func:`codes_information` of
    :func:`group_codes`."""
    return codes_information(group_codes(bits, groups), s)


def draw_groupings(m: int, kind: str, group_size: int, rng: np.random.Generator,
                   n_groupings: int = N_GROUPINGS) -> list[list[np.ndarray]]:
    """The neuron groupings of one measurement: ``n_groupings`` random ones for "grouped", else the single
    fixed one of :func:`neuron_groups`."""
    n_draws = max(1, int(n_groupings)) if kind == "grouped" else 1
    return [neuron_groups(m, kind, group_size, int(rng.integers(0, 2**63))) for _ in range(n_draws)]


def heldout_information(bits: np.ndarray, s: np.ndarray, y: np.ndarray | None, kind: str, n_cat: int,
                        group_size: int, rng: np.random.Generator,
                        n_permutations: int = 8, n_groupings: int = N_GROUPINGS,
                        groupings: list[list[np.ndarray]] | None = None) -> dict[str, float]:
    """The trainer's estimator ``kind`` of ``I(T; S)`` or ``I(T; S | Y)`` on held-out hard bits, and its null.

    Returns ``estimate`` (plug-in, bits), ``bias`` (mean over ``n_permutations`` permutations of ``s``, whose
    true information is 0), ``null_std`` (their standard deviation: the resolution of the estimate) and
    ``corrected = estimate − bias`` (may be slightly negative; reporting clips it at 0). The grouped estimator
    is the mean over ``n_groupings`` neuron groupings drawn from ``rng`` (the trainer regroups every batch, so
    its information term is this mean over groupings; one grouping alone adds a spread of ~0.002 bits on
    10,000 rows of a 64-neuron layer, measured); the permutations reuse the same groupings. For
    "conditional", ``Σ_c (N_c / N_lab) I(T; S | Y = c)`` over labelled rows, permuting ``s`` within classes.
    ``groupings`` (from :func:`draw_groupings`) replaces the draw, e.g. to measure two row sets alike.
    """
    bits = np.asarray(bits)
    s = np.asarray(s)
    if groupings is None:
        groupings = draw_groupings(bits.shape[1], kind, group_size, rng, n_groupings)
    n_draws = len(groupings)
    if kind == "conditional":
        y = np.asarray(y)
        cells = [np.flatnonzero(y == c) for c in np.unique(y[y >= 0])]
        n_lab = sum(len(r) for r in cells)
    else:
        cells, n_lab = [np.arange(len(s))], len(s)

    cells = [r for r in cells if len(r) >= 2]
    groups = [g for grouping in groupings for g in grouping]  # every grouping's groups side by side
    s_rows = np.repeat(s[None, :], 1 + int(n_permutations), axis=0)  # row 0: s; then the permutations
    for p in range(1, s_rows.shape[0]):
        for r in cells:
            s_rows[p, r] = rng.permutation(s[r])
    values = np.zeros(s_rows.shape[0])
    for r in cells:
        values += len(r) / max(n_lab, 1) * codes_information_rows(group_codes(bits[r], groups), s_rows[:, r])
    values /= n_draws  # the mean over groupings
    est, null = float(values[0]), values[1:]
    bias = float(np.mean(null)) if null.size else 0.0
    return {"estimate": est, "bias": bias, "null_std": float(np.std(null)) if null.size else 0.0,
            "corrected": est - bias}


class FixedWeight:
    """The fixed-``gamma`` schedule: ``γ_t = γ · min(1, (t + 1) / warmup)``; nothing is held out."""

    mi_rows = None  # every training row enters the information term

    def __init__(self, gamma: float, warmup: int, n_layers: int):
        self.gamma, self.warmup, self.n_layers = float(gamma), int(warmup), n_layers
        self.history: list[float] = []

    def ramp(self, epoch: int) -> float:
        return 1.0 if self.warmup == 0 else min(1.0, (epoch + 1) / self.warmup)

    def multipliers(self, epoch: int) -> np.ndarray:
        """Per-layer weight of the information term in this epoch."""
        g = self.gamma * self.ramp(epoch)
        self.history.append(g)
        return np.full(self.n_layers, g)

    def end_epoch(self, params, history: dict) -> None:
        """Nothing to learn."""

    def finish(self, model, params) -> None:
        model.gamma_ = self.gamma
        model.gamma_history_ = list(self.history)


class DualAscent(FixedWeight):
    """Multipliers ``γ_l`` of the constraints ``Î_l ≤ ε`` learned by log-space dual ascent (module docstring).

    Parameters
    ----------
    max_mi : budget ε in bits (> 0).
    warmup : epochs of the linear ramp of the multipliers.
    n_layers : hidden layers of the network.
    layers : "last" (constrain the last hidden layer; one multiplier weighs every penalised layer) or "all"
        (one constraint and multiplier per hidden layer).
    x_held, s_held, y_held : the held-out rows (±1 encoded inputs, domains, labels).
    x_in, s_in, y_in : rows of the information term (at most ``N_INSAMPLE``) whose estimate is the
        in-sample part of the dual signal (module docstring); None: the signal is the running average of
        the held-out estimate alone.
    kind, n_cat, group_size : the trainer's estimator settings.
    slope : the network's θ slope.
    rng : generator for the estimator's groupings and the permutations.
    step : η of the log-space step.
    network : callable returning the current network as ``(hidden, output)``: ``hidden`` the ``(W, b)`` of
        every hidden layer (as ``params``), ``output`` a list of the output layer's arrays ``W, ρ, c`` (see
        :func:`output_logits`), all restorable in place. With labelled held-out rows of every class it turns
        on checkpoint selection (:meth:`end_epoch`); None keeps the last epoch.
    """

    def __init__(self, max_mi: float, warmup: int, n_layers: int, layers: str,
                 x_held: np.ndarray, s_held: np.ndarray, y_held: np.ndarray, kind: str, n_cat: int,
                 group_size: int, slope: float, rng: np.random.Generator, step: float = 0.3,
                 n_permutations: int = 8, network=None, x_in=None, s_in=None, y_in=None):
        super().__init__(GAMMA_START, warmup, n_layers)
        self.max_mi, self.layers, self.step = float(max_mi), layers, float(step)
        self.constrained = list(range(n_layers)) if layers == "all" else [n_layers - 1]
        self.log_gamma = np.full(len(self.constrained), np.log(GAMMA_START))
        self.n_permutations = int(n_permutations)
        self.gap, self.weight_sq, self.epoch = None, 0.0, 0
        self.x_held, self.s_held, self.y_held = packed_rows(x_held), s_held, y_held
        self.x_in = None if x_in is None else packed_rows(x_in)
        self.s_in, self.y_in = s_in, y_in
        self.last_bits: list[np.ndarray] = []
        self.kind, self.n_cat, self.group_size, self.slope, self.rng = kind, n_cat, group_size, slope, rng
        self.history_gamma: list[list[float]] = []
        labelled = np.asarray(y_held) >= 0
        n_classes = int(np.max(y_held)) + 1 if labelled.any() else 0
        self.network = network
        self.select = (network is not None and n_classes >= 2
                       and np.unique(np.asarray(y_held)[labelled]).size == max(n_classes, 2))
        self.best: dict | None = None

    def multipliers(self, epoch: int) -> np.ndarray:
        g = np.exp(self.log_gamma) * self.ramp(epoch)
        self.history_gamma.append(g.tolist())
        if self.layers == "all":
            return g
        return np.full(self.n_layers, g[0])

    def measure(self, params) -> list[dict[str, float]]:
        """Held-out information of each constrained layer for the current weights (the keys of
        :func:`heldout_information`) and, with in-sample rows, the bias-corrected ``in_sample`` estimate on
        them with the same groupings."""
        bits = self.last_bits = deterministic_bits(self.x_held, params, self.slope)
        use_in = self.x_in is not None and len(self.s_in) > 0
        bits_in = deterministic_bits(self.x_in, params, self.slope) if use_in else None
        out = []
        for li in self.constrained:
            groupings = draw_groupings(bits[li].shape[1], self.kind, self.group_size, self.rng)
            d = heldout_information(bits[li], self.s_held, self.y_held, self.kind, self.n_cat,
                                    self.group_size, self.rng, self.n_permutations, groupings=groupings)
            if use_in:
                d["in_sample"] = heldout_information(bits_in[li], self.s_in, self.y_in, self.kind,
                                                     self.n_cat, self.group_size, self.rng, N_IN_PERMUTATIONS,
                                                     groupings=groupings)["corrected"]
            out.append(d)
        return out

    def signal(self, info: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Update the running gap and return the dual signal ``Ī_l = X_l + G_l`` and its resolution ``σ̄_l``
        (module docstring); without an in-sample value ``X_l = 0`` and ``Ī_l`` is the running average of
        the held-out estimate."""
        corrected = np.array([d["corrected"] for d in info])
        in_sample = np.array([d.get("in_sample", 0.0) for d in info])
        sigma = np.array([d["null_std"] for d in info])
        if self.gap is None:
            self.gap, self.weight_sq = corrected - in_sample, 1.0
        else:
            self.gap = SMOOTHING * self.gap + (1 - SMOOTHING) * (corrected - in_sample)
            self.weight_sq = SMOOTHING**2 * self.weight_sq + (1 - SMOOTHING) ** 2
        return in_sample + self.gap, sigma * np.sqrt(self.weight_sq)

    def end_epoch(self, params, history: dict) -> None:
        """Measure ``Î_l`` on the held-out rows (and ``X_l`` in sample), take one dual-ascent step and keep
        the best checkpoint.

        The step moves ``log γ_l`` only by the part of ``Ī_l − ε`` beyond the resolution ``σ̄_l`` (a
        confidence test: an excess within the estimator's noise is no evidence that the constraint binds or
        is slack). An epoch after the warm-up whose signal is below the budget by at least its resolution,
        ``Ī_l + σ̄_l ≤ ε``, and whose held-out estimate itself is within its resolution of the budget,
        ``Î_l − σ_l ≤ ε``, for every constrained layer is *feasible* (an epoch that merely looks feasible
        through noise, or early while the running gap still lags, is not); among feasible epochs the network
        with the largest ROC AUC of the held-out labelled rows is kept (ties: the later epoch) and restored
        by :meth:`finish`.
        """
        info = self.measure(params)
        history.setdefault("mi_heldout", []).append([d["corrected"] for d in info])
        signal, sigma = self.signal(info)
        history.setdefault("mi_budget", []).append(signal.tolist())
        self.epoch += 1
        excess = signal - self.max_mi
        beyond = np.sign(excess) * np.maximum(np.abs(excess) - sigma, 0.0)
        violation = np.tanh(beyond / np.maximum(self.max_mi, sigma))
        gamma_now = np.exp(self.log_gamma)
        step = self.step / np.sqrt(1.0 + self.epoch / 10.0)
        self.log_gamma = np.clip(self.log_gamma + step * violation, *_LOG_BOUNDS)
        direct = np.array([d["corrected"] - d["null_std"] for d in info])  # the held-out estimate alone
        if self.select and self.epoch >= self.warmup and np.all(excess + sigma <= 0) and np.all(
                direct <= self.max_mi):
            self.keep_if_best(params, gamma_now)

    def keep_if_best(self, params, gammas: np.ndarray) -> None:
        """Copy the network if its held-out label AUC is the best of the feasible epochs so far (called
        right after :meth:`measure` of the same ``params``)."""
        from sklearn.metrics import roc_auc_score

        hidden, output = self.network()
        lab = np.flatnonzero(np.asarray(self.y_held) >= 0)
        bits = self.last_bits[-1][lab]  # the bits :meth:`measure` computed for these weights
        z = output_logits(bits, *output)
        y = np.asarray(self.y_held)[lab]
        if z.shape[1] == 1:
            auc = float(roc_auc_score(y, z[:, 0]))
        else:
            p = np.exp(z - z.max(axis=1, keepdims=True))
            auc = float(roc_auc_score(y, p / p.sum(axis=1, keepdims=True), multi_class="ovr",
                                      labels=np.arange(z.shape[1])))
        if self.best is None or auc >= self.best["auc"]:
            self.best = {"auc": auc, "epoch": self.epoch, "gamma": gammas.copy(),
                         "state": [a.copy() for pair in hidden for a in pair] + [a.copy() for a in output]}

    def finish(self, model, params) -> None:
        """Restore the best feasible checkpoint (if any), then set ``gamma_``, ``gamma_history_``,
        ``mi_heldout_``, ``mi_heldout_null_std_``, ``budget_met_`` and ``best_epoch_``; warn if the held-out
        information of the returned network exceeds the budget by more than its resolution."""
        gammas = np.exp(self.log_gamma)
        model.best_epoch_ = int(self.epoch)
        if self.best is not None:
            hidden, output = self.network()
            for dst, src in zip([a for pair in hidden for a in pair] + list(output), self.best["state"],
                                strict=True):
                dst[...] = src
            params = [(w, b) for w, b in hidden]
            gammas = self.best["gamma"]
            model.best_epoch_ = int(self.best["epoch"])
        info = self.measure(params)
        hist = np.array(self.history_gamma)
        if self.layers == "last":
            model.gamma_ = float(gammas[0])
            model.gamma_history_ = hist[:, 0].tolist()
        else:
            model.gamma_ = gammas
            model.gamma_history_ = hist.tolist()
        measured = np.array([max(0.0, d["corrected"]) for d in info])
        model.mi_heldout_ = float(measured[0]) if self.layers == "last" else measured
        model.mi_heldout_null_std_ = float(max(d["null_std"] for d in info))
        model.budget_met_ = bool(np.all(measured <= self.max_mi + model.mi_heldout_null_std_))
        if not model.budget_met_:
            warnings.warn(
                f"the information budget max_mi={self.max_mi:g} bits is not met on the {len(self.s_held)} "
                f"held-out rows: I(T;S) = {np.round(measured, 5).tolist()} bits (bias-corrected; estimator "
                f"resolution ±{model.mi_heldout_null_std_:.1e} bits); train longer or raise max_mi",
                UserWarning,
                stacklevel=3,
            )


def output_logits(bits: np.ndarray, w: np.ndarray, rho: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Logits (n, n_out) of the deterministic output layer for last-layer bits {0, 1}: with ``k`` bits,
    ``α = exp(ρ)`` and ``dot = ±1 bits · sign(W)``, ``α/k · dot + c`` for one output and
    ``α/k · (dot + round(k c))`` for several (as :meth:`training.SQNNClassifier._forward_train`)."""
    k = w.shape[0]
    h = np.where(np.asarray(bits) > 0.5, np.float32(1.0), np.float32(-1.0))
    dot = h @ np.where(w >= 0, np.float32(1.0), np.float32(-1.0))
    scale = float(np.exp(np.asarray(rho, dtype=np.float64)[0])) / k
    if w.shape[1] == 1:
        return scale * dot.astype(np.float64) + float(np.asarray(c)[0])
    return scale * (dot + np.round(np.asarray(c) * np.float32(k))).astype(np.float64)


def check_budget(max_mi, layers, holdout) -> None:
    """Validate the budget parameters of :class:`~training.SQNNClassifier` (``max_mi`` None = no budget)."""
    if max_mi is None:
        return
    if isinstance(max_mi, bool) or not isinstance(max_mi, (int, float, np.integer, np.floating)):
        raise TypeError(f"max_mi must be a number of bits or None, got {type(max_mi).__name__}")
    if not np.isfinite(max_mi) or max_mi <= 0:
        raise ValueError(f"max_mi must be a finite number of bits > 0 (or None), got {max_mi!r}")
    if layers not in BUDGET_LAYERS:
        raise ValueError(f"max_mi_layers must be one of {BUDGET_LAYERS}, got {layers!r}")
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float, np.integer, np.floating)):
        raise TypeError(f"max_mi_holdout must be a fraction, got {type(holdout).__name__}")
    if not 0 < holdout < 1:
        raise ValueError(f"max_mi_holdout must lie strictly between 0 and 1, got {holdout!r}")


def network_arrays(model) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """The training arrays of ``model`` (views, restorable in place): ``([(W, b) per hidden layer],
    [W_out, ρ, c])``."""
    hidden = [(w.data, b.data) for w, b in model._tensors]
    return hidden, [model._out_w.data, model._out_rho.data, model._out_c.data]


def make_weighting(model, x0: np.ndarray, y: np.ndarray, s: np.ndarray, groups: np.ndarray, n_cat: int,
                   n_layers: int, rng: np.random.Generator):
    """The multiplier schedule of a fit and the rows its gradient steps use.

    Returns ``(weighting, train_rows)``: :class:`FixedWeight` and all rows when ``model.max_mi`` is None;
    otherwise :class:`DualAscent` measuring a stratified held-out share of the rows, and every other row.
    """
    max_mi = getattr(model, "max_mi", None)
    if max_mi is None:
        return FixedWeight(model.gamma, model.gamma_warmup, n_layers), np.arange(len(y))
    if np.unique(s).size < 2:
        raise ValueError("max_mi (an I(T;S) budget) needs rows of at least two domains in s")
    _, held = split_holdout(groups, float(model.max_mi_holdout), rng)
    if np.unique(s[held]).size < 2:
        raise ValueError("max_mi: the held-out rows hold one domain only; give more rows per domain or raise "
                         "max_mi_holdout")
    if model.mi == "conditional":
        lab = held[y[held] >= 0]
        if np.unique(s[lab]).size < 2:
            raise ValueError("max_mi with mi='conditional' needs labelled held-out rows of two domains")
    weighting = DualAscent(max_mi, int(model.gamma_warmup), n_layers, model.max_mi_layers,
                           x0[held], s[held], y[held], model.mi, n_cat, int(model.mi_group_size),
                           float(model.slope), np.random.default_rng(rng.integers(0, 2**63)),
                           network=partial(network_arrays, model))
    in_mi = np.ones(len(y), dtype=bool)
    in_mi[held] = False
    in_rows = np.flatnonzero(in_mi)
    if len(in_rows) > N_INSAMPLE:
        in_rows = np.sort(rng.choice(in_rows, N_INSAMPLE, replace=False))
    weighting.x_in, weighting.s_in, weighting.y_in = packed_rows(x0[in_rows]), s[in_rows], y[in_rows]
    weighting.held_rows, weighting.in_rows = held, in_rows
    return weighting, np.flatnonzero(in_mi)  # mi_rows None: every training row enters the information term
