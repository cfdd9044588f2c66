"""The fused engine against the numpy twin: pairing, padding lanes, the zero-padded tail, float32 edges."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spec_factory import random_spec
from strategies import SEEDS

import sqnn_kernels as sk
from sqnn_kernels import _jit, engine
from sqnn_kernels import reference as ref
from sqnn_kernels._jit import jit, sum_rows64


def _check(spec, x):
    expected = ref.forward(spec, x)[0]
    np.testing.assert_array_equal(sk.predict_scores(spec, x), expected)


@given(f=st.sampled_from([1, 2, 3, 13, 16, 45, 47]), n=st.sampled_from([1, 2, 3, 63, 64, 65, 130]),
       hidden=st.sampled_from([(), (1,), (64,), (64, 64), (5, 70, 3), (5, 200, 9)]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=SEEDS)
def test_engine_matches_twin_across_padding(f, n, hidden, dtype, seed):
    """Lanes (f = 13, 45: padding lanes; 16: full; 47: odd, paired with a padding feature), tails (n) and
    later layers (widths past 64 and not multiples of 64). The first layer stays <= 64 wide, so only three
    kernel shapes (G, lanes) = (1, 8), (2, 8), (2, 24) are compiled; wider first layers are covered by
    test_later_layers_by_popcount_or_byte_tables."""
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, f, hidden, int(rng.integers(1, 4)))
    assert engine.supports(spec)
    net = engine.compiled(spec)
    assert net.table.shape[1] == 64 and (net.group, net.lanes) in ((1, 8), (2, 8), (2, 24))
    _check(spec, rng.normal(size=(n, f)).astype(dtype))


@pytest.mark.parametrize("max_bins", [1, 9, 33, 64])
def test_engine_edge_counts_and_unpaired_tables(rng, max_bins):
    """Up to 64 edges per feature; 64 edges make the pair tables too big for L2 (single-feature tables)."""
    spec = random_spec(rng, 12, (20,), 2, max_bins=max_bins)
    net = engine.compiled(spec)
    assert net.group == (2 if max_bins < 64 else 1)
    x = rng.normal(size=(300, 12)) * 1.5
    _check(spec, x)
    if max_bins in (1, 64):  # float32 edges once per grouping (another kernel shape per edge count)
        _check(spec, x.astype(np.float32))


def test_nets_beyond_the_engine_take_the_layered_path(rng):
    spec = random_spec(rng, 3, (10,), 1, max_bins=70)  # some feature may have > 64 edges
    spec = sk.BinaryNetSpec([np.linspace(-2, 2, 65), *spec.edges[1:]], [], sk.OutputLayer(
        sk.pack_bits(rng.integers(0, 2, (1, 65 + sum(e.size for e in spec.edges[1:]))).astype(bool)),
        65 + sum(e.size for e in spec.edges[1:]), np.zeros(1, np.int32)))
    assert not engine.supports(spec)
    _check(spec, rng.normal(size=(50, 3)))


def test_float32_edges_are_rounded_up_exactly():
    """Edges between float32 numbers: x >= e must hold exactly as in float64 for every float32 x."""
    e = np.array([np.float64(np.float32(0.1)) + 1e-12, -1e-30, 3.4e38 * 1.5, 1.0])  # above its float32
    edges = [np.sort(e), np.array([0.5])]
    k = e.size + 1
    out = sk.OutputLayer(sk.pack_bits(np.ones((1, k), bool)), k, np.zeros(1, np.int32))
    spec = sk.BinaryNetSpec(edges, [], out)
    one, tenth = np.float32(1), np.float32(0.1)
    vals = np.array([tenth, np.nextafter(tenth, one), -1e-30, 0, 3.4e38, one, np.nextafter(one, 0 * one)],
                    dtype=np.float32)
    x = np.stack([vals, np.full(vals.size, 0.5, np.float32)], axis=1)
    _check(spec, x)


def test_values_at_and_beside_their_edges_in_every_lane(rng):
    """x equal to an edge (counts), one float64 step below (does not) or above, in every feature lane (45
    features: lanes in both halves of each 8-lane chunk and both slots), for float64 and float32 input."""
    spec = random_spec(rng, 45, (64,), 1)
    rows = []
    for b in range(8):
        for step in (0.0, -np.inf, np.inf):
            e = [edges[min(b, edges.size - 1)] for edges in spec.edges]
            rows.append([v if step == 0 else np.nextafter(v, step) for v in e])
    x = np.array(rows)
    _check(spec, x)
    _check(spec, x.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["first", "last", "last_value"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_found_anywhere(rng, where, bad, dtype):
    """float64 on AVX2 checks 4 lanes per compare in a shuffled lane order (_jit.lane_codes): every place."""
    spec = random_spec(rng, 45, (64, 64), 1)
    x = rng.normal(size=(1000, 45)).astype(dtype)
    row, col = {"first": (0, 0), "last": (999, 0), "last_value": (999, 44)}[where]
    x[row, col] = bad
    with pytest.raises(ValueError, match=r"x must be finite; it holds 1 NaN/inf"):
        sk.predict_scores(spec, x)


def test_values_past_a_row_do_not_leak_into_it(rng):
    """Padding lanes read the next row's values (or the zero tail); +inf edges keep them out of the codes."""
    spec = random_spec(rng, 3, (8,), 1)
    x = rng.normal(size=(40, 3))
    expected = ref.forward(spec, x)[0]
    big = np.concatenate([x, np.full((1, 3), 1e300)])  # a huge next row
    np.testing.assert_array_equal(sk.predict_scores(spec, big)[:40], expected)
    for n in range(1, 8):  # every tail length
        np.testing.assert_array_equal(sk.predict_scores(spec, x[:n]), expected[:n])


