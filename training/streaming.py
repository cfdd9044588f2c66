"""Out-of-core and distributed inference of a :class:`~sqnn_kernels.BinaryNetSpec`.

* :func:`iter_table_chunks` reads a CSV, Parquet or ROOT file in row chunks of bounded size;
* :func:`predict_file` streams a file through the fused engine and writes the scores (and probabilities)
  to Parquet incrementally and atomically, with a progress bar; memory stays bounded by the chunk size;
* :func:`predict_dask` maps the engine over the row blocks of a dask array or the partitions of a dask
  dataframe, so a ``dask.distributed`` cluster scales it out;
* ``sqnn predict`` (in :mod:`training.cli`) calls :func:`predict_file`.

Inference is deterministic and row-wise, so every chunking (and every worker layout) gives scores identical
to ``sqnn_kernels.predict_scores(spec, X)`` on the whole table in memory.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import sqnn_kernels as sk
from sqnn_kernels.fileio import atomic_path, check_not_input
from sqnn_kernels.scoring import probabilities
from sqnn_kernels.validation import check_int

from .tables import open_table, require, resolve_features, stack_features

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "PredictionSummary",
    "iter_table_chunks",
    "load_spec",
    "output_columns",
    "predict_dask",
    "predict_file",
]

DEFAULT_CHUNK_SIZE = 100_000


def load_spec(model) -> sk.BinaryNetSpec:
    """A :class:`~sqnn_kernels.BinaryNetSpec` as given, or loaded from a model ``.npz`` path.

    Both bare spec files (``BinaryNetSpec.to_npz``) and ``SQNNClassifier.save`` files are accepted.
    """
    if isinstance(model, sk.BinaryNetSpec):
        return model
    if isinstance(model, (str, os.PathLike)):
        return sk.BinaryNetSpec.from_npz(model)
    raise TypeError(f"model must be a BinaryNetSpec or a path to a model .npz, got {type(model).__name__}")


def _model_features(spec: sk.BinaryNetSpec, features) -> list[str] | None:
    """Columns feeding the model: the spec's ``feature_names``, or ``features`` for a model without names.

    As scikit-learn's feature-name check: when the model stores its feature names, ``features`` (if given)
    must be exactly those names in the same order; any other list is an error (never a silent reorder).
    """
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    if features is None:
        if spec.feature_names is None:
            raise ValueError(
                f"the model stores no feature names; pass the {spec.n_features} input columns in model order "
                "with features= (CLI: --features a,b,c)"
            )
        return list(spec.feature_names)
    features = [str(f) for f in features]
    if spec.feature_names is not None and features != list(spec.feature_names):
        raise ValueError(
            f"features {','.join(features)} do not match the model's feature names "
            f"{','.join(spec.feature_names)} (names and order must be the same; omit features to use them)"
        )
    if len(features) != spec.n_features:
        raise ValueError(f"{len(features)} features given but the model expects {spec.n_features}")
    return features


def _check_chunk_size(chunk_size) -> int:
    return check_int(chunk_size, "chunk_size", min_value=1)


def iter_table_chunks(path, features: Sequence[str] | None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                      tree: str | None = None) -> Iterator[np.ndarray]:
    """Read the ``features`` columns of a CSV, Parquet or ROOT file in chunks of at most ``chunk_size`` rows.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.csv.gz`` (numpy parser), ``.parquet``/``.pq`` (``ParquetFile.iter_batches``) or ``.root``
        (``uproot`` ``TTree.iterate``).
    features : sequence of str or None
        Columns in model order; ``None`` reads every column.
    chunk_size : int
        Maximum rows per chunk (Parquet chunks also end at row-group boundaries).
    tree : str or None
        ROOT only: the TTree name (may be omitted if the file holds exactly one).

    Yields
    ------
    float64 (m, f) C-contiguous arrays, in file order; together they are the whole table.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`training.tables.load_table`, raised by this call (before the first chunk is read).
    """
    chunk_size = _check_chunk_size(chunk_size)
    source = open_table(path, tree=tree)
    names = resolve_features(source, features)
    return (stack_features(columns, names) for columns in source.iter_columns(names, chunk_size))


def output_columns(spec: sk.BinaryNetSpec, proba: bool = True) -> list[str]:
    """Output columns: ``score`` (and ``proba``) for one output, ``score_i`` (``proba_i``) for several."""
    n_out = spec.output.n_out
    stems = ["score", "proba"] if proba else ["score"]
    if n_out == 1:
        return stems
    return [f"{stem}_{i}" for stem in stems for i in range(n_out)]


def _proba(spec: sk.BinaryNetSpec, scores: np.ndarray) -> np.ndarray:
    # the one scoring rule (as BinaryNetSpec.predict_proba), so results are bit-identical
    return probabilities(scores, spec.output.scale, spec.output.offset)


def _result_columns(spec: sk.BinaryNetSpec, x: np.ndarray, proba: bool) -> dict[str, np.ndarray]:
    scores = sk.predict_scores(spec, x)
    values = [scores[:, i] for i in range(scores.shape[1])]
    if proba:
        p = _proba(spec, scores)
        values += [p[:, i] for i in range(p.shape[1])]
    return dict(zip(output_columns(spec, proba), values, strict=True))


@dataclass(frozen=True)
class PredictionSummary:
    """What :func:`predict_file` did: rows written, wall time, output path."""

    n_rows: int
    seconds: float
    out_path: Path

    @property
    def rows_per_second(self) -> float:
        """Throughput including reading and writing."""
        return self.n_rows / self.seconds if self.seconds > 0 else float("inf")


def _arrow_table(pa, columns: dict[str, np.ndarray], schema):
    """A pyarrow Table over the numpy columns, zero-copy (``pa.table`` would import pandas, ~1 s)."""
    arrays = []
    for field in schema:
        values = np.ascontiguousarray(columns[field.name], dtype=field.type.to_pandas_dtype())
        arrays.append(pa.Array.from_buffers(field.type, len(values), [None, pa.py_buffer(values)]))
    return pa.Table.from_arrays(arrays, schema=schema)


def predict_file(model, input_path, out_path, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True,
                 *, features: Sequence[str] | str | None = None, tree: str | None = None, proba: bool = True,
                 compression: str = "zstd") -> PredictionSummary:
    """Score every row of a CSV/Parquet/ROOT file and write the results to a Parquet file, chunk by chunk.

    Memory stays bounded by ``chunk_size`` (one chunk of features, its scores and the Parquet writer's
    current row group); each chunk becomes one row group of the output. The output is written to a
    temporary file beside ``out_path`` and renamed onto it only when complete, so a reader never sees a
    partial file and a failed run leaves any earlier ``out_path`` untouched.

    Parameters
    ----------
    model : BinaryNetSpec or path
        The model, or a ``.npz`` written by ``BinaryNetSpec.to_npz`` or ``SQNNClassifier.save``.
    input_path : str or Path
        ``.csv``, ``.csv.gz``, ``.parquet``/``.pq`` or ``.root``.
    out_path : str or Path
        Parquet file to (over)write. Row i of the output belongs to row (entry) i of the input.
    chunk_size : int
        Rows per chunk.
    progress : bool
        Show a tqdm progress bar on stderr.
    features : sequence of str, comma-separated str, or None
        Input columns in model order; default: the model's ``feature_names``.
    tree : str or None
        ROOT only: the TTree name (may be omitted if the file holds exactly one).
    proba : bool
        Also write the probabilities of :mod:`sqnn_kernels.scoring` (float64).
    compression : str
        Parquet compression codec.

    Returns
    -------
    PredictionSummary
        Rows written, seconds, output path.

    Notes
    -----
    Columns: ``score`` (int32) and ``proba`` (float64) for a one-output model; ``score_i``/``proba_i`` for
    several outputs. Results equal ``predict_scores(spec, X)`` / ``spec.predict_proba(X)`` on the whole table.
    """
    t0 = time.perf_counter()
    pa = require("pyarrow", "hep")
    pq = require("pyarrow.parquet", "hep")
    spec = load_spec(model)
    chunk_size = _check_chunk_size(chunk_size)
    names = _model_features(spec, features)
    source = open_table(input_path, tree=tree)
    names = resolve_features(source, names)
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"{out_path}: the output must be a .parquet file")
    check_not_input(out_path, input_path)
    if out_path.is_dir():
        raise ValueError(f"{out_path}: is a directory")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    cols = output_columns(spec, proba)
    schema = pa.schema([(c, pa.int32() if c.startswith("score") else pa.float64()) for c in cols])
    n_rows = 0
    bar = tqdm(total=source.num_rows, unit="rows", unit_scale=True, disable=not progress, file=sys.stderr,
               desc=Path(input_path).name, dynamic_ncols=True)
    try:
        with atomic_path(out_path) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as writer:
            for columns in source.iter_columns(names, chunk_size):
                x = stack_features(columns, names)
                del columns
                try:
                    result = _result_columns(spec, x, proba)
                except ValueError as err:
                    raise ValueError(f"{source.label}: rows {n_rows}..{n_rows + len(x) - 1}: {err}") from None
                writer.write_table(_arrow_table(pa, result, schema))
                n_rows += len(x)
                bar.update(len(x))
    finally:
        bar.close()
    return PredictionSummary(n_rows, time.perf_counter() - t0, out_path)


# -- dask ----------------------------------------------------------------------------------------------------
def _score_block(block: np.ndarray, spec: sk.BinaryNetSpec, proba: bool) -> np.ndarray:
    scores = sk.predict_scores(spec, np.ascontiguousarray(block))
    return _proba(spec, scores) if proba else scores


def _score_frame(part, spec: sk.BinaryNetSpec, names: list[str], proba: bool):
    import pandas as pd

    x = np.ascontiguousarray(part[names].to_numpy(dtype=np.float64))
    return pd.DataFrame(_result_columns(spec, x, proba), index=part.index)


def predict_dask(spec, data, *, features: Sequence[str] | str | None = None, proba: bool = False):
    """Lazy scores of a dask array or dask dataframe; compute with any scheduler (e.g. ``dask.distributed``).

    Parameters
    ----------
    spec : BinaryNetSpec or path
        The model (or a model ``.npz``; it is loaded here and shipped to the workers with the graph).
    data : dask.array.Array or dask.dataframe.DataFrame
        A 2-D float array (n, n_features), rows in any chunking (column chunks are merged by a rechunk so
        that each block holds whole rows), or a dataframe holding the model's feature columns.
    features : sequence of str, comma-separated str, or None
        Dataframes only: columns in model order; default: the model's ``feature_names``.
    proba : bool
        Arrays: return float64 probabilities instead of int32 scores. Dataframes: add ``proba`` columns.

    Returns
    -------
    dask.array.Array
        int32 scores (n, n_out) (or float64 probabilities), chunked like ``data``'s rows.
    dask.dataframe.DataFrame
        ``score`` (and ``proba``) columns (``score_i`` for several outputs), with ``data``'s index and
        partitions.

    Notes
    -----
    Needs the ``dask`` extra: ``pip install -e '.[dask]'``.
    """
    spec = load_spec(spec)
    da = require("dask.array", "dask")
    if isinstance(data, da.Array):
        if data.ndim != 2:
            raise ValueError(f"data must be a 2-D dask array (rows, features), got {data.ndim}-D")
        if not np.isnan(data.shape[1]) and data.shape[1] != spec.n_features:
            raise ValueError(f"data has {data.shape[1]} features but the model expects {spec.n_features}")
        if data.numblocks[1] != 1:
            data = data.rechunk({1: -1})
        dtype = np.float64 if proba else np.int32
        n_out = spec.output.n_out
        return data.map_blocks(_score_block, spec, proba, dtype=dtype, chunks=(data.chunks[0], (n_out,)),
                               meta=np.empty((0, n_out), dtype=dtype))
    dd = require("dask.dataframe", "dask")
    if isinstance(data, dd.DataFrame):
        import pandas as pd

        names = _model_features(spec, features)
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise ValueError(f"dataframe is missing column(s) {', '.join(map(repr, missing))}")
        cols = output_columns(spec, proba)
        meta = pd.DataFrame({c: pd.Series(dtype=np.int32 if c.startswith("score") else np.float64)
                             for c in cols})
        return data.map_partitions(_score_frame, spec, names, proba, meta=meta)
    raise TypeError(f"data must be a dask array or dask dataframe, got {type(data).__name__}")
