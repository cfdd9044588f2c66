"""Read feature tables from CSV, Parquet and ROOT files into numpy arrays.

One reader per format, shared by :func:`load_table` (whole file in memory) and
:func:`training.streaming.iter_table_chunks` (bounded-memory chunks):

* CSV (``.csv``, ``.csv.gz``): header row, numeric columns, parsed with :func:`numpy.loadtxt`; no optional
  dependency.
* Parquet (``.parquet``, ``.pq``): :mod:`pyarrow.parquet` (``pip install -e '.[hep]'``).
* ROOT TTrees (``.root``): :mod:`uproot` (``pip install -e '.[hep]'``); one scalar branch per feature.

Every error a user can cause (missing file, unknown extension, missing column or branch, non-numeric or
jagged data, missing optional dependency) is a ``FileNotFoundError`` or ``ValueError`` with one clear
message naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import importlib
import itertools
import warnings
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = ["SUPPORTED_EXTENSIONS", "MissingDependencyError", "load_table", "open_table"]

SUPPORTED_EXTENSIONS = (".csv", ".csv.gz", ".parquet", ".pq", ".root")


class MissingDependencyError(ImportError, ValueError):
    """An optional dependency is not installed (also a ``ValueError``, so the CLI prints one line)."""


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` telling which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"this needs the optional dependency {top!r}; install with pip install -e '.[{extra}]'"
        ) from None


def table_format(path) -> str:
    """``"csv"``, ``"parquet"`` or ``"root"`` from the file name; ``ValueError`` for anything else."""
    name = Path(path).name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".root"):
        return "root"
    raise ValueError(
        f"{path}: unknown file extension; expected one of {', '.join(SUPPORTED_EXTENSIONS)}"
    )


def _numeric_column(values, source: str, name: str) -> np.ndarray:
    """``values`` as a 1-D numeric numpy array (any numeric dtype; :func:`stack_features` makes float64)."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{source}: {name!r} holds arrays of shape {a.shape[1:]} per row; need one number")
    if a.dtype == object:
        raise ValueError(
            f"{source}: {name!r} is jagged (a variable-length list per row); reduce it to one number per row"
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ValueError(f"{source}: column {name!r} is not numeric (dtype {a.dtype})")
    return a


class _Source:
    """A table file: its column names, row count (``None`` if unknown) and chunked column reader."""

    def __init__(self, path: Path, label: str):
        self.path = path
        self.label = label  # how errors name the file (path, plus ":tree" for ROOT)
        self.columns: list[str] = []
        self.num_rows: int | None = None

    what = "column"

    def check_unique(self) -> None:
        """Refuse a table whose header names a column twice (which one would be read is a guess)."""
        seen, dup = set(), []
        for c in self.columns:
            if c in seen and c not in dup:
                dup.append(c)
            seen.add(c)
        if dup:
            raise ValueError(
                f"{self.label}: the header names {self.what}{'s' if len(dup) > 1 else ''} "
                f"{', '.join(map(repr, dup))} more than once; rename the duplicates"
            )

    def check_columns(self, names: Sequence[str], what: str | None = None, hint: str = "") -> None:
        what = what or self.what
        missing = [n for n in names if n not in set(self.columns)]
        if missing:
            shown = ", ".join(self.columns[:40]) + (" ..." if len(self.columns) > 40 else "")
            plural = "s" if len(missing) > 1 else ""
            raise ValueError(
                f"{self.label}: missing {what}{plural} {', '.join(map(repr, missing))}{hint}; "
                f"the file has: {shown}"
            )

    def iter_columns(self, names: Sequence[str], chunk_size: int) -> Iterator[dict[str, np.ndarray]]:
        raise NotImplementedError

    def read_all(self, names: Sequence[str], extra: Sequence[str] = ()) -> tuple[np.ndarray, dict]:
        """Whole table: float64 (n, f) features ``names`` and float64 1-D ``extra`` columns.

        With a known row count the chunks are copied straight into the result (peak ≈ result + one chunk);
        otherwise (CSV) the float64 chunks are concatenated at the end.
        """
        wanted = list(dict.fromkeys([*names, *extra]))
        chunks = self.iter_columns(wanted, _LOAD_CHUNK)
        if self.num_rows is None:
            parts = [(stack_features(c, names), {e: np.asarray(c[e], np.float64) for e in extra})
                     for c in chunks]
            if not parts:
                return np.zeros((0, len(names))), {e: np.zeros(0) for e in extra}
            x = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
            return x, {e: np.concatenate([p[1][e] for p in parts]) for e in extra}
        x = np.empty((self.num_rows, len(names)), dtype=np.float64)
        cols = {e: np.empty(self.num_rows, dtype=np.float64) for e in extra}
        pos = 0
        for c in chunks:
            m = len(c[wanted[0]])
            if pos + m > self.num_rows:
                raise ValueError(f"{self.label}: holds more rows than its metadata says ({self.num_rows})")
            for j, n in enumerate(names):
                x[pos:pos + m, j] = c[n]
            for e in extra:
                cols[e][pos:pos + m] = c[e]
            pos += m
        if pos != self.num_rows:
            raise ValueError(f"{self.label}: read {pos} rows but the metadata says {self.num_rows}")
        return x, cols


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


_READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError, UnicodeDecodeError)

