"""Deterministic packed inference of a whole :class:`~sqnn_kernels.spec.BinaryNetSpec`."""

from __future__ import annotations

import numpy as np

from ._compile_helper import compile_elsewhere
from .dense import binary_dense_threshold, xnor_popcount_dense
from .spec import BinaryNetSpec
from .thermometer import thermometer_encode
from .validation import as_2d, check_finite

DEFAULT_CHUNK = 65536


def _check_input(spec: BinaryNetSpec, x, *, check_values: bool = True) -> np.ndarray:
    if not isinstance(spec, BinaryNetSpec):
        raise TypeError(f"spec must be a BinaryNetSpec, got {type(spec).__name__}")
    if hasattr(x, "nnz") and hasattr(x, "toarray"):  # scipy.sparse: np.asarray would make a 0-d object array
        raise TypeError(f"x is a sparse matrix ({type(x).__name__}); the network needs dense features, "
                        "pass x.toarray()")
    xa = as_2d(x, "x")
    if not (np.issubdtype(xa.dtype, np.number) or xa.dtype == np.bool_):
        raise TypeError(f"x must be a numeric array, got dtype {xa.dtype}")
    if np.iscomplexobj(xa):
        raise TypeError(f"x must hold real numbers, got dtype {xa.dtype} (the imaginary part is not dropped)")
    if xa.shape[1] != spec.n_features:
        raise ValueError(f"x has {xa.shape[1]} features but the model expects {spec.n_features}")
    if xa.dtype not in (np.float32, np.float64):
        xa = xa.astype(np.float64)
    xa = np.ascontiguousarray(xa)
    if check_values:
        check_finite(xa, "x")
    return xa


def _forward_chunk(spec: BinaryNetSpec, x: np.ndarray, keep_hidden: bool):
    h = thermometer_encode(x, spec.edges)
    hidden = []
    for layer in spec.layers:
        h = binary_dense_threshold(h, layer.weights, layer.k, layer.thresholds)
        if keep_hidden:
            hidden.append(h)
    scores = xnor_popcount_dense(h, spec.output.weights, spec.output.k)
    scores += spec.output.bias[None, :]
    return scores, hidden


def forward(spec: BinaryNetSpec, x, *, chunk_size: int = DEFAULT_CHUNK):
    """Run the network and keep every hidden layer.

    Returns
    -------
    scores : int32 (n, n_out)
        ``dot + bias`` of the output layer.
    hidden : list of packed uint64 arrays (n, ceil(m_l / 64)), one per hidden layer.
    """
    xa = _check_input(spec, x).astype(np.float64, copy=False)
    parts = [_forward_chunk(spec, xa[i : i + chunk_size], True) for i in range(0, len(xa), chunk_size)]
    if not parts:
        empty = [np.zeros((0, (layer.m + 63) // 64), np.uint64) for layer in spec.layers]
        return np.zeros((0, spec.output.n_out), np.int32), empty
    scores = np.concatenate([p[0] for p in parts])
    hidden = [np.concatenate([p[1][i] for p in parts]) for i in range(len(spec.layers))]
    return scores, hidden


def predict_scores(spec: BinaryNetSpec, x, *, chunk_size: int = DEFAULT_CHUNK) -> np.ndarray:
    """Integer output scores ``dot + bias``, int32 (n, n_out); equals ``forward(spec, x)[0]`` exactly.

    Narrow networks (every layer after the first at most 256 bits wide, the trigger-sized case; see
    :func:`sqnn_kernels.engine.supports`) run in the fused engine of :mod:`sqnn_kernels.engine`:
    float32/float64 features go straight to integer scores, the thermometer layer is a pair-table lookup
    and later layers are XNOR-popcount on per-row packed words, so memory beyond the input and output is a
    few kB per thread. Wider networks go layer by layer through the register-tiled dense kernels,
    ``chunk_size`` rows at a time (bounded memory as well).

    A kernel missing from numba's disk cache is compiled in a helper process
    (:mod:`sqnn_kernels._compile_helper`), so the caller keeps no compiler memory.
    """
    from .engine import compiled, fused_scores, supports

    with compile_elsewhere():
        if supports(spec):
            xa = _check_input(spec, x, check_values=False)  # the kernel rejects NaN/inf itself
            return fused_scores(compiled(spec), xa)
        xa = _check_input(spec, x).astype(np.float64, copy=False)
        out = np.empty((len(xa), spec.output.n_out), dtype=np.int32)
        for i in range(0, len(xa), chunk_size):
            out[i : i + chunk_size] = _forward_chunk(spec, xa[i : i + chunk_size], False)[0]
        return out
