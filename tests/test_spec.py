import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spec_factory import random_spec
from strategies import ROWS, SEEDS

import sqnn_kernels as sk
from sqnn_kernels import reference as ref


@given(
    n=ROWS,
    f=st.integers(1, 16),
    hidden=st.one_of(st.just([]), st.tuples(st.integers(1, 64), st.lists(st.integers(1, 130), max_size=2))
                     .map(lambda t: [t[0], *t[1]])),
    n_out=st.integers(1, 5),
    seed=SEEDS,
)
def test_forward_matches_reference(n, f, hidden, n_out, seed):
    """Layers of any width (1..130 bits: 1 to 3 words); the first hidden layer at most 64 wide and f <= 16
    keep the fused engine to the two kernel shapes the engine tests compile anyway (wider first layers:
    test_engine)."""
    rng = np.random.default_rng(seed)
    spec = random_spec(rng, f, tuple(hidden), n_out)
    x = rng.normal(size=(n, f))
    scores, hidden_bits = sk.forward(spec, x)
    ref_scores, ref_hidden = ref.forward(spec, x)
    np.testing.assert_array_equal(scores, ref_scores)
    assert scores.dtype == np.int32 and scores.shape == (n, n_out)
    for layer, packed, bits in zip(spec.layers, hidden_bits, ref_hidden, strict=True):
        np.testing.assert_array_equal(sk.unpack_bits(packed, layer.m), bits)
    np.testing.assert_array_equal(sk.predict_scores(spec, x), scores)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(sk.predict_scores(spec, x32), ref.forward(spec, x32)[0])
    np.testing.assert_array_equal(sk.forward(spec, x, chunk_size=7)[0], scores)


@pytest.mark.parametrize("hidden", [(300, 2), (3, 257, 5), (70,)])
def test_fused_and_layered_paths_agree(rng, hidden):
    spec = random_spec(rng, 6, hidden, 2)
    x = rng.normal(size=(333, 6))
    expected = ref.forward(spec, x)[0]
    np.testing.assert_array_equal(sk.predict_scores(spec, x, chunk_size=50), expected)
    np.testing.assert_array_equal(sk.forward(spec, x)[0], expected)


def test_predict_proba_is_sigmoid_of_affine_score(rng):
    spec = random_spec(rng, 5, (16,), 1)
    x = rng.normal(size=(50, 5))
    scores = sk.predict_scores(spec, x)
    np.testing.assert_allclose(spec.predict_proba(x), 1 / (1 + np.exp(-(0.1 * scores - 0.05))))


def test_npz_roundtrip_is_bit_identical(tmp_path, rng):
    spec = random_spec(rng, 7, (65, 3), 2)
    spec = sk.BinaryNetSpec(spec.edges, spec.layers, spec.output, [f"f{i}" for i in range(7)])
    path = tmp_path / "model.npz"
    spec.to_npz(path, extra={"note": np.array([1, 2, 3])})
    loaded, extra = sk.BinaryNetSpec.from_npz(path, return_extra=True)
    x = rng.normal(size=(100, 7))
    np.testing.assert_array_equal(loaded.predict_scores(x), spec.predict_scores(x))
    assert loaded.feature_names == spec.feature_names and extra["note"].tolist() == [1, 2, 3]
    assert loaded.output.scale == spec.output.scale and loaded.output.offset == spec.output.offset
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"], "no temporary files left behind"


def test_corrupt_files_are_rejected(tmp_path, rng):
    spec = random_spec(rng, 4, (10,), 1)
    path = tmp_path / "m.npz"
    spec.to_npz(path)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"corrupt|truncated"):
        sk.BinaryNetSpec.from_npz(tmp_path / "trunc.npz")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x10
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"corrupt|checksum"):
        sk.BinaryNetSpec.from_npz(tmp_path / "flip.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an sqnn model file"):
        sk.BinaryNetSpec.from_npz(tmp_path / "foreign.npz")
    with pytest.raises(FileNotFoundError):
        sk.BinaryNetSpec.from_npz(tmp_path / "missing.npz")


def test_wrong_version_is_rejected(tmp_path, rng, monkeypatch):
    from sqnn_kernels import spec as spec_module

    random_spec(rng, 3, (4,), 1).to_npz(tmp_path / "m.npz")
    monkeypatch.setattr(spec_module, "FORMAT_VERSION", 99)
    with pytest.raises(ValueError, match="format version 1 is not supported"):
        sk.BinaryNetSpec.from_npz(tmp_path / "m.npz")


def test_spec_validation(rng):
    good = random_spec(rng, 3, (10,), 1)
    with pytest.raises(ValueError, match=r"layers\[0\].k"):
        sk.BinaryNetSpec(good.edges[:2], good.layers, good.output)
    with pytest.raises(ValueError, match=r"thresholds must have shape \(10,\)"):
        sk.HiddenLayer(good.layers[0].weights, good.layers[0].k, np.zeros(9, int))
    with pytest.raises(ValueError, match="scale must be > 0"):
        sk.OutputLayer(good.output.weights, 10, [0], scale=-1.0)
    with pytest.raises(ValueError, match="x has 4 features but the model expects 3"):
        sk.predict_scores(good, np.zeros((2, 4)))
    for bad in (np.inf, -np.inf, np.nan):
        with pytest.raises(ValueError, match="x must be finite"):
            sk.predict_scores(good, np.array([[0.0, bad, 1.0]]))
        with pytest.raises(ValueError, match="x must be finite"):
            sk.forward(good, np.array([[0.0, bad, 1.0]]))
