"""Adversarial fuzzing of every public kernel: correct result or a clear ValueError/TypeError, never a crash.

Shapes include n = 0, k = 1, k = 64 j ± 1 and wide rows; arrays come C-ordered, Fortran-ordered or as strided
views, in the expected dtype or a wrong one. The number of generated cases per test is ``FUZZ_EXAMPLES``
(environment variable ``SQNN_FUZZ_EXAMPLES``, default 1500; 7 tests -> 10,500 cases in CI).
"""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqnn_kernels as sk
from sqnn_kernels import reference as ref

FUZZ_EXAMPLES = int(os.environ.get("SQNN_FUZZ_EXAMPLES", "1500"))
fuzz = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True)

WIDTH = st.one_of(
    st.integers(1, 3),
    st.builds(lambda j, d: max(1, 64 * j + d), st.integers(1, 20), st.integers(-1, 1)),
    st.integers(1, 1500),
)
ROWS = st.one_of(st.just(0), st.just(1), st.integers(0, 9))
LAYOUT = st.sampled_from(["C", "F", "strided"])


def arrange(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``a`` in another memory layout."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype) if a.ndim == 2 else None
        if big is None:
            return a
        big[::2, ::3] = a
        return big[::2, ::3]
    return a


def expect_clear_error(err: Exception, *names: str) -> None:
    """A raised error must be a ValueError/TypeError whose message names one of the arguments."""
    assert isinstance(err, (ValueError, TypeError)), f"unexpected {type(err).__name__}: {err}"
    assert any(name in str(err) for name in names), f"error does not name the argument: {err}"


@fuzz
@given(n=ROWS, k=WIDTH, seed=st.integers(0, 2**32 - 1), layout=LAYOUT,
       dtype=st.sampled_from(["bool", "uint8", "int8", "int64", "float32", "float64", "pm1", "bad", "nan"]))
def test_fuzz_pack_unpack(n, k, seed, layout, dtype):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (n, k))
    a = {"pm1": 2 * bits - 1, "bad": bits * 3, "nan": np.where(bits, np.nan, 0.0)}.get(dtype)
    a = bits.astype(dtype) if a is None else a
    a = arrange(a, layout)
    try:
        packed = sk.pack_bits(a)
    except Exception as err:
        expect_clear_error(err, "a ")
        assert dtype in ("bad", "nan") and n > 0 and (dtype == "nan" or bits.any())
        return
    assert dtype not in ("bad",) or not bits.any()
    np.testing.assert_array_equal(packed, ref.pack_bits(bits))
    np.testing.assert_array_equal(sk.unpack_bits(arrange(packed, layout), k), bits)


@fuzz
@given(n=ROWS, k=WIDTH, m=st.integers(1, 70), seed=st.integers(0, 2**32 - 1), layout=LAYOUT,
       defect=st.sampled_from([None, None, "k", "dtype", "padding", "thr_len", "thr_float", "empty_w"]))
def test_fuzz_dense(n, k, m, seed, layout, defect):
    rng = np.random.default_rng(seed)
    xp = sk.pack_bits(rng.integers(0, 2, (n, k)).astype(bool))
    wp = sk.pack_bits(rng.integers(0, 2, (m, k)).astype(bool))
    t = rng.integers(-k, k + 1, m)
    kk, xin, win, tin = k, arrange(xp, layout), arrange(wp, layout), t
    if defect == "k":
        kk = k + 64
    elif defect == "dtype":
        xin = xp.astype(np.int64)
    elif defect == "padding":
        if k % 64 == 0:
            return
        win = wp.copy()
        win[0, -1] |= np.uint64(1) << np.uint64(63)
    elif defect == "thr_len":
        tin = t[:-1]
    elif defect == "thr_float":
        tin = t.astype(float)
    elif defect == "empty_w":
        win = wp[:0]
    try:
        dots = sk.xnor_popcount_dense(xin, win, kk)
        bits = sk.binary_dense_threshold(xin, win, kk, tin)
    except Exception as err:
        expect_clear_error(err, "xp", "wp", "thresholds", "k")
        assert defect is not None
        return
    assert defect is None
    np.testing.assert_array_equal(dots, ref.xnor_popcount_dense(xp, wp, k))
    np.testing.assert_array_equal(bits, ref.binary_dense_threshold(xp, wp, k, t))


@fuzz
@given(n=ROWS, f=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), layout=LAYOUT,
       defect=st.sampled_from([None, None, "nan", "inf", "unsorted", "nfeat", "int_x", "float32"]))
def test_fuzz_thermometer(n, f, seed, layout, defect):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)) * 3
    edges = [np.sort(rng.normal(size=rng.integers(1, 70))) for _ in range(f)]
    xin, ein = x, edges
    if defect in ("nan", "inf") and n:
        xin = x.copy()
        xin[rng.integers(n), rng.integers(f)] = np.nan if defect == "nan" else -np.inf
    elif defect == "unsorted" and edges[0].size > 1:
        ein = [edges[0][::-1], *edges[1:]]
    elif defect == "nfeat":
        ein = [*edges, np.zeros(1)]
    elif defect == "int_x":
        xin = np.round(x).astype(np.int32)
        x = xin.astype(float)
    elif defect == "float32":
        xin = x.astype(np.float32)
        x = xin.astype(float)
    try:
        out = sk.thermometer_encode(arrange(xin, layout), ein)
    except Exception as err:
        expect_clear_error(err, "x ", "edges")
        assert defect in ("nan", "inf", "unsorted", "nfeat")
        return
    assert defect in (None, "int_x", "float32") or n == 0 or (defect == "unsorted" and edges[0].size == 1)
    np.testing.assert_array_equal(out, ref.thermometer_encode(x, edges))