_LOAD_CHUNK = 1 << 20  # rows per chunk when load_table reads a whole file
_CSV_BLOCK_BYTES = 1 << 20  # pyarrow.csv block size (it reads ~32 blocks ahead); batches are regrouped


def _csv_engine() -> str:
    """``"pyarrow"`` (multi-threaded ``pyarrow.csv`` reader) if installed, else ``"numpy"`` (``loadtxt``)."""
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return "numpy"
    return "pyarrow"


class _CSVSource(_Source):
    def __init__(self, path: Path):
        super().__init__(path, str(path))
        with open(self.path, "rb") as raw:
            self.gzipped = raw.read(2) == b"\x1f\x8b"
        try:
            with self._open() as f:
                try:
                    header = next(csv.reader([f.readline()]))
                except StopIteration:
                    header = []
        except _READ_ERRORS as err:
            raise self._read_error(err) from None
        self.columns = [h.strip() for h in header]
        if not self.columns or self.columns == [""]:
            raise ValueError(f"{path}: empty file (no header row)")
        self.check_unique()
        self.engine = _csv_engine()

    def _open(self):
        # utf-8-sig: a byte-order mark (as Excel writes) is not part of the first column's name
        if self.gzipped:
            return gzip.open(self.path, "rt", encoding="utf-8-sig", newline="")
        return open(self.path, encoding="utf-8-sig", newline="")

    def _read_error(self, err: BaseException) -> ValueError:
        what = "truncated or corrupt gzip file" if self.gzipped else "unreadable file"
        return ValueError(f"{self.label}: {what} ({_one_line(err)})")

    def iter_columns(self, names, chunk_size):
        if self.engine == "pyarrow":
            return self._guarded(self._iter_pyarrow(names, chunk_size))
        return self._guarded(self._iter_numpy(names, chunk_size))

    def _guarded(self, chunks):
        try:
            yield from chunks
        except _READ_ERRORS as err:
            raise self._read_error(err) from None

    def _iter_numpy(self, names, chunk_size):
        idx = [self.columns.index(n) for n in names]
        with self._open() as f:
            f.readline()
            lines = (line for line in f if line.strip())
            row0 = 0
            while True:
                block = list(itertools.islice(lines, chunk_size))
                if not block:
                    return
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        data = np.loadtxt(block, delimiter=",", usecols=idx, ndmin=2, dtype=np.float64,
                                          quotechar='"', comments=None)
                except ValueError as err:
                    raise ValueError(f"{self.label}: data row {row0 + 1} onwards: {err}") from None
                yield {n: data[:, j] for j, n in enumerate(names)}
                row0 += len(block)

    def _iter_pyarrow(self, names, chunk_size):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(column_names=self.columns, skip_rows=1, block_size=_CSV_BLOCK_BYTES)
        convert = pacsv.ConvertOptions(column_types={n: pa.float64() for n in names},
                                       include_columns=list(names))
        stream = pa.input_stream(str(self.path), compression="gzip" if self.gzipped else None)
        pending: dict[str, list[np.ndarray]] = {n: [] for n in names}
        n_pending = row0 = 0
        try:
            reader = pacsv.open_csv(stream, read_options=read, convert_options=convert)
            for batch in reader:
                for n in names:
                    col = batch.column(n)
                    if col.null_count:
                        raise ValueError(
                            f"{self.label}: column {n!r} has {col.null_count} empty or missing value(s) "
                            f"in data rows {row0 + n_pending + 1}..{row0 + n_pending + len(batch)}"
                        )
                    pending[n].append(_float64_values(col))
                n_pending += len(batch)
                while n_pending >= chunk_size:  # regroup pyarrow's byte-sized blocks into chunk_size rows
                    cat = {n: np.concatenate(v) for n, v in pending.items()}
                    yield {n: v[:chunk_size] for n, v in cat.items()}
                    pending = {n: [v[chunk_size:]] for n, v in cat.items()}
                    n_pending -= chunk_size
                    row0 += chunk_size
        except pa.ArrowInvalid as err:
            raise ValueError(f"{self.label}: {err}") from None
        finally:
            stream.close()
        if n_pending:
            yield {n: np.concatenate(v) for n, v in pending.items()}
        del pending
        # pyarrow's allocator keeps the reader's freed blocks (~2x the file's float64 size) for reuse, for
        # as long as the process lives: give them back once the file is read
        pa.default_memory_pool().release_unused()


