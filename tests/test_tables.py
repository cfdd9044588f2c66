"""training.tables.load_table: CSV, CSV.gz, Parquet and ROOT files written here, and every user error."""

import gzip

import numpy as np
import pytest

from training import tables
from training.tables import MissingDependencyError, load_table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
uproot = pytest.importorskip("uproot")

FEATURES = ["pt", "eta", "mass", "width"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 1500
    x = rng.normal(size=(n, len(FEATURES))) * [30.0, 2.0, 10.0, 0.1]
    y = rng.integers(0, 2, n)
    y[rng.random(n) < 0.2] = -1
    s = rng.integers(0, 2, n)
    return x, y, s


def _columns(data):
    x, y, s = data
    cols = {"y": y.astype(np.int32), "s": s.astype(np.int8)}
    cols.update({name: x[:, j] for j, name in enumerate(FEATURES)})  # file order: y, s, features
    return cols


def write_csv(path, data, gz=False):
    cols = _columns(data)
    lines = [",".join(cols)]
    lines += [",".join(repr(float(v)) if isinstance(v, np.floating) else str(v) for v in row)
              for row in zip(*cols.values(), strict=True)]
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def write_parquet(path, data):
    pq.write_table(pa.table(_columns(data)), path, row_group_size=400)
    return path


def write_root(path, data, tree="events"):
    cols = _columns(data)
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.dtype for k, v in cols.items()})
        for i in range(0, len(cols["y"]), 600):  # several baskets
            f[tree].extend({k: v[i:i + 600] for k, v in cols.items()})
    return path


WRITERS = {
    "data.csv": write_csv,
    "data.csv.gz": lambda p, d: write_csv(p, d, gz=True),
    "data.parquet": write_parquet,
    "data.root": write_root,
}


@pytest.fixture(scope="module", params=list(WRITERS))
def table_file(request, data, tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / request.param
    return WRITERS[request.param](path, data)


def test_round_trip_exact(table_file, data):
    x, y, s = data
    X, Y, S, names = load_table(table_file, label="y", domain="s")
    assert names == FEATURES
    assert X.dtype == np.float64 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, x)
    assert Y.dtype == np.int64 and S.dtype == np.int64
    np.testing.assert_array_equal(Y, y)
    np.testing.assert_array_equal(S, s)


def test_whole_file_assembled_from_many_chunks(table_file, data, monkeypatch):
    monkeypatch.setattr(tables, "_LOAD_CHUNK", 256)  # many reader chunks (and Parquet row groups)
    X, Y, S, _ = load_table(table_file, ["mass", "eta"], label="y", domain="s")
    np.testing.assert_array_equal(X, data[0][:, [2, 1]])
    np.testing.assert_array_equal(Y, data[1])
    np.testing.assert_array_equal(S, data[2])


def test_feature_selection_keeps_requested_order(table_file, data):
    x, y, _ = data
    X, Y, S, names = load_table(table_file, ["width", "pt"], label="y")
    assert names == ["width", "pt"] and S is None
    np.testing.assert_array_equal(X, x[:, [3, 0]])
    np.testing.assert_array_equal(Y, y)


def test_without_label_every_column_is_a_feature(table_file, data):
    X, Y, S, names = load_table(table_file)
    assert names == ["y", "s", *FEATURES] and Y is None and S is None
    np.testing.assert_array_equal(X[:, 0], data[1])


@pytest.mark.parametrize("kwargs, message", [
    ({"features": ["pt", "nope", "also_nope"]}, "missing {what}s 'nope', 'also_nope'"),
    ({"label": "truth"}, "missing label {what} 'truth'"),
    ({"domain": "origin"}, "missing domain {what} 'origin'"),
])
def test_missing_columns_are_named(table_file, kwargs, message):
    what = "branch" if table_file.suffix == ".root" else "column"
    with pytest.raises(ValueError, match=message.format(what=what)) as err:
        load_table(table_file, **kwargs)
    assert "pt, eta" in str(err.value)  # lists what the file has


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.hdf5").write_text("")
    with pytest.raises(ValueError, match=r"unknown file extension; expected one of \.csv, \.csv\.gz"):
        load_table(tmp_path / "x.hdf5")
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_table(tmp_path / "absent.parquet")


def test_duplicate_features_and_tree_on_non_root(tmp_path, data):
    path = write_parquet(tmp_path / "d.parquet", data)
    with pytest.raises(ValueError, match="'pt' more than once"):
        load_table(path, ["pt", "eta", "pt"])
    with pytest.raises(ValueError, match="applies only to ROOT"):
        load_table(path, tree="events")


