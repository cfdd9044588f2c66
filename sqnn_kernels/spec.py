"""``BinaryNetSpec``: the one description of a trained SQNN, shared by inference, training and FPGA export.

Plain arrays, no training state. The network computes, for a float feature row x:

1. thermometer code ``h0_b = [x_f >= edges[f][b]]`` over all features (feature 0's edges first);
2. per hidden layer: ``dot_j = Σ_i (±1 h_i)(±1 w_ji)`` (``= k - 2 popcount(h XOR w_j)``) and
   ``h'_j = [dot_j >= thresholds_j]``;
3. output: integer ``score_o = dot_o + bias_o`` and the probabilities of :mod:`sqnn_kernels.scoring`
   (``sigmoid(scale · score + offset)`` for one output, the softmax of those logits for K >= 2).
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fileio import atomic_path
from .validation import check_int32_vector, check_packed, check_real, check_width

FORMAT_VERSION = 1
_MAGIC = "sqnn.BinaryNetSpec"


def _check_packed_matrix(w, k: int, what: str) -> np.ndarray:
    w = check_packed(w, f"{what}.weights", k)
    if w.shape[0] < 1:
        raise ValueError(f"{what}.weights must have at least one neuron (row), got shape {w.shape}")
    return w


@dataclass(frozen=True)
class HiddenLayer:
    """Binary layer: ``bit_j = [Σ_i (±1 x_i)(±1 w_ji) >= thresholds_j]``; weights packed (m, ceil(k/64))."""

    weights: np.ndarray
    k: int
    thresholds: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "k", check_width(self.k, "hidden layer k"))
        w = _check_packed_matrix(self.weights, self.k, "hidden layer")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "thresholds", check_int32_vector(self.thresholds, w.shape[0], "thresholds"))

    @property
    def m(self) -> int:
        """Number of neurons (output width)."""
        return int(self.weights.shape[0])

    def __repr__(self) -> str:
        return f"HiddenLayer(k={self.k}, m={self.m})"


@dataclass(frozen=True)
class OutputLayer:
    """Output layer: ``score_o = Σ_i (±1 x_i)(±1 w_oi) + bias_o``; P from :mod:`sqnn_kernels.scoring`."""

    weights: np.ndarray
    k: int
    bias: np.ndarray
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "k", check_width(self.k, "output layer k"))
        w = _check_packed_matrix(self.weights, self.k, "output layer")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "bias", check_int32_vector(self.bias, w.shape[0], "bias"))
        for name in ("scale", "offset"):
            object.__setattr__(self, name, check_real(getattr(self, name), f"output {name}"))
        if self.scale <= 0:
            raise ValueError(f"output scale must be > 0 (scores increase with P), got {self.scale}")

    @property
    def n_out(self) -> int:
        """Number of output scores."""
        return int(self.weights.shape[0])

    def __repr__(self) -> str:
        return (f"OutputLayer(k={self.k}, n_out={self.n_out}, scale={self.scale:.6g}, "
                f"offset={self.offset:.6g})")


@dataclass(frozen=True)
class BinaryNetSpec:
    """Thermometer edges + binary hidden layers + integer output layer (see module docstring)."""

    edges: list
    layers: list
    output: OutputLayer
    feature_names: list = field(default=None)

    def __post_init__(self):
        if not isinstance(self.edges, (list, tuple)) or len(self.edges) == 0:
            raise ValueError("edges must be a non-empty list with one array of thresholds per feature")
        edges = []
        for f, e in enumerate(self.edges):
            e = np.ascontiguousarray(np.asarray(e, dtype=np.float64))
            if e.ndim != 1 or e.size == 0:
                raise ValueError(f"edges[{f}] must be a non-empty 1-D array, got shape {e.shape}")
            if not np.all(np.isfinite(e)):
                raise ValueError(f"edges[{f}] must be finite")
            if np.any(np.diff(e) < 0):
                raise ValueError(f"edges[{f}] must be sorted ascending")
            edges.append(e)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "layers", list(self.layers))
        k = self.n_inputs
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, HiddenLayer):
                raise TypeError(f"layers[{i}] must be a HiddenLayer, got {type(layer).__name__}")
            if layer.k != k:
                raise ValueError(f"layers[{i}].k = {layer.k} but the previous stage produces {k} bits")
            k = layer.m
        if not isinstance(self.output, OutputLayer):
            raise TypeError(f"output must be an OutputLayer, got {type(self.output).__name__}")
        if self.output.k != k:
            raise ValueError(f"output.k = {self.output.k} but the last hidden stage produces {k} bits")
        if self.feature_names is not None:
            names = [str(n) for n in self.feature_names]
            if len(names) != self.n_features:
                raise ValueError(f"feature_names has {len(names)} names for {self.n_features} features")
            object.__setattr__(self, "feature_names", names)

    # -- shape facts -------------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        """Number of float input features."""
        return len(self.edges)

    @property
    def n_inputs(self) -> int:
        """Width of the thermometer code: total number of edges."""
        return int(sum(e.size for e in self.edges))

    @property
    def widths(self) -> list[int]:
        """Bit widths of every stage: [thermometer, hidden..., n_out]."""
        return [self.n_inputs, *(layer.m for layer in self.layers), self.output.n_out]

    def __repr__(self) -> str:
        from .summary import short_repr

        return short_repr(self)

    def summary(self) -> str:
        """A table of the network: per stage its input and output bits, ±1 weights, binary MACs per event
        and memory; the input format (features, edges and their range, a suggested fixed-point format) and
        which engine path predicts it. See :mod:`sqnn_kernels.summary`."""
        from .summary import summary_text

        return summary_text(self)

    # -- inference ----------------------------------------------------------------------------------------
    def predict_scores(self, x) -> np.ndarray:
        """Integer output scores, int32 (n, n_out); see :func:`sqnn_kernels.predict_scores`."""
        from .inference import predict_scores

        return predict_scores(self, x)

    def predict_proba(self, x) -> np.ndarray:
        """Probabilities, float64 (n, n_out): sigmoid (one output) or softmax of ``scale · score + offset``.

        See :func:`sqnn_kernels.scoring.probabilities`.
        """
        from .scoring import probabilities

        return probabilities(self.predict_scores(x), self.output.scale, self.output.offset)

    # -- persistence --------------------------------------------------------------------------------------
    def to_onnx(self, path, qonnx: bool = False) -> Path:
        """Write the exact ONNX (``qonnx=True``: QONNX) graph; see :mod:`sqnn_kernels.onnx_export`.

        Needs the ``onnx`` package (``pip install 'sqnn[onnx]'``). onnxruntime's ``scores`` output equals
        :meth:`predict_scores` bit for bit on float32 input.
        """
        from .onnx_export import export_onnx

        return export_onnx(self, path, qonnx=qonnx)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "n_edges": np.array([e.size for e in self.edges], dtype=np.int64),
            "edges": np.concatenate(self.edges),
            "n_layers": np.array(len(self.layers), dtype=np.int64),
            "output_weights": self.output.weights,
            "output_k": np.array(self.output.k, dtype=np.int64),
            "output_bias": self.output.bias,
            "output_affine": np.array([self.output.scale, self.output.offset], dtype=np.float64),
        }
        for i, layer in enumerate(self.layers):
            arrays[f"layer{i}_weights"] = layer.weights
            arrays[f"layer{i}_k"] = np.array(layer.k, dtype=np.int64)
            arrays[f"layer{i}_thresholds"] = layer.thresholds
        if self.feature_names is not None:
            arrays["feature_names"] = np.array(self.feature_names, dtype=np.str_)
        return arrays

    def to_npz(self, path, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write the spec (and optional ``extra`` arrays, names prefixed ``extra_``) atomically to ``path``.

        ``extra`` values must be arrays of numbers, booleans or strings (``TypeError`` otherwise: a dict or
        other Python object could not be loaded back without pickle; store it as JSON text).

        The file stores the format version and a SHA-256 checksum over every array's name, dtype, shape and
        bytes; :meth:`from_npz` rejects a file whose checksum, version or structure does not match.
        """
        arrays = self._arrays()
        for name, value in (extra or {}).items():
            arrays[f"extra_{_check_name(name, 'extra')}"] = _storable(f"extra[{name!r}]", value)
        save_npz_atomic(path, arrays)

    @classmethod
    def from_npz(cls, path, *, return_extra: bool = False, max_bytes: int | None = None):
        """Load and validate a spec written by :meth:`to_npz` (``return_extra`` also returns extras).

        ``max_bytes`` bounds the file and its decompressed arrays (default :data:`MAX_MODEL_BYTES`, 1 GiB).
        """
        a = load_npz_checked(path, max_bytes=MAX_MODEL_BYTES if max_bytes is None else max_bytes)
        try:
            n_edges = a["n_edges"].astype(np.int64)
            if n_edges.ndim != 1 or np.any(n_edges < 1) or n_edges.sum() != a["edges"].size:
                raise ValueError("edge counts do not match the stored edges")
            edges = np.split(a["edges"], np.cumsum(n_edges)[:-1])
            layers = [
                HiddenLayer(a[f"layer{i}_weights"], int(a[f"layer{i}_k"]), a[f"layer{i}_thresholds"])
                for i in range(int(a["n_layers"]))
            ]
            scale, offset = a["output_affine"]
            output = OutputLayer(a["output_weights"], int(a["output_k"]), a["output_bias"], scale, offset)
            names = [str(x) for x in a["feature_names"]] if "feature_names" in a else None
            spec = cls(list(edges), layers, output, names)
        except KeyError as err:
            raise ValueError(f"{path}: not a BinaryNetSpec file (missing array {err})") from None
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: invalid BinaryNetSpec: {err}") from None
        if return_extra:
            return spec, {k[6:]: v for k, v in a.items() if k.startswith("extra_")}
        return spec


