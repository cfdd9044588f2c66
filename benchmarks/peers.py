"""Peer comparison: the same binary networks run by Larq Compute Engine (LCE) at the same thread count.

LCE has no binary fully-connected op (larq/compute-engine issue #53); its documented workaround is a 1 x 1
binary convolution. So a batch of n rows of width k becomes one ``1 x n`` image with k channels and every
binary layer is a ``larq.layers.QuantConv2D(m, 1, input_quantizer="ste_sign", kernel_quantizer="ste_sign")``,
which the LCE converter turns into ``LceQuantize`` + ``LceBconv2d`` ops. This is LCE's fastest path for a
dense layer: one interpreter call for the whole batch, the bconv kernel working on many "pixels" at once.

* :class:`LCEDense`: one k -> m binary layer, float ±1 input, float dot-product output.
* :class:`LCENet`: a whole :class:`~sqnn_kernels.BinaryNetSpec`: a fixed float 1 x 1 convolution computes
  ``x_f - edge`` for every thermometer bit (``ste_sign`` of it is the thermometer code, sign(0) = +1), each
  hidden layer adds the bias ``0.5 - threshold`` so that the next ``ste_sign`` is ``[dot >= threshold]``,
  and the output layer adds the integer bias. Scores equal ``sqnn_kernels.predict_scores`` exactly when the
  edges are float32 numbers (the benchmarks check this).

Install the peers into an environment of their own (LCE 0.16's converter needs TensorFlow 2.16 and larq
0.13, which need numpy < 2; the sqnn kernels work with that numpy)::

    python3.11 -m venv .venv-peers
    .venv-peers/bin/pip install -e ".[test,peers]"
    python -m benchmarks.report --suite benchmarks/test_network.py --peer-python .venv-peers/bin/python

``--peer-python`` runs the ``peer`` benchmarks (LCE beside the sqnn kernel, both in that interpreter) at
every thread count of the report; without the extra they skip with a message naming it.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # larq needs Keras 2 (the tf-keras package)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import larq as lq
import larq_compute_engine as lce
import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter

import sqnn_kernels as sk
from sqnn_kernels import reference as ref

BINARY = {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign"}


def thread_count() -> int:
    """Threads for the LCE interpreter: the benchmark run's ``NUMBA_NUM_THREADS`` (numba's count)."""
    import numba

    return int(os.environ.get("NUMBA_NUM_THREADS", numba.get_num_threads()))


def versions() -> dict[str, str]:
    """Versions of the peer stack, for the report."""
    return {"larq-compute-engine": lce.__version__, "larq": lq.__version__, "tensorflow": tf.__version__}


def _binary_conv(m: int, kernel_pm1: np.ndarray, bias=None):
    """A 1 x 1 binary QuantConv2D layer with fixed ±1 kernel (k, m) and optional float bias (m,)."""
    layer = lq.layers.QuantConv2D(m, 1, use_bias=bias is not None, **BINARY)
    weights = [kernel_pm1.reshape(1, 1, *kernel_pm1.shape).astype(np.float32)]
    if bias is not None:
        weights.append(np.asarray(bias, dtype=np.float32))
    return layer, weights


def _build(input_shape, stages) -> bytes:
    """Keras model of ``stages`` [(layer, weights)] on input (1, *input_shape), converted by LCE."""
    inp = tf.keras.Input(shape=input_shape, batch_size=1)
    h = inp
    for layer, _ in stages:
        h = layer(h)
    model = tf.keras.Model(inp, h)
    for layer, weights in stages:
        layer.set_weights(weights)
    return lce.convert_keras_model(model)


class _Runner:
    def __init__(self, flatbuffer: bytes, num_threads: int):
        self.flatbuffer = flatbuffer
        self.interpreter = Interpreter(flatbuffer, num_threads=num_threads)

    def _run(self, x4: np.ndarray) -> np.ndarray:
        return self.interpreter.predict(x4)


class LCEDense(_Runner):
    """One binary layer ``out = x @ w.T`` (x, w in ±1 float32) as an LCE 1 x 1 binary convolution.

    Parameters
    ----------
    w_pm1 : float (m, k) ±1 weights.
    batch : rows per call (the model's fixed spatial size).
    num_threads : interpreter threads.
    """

    def __init__(self, w_pm1: np.ndarray, batch: int, num_threads: int = 1):
        m, k = w_pm1.shape
        self.batch, self.k, self.m = batch, k, m
        super().__init__(_build((1, batch, k), [_binary_conv(m, np.asarray(w_pm1).T)]), num_threads)

    def __call__(self, x_pm1: np.ndarray) -> np.ndarray:
        """Float32 (batch, m) dot products of the ±1 rows of ``x_pm1`` (batch, k)."""
        x4 = np.ascontiguousarray(x_pm1, dtype=np.float32).reshape(1, 1, self.batch, self.k)
        return self._run(x4).reshape(self.batch, self.m)


class LCENet(_Runner):
    """A whole :class:`~sqnn_kernels.BinaryNetSpec` as an LCE model (see the module docstring)."""

    def __init__(self, spec: sk.BinaryNetSpec, batch: int, num_threads: int = 1):
        f = spec.n_features
        feature = np.concatenate([np.full(e.size, i) for i, e in enumerate(spec.edges)])
        select = np.zeros((1, 1, f, feature.size), dtype=np.float32)
        select[0, 0, feature, np.arange(feature.size)] = 1.0
        thermo = tf.keras.layers.Conv2D(feature.size, 1)
        stages = [(thermo, [select, -np.concatenate(spec.edges).astype(np.float32)])]
        for layer in spec.layers:
            w = ref.to_pm1(sk.unpack_bits(layer.weights, layer.k))
            stages.append(_binary_conv(layer.m, w.T, 0.5 - layer.thresholds.astype(np.float64)))
        out = spec.output
        w = ref.to_pm1(sk.unpack_bits(out.weights, out.k))
        stages.append(_binary_conv(out.n_out, w.T, out.bias))
        self.batch, self.f, self.n_out = batch, f, out.n_out
        super().__init__(_build((1, batch, f), stages), num_threads)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Int32 (batch, n_out) scores of float features ``x`` (batch, n_features)."""
        x4 = np.ascontiguousarray(x, dtype=np.float32).reshape(1, 1, self.batch, self.f)
        return np.rint(self._run(x4).reshape(self.batch, self.n_out)).astype(np.int32)
