import json

import pytest
from spec_factory import domain_toy

from training import sweep
from training.cli import main


@pytest.mark.slow
def test_quick_sweep_writes_front(tmp_path):
    assert main(["sweep", "--quick", "--data", "default", "--out", str(tmp_path), "--gammas", "0", "10",
                       "--grl", "1"]) == 0
    rows = json.loads((tmp_path / "front.json").read_text())["default"]
    methods = {(r["method"], r["strength"]) for r in rows}
    assert methods == {("SQNN", 0.0), ("SQNN", 10.0), ("SQNN budget", 0.1), ("float MLP", 0.0),
                       ("gradient reversal", 1.0)}
    budget = next(r for r in rows if r["method"] == "SQNN budget")
    assert budget["mi_heldout_mean"] >= 0 and budget["gamma_mean"] > 0
    for r in rows:
        assert 0.6 < r["label_auc_s1_mean"] <= 1.0  # every model learns the label on 6000 rows
        assert 0.4 < r["adversary_auc_mean"] < 0.8
        assert 0.0 <= r["ks_mean"] <= 1.0
    assert (tmp_path / "front_default.png").stat().st_size > 10_000


def test_reference_front_is_the_published_one():
    assert sweep.REFERENCE_FRONT[3.0] == (0.836, 0.520, 0.023)
    assert len(sweep.DEFAULT_GAMMAS) >= 6


def _small_data(n=1600, seed=0):
    return domain_toy(n, seed, domain=1.0)[:3]


def test_sweep_on_dask_equals_local_run():
    from distributed import Client, LocalCluster

    x, y, s = _small_data()
    kw = {"gammas": (0.5,), "grl_strengths": (), "seeds": (0, 1), "max_mis": (0.01,), "quick": True,
          "progress": False}
    local = sweep.run_sweep(x, y, s, **kw)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = sweep.run_sweep(x, y, s, scheduler=client, **kw)
    timing = {"fit_seconds", "fit_seconds_mean", "fit_seconds_std", "seconds_per_epoch"}

    def strip(rows):
        return [{k: ([{q: w for q, w in run.items() if q not in timing} for run in v] if k == "runs" else v)
                 for k, v in r.items() if k not in timing} for r in rows]

    assert [r["method"] for r in local] == ["SQNN", "SQNN budget", "float MLP"]
    assert strip(remote) == strip(local)
    assert len(local[1]["runs"]) == 2 and "mi_heldout" in local[1]["runs"][0]


def test_sweep_scheduler_type_error():
    x, y, s = _small_data(200)
    with pytest.raises(TypeError, match="scheduler must be a dask scheduler address"):
        sweep.run_sweep(x, y, s, gammas=(0.0,), grl_strengths=(), seeds=(0,), quick=True, progress=False,
                        scheduler=3)


def test_max_mi_flag_parsing():
    assert sweep._parse_budgets("0.1,0.03, 0.001") == [0.1, 0.03, 0.001]
    assert sweep._parse_budgets("") == []
    with pytest.raises(ValueError, match="--max-mi must be comma-separated numbers"):
        sweep._parse_budgets("0.1,abc")
    with pytest.raises(ValueError, match="positive numbers of bits"):
        sweep._parse_budgets("0.1,-1")


def test_budget_plot_shows_budget_and_audit(tmp_path):
    rows = [{"method": "SQNN", "strength": 0.0, "label_auc_mean": 0.85, "label_auc_std": 0.0,
             "adversary_auc_mean": 0.6, "adversary_auc_std": 0.0}]
    rows += [{"method": "SQNN budget", "strength": e, "label_auc_mean": 0.84, "label_auc_std": 0.01,
              "adversary_auc_mean": 0.5 + e, "adversary_auc_std": 0.01, "mi_heldout_mean": e / 2}
             for e in (0.1, 0.01, 0.001)]
    sweep.plot_front(rows, tmp_path / "f.png", "t", reference=False, auc_key="label_auc")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_sweep_help_lists_the_default_budget_grid():
    from training.budget import DEFAULT_BUDGETS
    from training.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command" or a.choices)
    text = sub.choices["sweep"].format_help().replace("\n", " ")
    assert ",".join(f"{e:g}" for e in DEFAULT_BUDGETS) in " ".join(text.split()).replace(" ", "")
