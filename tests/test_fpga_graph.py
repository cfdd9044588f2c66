"""``fpga.graph``: the shared adder graph of a layer gives every row's count, builds each shared sum once, and
its two-clock split never feeds a second-clock value back into the first clock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import SEEDS, WIDTHS

from fpga.graph import _fewest_register_bits, build_graph, evaluate
from fpga.render import layer_graphs, selection
from sqnn_kernels.spec import BinaryNetSpec

DATA = Path(__file__).parent / "data"


def _random_rows(rng, k, n_rows):
    density = rng.uniform(0.0, 1.0)
    return [np.flatnonzero(rng.random(k) < density) for _ in range(n_rows)]


def _check_structure(g, rows):
    k = g.k
    sig = np.arange(k, k + g.n_nodes)
    assert np.all(g.ops < sig[:, None]), "an operand comes after its node"
    np.testing.assert_array_equal(g.hi[k:], g.hi[g.ops[:, 0]] + g.hi[g.ops[:, 1]])
    np.testing.assert_array_equal(g.depth[k:], 1 + np.maximum(g.depth[g.ops[:, 0]], g.depth[g.ops[:, 1]]))
    assert np.all(g.stage[:k] == 0)
    assert np.all(g.stage[g.ops] <= g.stage[k:, None]), "a first-clock node reads a second-clock value"
    for r, root in zip(rows, g.roots, strict=True):
        if len(r) == 0:
            assert root == -1
        else:
            assert g.hi[root] == len(r)


@settings(max_examples=60, deadline=None)
@given(k=WIDTHS, n_rows=st.integers(1, 40), seed=SEEDS, n=st.sampled_from([0, 1, 7]))
def test_graph_counts_equal_the_direct_counts(k, n_rows, seed, n):
    rng = np.random.default_rng(seed)
    rows = _random_rows(rng, k, n_rows)
    g = build_graph(rows, k)
    _check_structure(g, rows)
    bits = rng.integers(0, 2, (n, k))
    ref = np.stack([bits[:, r].sum(axis=1) for r in rows], axis=1).reshape(n, n_rows)
    np.testing.assert_array_equal(evaluate(g, bits), ref)
    np.testing.assert_array_equal(evaluate(g, np.ones((1, k), dtype=np.int64))[0], [len(r) for r in rows])


def test_identical_rows_share_every_adder():
    rows = [np.arange(3, 23)] * 10
    g = build_graph(rows, 30)
    assert g.n_nodes == 19  # one tree of 20 terms, used by all ten rows
    assert len(set(g.roots.tolist())) == 1


def test_build_is_deterministic_and_shares_on_a_trained_layer():
    spec = BinaryNetSpec.from_npz(DATA / "fpga_small.npz")
    layer = spec.layers[0]
    _, indices, _ = selection(layer.weights, layer.k)
    rows = [np.arange(layer.k), *indices]
    a, b = (build_graph(rows, layer.k, tail=1, shallow=(0,)) for _ in range(2))
    np.testing.assert_array_equal(a.ops, b.ops)
    np.testing.assert_array_equal(a.stage, b.stage)
    separate = sum(max(len(r) - 1, 0) for r in rows)
    assert a.n_nodes < 0.5 * separate  # measured: 872 adders for 2,285 without sharing
    assert layer_graphs(spec)[0].n_nodes == a.n_nodes


def test_evaluate_rejects_a_wrong_width():
    g = build_graph([np.array([0, 1])], 3)
    with pytest.raises(ValueError, match="bits"):
        evaluate(g, np.zeros((2, 4)))


def _registered_bits(g, stage):
    """Bits of the first-clock signals that the second clock reads (nodes, or row counts)."""
    k = g.k
    read = {int(x) for n, pair in enumerate(g.ops) if stage[k + n] for x in pair if not stage[x]}
    read |= {int(r) for r in g.roots if r >= 0 and not stage[r]}
    return sum(int(g.width[x]) for x in read)


def _heights(g):
    height = np.zeros(g.k + g.n_nodes, dtype=np.int64)
    for n in range(g.n_nodes - 1, -1, -1):
        for a in g.ops[n]:
            height[a] = max(height[a], height[g.k + n] + 1)
    return height


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 5), n_rows=st.integers(1, 3), seed=SEEDS, d0=st.integers(0, 3),
       extra=st.integers(0, 2))
def test_register_placement_is_the_fewest_bits_of_any_split(k, n_rows, seed, d0, extra):
    """The minimum cut against every monotone two-clock split of a small graph (brute force)."""
    rng = np.random.default_rng(seed)
    g = build_graph(_random_rows(rng, k, n_rows), k)
    assert g.n_nodes <= 12  # at most 4 adders per row: 2^12 splits to try
    top = max([int(g.depth[r]) for r in g.roots if r >= 0], default=0)
    d0 = min(d0, top)
    d1 = top - d0 + extra
    stage = _fewest_register_bits(g.k, g.ops, g.hi, g.depth, g.roots, d0, d1)
    height = _heights(g)
    nodes = np.arange(g.k, g.k + g.n_nodes)
    assert np.all(stage[: g.k] == 0)
    assert np.all(stage[g.ops] <= stage[nodes, None])
    assert np.all(g.depth[stage == 0] <= d0) and np.all(height[stage == 1] + 1 <= d1)
    best = None
    for bits in range(1 << g.n_nodes):
        s = np.concatenate([np.zeros(g.k, np.int64), (bits >> np.arange(g.n_nodes)) & 1])
        if (np.all(s[g.ops] <= s[nodes, None]) and np.all(g.depth[s == 0] <= d0)
                and np.all(height[s == 1] + 1 <= d1)):
            cost = _registered_bits(g, s)
            best = cost if best is None else min(best, cost)
    assert _registered_bits(g, stage) == best


def _clock_levels(g):
    """Adders on the longest path of each clock: (first clock, second clock up to every row's count)."""
    first = np.zeros(g.k + g.n_nodes, dtype=np.int64)
    second = np.zeros(g.k + g.n_nodes, dtype=np.int64)
    for n, (a, b) in enumerate(g.ops):
        c = g.k + n
        if g.stage[c]:
            second[c] = 1 + max(second[a] * g.stage[a], second[b] * g.stage[b])
        else:
            first[c] = 1 + max(first[a], first[b])
    return int(first.max()), second


def test_few_partial_sums_cross_the_register_of_a_trained_layer():
    """Regression: the first clock sums each row into few groups, so few bits are registered (810 before,
    with every row tree cut at mid-depth; 405 with two adders after the counts, 508 now that the compare
    takes one), for a few more adder bits (1,781 -> 1,933 -> 1,975)."""
    spec = BinaryNetSpec.from_npz(DATA / "fpga_small.npz")
    g = layer_graphs(spec)[0]
    assert _registered_bits(g, g.stage) <= 520
    top = max(int(g.depth[r]) for r in g.roots if r >= 0)
    assert top == 10 and np.all(g.depth[g.stage == 0] <= 5) and np.all(_heights(g)[g.stage == 1] < 5)


@pytest.mark.parametrize("net, levels", [("small", (6,)), ("demo", (6, 5)), ("five", (6, 5))])
def test_every_clock_of_a_hidden_layer_is_at_most_levels_deep(net, levels):
    """A hidden neuron compares z = 2 P - (T + cut): one adder after P, two after T (sqnn_layer.v). T is
    summed at its least depth, so neither path is longer than the first clock: measured 6 adders on the
    280-input layer of the demo net (7 when u = 2 P - T was formed first and then compared)."""
    spec = BinaryNetSpec.from_npz(DATA / f"fpga_{net}.npz")
    graphs = layer_graphs(spec)
    for slot, most in enumerate(levels):
        g = graphs[slot]
        first, second = _clock_levels(g)
        t_path = second[g.roots[0]] + 2
        p_path = max(second[r] for r in g.roots[1:] if r >= 0) + 1
        assert max(first, t_path, p_path) <= most, (slot, first, t_path, p_path)
