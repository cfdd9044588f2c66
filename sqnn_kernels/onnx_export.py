"""Exact ONNX and QONNX graphs of a :class:`~sqnn_kernels.BinaryNetSpec` (needs the ``[onnx]`` extra).

Both graphs take ``x``, float32 (n, F), and reproduce ``predict_scores(spec, x)`` bit for bit:

* **ONNX** (standard operators, opset 17; onnxruntime and any inference server):

  1. guard: ``Gather([0], ReduceSum(IsNaN(x) | IsInf(x)))`` fails (index out of range, node
     ``x_must_be_finite``) when a value is NaN or infinite, as the engine raises ``ValueError``;
  2. thermometer: ``h0 = Where(Gather(x, feature_of_edge, axis=1) >= ⌈e⌉_f32, +1, −1)``, the edges rounded up
     to float32 exactly as the fused engine does (``x >= e ⇔ x >= ⌈e⌉_f32`` for every float32 x);
  3. hidden layer: ``h' = Where(MatMul(h, W^T) >= t, +1, −1)`` with ``W`` the ±1 weights;
  4. output: ``scores = Cast<int32>(MatMul(h, W_out^T) + bias)``, and ``probabilities`` (float64) by the
     rule of :mod:`sqnn_kernels.scoring`: ``Sigmoid(scale · score + offset)`` (one output), else ``Softmax``.

  Every dot product is a sum of ±1 terms, an integer below 2^24, so float32 MatMul is exact in any order.

* **QONNX** (``qonnx=True``; for qonnx/FINN/hls4ml): the same network with ``BipolarQuant`` activations
  (``sign(v) = +1 if v >= 0 else −1``, the bit convention of the spec):
  ``h0 = BipolarQuant(MatMul(x, S) − ⌈e⌉_f32)`` with S the 0/1 feature-selection matrix,
  ``h' = BipolarQuant(MatMul(h, W^T) − t)`` and ``scores = MatMul(h, W_out^T) + bias`` (float32, integer
  valued). Weights stay ±1 floats and only activations are quantized: hls4ml multiplies two BIPOLAR-typed
  operands as an agreement count (0/1), not as ±1. No finiteness guard (hardware inputs are fixed-point).
  ``qonnx.util.cleanup`` renames the graph input: feed the name from the cleaned model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .engine import _round_up_f32
from .fileio import atomic_path
from .spec import BinaryNetSpec
from .validation import check_int

OPSET = 17
_EXACT = 2**24  # float32 holds every integer of smaller magnitude


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'sqnn[onnx]'") from None
    return onnx


def _pm1(weights: np.ndarray, k: int) -> np.ndarray:
    """Packed (m, words) weights -> float32 (k, m) of ±1 (transposed for ``MatMul(h, ·)``)."""
    from .bits import unpack_bits

    return (2.0 * unpack_bits(weights, k).astype(np.float32) - 1.0).T.copy()


def _check_exact(spec: BinaryNetSpec) -> None:
    for i, layer in enumerate(spec.layers):
        if np.abs(layer.thresholds.astype(np.int64)).max() >= _EXACT:
            raise ValueError(f"layers[{i}].thresholds exceed 2^24 in magnitude, not exact in float32")
    if max(spec.widths) + np.abs(spec.output.bias.astype(np.int64)).max() >= _EXACT:
        raise ValueError("the network is too wide for exact float32 scores (|dot + bias| must stay < 2^24)")


def _edge_arrays(spec: BinaryNetSpec) -> tuple[np.ndarray, np.ndarray]:
    """(feature index of every thermometer bit, int64 (K,); float32 edges rounded up, (K,))."""
    feature = np.concatenate([np.full(e.size, f, np.int64) for f, e in enumerate(spec.edges)])
    return feature, _round_up_f32(np.concatenate(spec.edges))


def build_onnx(spec: BinaryNetSpec, *, qonnx: bool = False, batch_size: int = 1):
    """The ONNX ``ModelProto`` of ``spec`` (see the module docstring for the graph).

    Parameters
    ----------
    spec : BinaryNetSpec
    qonnx : bool
        False: standard operators, outputs ``scores`` (int32 (n, K)) and ``probabilities`` (float64 (n, K)).
        True: QONNX dialect with ``BipolarQuant`` activations, output ``scores`` (float32 (n, K)).
    batch_size : int
        QONNX only: the fixed number of rows n per call (the qonnx executor, FINN and hls4ml need a fixed
        shape; 1 for hardware). The standard graph takes any n.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker`` (standard graph).
    """
    if not isinstance(spec, BinaryNetSpec):
        raise TypeError(f"spec must be a BinaryNetSpec, got {type(spec).__name__}")
    if not isinstance(qonnx, (bool, np.bool_)):
        raise TypeError(f"qonnx must be a bool, got {type(qonnx).__name__}")
    onnx = _require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    batch_size = check_int(batch_size, "batch_size", min_value=1)
    _check_exact(spec)
    nodes, inits = [], []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    def dot(h: str, layer, name: str) -> str:  # ±1 dot products of the ±1 activations h with the layer
        return node("MatMul", [h, const(f"{name}_weights", _pm1(layer.weights, layer.k))], f"{name}_dot")

    feature, edges32 = _edge_arrays(spec)
    n_out = spec.output.n_out
    if qonnx:
        q = "qonnx.custom_op.general"
        one = const("bipolar_scale", np.float32(1.0))
        select = np.zeros((spec.n_features, feature.size), np.float32)
        select[feature, np.arange(feature.size)] = 1.0
        h = node("MatMul", ["x", const("feature_select", select)], "thermometer_x")
        h = node("Add", [h, const("thermometer_neg_edges", -edges32)], "thermometer_diff")
        h = node("BipolarQuant", [h, one], "thermometer_bits", domain=q)
        for i, layer in enumerate(spec.layers):
            neg_t = const(f"layer{i}_neg_thresholds", -layer.thresholds.astype(np.float32))
            d = node("Add", [dot(h, layer, f"layer{i}"), neg_t], f"layer{i}_diff")
            h = node("BipolarQuant", [d, one], f"layer{i}_bits", domain=q)
        bias = const("output_bias", spec.output.bias.astype(np.float32))
        node("Add", [dot(h, spec.output, "output"), bias], "scores")
        outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [int(batch_size), n_out])]
        opsets = [helper.make_opsetid("", 13), helper.make_opsetid(q, 1)]
    else:
        plus, minus = const("plus_one", np.float32(1.0)), const("minus_one", np.float32(-1.0))
        bad = node("Or", [node("IsNaN", ["x"], "x_isnan"), node("IsInf", ["x"], "x_isinf")], "x_nonfinite")
        count = node("ReduceSum", [node("Cast", [bad], "x_nonfinite_int", to=TensorProto.INT64)],
                     "x_nonfinite_count", keepdims=0)
        zero = node("Gather", [const("finite_zero", np.zeros(1, np.float32)), count], "x_must_be_finite")
        x = node("Add", ["x", zero], "x_checked")
        h = node("Gather", [x, const("thermometer_feature", feature)], "thermometer_x", axis=1)
        b = node("GreaterOrEqual", [h, const("thermometer_edges", edges32)], "thermometer_ge")
        h = node("Where", [b, plus, minus], "thermometer_bits")
        for i, layer in enumerate(spec.layers):
            t = const(f"layer{i}_thresholds", layer.thresholds.astype(np.float32))
            b = node("GreaterOrEqual", [dot(h, layer, f"layer{i}"), t], f"layer{i}_ge")
            h = node("Where", [b, plus, minus], f"layer{i}_bits")
        bias = const("output_bias", spec.output.bias.astype(np.float32))
        s = node("Add", [dot(h, spec.output, "output"), bias], "output_sum")
        scores = node("Cast", [s], "scores", to=TensorProto.INT32)
        z = node("Cast", [scores], "scores_f64", to=TensorProto.DOUBLE)
        z = node("Mul", [z, const("output_scale", np.float64(spec.output.scale))], "scaled")
        z = node("Add", [z, const("output_offset", np.float64(spec.output.offset))], "logits")
        if n_out == 1:
            node("Sigmoid", [z], "probabilities")
        else:
            node("Softmax", [z], "probabilities", axis=-1)
        outputs = [helper.make_tensor_value_info("scores", TensorProto.INT32, ["n", n_out]),
                   helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, ["n", n_out])]
        opsets = [helper.make_opsetid("", OPSET)]
    batch = int(batch_size) if qonnx else "n"  # qonnx/FINN/hls4ml need a fixed shape
    graph = helper.make_graph(
        nodes, "sqnn_qonnx" if qonnx else "sqnn", [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, [batch, spec.n_features])], outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sqnn")
    model.ir_version = min(model.ir_version, 9)  # readable by older runtimes too
    names = spec.feature_names or [f"x{f}" for f in range(spec.n_features)]
    helper.set_model_props(model, {"feature_names": ",".join(names), "format": "qonnx" if qonnx else "onnx",
                                   "widths": ",".join(map(str, spec.widths))})
    model.doc_string = ("sqnn BinaryNetSpec; input x float32 (n, features); scores equal "
                        "sqnn_kernels.predict_scores exactly")
    if not qonnx:
        onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(spec: BinaryNetSpec, path, *, qonnx: bool = False, batch_size: int = 1) -> Path:
    """Write :func:`build_onnx` of ``spec`` atomically to ``path``; returns the path."""
    model = build_onnx(spec, qonnx=qonnx, batch_size=batch_size)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(model.SerializeToString())
    return path