@fuzz
@given(n=ROWS, m=st.integers(1, 200), seed=st.integers(0, 2**64 - 1), layout=LAYOUT,
       defect=st.sampled_from([None, None, "above", "below", "nan", "float32", "int01", "seed"]))
def test_fuzz_bernoulli(n, m, seed, layout, defect):
    rng = np.random.default_rng(seed % 2**32)
    p = rng.random((n, m))
    pin, sd = p, seed
    if defect in ("above", "below", "nan") and n:
        pin = p.copy()
        pin[rng.integers(n), rng.integers(m)] = {"above": 1 + 1e-12, "below": -1e-300, "nan": np.nan}[defect]
    elif defect == "float32":
        pin = p.astype(np.float32)
        p = pin.astype(float)
    elif defect == "int01":
        pin = rng.integers(0, 2, (n, m))
        p = pin.astype(float)
    elif defect == "seed":
        sd = -1 - seed
    try:
        out = sk.bernoulli_pack(arrange(pin, layout), sd)
    except Exception as err:
        expect_clear_error(err, "p ", "p must", "seed")
        assert defect in ("above", "below", "nan", "seed")
        return
    assert defect in (None, "float32", "int01") or n == 0
    np.testing.assert_array_equal(out, ref.bernoulli_pack(p, seed))


@fuzz
@given(n=ROWS, m=st.integers(1, 8), cats=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), layout=LAYOUT,
       defect=st.sampled_from([None, None, "s_float_int", "s_bool", "s_frac", "s_len", "s_neg", "p_range"]))
def test_fuzz_information(n, m, cats, seed, layout, defect):
    rng = np.random.default_rng(seed)
    p = rng.random((n, m))
    s = rng.integers(0, cats, n)
    pin, sin = p, s
    if defect == "s_float_int":
        sin = s.astype(float)
    elif defect == "s_bool":
        s = s % 2
        sin = s.astype(bool)
    elif defect == "s_frac" and n:
        sin = s + 0.5
    elif defect == "s_len":
        sin = np.append(s, 0)
    elif defect == "s_neg" and n:
        sin = s - 1 - s.max()
    elif defect == "p_range" and n:
        pin = p + 1.0
    try:
        got = sk.per_neuron_mi(arrange(pin, layout), sin), sk.joint_mi(arrange(pin, layout), sin)
    except Exception as err:
        expect_clear_error(err, "s ", "s must", "s labels", "p ", "p must")
        assert defect in ("s_frac", "s_len", "s_neg", "p_range")
        return
    assert defect in (None, "s_float_int", "s_bool") or n == 0
    assert got[0] == pytest.approx(ref.per_neuron_mi(p, s), rel=1e-9, abs=1e-12)
    assert got[1] == pytest.approx(ref.joint_mi(p, s), rel=1e-9, abs=1e-12)


@fuzz
@given(n=ROWS, seed=st.integers(0, 2**32 - 1), layout=LAYOUT,
       defect=st.sampled_from([None, None, "nan", "inf", "nfeat", "ndim", "float32", "string"]))
def test_fuzz_predict(n, seed, layout, defect):
    rng = np.random.default_rng(seed)
    spec = _SPECS[seed % len(_SPECS)]
    x = rng.normal(size=(n, spec.n_features))
    xin = x
    if defect in ("nan", "inf") and n:
        xin = x.copy()
        xin[rng.integers(n), rng.integers(spec.n_features)] = np.nan if defect == "nan" else np.inf
    elif defect == "nfeat":
        xin = np.hstack([x, x[:, :1]])
    elif defect == "ndim":
        xin = x.ravel()
    elif defect == "float32":
        xin = x.astype(np.float32)
        x = xin
    elif defect == "string":
        xin = x.astype(str)
    try:
        got = sk.predict_scores(spec, arrange(xin, layout) if xin.ndim == 2 else xin)
    except Exception as err:
        expect_clear_error(err, "x ", "x must", "x has")
        assert defect in ("nan", "inf", "nfeat", "ndim", "string")
        return
    assert defect in (None, "float32") or n == 0
    np.testing.assert_array_equal(got, ref.forward(spec, x)[0])


def _make_specs():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from spec_factory import random_spec

    rng = np.random.default_rng(99)
    shapes = [(1, (), 1), (5, (1,), 2), (7, (65, 3), 1), (3, (64, 64), 1)]
    return [random_spec(rng, f, h, o) for f, h, o in shapes]


_SPECS = _make_specs()


@fuzz
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 10_000))
def test_fuzz_corrupt_model_file(tmp_path_factory, seed, cut):
    """Any truncation or single bit flip of a model file is rejected with ValueError, never loaded."""
    spec = _SPECS[seed % len(_SPECS)]
    path = tmp_path_factory.mktemp("m") / "m.npz"
    spec.to_npz(path)
    data = bytearray(path.read_bytes())
    if seed % 2:
        data = data[: cut % len(data)]
    else:
        pos = cut % len(data)
        data[pos] ^= 1 << (seed % 8)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupt|checksum|not an sqnn|truncated"):
        sk.BinaryNetSpec.from_npz(path)