def _float64_values(col) -> np.ndarray:
    """The values of a null-free pyarrow float64 array as a numpy view (``Array.to_numpy`` would import
    pandas, ~1 s of ``sqnn predict``'s start-up)."""
    return np.frombuffer(col.buffers()[1], dtype=np.float64, count=len(col), offset=8 * col.offset)


class _ParquetSource(_Source):
    def __init__(self, path: Path):
        super().__init__(path, str(path))
        self._pa = require("pyarrow", "hep")
        self._pq = require("pyarrow.parquet", "hep")
        try:
            # pre_buffer=False: with pre-buffering, iter_batches keeps every row group read so far cached
            # (pyarrow 26), so memory would grow with the file instead of the batch size
            self._file = self._pq.ParquetFile(path, pre_buffer=False)
        except (self._pa.ArrowException, OSError) as err:
            raise ValueError(f"{path}: not a readable Parquet file ({_one_line(err)})") from None
        self.columns = list(self._file.schema_arrow.names)
        self.check_unique()
        self.num_rows = int(self._file.metadata.num_rows)

    def check_columns(self, names, what=None, hint=""):
        super().check_columns(names, what, hint)
        pa = self._pa
        for n in names:
            t = self._file.schema_arrow.field(n).type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
                raise ValueError(f"{self.label}: column {n!r} is not numeric (type {t})")

    def iter_columns(self, names, chunk_size):
        batch_size = int(min(chunk_size, max(self.num_rows, 1)))
        for batch in self._file.iter_batches(batch_size=batch_size, columns=list(names)):
            out = {}
            for n in names:
                col = batch.column(n)
                if col.null_count:
                    raise ValueError(f"{self.label}: column {n!r} has {col.null_count} missing (null) values")
                out[n] = _numeric_column(col.to_numpy(zero_copy_only=False), self.label, n)
            yield out


_ROOT_TABLE_CLASSES = ("TTree", "ROOT::RNTuple")


class _RootSource(_Source):
    what = "branch"

    def __init__(self, path: Path, tree: str | None):
        self._uproot = require("uproot", "hep")
        with self._reading(str(path)):
            with self._uproot.open(path) as f:
                trees = f.keys(filter_classname=lambda c: c in _ROOT_TABLE_CLASSES, cycle=False)
        trees = list(dict.fromkeys(trees))
        if tree is None:
            if len(trees) != 1:
                found = ", ".join(trees) if trees else "none"
                raise ValueError(f"{path}: choose a TTree with tree= (CLI: --tree); the file has: {found}")
            tree = trees[0]
        elif tree not in trees:
            raise ValueError(f"{path}: no TTree {tree!r}; trees in the file: {', '.join(trees) or 'none'}")
        super().__init__(path, f"{path}:{tree}")
        self.tree = tree
        with self._reading(self.label), self._uproot.open(path) as f:
            t = f[tree]
            self.columns = list(t.keys())
            self.num_rows = int(t.num_entries)
            self._types = {k: str(v) for k, v in t.typenames().items()}
        self.check_unique()

    @staticmethod
    @contextlib.contextmanager
    def _reading(label: str):
        """uproot's errors on a truncated or corrupt file (OSError "expected Chunk of length ...",
        DeserializationError, ...) become one ValueError line naming the file."""
        try:
            yield
        except Exception as err:  # uproot raises many unrelated types for a damaged file
            raise ValueError(
                f"{label}: not a readable ROOT file (truncated or corrupt?): "
                f"{type(err).__name__}: {_one_line(err)}"
            ) from None

    def check_columns(self, names, what=None, hint=""):
        super().check_columns(names, what, hint)
        for n in names:
            typename = self._types.get(n, "")
            if typename.endswith("[]") or "vector" in typename or "RVec" in typename:
                raise ValueError(
                    f"{self.label}: branch {n!r} is jagged ({typename}, a variable-length list per entry); "
                    "reduce it to one number per entry"
                )

    def iter_columns(self, names, chunk_size):
        wanted = set(names)
        step = int(min(chunk_size, max(self.num_rows, 1)))
        with self._reading(self.label):
            f = self._uproot.open(self.path)
        try:
            with self._reading(self.label):
                chunks = f[self.tree].iterate(filter_name=lambda n: n in wanted, step_size=step, library="np")
            while True:
                with self._reading(self.label):
                    arrays = next(chunks, None)
                if arrays is None:
                    return
                yield {n: _numeric_column(arrays[n], self.label, n) for n in names}
        finally:
            f.close()


