import json

import pytest

from training import sweep
from training.cli import main


@pytest.mark.slow
def test_quick_sweep_writes_front(tmp_path):
    assert main(["sweep", "--quick", "--data", "default", "--out", str(tmp_path), "--gammas", "0", "10",
                       "--grl", "1"]) == 0
    rows = json.loads((tmp_path / "front.json").read_text())["default"]
    methods = {(r["method"], r["strength"]) for r in rows}
    assert methods == {("SQNN", 0.0), ("SQNN", 10.0), ("float MLP", 0.0), ("gradient reversal", 1.0)}
    for r in rows:
        assert 0.6 < r["label_auc_s1_mean"] <= 1.0  # every model learns the label on 6000 rows
        assert 0.4 < r["adversary_auc_mean"] < 0.8
        assert 0.0 <= r["ks_mean"] <= 1.0
    assert (tmp_path / "front_default.png").stat().st_size > 10_000


def test_reference_front_is_the_published_one():
    assert sweep.REFERENCE_FRONT[3.0] == (0.836, 0.520, 0.023)
    assert len(sweep.DEFAULT_GAMMAS) >= 6
