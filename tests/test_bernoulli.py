import itertools

import numba
import numpy as np
import pytest
from hypothesis import given
from scipy import stats
from strategies import NEURONS, ROWS, SEEDS

import sqnn_kernels as sk
from sqnn_kernels import reference as ref


@given(n=ROWS, m=NEURONS, seed=SEEDS)
def test_bernoulli_matches_reference(n, m, seed):
    p = np.random.default_rng(seed).random((n, m))
    out = sk.bernoulli_pack(p, seed)
    np.testing.assert_array_equal(out, ref.bernoulli_pack(p, seed))
    if m % 64 and n:
        assert not np.any(out[:, -1] >> np.uint64(m % 64))


def test_same_bits_for_any_chunking_and_thread_count(rng):
    p = rng.random((1000, 130))
    whole = sk.bernoulli_pack(p, 7)
    cuts = [0, 1, 333, 334, 999, 1000]
    parts = [sk.bernoulli_pack(p[a:b], 7, row_offset=a) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sk.bernoulli_pack(p, 7)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, whole)
    assert not np.array_equal(sk.bernoulli_pack(p, 8), whole), "a different seed must change the bits"


def test_extreme_probabilities_are_exact():
    p = np.array([[0.0, 1.0] * 40])
    bits = sk.unpack_bits(sk.bernoulli_pack(np.repeat(p, 50, axis=0), 3), 80)
    assert np.all(bits[:, 0::2] == 0) and np.all(bits[:, 1::2] == 1)


@pytest.mark.parametrize("prob", [1e-3, 0.05, 0.3, 0.5, 0.77, 0.999])
def test_frequencies_within_binomial_bounds(prob):
    n, m = 2000, 100
    bits = sk.unpack_bits(sk.bernoulli_pack(np.full((n, m), prob), 11), m)
    total = n * m
    # two-sided 1e-6 acceptance region of Binomial(total, prob): a correct sampler fails once in 10^6 runs
    lo, hi = stats.binom.ppf([0.5e-6, 1 - 0.5e-6], total, prob)
    assert lo <= bits.sum() <= hi
    # per column too (200 tests at 1e-7 each)
    lo, hi = stats.binom.ppf([0.5e-7, 1 - 0.5e-7], n, prob)
    col = bits.sum(axis=0)
    assert np.all((lo <= col) & (col <= hi))


def test_neighbouring_bits_are_independent():
    n, m, prob = 4000, 64, 0.5
    bits = sk.unpack_bits(sk.bernoulli_pack(np.full((n, m), prob), 5), m).astype(np.int64)
    both_cols = (bits[:, :-1] & bits[:, 1:]).sum()
    both_rows = (bits[:-1] & bits[1:]).sum()
    for count, trials in [(both_cols, n * (m - 1)), (both_rows, (n - 1) * m)]:
        lo, hi = stats.binom.ppf([1e-7, 1 - 1e-7], trials, prob**2)
        assert lo <= count <= hi


@pytest.mark.parametrize(
    ("p", "seed", "exc", "match"),
    [
        (np.array([[0.5, 1.5]]), 0, ValueError, r"\[0, 1\]"),
        (np.array([[np.nan]]), 0, ValueError, "finite"),
        (np.array([0.5]), 0, ValueError, "2-D"),
        (np.array([[0.5]]), -1, ValueError, "seed"),
        (np.array([[0.5]]), 1.5, TypeError, "seed"),
    ],
)
def test_bernoulli_rejects_bad_input(p, seed, exc, match):
    with pytest.raises(exc, match=match):
        sk.bernoulli_pack(p, seed)
