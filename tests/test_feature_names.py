"""Issue 15.3: the model's feature names (and their order) are checked on every prediction path."""

from __future__ import annotations

import numpy as np
import pytest

from training import SQNNClassifier
from training.cli import main
from training.streaming import predict_dask, predict_file


def _csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4)) + y[:, None] * 0.8
    lines = ["a,b,c,d,y"] + [",".join(f"{v:.5f}" for v in r) + f",{yy}" for r, yy in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("names")
    data = _csv(tmp / "d.csv")
    model = tmp / "m.npz"
    assert main(["train", "--data", str(data), "--domain", "none", "--hidden", "8", "--epochs", "2",
                 "--gamma", "0", "--out", str(model), "--quiet"]) == 0
    return data, model


def test_cli_model_remembers_names(trained):
    _, model = trained
    loaded = SQNNClassifier.load(model)
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]


def test_cli_predict_rejects_reordered_features(trained, tmp_path, capsys):
    data, model = trained
    code = main(["predict", str(model), str(data), "--out", str(tmp_path / "o.parquet"), "--quiet",
                 "--features", "d,c,b,a"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "do not match the model's feature names a,b,c,d" in err[0]
    assert not (tmp_path / "o.parquet").exists()
    assert main(["predict", str(model), str(data), "--out", str(tmp_path / "o.parquet"), "--quiet",
                 "--features", "a,b,c,d"]) == 0


def test_predict_file_and_dask_reject_other_names(trained, tmp_path):
    import dask.dataframe as dd
    import pandas as pd

    data, model = trained
    with pytest.raises(ValueError, match="names and order must be the same"):
        predict_file(model, data, tmp_path / "o.parquet", progress=False, features=["b", "a", "c", "d"])
    frame = pd.read_csv(data)
    ddf = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ValueError, match="do not match the model's feature names"):
        predict_dask(model, ddf, features="d,c,b,a")
    with pytest.raises(ValueError, match="do not match the model's feature names"):
        predict_dask(model, ddf.rename(columns={"a": "x"}), features=["x", "b", "c", "d"])
    result = predict_dask(model, ddf, proba=True).compute(scheduler="synchronous")
    expected = SQNNClassifier.load(model).predict_proba(frame[["a", "b", "c", "d"]])[:, 1]
    np.testing.assert_array_equal(result["proba"].to_numpy(), expected)


def test_cli_train_takes_plus_minus_one_labels_and_several_classes(tmp_path, capsys):
    rng = np.random.default_rng(3)
    n = 300
    c = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 3)) + np.eye(3)[c] * 2.0
    for labels, extra in ((np.where(c == 0, -1, 1), ["--unlabelled", "none"]), (c, [])):
        path = tmp_path / "d.csv"
        rows = zip(x, labels, strict=True)
        lines = ["a,b,c,y"] + [",".join(f"{v:.5f}" for v in r) + f",{yy}" for r, yy in rows]
        path.write_text("\n".join(lines) + "\n")
        out = tmp_path / "m.npz"
        assert main(["train", "--data", str(path), "--domain", "none", "--hidden", "8", "--epochs", "2",
                     "--gamma", "0", "--out", str(out), "--quiet", *extra]) == 0, capsys.readouterr().err
        assert list(SQNNClassifier.load(out).classes_) == sorted(set(labels.tolist()))
    assert main(["train", "--data", str(path), "--unlabelled", "x", "--out", str(out)]) == 2
    assert "--unlabelled must be an integer" in capsys.readouterr().err
