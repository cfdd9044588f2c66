"""ONNX / QONNX export: onnxruntime, the qonnx executor and hls4ml C-simulation against predict_scores."""

import shutil
import sys

import numpy as np
import onnxruntime as ort
import pytest
from spec_factory import random_spec

import sqnn_kernels as sk
from sqnn_kernels import reference as ref
from sqnn_kernels.engine import _round_up_f32
from sqnn_kernels.onnx_export import build_onnx, export_onnx
from sqnn_kernels.scoring import probabilities

# (features, hidden, outputs, max edges per feature): every shape family of tests/test_engine.py, the
# layered path (> 64 edges, wide later layers) and K >= 2 outputs
SHAPES = [(1, (), 1, 8), (2, (1,), 2, 8), (3, (64,), 1, 8), (15, (64, 64), 3, 8), (16, (70, 3), 1, 8),
          (17, (200, 256, 9), 2, 8), (45, (64, 64), 1, 8), (47, (5, 129, 64, 2), 3, 8), (12, (20,), 2, 1),
          (12, (20,), 2, 33), (12, (20,), 2, 64), (3, (10,), 1, 70), (6, (300, 2), 2, 8)]


def _edge_rows(spec, rng):
    """Rows with one feature exactly on, just below and just above every float32-rounded edge."""
    rows = []
    for f, e in enumerate(spec.edges):
        e32 = _round_up_f32(e)
        for v in np.concatenate([e32, np.nextafter(e32, np.float32(-np.inf)),
                                 np.nextafter(e32, np.float32(np.inf))]):
            row = rng.normal(size=spec.n_features).astype(np.float32)
            row[f] = v
            rows.append(row)
    return np.array(rows, dtype=np.float32)


def _inputs(spec, rng, n=10_000):
    x = (rng.normal(size=(n, spec.n_features)) * 1.5).astype(np.float32)
    return np.concatenate([x, _edge_rows(spec, rng)])


def _session(spec, tmp_path):
    path = spec.to_onnx(tmp_path / "model.onnx")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# the fused engine compiles per shape (~20 s on a loaded 2-core machine): it runs directly on three shapes,
# the others compare with its numpy twin, which tests/test_engine.py holds equal to it
ENGINE_SHAPES = {SHAPES[0], SHAPES[6], SHAPES[11]}


@pytest.mark.parametrize("f, hidden, n_out, max_bins", SHAPES)
def test_onnxruntime_scores_equal_predict_scores(tmp_path, f, hidden, n_out, max_bins):
    rng = np.random.default_rng(f * 1000 + len(hidden) * 10 + max_bins)
    spec = random_spec(rng, f, hidden, n_out, max_bins=max_bins)
    x = _inputs(spec, rng)
    scores, proba = _session(spec, tmp_path).run(None, {"x": x})
    if (f, hidden, n_out, max_bins) in ENGINE_SHAPES:
        expected = sk.predict_scores(spec, x)
    else:
        expected = ref.forward(spec, x)[0]
    assert scores.dtype == np.int32 and proba.dtype == np.float64
    np.testing.assert_array_equal(scores, expected)
    np.testing.assert_allclose(proba, probabilities(expected, spec.output.scale, spec.output.offset),
                               rtol=1e-12, atol=1e-15)
    if n_out > 1:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_onnxruntime_on_edges_beyond_float32_and_between_float32_numbers(tmp_path):
    e = np.array([np.float64(np.float32(0.1)) + 1e-12, -1e-30, 3.4e38 * 1.5, 1.0])  # above their float32
    k = e.size + 1
    spec = sk.BinaryNetSpec([np.sort(e), np.array([0.5])], [],
                            sk.OutputLayer(sk.pack_bits(np.ones((1, k), bool)), k, np.zeros(1, np.int32)))
    one, tenth = np.float32(1), np.float32(0.1)
    vals = np.array([tenth, np.nextafter(tenth, one), -1e-30, 0, 3.4e38, np.finfo(np.float32).max, one,
                     np.nextafter(one, 0 * one), -np.finfo(np.float32).max], dtype=np.float32)
    x = np.stack([vals, np.full(vals.size, 0.5, np.float32)], axis=1)
    scores, _ = _session(spec, tmp_path).run(None, {"x": x})
    np.testing.assert_array_equal(scores, sk.predict_scores(spec, x))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_onnxruntime_rejects_non_finite_input_like_the_engine(tmp_path, rng, bad):
    spec = random_spec(rng, 1, (), 1)  # an engine shape compiled above already
    sess = _session(spec, tmp_path)
    x = rng.normal(size=(300, 1)).astype(np.float32)
    x[299, 0] = bad
    with pytest.raises(ValueError, match="finite"):
        sk.predict_scores(spec, x)
    with pytest.raises(Exception, match="x_must_be_finite"):
        sess.run(None, {"x": x})
    assert sess.run(None, {"x": x[:0]})[0].shape == (0, 1)


