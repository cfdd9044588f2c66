import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SEEDS

import sqnn_kernels as sk
from sqnn_kernels import reference as ref


def test_entropy_values():
    p = np.array([0.0, 1.0, 0.5, 0.25, 1e-300])
    h = sk.bernoulli_entropy(p)
    assert h[0] == 0.0 and h[1] == 0.0 and h[2] == 1.0
    assert h[3] == pytest.approx(0.8112781244591328, abs=1e-15)
    np.testing.assert_allclose(h, ref.bernoulli_entropy(p), rtol=1e-14, atol=0)
    assert sk.bernoulli_entropy(np.full((2, 3), 0.5)).shape == (2, 3)


@given(n=st.integers(0, 60), m=st.integers(1, 130), cats=st.integers(1, 4), seed=SEEDS)
def test_per_neuron_mi_matches_reference(n, m, cats, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((n, m)) ** rng.uniform(0.2, 5)
    s = rng.integers(0, cats, n)
    got = sk.per_neuron_mi(p, s)
    assert got == pytest.approx(ref.per_neuron_mi(p, s), rel=1e-9, abs=1e-12)
    assert got >= 0


@given(n=st.integers(0, 30), m=st.integers(1, 7), cats=st.integers(1, 3), seed=SEEDS)
def test_joint_mi_matches_reference(n, m, cats, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((n, m))
    s = rng.integers(0, cats, n)
    got = sk.joint_mi(p, s)
    assert got == pytest.approx(ref.joint_mi(p, s), rel=1e-9, abs=1e-12)


def test_joint_mi_against_bruteforce_enumeration(rng):
    p = rng.random((9, 4))
    s = rng.integers(0, 2, 9)
    assert sk.joint_mi(p, s) == pytest.approx(ref.joint_mi_bruteforce(p, s), rel=1e-10)


def test_xor_dependence_is_seen_only_by_joint_mi():
    # two deterministic neurons; each is a fair coin in both domains, but T1 XOR T2 = S
    p = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    s = np.array([0, 0, 1, 1])
    assert sk.per_neuron_mi(p, s) == pytest.approx(0.0, abs=1e-15)
    assert sk.joint_mi(p, s) == pytest.approx(1.0, abs=1e-12)  # S is a deterministic function of T: 1 bit
    assert ref.joint_mi_bruteforce(p, s) == pytest.approx(1.0, abs=1e-12)


def test_planted_and_absent_dependence(rng):
    n = 4000
    s = rng.integers(0, 2, n)
    independent = rng.random((n, 8))
    dependent = independent.copy()
    dependent[:, 0] = np.where(s == 1, 0.9, 0.1)
    # I(T_0;S) = H_b(0.5) - H_b(0.1) = 0.531 bits; the 7 other neurons carry only sampling noise
    assert sk.per_neuron_mi(dependent, s) == pytest.approx(1 - sk.bernoulli_entropy(0.1), abs=0.01)
    assert sk.per_neuron_mi(independent, s) < 0.005
    assert sk.joint_mi(dependent, s) > 0.5 > 0.005 > sk.joint_mi(independent, s)


def test_mi_identical_for_one_and_two_threads(rng):
    p = rng.random((30000, 12))
    s = rng.integers(0, 3, 30000)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sk.per_neuron_mi(p, s), sk.joint_mi(p, s)
    finally:
        numba.set_num_threads(before)
    two = sk.per_neuron_mi(p, s), sk.joint_mi(p, s)
    assert one == two  # bit-identical floats


def test_mi_rejects_bad_input(rng):
    p = rng.random((5, 3))
    with pytest.raises(ValueError, match=r"s must have shape \(5,\)"):
        sk.per_neuron_mi(p, np.zeros(4, int))
    with pytest.raises(ValueError, match="integer category"):
        sk.per_neuron_mi(p, np.array([0, 0.5, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sk.per_neuron_mi(p + 1, np.zeros(5, int))
    with pytest.raises(ValueError, match="m <= 16"):
        sk.joint_mi(rng.random((5, 17)), np.zeros(5, int))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        sk.joint_mi(p, np.array([0, 1, 2, 3, -1]))