_DIGEST_TAG = b"sqnn-sha256:"
_TRAILER = len(_DIGEST_TAG) + 64


MAX_MODEL_BYTES = 1 << 30  # default bound on a model file and on the sum of its decompressed arrays
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _check_name(name, what: str = "array") -> str:
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
        raise ValueError(f"{what} names must be non-empty [A-Za-z0-9_] strings, got {name!r}")
    return name


def _storable(label: str, value) -> np.ndarray:
    """``value`` as an array that :func:`load_npz_checked` can read back (no pickled objects), or raise."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{label} cannot be stored as an array ({err})") from None
    if arr.dtype.hasobject or arr.dtype.kind not in "biufcSU":
        raise TypeError(
            f"{label} must be an array of numbers, booleans or strings, got {type(value).__name__} "
            f"(dtype {arr.dtype}); store structured data as JSON text, e.g. np.array(json.dumps(...))"
        )
    return arr


def save_npz_atomic(path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` to ``path`` atomically (temporary file, fsync, rename), sealed with a SHA-256 digest.

    The file is an ordinary ``.npz`` (zip) whose archive comment is ``sqnn-sha256:<hex>``, the digest of every
    byte before the comment; a header array holds the format magic and version. Only arrays that load back
    without pickle are accepted (numbers, booleans, strings): anything else raises ``TypeError`` before
    anything is written.
    """
    path = Path(path)
    arrays = {_check_name(k): _storable(repr(k), v) for k, v in arrays.items()}
    header = np.array([_MAGIC, str(FORMAT_VERSION)], dtype=np.str_)
    buf = io.BytesIO()
    np.savez_compressed(buf, __header__=header, **arrays)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = b"\0" * _TRAILER
    data = bytearray(buf.getvalue())
    data[-_TRAILER:] = _DIGEST_TAG + hashlib.sha256(data[:-_TRAILER]).hexdigest().encode()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _read_members(data: bytes, path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Every ``.npy`` member, each checked against its declared shape and dtype BEFORE it is decompressed.

    The zip directory's uncompressed sizes must sum to at most ``max_bytes``; each member's npy header must
    declare a plain (non-object) dtype and exactly as many bytes as the member holds. Decompression is then
    bounded by those sizes.
    """
    fmt = np.lib.format
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            raise ValueError(
                f"{path}: its arrays declare {total} bytes, more than the limit of {max_bytes} bytes "
                "(pass max_bytes= to load a larger model)"
            )
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or "/" in name:
                raise ValueError(f"{path}: unexpected member {name!r}")
            with z.open(info) as f:
                version = fmt.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = fmt.read_array_header_2_0(f)
                else:
                    raise ValueError(f"{path}: {name} has an unsupported npy version {version}")
                if dtype.hasobject:
                    raise ValueError(f"{path}: {name} holds Python objects (pickle), which are not loaded")
                nbytes = math.prod(int(d) for d in shape) * dtype.itemsize
                offset = f.tell()
                if offset + nbytes != info.file_size:
                    raise ValueError(
                        f"{path}: {name} declares shape {shape} of {dtype} ({nbytes} bytes) but holds "
                        f"{info.file_size - offset} bytes"
                    )
                buf = f.read(nbytes)
            if len(buf) != nbytes:
                raise ValueError(f"{path}: {name} is truncated")
            arr = np.frombuffer(buf, dtype=dtype)
            out[name[:-4]] = arr.reshape(shape, order="F" if fortran else "C").copy()
    return out


def load_npz_checked(path, *, max_bytes: int = MAX_MODEL_BYTES) -> dict[str, np.ndarray]:
    """Load a file written by :func:`save_npz_atomic`; raise ``ValueError`` if it is corrupt or foreign.

    Neither the file nor the sum of its decompressed arrays may exceed ``max_bytes`` (default 1 GiB); every
    array's declared shape is checked before it is decompressed, so a small file cannot exhaust memory.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path}: {size} bytes, more than the model file limit of {max_bytes} (max_bytes=)")
    data = path.read_bytes()
    tag = data[-_TRAILER:-64] if len(data) > _TRAILER else b""
    if tag != _DIGEST_TAG:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                foreign = "__header__.npy" not in z.namelist()
        except zipfile.BadZipFile:
            foreign = False
        if foreign:
            raise ValueError(f"{path}: not an sqnn model file (missing header)")
        raise ValueError(f"{path}: corrupt or truncated model file (integrity seal missing)")
    if hashlib.sha256(data[:-_TRAILER]).hexdigest().encode() != data[-64:]:
        raise ValueError(f"{path}: checksum mismatch, the file is corrupt")
    try:
        arrays = _read_members(data, path, max_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt model file ({err})") from None
    except ValueError as err:
        msg = str(err) if str(err).startswith(str(path)) else f"{path}: corrupt model file ({err})"
        raise ValueError(msg) from None
    header = arrays.pop("__header__", None)
    if header is None or header.shape != (2,) or str(header[0]) != _MAGIC:
        raise ValueError(f"{path}: not an sqnn model file (missing header)")
    if str(header[1]) != str(FORMAT_VERSION):
        raise ValueError(f"{path}: format version {header[1]} is not supported (expected {FORMAT_VERSION})")
    return arrays


def spec_difference(a: BinaryNetSpec, b: BinaryNetSpec) -> str | None:
    """The first way in which two specs compute different things (``None`` if they are the same network).

    Compares widths, edges, every layer's packed weights and thresholds, and the output layer's weights,
    bias, scale and offset (feature names are not compared).
    """
    if a.widths != b.widths:
        return f"widths {a.widths} != {b.widths}"
    for f, (ea, eb) in enumerate(zip(a.edges, b.edges, strict=True)):
        if not np.array_equal(ea, eb):
            return f"edges of feature {f} differ"
    for i, (la, lb) in enumerate(zip(a.layers, b.layers, strict=True)):
        if not np.array_equal(la.weights, lb.weights):
            return f"hidden layer {i} weights differ"
        if not np.array_equal(la.thresholds, lb.thresholds):
            return f"hidden layer {i} thresholds differ"
    oa, ob = a.output, b.output
    if not np.array_equal(oa.weights, ob.weights):
        return "output weights differ"
    if not np.array_equal(oa.bias, ob.bias):
        return "output bias differs"
    if (oa.scale, oa.offset) != (ob.scale, ob.offset):
        return f"output scale/offset ({oa.scale}, {oa.offset}) != ({ob.scale}, {ob.offset})"
    return None