@pytest.mark.parametrize("group", [1, 2, 3])
def test_every_feature_grouping_is_exact(rng, monkeypatch, group):
    """1, 2 or 3 features per lookup (the largest whose tables fit TABLE_BYTES; at most 2 by default)."""
    monkeypatch.setattr(engine, "MAX_GROUP", group)
    spec = random_spec(rng, 7, (40, 5), 2)
    net = engine.compile_net(spec)
    assert net.group == group and net.read_width == (group - 1) * net.n_pairs + net.lanes
    x = rng.normal(size=(200, 7))
    for xs in (x, x.astype(np.float32)):
        got = engine.fused_scores(net, np.ascontiguousarray(xs))
        np.testing.assert_array_equal(got, ref.forward(spec, xs)[0])


@pytest.mark.parametrize("lut_bytes", [0, 1 << 22])
@pytest.mark.parametrize("hidden", [(64, 64), (70, 3), (200, 256, 9), (5, 129, 64, 2)])
def test_later_layers_by_popcount_or_byte_tables(rng, monkeypatch, lut_bytes, hidden):
    """Later hidden layers: XNOR-popcount (tables past LUT_BYTES) or byte tables (the default)."""
    monkeypatch.setattr(engine, "LUT_BYTES", lut_bytes)
    spec = random_spec(rng, 9, hidden, 2)
    net = engine.compile_net(spec)
    assert (net.lut_offsets >= 0).all() == bool(lut_bytes) and len(net.lut_offsets) == len(hidden) - 1
    x = rng.normal(size=(150, 9))
    # later layers never see the input dtype; float32 input only where the first layer is 64 wide (a
    # kernel shape the other tests compile anyway)
    for xs in (x, x.astype(np.float32)) if net.table.shape[1] == 64 else (x,):
        got = engine.fused_scores(net, np.ascontiguousarray(xs))
        np.testing.assert_array_equal(got, ref.forward(spec, xs)[0])


