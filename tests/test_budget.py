"""Information budget ``SQNNClassifier(max_mi=ε)``: held-out split, estimator and its null, dual ascent."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from spec_factory import domain_toy

from training import SQNNClassifier
from training.budget import DualAscent, deterministic_bits, heldout_information, make_weighting, split_holdout

FAST = {"hidden": (16, 8), "epochs": 6, "batch_size": 256, "n_bins": 4}


def leaky(n=1600, seed=0, shift=2.0):
    """Label in features 0-1; feature 2 carries the domain strongly (so unconstrained bits reveal s)."""
    return domain_toy(n, seed, label2=1.0, domain=shift)[:3]


def test_take_rows_gradient_equals_getitem():
    from training.autograd import Tensor
    from training.budget import take_rows

    rng = np.random.default_rng(0)
    a, b = Tensor(rng.random((7, 3))), Tensor(rng.random((7, 3)))
    rows = np.array([5, 0, 2])
    w = rng.random((3, 3))
    (take_rows(a, rows) * w).sum().backward()
    (b[rows] * w).sum().backward()
    assert np.array_equal(take_rows(a, rows).data, a.data[rows])
    assert np.allclose(a.grad, np.where(np.isin(np.arange(7), rows)[:, None], b.grad, 0.0))
    assert np.allclose(a.grad[rows], w)


def test_split_holdout_stratified_and_disjoint():
    groups = np.repeat([0, 1, 2, 5], [100, 40, 1, 9])
    train, held = split_holdout(groups, 0.25, np.random.default_rng(0))
    assert np.intersect1d(train, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(len(groups)))
    assert [int(np.sum(groups[held] == g)) for g in (0, 1, 2, 5)] == [25, 10, 0, 2]  # the single row stays


def test_heldout_rows_leave_every_gradient_step():
    y = np.repeat([0, 1, -1, -1], 50)
    s = np.repeat([0, 0, 1, 1], 50)
    groups = s * 3 + (y + 1)
    model = SQNNClassifier(max_mi=0.01)
    weighting, rows = make_weighting(model, np.zeros((200, 3)), y, s, groups, 2, 1, np.random.default_rng(0))
    assert len(rows) == 160 and np.intersect1d(rows, weighting.held_rows).size == 0  # 20 % of each cell
    assert np.count_nonzero(y[rows] >= 0) == 80  # labelled held-out rows train nothing either (they are
    assert weighting.mi_rows is None  # fresh rows for the measurement); every training row enters I(T;S)
    assert len(weighting.s_held) == 40 and set(weighting.s_held) == {0, 1}


@pytest.mark.parametrize("kind", ["per_neuron", "joint", "grouped", "conditional"])
@pytest.mark.parametrize("m", [1, 6, 11])
def test_counting_estimator_equals_the_trainers_estimator_on_hard_bits(kind, m):
    from training.autograd import Tensor
    from training.budget import code_information, neuron_groups
    from training.losses import layer_mi

    rng = np.random.default_rng(m)
    n = 300
    s = rng.integers(0, 3, n)
    y = np.where(rng.random(n) < 0.2, -1, rng.integers(0, 3, n))  # three classes, some unlabelled
    bits = ((rng.random((n, m)) < 0.3 + 0.2 * (s[:, None] == 1)) ^ (rng.random((n, m)) < 0.1)).astype(float)
    gs = min(4, m)  # the classifier refuses groups larger than a layer
    expected = float(layer_mi(Tensor(bits, requires_grad=False), s, kind, y, 3, gs,
                              np.random.default_rng(5)).data)
    groups = neuron_groups(m, kind, gs, 5)
    if kind == "conditional":
        lab = [np.flatnonzero(y == c) for c in np.unique(y[y >= 0])]
        got = sum(len(r) / np.count_nonzero(y >= 0) * code_information(bits[r], s[r], groups) for r in lab)
    else:
        got = code_information(bits, s, groups)
    assert got == pytest.approx(expected, abs=1e-4)


def test_heldout_information_null_and_signal():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 2, 4000)
    noise = rng.integers(0, 2, (4000, 8)).astype(float)
    info = heldout_information(noise, s, None, "grouped", 2, 4, np.random.default_rng(0), n_permutations=5)
    assert info["bias"] > 0  # the plug-in estimate is biased upward ...
    assert abs(info["corrected"]) < 4 * info["null_std"] + 1e-3  # ... and the null removes it
    leak = noise.copy()
    leak[:, 0] = s
    info = heldout_information(leak, s, None, "per_neuron", 2, 4, np.random.default_rng(0))
    assert info["corrected"] == pytest.approx(1.0, abs=0.01)  # one bit equal to s carries 1 bit


def test_deterministic_bits_match_transform():
    x, y, s = leaky()
    model = SQNNClassifier(gamma=0.0, random_state=0, **FAST).fit(x, y, s)
    from training.layers import encode_pm1

    params = [(lay["W"], lay["b"] / lay["k"]) for lay in model.layers_]
    bits = deterministic_bits(encode_pm1(x, model.edges_, np.float64), params, model.slope)
    assert np.array_equal(bits[-1].astype(np.uint8), model.transform(x))


def test_budget_fit_reports_multiplier_and_heldout_information():
    x, y, s = leaky()
    model = SQNNClassifier(max_mi=0.02, random_state=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(x, y, s)
    assert isinstance(model.gamma_, float) and model.gamma_ > 0
    assert len(model.gamma_history_) == FAST["epochs"]
    assert len(model.history_["mi_heldout"]) == FAST["epochs"] == len(model.history_["mi_budget"])
    assert model.mi_heldout_ >= 0 and isinstance(model.budget_met_, bool)
    assert model.budget_met_ == (model.mi_heldout_ <= 0.02 + model.mi_heldout_null_std_)
    assert 1 <= model.best_epoch_ <= FAST["epochs"]


def test_multiplier_rises_when_budget_violated_and_falls_when_slack():
    x, y, s = leaky()
    common = {**FAST, "gamma_warmup": 0, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tight = SQNNClassifier(max_mi=1e-4, **common).fit(x, y, s)
    loose = SQNNClassifier(max_mi=5.0, **common).fit(x, y, s)
    assert tight.gamma_history_[0] == pytest.approx(0.01) == loose.gamma_history_[0]  # GAMMA_START
    assert tight.gamma_ > 0.01 * 1.5  # the domain leaks, so the multiplier must grow
    assert loose.gamma_ < 0.01 / 1.5  # 5 bits is never binding: the multiplier decays
    assert loose.budget_met_


def test_warns_when_budget_not_met():
    x, y, s = leaky(shift=4.0)
    model = SQNNClassifier(max_mi=1e-6, random_state=0, **{**FAST, "epochs": 1})
    with pytest.warns(UserWarning, match="budget max_mi=1e-06 bits is not met"):
        model.fit(x, y, s)
    assert model.budget_met_ is False


def test_fixed_gamma_keeps_working_and_records_ramp():
    x, y, s = leaky()
    model = SQNNClassifier(gamma=0.5, gamma_warmup=2, random_state=0, **FAST).fit(x, y, s)
    assert model.gamma_ == 0.5
    assert model.gamma_history_ == [0.25, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert "mi_heldout" not in model.history_ and not hasattr(model, "budget_met_")


def test_every_layer_budget_has_one_multiplier_per_layer():
    x, y, s = leaky()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = SQNNClassifier(max_mi=0.01, max_mi_layers="all", random_state=0, **FAST).fit(x, y, s)
    assert model.gamma_.shape == (2,) and model.mi_heldout_.shape == (2,)
    assert np.array(model.gamma_history_).shape == (FAST["epochs"], 2)


def test_budget_fit_reproducible():
    x, y, s = leaky()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = SQNNClassifier(max_mi=0.01, random_state=4, **FAST).fit(x, y, s)
        b = SQNNClassifier(max_mi=0.01, random_state=4, **FAST).fit(x, y, s)
    assert a.gamma_history_ == b.gamma_history_
    assert np.array_equal(a.predict_proba(x), b.predict_proba(x))


def test_dual_step_is_bounded_and_scale_free():
    held = np.zeros((10, 3))
    d = DualAscent(0.01, 0, 1, "last", held, np.zeros(10, int), np.zeros(10, int), "per_neuron", 2, 4,
                   32.0, np.random.default_rng(0), step=0.3)
    d.measure = lambda params: [{"corrected": 1e3, "null_std": 0.0}]
    d.end_epoch([], {})
    assert np.exp(d.log_gamma[0]) == pytest.approx(0.01 * np.exp(0.3 / np.sqrt(1.1)), rel=1e-3)  # ≤ e^η_t
    d.measure = lambda params: [{"corrected": 0.0, "null_std": 0.0}]
    d.end_epoch([], {})  # the running average (1e3 + 0) / 2 still exceeds the budget: γ keeps rising
    assert np.exp(d.log_gamma[0]) > 0.01 * np.exp(0.3 / np.sqrt(1.1))
    for _ in range(3000):
        d.end_epoch([], {})
    assert np.exp(d.log_gamma[0]) == pytest.approx(1e-4)  # clipped at 10⁻⁴


@pytest.mark.parametrize(
    ("params", "s_none", "err", "match"),
    [
        ({"max_mi": -0.1}, False, ValueError, "max_mi must be a finite number of bits > 0"),
        ({"max_mi": "0.1"}, False, TypeError, "max_mi must be a number of bits"),
        ({"max_mi": 0.1, "max_mi_layers": "first"}, False, ValueError, "max_mi_layers must be one of"),
        ({"max_mi": 0.1, "max_mi_holdout": 1.0}, False, ValueError, "max_mi_holdout must lie strictly"),
        ({"max_mi": 0.1}, True, ValueError, "needs rows of at least two domains"),
    ],
)
def test_budget_parameter_errors(params, s_none, err, match):
    x, y, s = leaky(n=200)
    with pytest.raises(err, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        SQNNClassifier(**{**FAST, **params}).fit(x, y, None if s_none else s)


def test_select_budget_uses_source_labels_and_audit_only():
    from training import select_budget

    x, y, s = leaky(n=1200)
    src, tgt = s == 0, s == 1
    params = {**FAST, "epochs": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = select_budget(x[src], y[src], x[tgt], budgets=(1.0, 1e-3), max_adversary_auc=0.99,
                            model_params=params)
        strict = select_budget(x[src], y[src], x[tgt], budgets=(1.0, 1e-3), max_adversary_auc=0.5,
                               model_params=params, refit=False)
    assert [r["max_mi"] for r in out["table"]] == [1.0, 1e-3]
    best = max(out["table"], key=lambda r: r["source_auc"])
    assert out["met"] and out["max_mi"] == best["max_mi"]  # every budget passes a lax audit: best source AUC
    assert out["model"].max_mi == out["max_mi"] and out["model"].n_features_in_ == 4
    # nothing reaches 0.5 exactly: the most invariant budget is chosen and flagged
    assert not strict["met"] and strict["model"] is None
    assert strict["max_mi"] == min(strict["table"], key=lambda r: r["adversary_auc"])["max_mi"]


def test_select_budget_input_errors():
    from training import select_budget

    x, y, s = leaky(n=100)
    with pytest.raises(ValueError, match="y_source must hold a label of two classes"):
        select_budget(x, np.where(s == 1, -1, y), x)
    with pytest.raises(ValueError, match="X_target has 3 features"):
        select_budget(x, y, x[:, :3])
    with pytest.raises(ValueError, match="budgets must be a non-empty list"):
        select_budget(x, y, x, budgets=())


def test_conditional_budget_for_equalized_odds():
    x, y, s = leaky()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = SQNNClassifier(max_mi=0.01, mi="conditional", random_state=0, **FAST).fit(x, y, s)
    assert len(model.history_["mi_heldout"]) == FAST["epochs"] and model.mi_heldout_ >= 0
    with pytest.raises(ValueError, match="needs labelled"):
        SQNNClassifier(max_mi=0.01, mi="conditional", **FAST).fit(x, np.where(s == 1, -1, y), s)


def test_grouped_measurement_averages_several_groupings():
    from training.budget import code_information, neuron_groups

    rng = np.random.default_rng(3)
    s = rng.integers(0, 2, 500)
    bits = (rng.random((500, 12)) < 0.3 + 0.3 * s[:, None] * (np.arange(12) % 3 == 0)).astype(float)
    info = heldout_information(bits, s, None, "grouped", 2, 4, np.random.default_rng(7), n_permutations=0,
                               n_groupings=3)
    draws = np.random.default_rng(7)  # the same seeds draw the same three groupings
    single = [code_information(bits, s, neuron_groups(12, "grouped", 4, int(draws.integers(0, 2**63))))
              for _ in range(3)]
    assert len(set(np.round(single, 12))) == 3  # the groupings differ, and so do their sums ...
    assert info["estimate"] == pytest.approx(np.mean(single), abs=1e-12)  # ... the measurement is the mean


def _dual(max_mi=0.01, **kw):
    held = np.zeros((10, 3))
    return DualAscent(max_mi, 0, 1, "last", held, np.zeros(10, int), np.zeros(10, int), "per_neuron", 2, 4,
                      32.0, np.random.default_rng(0), step=0.3, **kw)


@pytest.mark.parametrize(("excess", "moves"), [(0.5, False), (-0.5, False), (3.0, True), (-3.0, True)])
def test_dual_step_ignores_an_excess_within_the_resolution(excess, moves):
    d = _dual()
    sigma = 0.004  # the null's spread: an excess of half of it is noise, three times it is a violation
    d.measure = lambda params: [{"corrected": 0.01 + excess * sigma, "null_std": sigma}]
    d.end_epoch([], {})
    gamma = float(np.exp(d.log_gamma[0]))
    if moves:
        assert (gamma > 0.01) == (excess > 0) and gamma != pytest.approx(0.01)
    else:
        assert gamma == pytest.approx(0.01)


def test_the_best_feasible_epoch_is_restored():
    rng = np.random.default_rng(0)
    x_held = np.where(rng.random((200, 1)) < 0.5, 1.0, -1.0)
    y_held = (x_held[:, 0] > 0).astype(int)  # the label is the input bit
    w1, b1 = np.array([[1.0, -1.0, 1.0, -1.0]]), np.full(4, 0.1)  # hidden bits x, -x, x, -x
    w_out, rho, c = np.zeros((4, 1)), np.zeros(1), np.zeros(1)
    d = DualAscent(0.01, 0, 1, "last", x_held, rng.integers(0, 2, 200), y_held, "per_neuron", 2, 4, 32.0,
                   np.random.default_rng(0), network=lambda: ([(w1, b1)], [w_out, rho, c]))
    # output dot 2x (AUC 1) feasible, 2x infeasible, 0 (AUC 0.5) feasible, -2x (AUC 0) feasible
    plan = [([1, -1, 1, 1], 0.0), ([1, -1, 1, 1], 1.0), ([1, 1, 1, 1], -1.0), ([-1, 1, -1, -1], -1.0)]
    for epoch, (out, mi) in enumerate(plan):
        d.multipliers(epoch)
        w_out[:, 0] = out
        d.last_bits = deterministic_bits(x_held, [(w1, b1)], 32.0)  # what measure leaves for the AUC
        d.measure = lambda params, mi=mi: [{"corrected": mi, "null_std": 0.0}]
        d.end_epoch([(w1, b1)], {})
        d.gap = None  # judge every epoch on its own measurement
    d.measure = lambda params: [{"corrected": 0.0, "null_std": 0.0}]
    model = SQNNClassifier()
    d.finish(model, [(w1, b1)])
    assert model.best_epoch_ == 1
    assert np.array_equal(w_out[:, 0], [1, -1, 1, 1])  # the network of epoch 1, restored in place
    assert model.budget_met_


def test_information_of_several_s_rows_equals_each_row_alone():
    from sklearn.metrics import mutual_info_score

    from training.budget import codes_information_rows, group_codes, neuron_groups

    rng = np.random.default_rng(2)
    s = rng.choice([0, 2, 5], 301)
    bits = (rng.random((301, 7)) < 0.2 + 0.1 * (s[:, None] == 2)).astype(float)
    blocks = group_codes(bits, neuron_groups(7, "grouped", 3, 0))  # groups of 3, 3 and 1 neurons
    s_rows = np.stack([s, rng.permutation(s), rng.permutation(s)])
    got = codes_information_rows(blocks, s_rows)
    for row, value in zip(s_rows, got, strict=True):
        expected = sum(mutual_info_score(codes[:, g], row) for codes, _ in blocks
                       for g in range(codes.shape[1]))
        assert value == pytest.approx(expected / np.log(2), abs=1e-12)


def test_dual_signal_is_in_sample_plus_running_gap():
    d = _dual()  # 10 held-out rows
    sigma = 0.01
    signal, res = d.signal([{"corrected": 0.05, "null_std": sigma, "in_sample": 0.01}])
    assert signal[0] == pytest.approx(0.05)  # the first gap is the whole difference
    assert res[0] == pytest.approx(sigma)  # the in-sample rows are fixed: their error is part of the gap
    signal, res = d.signal([{"corrected": 0.03, "null_std": sigma, "in_sample": 0.02}])
    gap = 0.9 * 0.04 + 0.1 * 0.01  # β = SMOOTHING: the gap is averaged, the in-sample value is not
    assert signal[0] == pytest.approx(0.02 + gap)
    assert res[0] == pytest.approx(sigma * np.sqrt(0.9**2 + 0.1**2))
    for _ in range(200):  # the running average of independent noise: σ √((1 − β) / (1 + β))
        _, res = d.signal([{"corrected": 0.0, "null_std": sigma}])
    assert res[0] == pytest.approx(sigma * np.sqrt(0.1 / 1.9))


def test_in_sample_rows_are_information_rows_and_capped(monkeypatch):
    import training.budget as budget

    monkeypatch.setattr(budget, "N_INSAMPLE", 300)
    _, y, s = leaky(n=1000)
    model = SQNNClassifier(max_mi=0.01, **FAST)
    x0 = np.ones((len(y), 3))
    weighting, _ = make_weighting(model, x0, y, s, 3 * s + (y + 1), 2, 2, np.random.default_rng(0))
    held, in_sample = weighting.held_rows, weighting.in_rows
    assert len(held) == pytest.approx(200, abs=4) and len(in_sample) == 300 == np.unique(in_sample).size
    assert np.intersect1d(held, in_sample).size == 0  # in-sample rows are information-term rows
    assert np.array_equal(weighting.s_in, s[in_sample]) and np.array_equal(weighting.y_in, y[in_sample])


def test_an_epoch_the_heldout_estimate_contradicts_is_not_feasible():
    rng = np.random.default_rng(0)
    x_held = np.where(rng.random((200, 1)) < 0.5, 1.0, -1.0)
    y_held = (x_held[:, 0] > 0).astype(int)
    w1, b1 = np.array([[1.0, -1.0, 1.0, -1.0]]), np.full(4, 0.1)
    w_out, rho, c = np.zeros((4, 1)), np.zeros(1), np.zeros(1)
    d = DualAscent(0.01, 0, 1, "last", x_held, rng.integers(0, 2, 200), y_held, "per_neuron", 2, 4, 32.0,
                   np.random.default_rng(0), network=lambda: ([(w1, b1)], [w_out, rho, c]))
    # epoch 1: AUC 0.5, everything within budget; epoch 2: AUC 1 and a signal within budget (its in-sample
    # part fell and the running gap lags), but the held-out estimate alone is far over the budget
    plan = [([1, 1, 1, 1], 0.0, 0.0), ([1, -1, 1, 1], 1.0, -1.0)]
    for epoch, (out, held, in_sample) in enumerate(plan):
        d.multipliers(epoch)
        w_out[:, 0] = out
        d.last_bits = deterministic_bits(x_held, [(w1, b1)], 32.0)
        d.measure = lambda params, h=held, i=in_sample: [{"corrected": h, "null_std": 0.0, "in_sample": i}]
        d.end_epoch([(w1, b1)], {})
    assert d.best["epoch"] == 1