def load_csv_file(path, features: Sequence[str] | None = None, label: str | None = None,
                  domain: str | None = None):
    """:func:`load_table` for a CSV file of any name (plain or gzip, detected from its first bytes)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return _load(_CSVSource(path), features, label, domain)


def open_table(path, *, tree: str | None = None) -> _Source:
    """Open a CSV/Parquet/ROOT file for reading (see the module docstring); checks existence and format."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if tree is not None and fmt != "root":
        raise ValueError(f"{path}: tree={tree!r} applies only to ROOT files")
    if fmt == "csv":
        return _CSVSource(path)
    if fmt == "parquet":
        return _ParquetSource(path)
    return _RootSource(path, tree)


def resolve_features(source: _Source, features, exclude: Sequence[str | None] = ()) -> list[str]:
    """Feature names to read: ``features`` as given (checked), or every column not in ``exclude``."""
    if isinstance(features, str):
        features = [features]
    if features is None:
        skip = {e for e in exclude if e is not None}
        names = [c for c in source.columns if c not in skip]
        if not names:
            raise ValueError(f"{source.label}: no feature columns besides the label/domain columns")
    else:
        names = [str(n) for n in features]
        if not names:
            raise ValueError("features must name at least one column")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"features lists {', '.join(map(repr, dup))} more than once")
    source.check_columns(names)
    return names


def stack_features(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """C-contiguous float64 (n, f) array of ``columns[name]`` in the order of ``names``."""
    n = len(columns[names[0]]) if names else 0
    x = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        x[:, j] = columns[name]
    return x


_INT_LIMIT = 2.0**53  # integers beyond this are not exact in float64 (and no label or domain is that large)


def _integer_column(v: np.ndarray, source: str, role: str, name: str) -> np.ndarray:
    v = v.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v != np.round(v)) | (np.abs(v) > _INT_LIMIT)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"{source}: {role} column {name!r} must hold integers; data row {i + 1} has {float(v[i])!r}"
            + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else "")
        )
    return v.astype(np.int64)


def load_table(path, features: Sequence[str] | None = None, label: str | None = None,
               domain: str | None = None, *, tree: str | None = None):
    """Load a feature table from CSV (``.csv``, ``.csv.gz``), Parquet or a ROOT TTree into memory.

    Parameters
    ----------
    path : str or Path
        The file; its format follows from the extension.
    features : sequence of str or None
        Columns (branches) to use as features, in this order. ``None`` takes every column except ``label``
        and ``domain``.
    label : str or None
        Column of integer class labels (0/1, −1 for unlabelled rows); ``None`` if there is none.
    domain : str or None
        Column of the integer domain ``s`` (0 simulation, 1 data); ``None`` if there is none.
    tree : str or None
        ROOT only: name of the TTree; may be omitted if the file holds exactly one.

    Returns
    -------
    X : float64 (n, f), C-contiguous
    y : int64 (n,) or None
    s : int64 (n,) or None
    feature_names : list of str

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, missing columns or branches (all are named), non-numeric, null or jagged values,
        non-integer labels, an empty table, or a missing optional dependency (:class:`MissingDependencyError`,
        ``pip install -e '.[hep]'``).
    """
    return _load(open_table(path, tree=tree), features, label, domain)


def _load(source: _Source, features, label: str | None, domain: str | None):
    """:func:`load_table` on an opened source."""
    for role, col in (("label", label), ("domain", domain)):
        if col is not None and col not in source.columns:
            hint = " (domain=None, CLI --domain none, if the file has none)" if role == "domain" else ""
            source.check_columns([col], f"{role} {source.what}", hint)
    names = resolve_features(source, features, exclude=(label, domain))
    extra = [c for c in dict.fromkeys((label, domain)) if c is not None]
    x, columns = source.read_all(names, extra)
    if len(x) == 0:
        raise ValueError(f"{source.label}: no data rows")
    y = None if label is None else _integer_column(columns[label], source.label, "label", label)
    s = None if domain is None else _integer_column(columns[domain], source.label, "domain", domain)
    return x, y, s, names