@pytest.fixture(params=["pyarrow", "numpy"])
def csv_engine(request, monkeypatch):
    """Run a CSV test with the pyarrow.csv reader (small blocks, so batches are regrouped) and with numpy."""
    monkeypatch.setattr(tables, "_csv_engine", lambda: request.param)
    monkeypatch.setattr(tables, "_CSV_BLOCK_BYTES", 4096)
    return request.param


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz"])
def test_csv_engines_agree_exactly(csv_engine, name, tmp_path, data):
    path = WRITERS[name](tmp_path / name, data)
    X, Y, S, names = load_table(path, ["eta", "pt", "width"], label="y", domain="s")
    assert names == ["eta", "pt", "width"]
    np.testing.assert_array_equal(X, data[0][:, [1, 0, 3]])
    np.testing.assert_array_equal(Y, data[1])
    np.testing.assert_array_equal(S, data[2])


def test_pyarrow_csv_reader_hands_its_freed_blocks_back(tmp_path, data, monkeypatch):
    """Regression: pyarrow's allocator kept the CSV reader's freed blocks for the life of the process (after
    the 100k-row showers file, 26 MB of resident memory: 30 MB of a 50k-row fit's peak)."""
    pool = pa.default_memory_pool()
    released = []

    class Recording:
        def release_unused(self):
            released.append(True)
            pool.release_unused()

    monkeypatch.setattr(pa, "default_memory_pool", Recording)
    monkeypatch.setattr(tables, "_csv_engine", lambda: "pyarrow")
    X, _, _, _ = load_table(write_csv(tmp_path / "d.csv", data), FEATURES, label="y", domain="s")
    np.testing.assert_array_equal(X, data[0])
    assert released == [True]


def test_csv_bad_values(csv_engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"bad\.csv: .*oops"):
        load_table(path, label="y")
    path.write_text("a,b,y\n1,2,0\n3,,1\n")
    with pytest.raises(ValueError, match=r"bad\.csv: .*(empty|missing|could not convert)"):
        load_table(path, label="y")
    path.write_text("a,b,y\n1,2,0.5\n")
    with pytest.raises(ValueError, match="label column 'y' must hold integers"):
        load_table(path, label="y")
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_table(path)
    path.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        load_table(path)


def test_parquet_non_numeric_and_null(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "name": ["x", "y"], "b": pa.array([1.0, None])}), path)
    with pytest.raises(ValueError, match="column 'name' is not numeric"):
        load_table(path, ["a", "name"])
    with pytest.raises(ValueError, match="column 'b' has 1 missing"):
        load_table(path, ["a", "b"])
    np.testing.assert_array_equal(load_table(path, ["a"])[0], [[1.0], [2.0]])
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        load_table(tmp_path / "fake.parquet")


def test_root_tree_choice_and_jagged_branches(tmp_path, data):
    ak = pytest.importorskip("awkward")
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        f.mktree("sim", {"a": np.float64, "b": np.float64})
        f["sim"].extend({"a": np.arange(3.0), "b": np.ones(3)})
        f.mktree("data", {"a": np.float64, "hits": "var * float64"})
        f["data"].extend({"a": np.array([5.0, 6.0]), "hits": ak.Array([[1.0, 2.0], []])})
    with pytest.raises(ValueError, match=r"choose a TTree with tree=.*(data, sim|sim, data)"):
        load_table(path)
    X, *_ = load_table(path, ["a"], tree="data")
    np.testing.assert_array_equal(X[:, 0], [5.0, 6.0])
    X, *_ = load_table(path, tree="sim")
    np.testing.assert_array_equal(X, np.column_stack([np.arange(3.0), np.ones(3)]))
    with pytest.raises(ValueError, match="no TTree 'mc'"):
        load_table(path, tree="mc")
    with pytest.raises(ValueError, match="branch 'hits' is jagged"):
        load_table(path, ["a", "hits"], tree="data")
    (tmp_path / "fake.root").write_bytes(b"not a root file at all")
    with pytest.raises(ValueError, match="not a readable ROOT file"):
        load_table(tmp_path / "fake.root")


def test_missing_optional_dependency_message(monkeypatch, tmp_path, data):
    path = write_root(tmp_path / "d.root", data)
    real = tables.importlib.import_module

    def fake_import(name, *args):
        if name.split(".")[0] in ("uproot", "pyarrow"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(tables.importlib, "import_module", fake_import)
    with pytest.raises(MissingDependencyError, match=r"'uproot'; install with pip install -e '\.\[hep\]'"):
        load_table(path)
    with pytest.raises(ValueError, match=r"'pyarrow'; install with pip install -e '\.\[hep\]'"):
        load_table(write_parquet(tmp_path / "d.parquet", data))
    assert issubclass(MissingDependencyError, ImportError)
