import numba
import numpy as np
import pytest
from hypothesis import given
from strategies import NEURONS, ROWS, SEEDS, WIDTHS

import sqnn_kernels as sk
from sqnn_kernels import _lut, dense
from sqnn_kernels import reference as ref
from sqnn_kernels._jit import target_has_avx2

PATHS = [False, True] if target_has_avx2() else [False]  # table lookup needs AVX2; popcount runs anywhere


def _both_paths(xp, wp, k, thresholds):
    """(dots, bits) of every kernel path this host can run: ``{lut: (dots, bits)}``."""
    out = {}
    for lut in PATHS:
        dots = np.empty((xp.shape[0], wp.shape[0]), np.int32)
        bits = np.zeros((xp.shape[0], (wp.shape[0] + 63) // 64), np.uint64)
        if xp.shape[0]:
            dense._run(0, xp, wp, k, dots, lut=lut)
            dense._run(1, xp, wp, k, np.asarray(thresholds, np.int32), bits, lut=lut)
        out[lut] = dots, bits
    return out


def _random_pair(n, k, m, seed):
    rng = np.random.default_rng(seed)
    xp = sk.pack_bits(rng.integers(0, 2, (n, k)).astype(bool))
    wp = sk.pack_bits(rng.integers(0, 2, (m, k)).astype(bool))
    return rng, xp, wp


@given(n=ROWS, k=WIDTHS, m=NEURONS, seed=SEEDS)
def test_xnor_popcount_matches_reference(n, k, m, seed):
    _, xp, wp = _random_pair(n, k, m, seed)
    out = sk.xnor_popcount_dense(xp, wp, k)
    assert out.dtype == np.int32 and out.shape == (n, m)
    np.testing.assert_array_equal(out, ref.xnor_popcount_dense(xp, wp, k))
    if n:
        assert np.all(np.abs(out) <= k) and np.all((out - k) % 2 == 0)


@given(n=ROWS, k=WIDTHS, m=NEURONS, seed=SEEDS)
def test_threshold_matches_reference(n, k, m, seed):
    rng, xp, wp = _random_pair(n, k, m, seed)
    thresholds = rng.integers(-k - 1, k + 2, m)
    out = sk.binary_dense_threshold(xp, wp, k, thresholds)
    assert out.shape == (n, (m + 63) // 64)
    np.testing.assert_array_equal(out, ref.binary_dense_threshold(xp, wp, k, thresholds))
    if m % 64 and n:
        assert not np.any(out[:, -1] >> np.uint64(m % 64))


@given(n=ROWS, k=WIDTHS, m=NEURONS, seed=SEEDS)
def test_table_lookup_and_popcount_paths_match_reference(n, k, m, seed):
    """Both kernel paths, whichever this CPU defaults to: edge tiles (rows past a multiple of 4, neurons past
    a multiple of 64), widths not a multiple of 4 or 64."""
    rng, xp, wp = _random_pair(n, k, m, seed)
    thresholds = rng.integers(-k - 1, k + 2, m)
    expected = ref.xnor_popcount_dense(xp, wp, k), ref.binary_dense_threshold(xp, wp, k, thresholds)
    for dots, bits in _both_paths(xp, wp, k, thresholds).values():
        np.testing.assert_array_equal(dots, expected[0])
        np.testing.assert_array_equal(bits, expected[1])


@pytest.mark.parametrize("k", [252, 253, 1100, 65520, 65600])
def test_counts_at_their_largest_cross_every_counter_width(k):
    """Rows that disagree in every bit (count k) or in none (count 0), around the widths where the table
    path widens its counters: 63 chunks (252 bits) fill a byte, 260 x 63 chunks (65,520 bits) a uint16."""
    ones = sk.pack_bits(np.ones((1, k), bool))
    zeros = sk.pack_bits(np.zeros((1, k), bool))
    xp = np.concatenate([ones, zeros, ones, zeros, ones])  # 5 rows: one full tile of 4, one edge row
    wp = np.concatenate([zeros, ones] * 33)  # 66 neurons: one full 64-neuron tile, one edge tile
    agree = np.not_equal.outer(np.arange(5) % 2, np.arange(66) % 2)  # rows of ones meet weights of ones
    expected = np.where(agree, k, -k)
    thresholds = np.tile([k, -k + 1], 33)  # only agreeing pairs reach their threshold, in both columns
    for dots, bits in _both_paths(xp, wp, k, thresholds).values():
        np.testing.assert_array_equal(dots, expected)
        np.testing.assert_array_equal(bits, sk.pack_bits(expected >= thresholds))


@given(m=NEURONS, k=WIDTHS, seed=SEEDS)
def test_weight_nibbles_kernel_matches_its_numpy_twin(m, k, seed):
    _, _, wp = _random_pair(0, k, m, seed)
    got = _lut.weight_nibbles(wp)
    np.testing.assert_array_equal(got, _lut._weight_nibbles_numpy(wp))
    if m % 64:  # neurons past m hold zero nibbles (the padding of the last tile)
        assert not got[-1][:, _lut.NEURON_LANE[m % 64 :]].any()


def test_narrow_layers_keep_the_popcount_kernels():
    """A tile holds 64 neurons: 1-16 neuron layers (an output layer) measured 2-17x slower by lookup."""
    for rows, words in ((4096, 5), (10, 16)):
        assert not dense.use_lookup(0, rows, words, 1) and not dense.use_lookup(1, rows, words, 16)
        assert not dense.use_lookup(0, rows, words, 32)
    assert dense.use_lookup(1, 4096, 5, 64) == dense.HAS_AVX2  # wide layers: lookup wherever AVX2 runs it


def test_wide_rows_match_reference(rng):
    """18 words per row: the kernels for any word count (a 16-word step, then the rest; 6 rows, 5 neurons)."""
    _, xp, wp = _random_pair(6, 1100, 5, 7)
    thresholds = rng.integers(-40, 40, 5)
    np.testing.assert_array_equal(sk.xnor_popcount_dense(xp, wp, 1100), ref.xnor_popcount_dense(xp, wp, 1100))
    np.testing.assert_array_equal(sk.binary_dense_threshold(xp, wp, 1100, thresholds),
                                  ref.binary_dense_threshold(xp, wp, 1100, thresholds))


def test_dot_against_float_matmul(rng):
    x = rng.choice([-1, 1], (33, 200))
    w = rng.choice([-1, 1], (17, 200))
    np.testing.assert_array_equal(sk.xnor_popcount_dense(sk.pack_bits(x), sk.pack_bits(w), 200), x @ w.T)


def test_identical_for_one_and_two_threads(rng):
    xp = sk.pack_bits(rng.integers(0, 2, (257, 300)).astype(bool))
    wp = sk.pack_bits(rng.integers(0, 2, (131, 300)).astype(bool))
    t = rng.integers(-20, 20, 131)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sk.xnor_popcount_dense(xp, wp, 300), sk.binary_dense_threshold(xp, wp, 300, t)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = sk.xnor_popcount_dense(xp, wp, 300), sk.binary_dense_threshold(xp, wp, 300, t)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dense_rejects_bad_input(rng):
    xp = sk.pack_bits(rng.integers(0, 2, (4, 70)).astype(bool))
    wp = sk.pack_bits(rng.integers(0, 2, (3, 70)).astype(bool))
    with pytest.raises(ValueError, match="wp has 1 words per row but width k=70 needs"):
        sk.xnor_popcount_dense(xp, wp[:, :1].copy(), 70)
    with pytest.raises(ValueError, match="xp has 2 words per row but width k=64"):
        sk.xnor_popcount_dense(xp, wp, 64)
    with pytest.raises(ValueError, match=r"thresholds must have shape \(3,\)"):
        sk.binary_dense_threshold(xp, wp, 70, np.zeros(4, dtype=np.int32))
    with pytest.raises(TypeError, match="thresholds must be integers"):
        sk.binary_dense_threshold(xp, wp, 70, np.zeros(3))
    for wide in (np.full(3, 2**40), np.full(3, 2**31, np.uint32)):  # dtypes that can hold values past int32
        with pytest.raises(ValueError, match="thresholds must fit in int32"):
            sk.binary_dense_threshold(xp, wp, 70, wide)
    with pytest.raises(TypeError, match="xp must have dtype uint64"):
        sk.xnor_popcount_dense(xp.astype(np.int64), wp, 70)
    with pytest.raises(ValueError, match="at least one neuron"):
        sk.xnor_popcount_dense(xp, wp[:0], 70)