def test_export_is_optional_and_validated(monkeypatch, tmp_path, rng):
    spec = random_spec(rng, 3, (4,), 1)
    with pytest.raises(TypeError, match="spec"):
        build_onnx("model.npz")
    with pytest.raises(TypeError, match="qonnx"):
        build_onnx(spec, qonnx="yes")
    with pytest.raises(ValueError, match="batch_size"):
        build_onnx(spec, qonnx=True, batch_size=0)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"sqnn\[onnx\]"):
        spec.to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# -- QONNX -------------------------------------------------------------------------------------------------
def _qonnx_clean(spec, path, batch_size):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.util.cleanup import cleanup_model

    export_onnx(spec, path, qonnx=True, batch_size=batch_size)
    return cleanup_model(ModelWrapper(str(path))).transform(InferDataTypes())


@pytest.mark.parametrize("f, hidden, n_out, max_bins", [SHAPES[0], SHAPES[3], SHAPES[5], SHAPES[10]])
def test_qonnx_executor_scores_equal_predict_scores(tmp_path, f, hidden, n_out, max_bins):
    from qonnx.core.datatype import DataType
    from qonnx.core.onnx_exec import execute_onnx

    rng = np.random.default_rng(7 + f)
    spec = random_spec(rng, f, hidden, n_out, max_bins=max_bins)
    x = _inputs(spec, rng, 4000)
    model = _qonnx_clean(spec, tmp_path / "q.onnx", len(x))
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    assert name_in != "x"  # the trap: cleanup renames the input, feed the cleaned model's name
    bits = [n.output[0] for n in model.graph.node if n.op_type == "BipolarQuant"]
    assert len(bits) == len(hidden) + 1
    assert all(model.get_tensor_datatype(b) == DataType["BIPOLAR"] for b in bits)
    scores = execute_onnx(model, {name_in: x})[name_out]
    np.testing.assert_array_equal(scores, ref.forward(spec, x)[0])


def test_qonnx_inference_cost_counts_the_binary_macs(tmp_path, rng):
    from qonnx.util.inference_cost import inference_cost

    spec = random_spec(rng, 6, (16, 7), 2)
    path = export_onnx(spec, tmp_path / "q.onnx", qonnx=True)
    cost = inference_cost(str(path), output_json=None, output_onnx=None, preprocess=True,
                          discount_sparsity=False)["total_cost"]
    later = sum(layer.k * layer.m for layer in spec.layers) + spec.output.k * spec.output.n_out
    assert cost["op_mac_BIPOLAR_FLOAT32"] == later
    assert cost["op_mac_FLOAT32_FLOAT32"] == spec.n_features * spec.n_inputs  # the feature selection


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml C-simulation needs g++")
def test_hls4ml_csim_scores_equal_predict_scores_on_grid_inputs(tmp_path):
    import hls4ml
    rng = np.random.default_rng(3)
    edges = [np.unique(rng.integers(-24, 24, size=4) / 8) for _ in range(4)]  # on the 1/8 grid
    k = sum(e.size for e in edges)
    layer = sk.HiddenLayer(sk.pack_bits(rng.integers(0, 2, (12, k)).astype(bool)), k, rng.integers(-2, 3, 12))
    out = sk.OutputLayer(sk.pack_bits(rng.integers(0, 2, (2, 12)).astype(bool)), 12, [1, -2], 0.1, 0.0)
    spec = sk.BinaryNetSpec(edges, [layer], out)
    model = _qonnx_clean(spec, tmp_path / "q.onnx", 1)
    config = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vitis",
                                                 default_precision="fixed<16,6>")
    hls = hls4ml.converters.convert_from_onnx_model(model, output_dir=str(tmp_path / "hls"), backend="Vitis",
                                                    io_type="io_parallel", hls_config=config)
    hls.compile()
    x = rng.integers(-32, 33, size=(1500, 4)).astype(np.float32) / 16  # the 1/16 grid, beyond the edges
    for f, e in enumerate(edges):
        x[f * 8 : f * 8 + e.size, f] = e  # exactly on every edge
    got = np.asarray(hls.predict(np.ascontiguousarray(x))).reshape(len(x), 2)
    np.testing.assert_array_equal(got, sk.predict_scores(spec, x))


def test_cli_export_onnx_writes_both_dialects(tmp_path, capsys, rng):
    from training.cli import main

    spec = random_spec(rng, 4, (8,), 1)
    spec.to_npz(tmp_path / "m.npz")
    assert main(["export-onnx", str(tmp_path / "m.npz"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert main(["export-onnx", str(tmp_path / "m.npz"), "--out", str(tmp_path / "q.onnx"), "--qonnx"]) == 0
    assert "QONNX model" in capsys.readouterr().out
    x = rng.normal(size=(50, 4)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(sess.run(["scores"], {"x": x})[0], ref.forward(spec, x)[0])
    assert main(["export-onnx", str(tmp_path / "missing.npz")]) == 2
    assert "not found" in capsys.readouterr().err
