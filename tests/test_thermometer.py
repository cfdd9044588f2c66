import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import ROWS, SEEDS

import sqnn_kernels as sk
from sqnn_kernels import reference as ref


@given(n=ROWS, f=st.integers(1, 40), bins=st.integers(1, 17), seed=SEEDS)
def test_thermometer_matches_reference(n, f, bins, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f))
    edges = [np.sort(rng.normal(size=rng.integers(1, bins + 1))) for _ in range(f)]
    if n:  # values exactly on an edge must count as >= edge
        x[0, 0] = edges[0][0]
    out = sk.thermometer_encode(x, edges)
    np.testing.assert_array_equal(out, ref.thermometer_encode(x, edges))
    total = sum(e.size for e in edges)
    assert out.shape == (n, (total + 63) // 64)
    if n:
        assert sk.unpack_bits(out, total)[0, 0] == 1


def test_thermometer_is_monotone_code():
    edges = [np.array([-1.0, 0.0, 1.0]), np.array([10.0])]
    x = np.array([[-5.0, 11.0], [0.0, 9.0], [0.5, 10.0], [2.0, 0.0]])
    bits = sk.unpack_bits(sk.thermometer_encode(x, edges), 4)
    assert bits.tolist() == [[0, 0, 0, 1], [1, 1, 0, 0], [1, 1, 0, 1], [1, 1, 1, 0]]


@pytest.mark.parametrize(
    ("x", "edges", "match"),
    [
        (np.array([[np.nan, 1.0]]), [[0.0], [0.0]], "x must be finite"),
        (np.ones((2, 3)), [[0.0], [0.0]], "edges has 2 features but x has 3"),
        (np.ones((2, 1)), [[1.0, 0.0]], "sorted"),
        (np.ones((2, 1)), [[]], "non-empty"),
        (np.ones(3), [[0.0]], "2-D"),
    ],
)
def test_thermometer_rejects_bad_input(x, edges, match):
    with pytest.raises(ValueError, match=match):
        sk.thermometer_encode(x, edges)
