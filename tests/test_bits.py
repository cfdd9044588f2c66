import numpy as np
import pytest
from hypothesis import given
from strategies import ROWS, SEEDS, WIDTHS

import sqnn_kernels as sk
from sqnn_kernels import reference as ref


@given(n=ROWS, k=WIDTHS, seed=SEEDS)
def test_pack_matches_reference_and_roundtrips(n, k, seed):
    a = np.random.default_rng(seed).integers(0, 2, (n, k)).astype(bool)
    packed = sk.pack_bits(a)
    assert packed.dtype == np.uint64 and packed.shape == (n, (k + 63) // 64)
    np.testing.assert_array_equal(packed, ref.pack_bits(a))
    np.testing.assert_array_equal(sk.unpack_bits(packed, k), a.astype(np.uint8))
    np.testing.assert_array_equal(ref.unpack_bits(packed, k), a.astype(np.uint8))
    if k % 64 and n:
        assert not np.any(packed[:, -1] >> np.uint64(k % 64)), "padding bits must be zero"


@given(n=ROWS, k=WIDTHS, seed=SEEDS)
def test_pm1_and_01_inputs_pack_alike(n, k, seed):
    bits = np.random.default_rng(seed).integers(0, 2, (n, k))
    np.testing.assert_array_equal(sk.pack_bits(2 * bits - 1), sk.pack_bits(bits))
    np.testing.assert_array_equal(sk.pack_bits(bits.astype(np.float32)), sk.pack_bits(bits.astype(bool)))


def test_known_layout():
    a = np.zeros((1, 130), dtype=bool)
    a[0, [0, 63, 64, 129]] = True
    p = sk.pack_bits(a)
    assert p.tolist() == [[1 | (1 << 63), 1, 2]]


def test_fortran_and_strided_inputs():
    a = np.random.default_rng(0).integers(0, 2, (20, 70)).astype(bool)
    np.testing.assert_array_equal(sk.pack_bits(np.asfortranarray(a)), ref.pack_bits(a))
    np.testing.assert_array_equal(sk.pack_bits(a[::2, ::3]), ref.pack_bits(a[::2, ::3]))


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (np.array([[0, 2]]), ValueError, "only bool"),
        (np.zeros(5), ValueError, "2-D"),
        (np.zeros((3, 0)), ValueError, "k >= 1"),
        (np.array([["a"]]), TypeError, "bool or numeric"),
        (None, TypeError, "a must be"),
    ],
)
def test_pack_rejects_bad_input(value, exc, match):
    with pytest.raises(exc, match=match):
        sk.pack_bits(value)


def test_unpack_rejects_bad_input():
    p = sk.pack_bits(np.ones((2, 70), dtype=bool))
    with pytest.raises(ValueError, match="words per row"):
        sk.unpack_bits(p, 200)
    with pytest.raises(ValueError, match="padding"):
        sk.unpack_bits(p, 65)
    with pytest.raises(TypeError, match="uint64"):
        sk.unpack_bits(p.astype(np.int64), 70)
    with pytest.raises(ValueError, match="k must be >= 1"):
        sk.unpack_bits(p, 0)