@pytest.mark.parametrize("k", [64, 37])
def test_one_word_byte_layer_at_its_extremes(rng, monkeypatch, k):
    """A later layer of k <= 64 inputs sums its byte tables in int8: all k bits agreeing (the largest sum),
    none agreeing, and thresholds at and past both ends (t = k + 1: never, t = -k: always) stay exact."""
    monkeypatch.setattr(engine, "LUT_BYTES", 1 << 22)
    spec = random_spec(rng, 9, (k, 70), 1)
    first = spec.layers[0]
    always = sk.HiddenLayer(first.weights, first.k, np.full(k, -first.k))  # every first-layer bit set
    w2 = rng.integers(0, 2, (70, k)).astype(bool)
    w2[:20] = True  # neurons 0..19 agree with all k bits, 20..39 with none
    w2[20:40] = False
    t2 = rng.integers(-k - 1, k + 2, 70)
    t2[[0, 20]], t2[[1, 21]], t2[[2, 22]], t2[[3, 23]] = k, k + 1, -k, -k - 1
    second = sk.HiddenLayer(sk.pack_bits(w2), k, t2)
    spec = sk.BinaryNetSpec(spec.edges, [always, second], spec.output)
    net = engine.compile_net(spec)
    assert net.lut_offsets.tolist() == [0]  # the one-word byte-table path
    x = rng.normal(size=(130, 9))
    hidden = ref.forward(spec, x)[1][1]
    assert (hidden[:, 0] & 1).all() and not (hidden[:, 0] >> np.uint64(1) & 1).any()  # t = k fires; k + 1 not
    np.testing.assert_array_equal(engine.fused_scores(net, np.ascontiguousarray(x)), ref.forward(spec, x)[0])


@jit
def _sum_rows(table, o, p0, p1, off, acc, ia):
    sum_rows64(table, o, p0, p1, off, acc, ia)


@given(rows=st.integers(0, 15), p0=st.integers(0, 3), chunk=st.sampled_from([0, 1]), seed=SEEDS)
def test_sum_rows64_adds_the_table_rows(rows, p0, chunk, seed):
    """Pass 2's row sum (explicit <64 x i8> IR): two uint8 chains of <= 15 rows of values <= 17 (no wrap),
    widened into an int16 accumulator; p1 - p0 = 2 rows (0 rows: unchanged)."""
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 18, 40 * 128 + 64, dtype=np.uint8)[64:]  # a row may start anywhere
    o = (rng.integers(0, 39, p0 + 2 * rows + 2) * 128 + rng.integers(0, 64)).astype(np.uint32)
    acc = rng.integers(-1000, 1000, 130).astype(np.int16)
    ia, off = int(rng.integers(0, 66)), 64 * chunk
    expected = acc.astype(np.int64)
    for p in range(p0, p0 + 2 * rows):
        expected[ia : ia + 64] += table[o[p] + off : o[p] + off + 64]
    _sum_rows(table, o, p0, p0 + 2 * rows, off, acc, ia)
    np.testing.assert_array_equal(acc, expected)


def test_target_isa_follows_numbas_feature_rule(monkeypatch):
    """numba compiles for NUMBA_CPU_FEATURES when set, else for the host's features whatever NUMBA_CPU_NAME
    says: haswell alone on an AVX-512 host is AVX-512 code (haswell tuning) with a vector popcount."""
    import llvmlite.binding as llvm
    import numba

    host = llvm.get_host_cpu_features().flatten().split(",")
    monkeypatch.setattr(numba.config, "CPU_NAME", "haswell")
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    assert _jit.target_features() == host
    assert _jit.target_has_vector_popcount() == ("+avx512vpopcntdq" in host)
    assert _jit.target_has_avx2() == ("+avx2" in host)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "")  # the named CPU's own features: AVX2 code
    assert _jit.target_features() is None
    assert _jit.target_has_avx2() and not _jit.target_has_vector_popcount()
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx2,+popcnt,-avx512f")
    assert _jit.target_has_avx2() and not _jit.target_has_vector_popcount()
    monkeypatch.setattr(numba.config, "CPU_NAME", "znver4")
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "")
    assert _jit.target_has_avx2() and _jit.target_has_vector_popcount() and _jit.target_has_avx512()
    monkeypatch.setattr(numba.config, "CPU_NAME", "generic")  # no x86 vector intrinsics (lane_codes)
    assert not (_jit.target_has_avx2() or _jit.target_has_avx512())
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+neon")
    assert not (_jit.target_has_avx2() or _jit.target_has_avx512())
