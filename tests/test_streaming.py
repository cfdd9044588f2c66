"""training.streaming: chunked prediction of CSV/Parquet/ROOT files, bounded memory, dask, `sqnn predict`."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from spec_factory import random_spec

import sqnn_kernels as sk
from training.cli import main
from training.streaming import (
    iter_table_chunks,
    output_columns,
    predict_dask,
    predict_file,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
uproot = pytest.importorskip("uproot")

ROOT_DIR = Path(__file__).resolve().parents[1]
NAMES = ["pt", "eta", "phi", "mass", "width"]
N_ROWS = 2345
CHUNK = 400  # not a divisor of N_ROWS: the last chunk is short


def named(spec, names):
    return sk.BinaryNetSpec(spec.edges, spec.layers, spec.output, names)


@pytest.fixture(scope="module")
def spec():
    # 5 features with up to 8 edges each, a 70-neuron layer (two packed words) and a 9-neuron layer
    return named(random_spec(np.random.default_rng(3), len(NAMES), (70, 9)), NAMES)


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(11)
    return rng.normal(size=(N_ROWS, len(NAMES)))


def _file_columns(x):
    # the file holds the features in another order, plus columns the model does not use
    cols = {"event": np.arange(len(x), dtype=np.int64), "mass": x[:, 3], "pt": x[:, 0]}
    cols.update({"eta": x[:, 1], "width": x[:, 4], "weight": np.ones(len(x)), "phi": x[:, 2]})
    return cols


def write_csv(path, x):
    cols = _file_columns(x)
    rows = zip(*cols.values(), strict=True)
    lines = [",".join(cols)] + [",".join(repr(v.item()) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def write_parquet(path, x):
    pq.write_table(pa.table(_file_columns(x)), path, row_group_size=1000)


def write_root(path, x):
    cols = _file_columns(x)
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in cols.items()})
        for i in range(0, len(x), 1000):
            f["Events"].extend({k: v[i:i + 1000] for k, v in cols.items()})


WRITERS = {"in.csv": write_csv, "in.parquet": write_parquet, "in.root": write_root}


@pytest.fixture(scope="module", params=list(WRITERS))
def table_file(request, x, tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / request.param
    WRITERS[request.param](path, x)
    return path


def test_iter_table_chunks_covers_the_file_in_bounded_chunks(table_file, x):
    chunks = list(iter_table_chunks(table_file, ["width", "pt"], CHUNK))
    assert len(chunks) >= N_ROWS // CHUNK + 1
    assert all(c.shape[0] <= CHUNK and c.dtype == np.float64 and c.flags.c_contiguous for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), x[:, [4, 0]])


@pytest.mark.parametrize("engine", ["pyarrow", "numpy"])
def test_csv_chunks_are_exactly_chunk_size(engine, monkeypatch, tmp_path, x):
    from training import tables

    monkeypatch.setattr(tables, "_csv_engine", lambda: engine)
    monkeypatch.setattr(tables, "_CSV_BLOCK_BYTES", 2048)  # pyarrow batches of ~20 rows, regrouped
    write_csv(tmp_path / "in.csv", x)
    chunks = list(iter_table_chunks(tmp_path / "in.csv", NAMES, CHUNK))
    assert [len(c) for c in chunks] == [CHUNK] * (N_ROWS // CHUNK) + [N_ROWS % CHUNK]
    np.testing.assert_array_equal(np.concatenate(chunks), x)


def test_predict_file_equals_in_memory(table_file, x, spec, tmp_path):
    out = tmp_path / "scores.parquet"
    summary = predict_file(spec, table_file, out, chunk_size=CHUNK, progress=False)
    assert summary.n_rows == N_ROWS and summary.out_path == out
    table = pq.read_table(out)
    assert table.column_names == ["score", "proba"]
    assert table.schema.field("score").type == pa.int32()
    np.testing.assert_array_equal(table["score"].to_numpy(), sk.predict_scores(spec, x)[:, 0])
    np.testing.assert_array_equal(table["proba"].to_numpy(), spec.predict_proba(x)[:, 0])
    assert pq.ParquetFile(out).num_row_groups >= N_ROWS // CHUNK  # written chunk by chunk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # no temporary left over


def test_model_file_features_and_several_outputs(tmp_path, x):
    multi = random_spec(np.random.default_rng(5), 3, (20,), n_out=3)  # no feature names stored
    path = tmp_path / "in.parquet"
    write_parquet(path, x)
    model = tmp_path / "model.npz"
    multi.to_npz(model, extra={"model_kind": np.array("something else")})  # like SQNNClassifier.save
    with pytest.raises(ValueError, match="stores no feature names; pass the 3 input columns"):
        predict_file(model, path, tmp_path / "o.parquet", progress=False)
    with pytest.raises(ValueError, match="2 features given but the model expects 3"):
        predict_file(model, path, tmp_path / "o.parquet", progress=False, features="pt,eta")
    predict_file(model, path, tmp_path / "o.parquet", chunk_size=1000, progress=False,
                 features="phi, pt,mass", proba=False)
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.column_names == output_columns(multi, proba=False) == ["score_0", "score_1", "score_2"]
    expected = sk.predict_scores(multi, x[:, [2, 0, 3]])
    got = np.column_stack([table[c].to_numpy() for c in table.column_names])
    np.testing.assert_array_equal(got, expected)


def test_errors_leave_previous_output_untouched(tmp_path, x, spec):
    path = tmp_path / "in.root"
    write_root(path, x)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous result")
    renamed = named(spec, ["pt", "eta", "phi", "mass", "area"])
    with pytest.raises(ValueError, match=r"in.root:Events: missing branch 'area'; the file has: event, mass"):
        predict_file(renamed, path, out, progress=False)
    bad = x.copy()
    bad[1500, 2] = np.nan  # in the fourth chunk: three chunks are written before the error
    write_parquet(tmp_path / "nan.parquet", bad)
    with pytest.raises(ValueError, match=r"rows 1200\.\.1599: x must be finite"):
        predict_file(spec, tmp_path / "nan.parquet", out, chunk_size=CHUNK, progress=False)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.root", "nan.parquet", "out.parquet"]
    with pytest.raises(FileNotFoundError, match="model file not found"):
        predict_file(tmp_path / "absent.npz", path, out, progress=False)
    with pytest.raises(ValueError, match=r"must be a \.parquet file"):
        predict_file(spec, path, tmp_path / "out.csv", progress=False)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        predict_file(spec, path, out, chunk_size=0, progress=False)


def test_cli_predict(tmp_path, x, spec, capsys):
    path = tmp_path / "in.csv"
    write_csv(path, x)
    spec.to_npz(tmp_path / "model.npz")
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "--out", str(tmp_path / "s.parquet"),
                 "--chunk-size", "1000"]) == 0
    assert f"wrote {N_ROWS:,} rows to" in capsys.readouterr().out
    scores = pq.read_table(tmp_path / "s.parquet")["score"].to_numpy()
    np.testing.assert_array_equal(scores, sk.predict_scores(spec, x)[:, 0])
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "-o", "s.parquet",
                 "--chunk-size", "0"]) == 2
    assert "--chunk-size must be a positive integer" in capsys.readouterr().err


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from training.streaming import load_spec, predict_file
    from training.tables import load_table

    def status(key):  # kB from /proc/self/status
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key))

    mode, data, warm, model, out = sys.argv[1:6]
    spec = load_spec(model)
    for dtype in (np.float32, np.float64):  # compile/load the serial and parallel kernels before the baseline
        for rows in (4, 100_000):
            spec.predict_proba(np.zeros((rows, spec.n_features), dtype))
    # one chunk-sized file through the same path first: pyarrow's one-off costs (library pages, thread pool,
    # allocator arenas: ~100-130 MiB, whatever the file size) stay out of the growth measured below
    if mode == "stream":
        predict_file(spec, warm, out, chunk_size=100_000, progress=False)
    else:
        np.asarray(spec.predict_proba(load_table(warm, spec.feature_names)[0]))
    try:  # reset the peak (VmHWM) to the current RSS, so the compile/import peak does not hide the work's
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = status("VmRSS:")
    except OSError:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "stream":
        n = predict_file(spec, data, out, chunk_size=100_000, progress=False).n_rows
    else:
        x = load_table(data, spec.feature_names)[0]
        n = len(x)
        np.asarray(spec.predict_proba(x))
    print(json.dumps({"n": n, "growth": (status("VmHWM:") - base) * 1024}))
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_streaming_peak_memory_is_bounded(tmp_path):
    n, f, chunk = 2_000_000, 18, 100_000
    names = [f"f{j}" for j in range(f)]
    data, warm = tmp_path / "big.parquet", tmp_path / "warm.parquet"
    rng = np.random.default_rng(0)
    schema = pa.schema([(n_, pa.float32()) for n_ in names])
    with pq.ParquetWriter(data, schema, compression="none") as w, \
            pq.ParquetWriter(warm, schema, compression="none") as w_warm:
        for i in range(n // chunk):
            cols = rng.standard_normal((f, chunk), dtype=np.float32)
            block = pa.table({n_: c for n_, c in zip(names, cols, strict=True)})
            w.write_table(block)
            if i == 0:
                w_warm.write_table(block)
    model = tmp_path / "model.npz"
    named(random_spec(np.random.default_rng(1), f, (64, 32)), names).to_npz(model)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT_DIR), os.environ.get("PYTHONPATH", "")])}
    growth = {}
    for mode in ("stream", "memory"):
        res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, mode, str(data), str(warm), str(model),
                              str(tmp_path / "out.parquet")], capture_output=True, text=True, env=env,
                             timeout=300, check=True)
        rep = json.loads(res.stdout.strip().splitlines()[-1])
        assert rep["n"] == n
        growth[mode] = rep["growth"] / 2**20
    print(f"peak RSS growth, 2M rows x 18 features: streaming (chunk 100k) {growth['stream']:.0f} MiB, "
          f"in memory {growth['memory']:.0f} MiB")
    # in memory holds at least the float64 features (2M x 18 x 8 B = 275 MiB); streaming holds one chunk
    # (14 MiB of features) plus pyarrow's decoded row group and allocator slack (~50 MiB measured),
    # independent of the row count
    assert growth["memory"] > 275
    assert growth["stream"] < 120
    assert growth["stream"] < 0.35 * growth["memory"]


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, worker_dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_predict_dask_array_and_dataframe_on_a_cluster(dask_client, spec, x):
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    arr = da.from_array(x, chunks=(500, 2))  # column chunks: predict_dask must rechunk to whole rows
    scores = predict_dask(spec, arr)
    assert scores.dtype == np.int32 and scores.chunks[0] == arr.chunks[0]
    np.testing.assert_array_equal(dask_client.compute(scores).result(), sk.predict_scores(spec, x))
    proba = dask_client.compute(predict_dask(spec, arr, proba=True)).result()
    np.testing.assert_array_equal(proba, spec.predict_proba(x))

    frame = pd.DataFrame(_file_columns(x), index=pd.RangeIndex(100, 100 + N_ROWS))
    ddf = dd.from_pandas(frame, npartitions=5)
    result = dask_client.compute(predict_dask(spec, ddf, proba=True)).result()
    assert list(result.columns) == ["score", "proba"]
    assert result.index.equals(frame.index)
    np.testing.assert_array_equal(result["score"].to_numpy(), sk.predict_scores(spec, x)[:, 0])
    np.testing.assert_array_equal(result["proba"].to_numpy(), spec.predict_proba(x)[:, 0])
    with pytest.raises(ValueError, match=r"dataframe is missing column.* 'width'"):
        predict_dask(spec, ddf.drop(columns=["width"]))
    with pytest.raises(ValueError, match="data has 4 features but the model expects 5"):
        predict_dask(spec, arr[:, :4])


def test_cli_predict_on_csv_does_not_import_pandas(tmp_path, x, spec):
    """pyarrow's to_numpy / pa.table import pandas (~1 s of start-up); the CSV -> Parquet path avoids them."""
    path = tmp_path / "in.csv"
    write_csv(path, x[:500])
    spec.to_npz(tmp_path / "model.npz")
    code = ("import sys; from training.cli import main; "
            f"rc = main(['predict', {str(tmp_path / 'model.npz')!r}, {str(path)!r}, '-o', "
            f"{str(tmp_path / 'o.parquet')!r}, '-q']); print(rc, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout
    assert out.split() == ["0", "False"]
    np.testing.assert_array_equal(pq.read_table(tmp_path / "o.parquet")["score"].to_numpy(),
                                  sk.predict_scores(spec, x[:500])[:, 0])
