"""The examples run end to end (``--quick``) in a fresh interpreter, as a user would run them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sqnn_kernels as sk

ROOT_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sim_to_data_workflow_quick(tmp_path):
    pytest.importorskip("pyarrow")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT_DIR), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, str(ROOT_DIR / "examples" / "sim_to_data_workflow.py"), "--quick",
                          "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    text = res.stdout
    assert "chunked file scores equal the in-memory model: True" in text

    # the comparison table: one row per gamma with AUC sim, AUC data, adversary AUC, KS, MI per layer
    rows = {m[0]: [float(v) for v in m[1:6]] for m in
            re.findall(r"^\s+(\S+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)", text, re.M)}
    assert set(rows) == {"0", "2"}, text
    for auc_sim, auc_data, adv, ks, mi0 in rows.values():
        assert 0.6 < auc_sim <= 1 and 0.6 < auc_data <= 1  # quark/gluon separation is learned
        assert 0.3 < adv < 0.8 and 0 <= ks <= 1 and mi0 >= 0

    spec = sk.BinaryNetSpec.from_npz(out / "model.npz")
    assert spec.n_features == 18 and len(spec.feature_names) == 18
    assert (out / "fpga" / "sqnn_params.vh").is_file()
    import pyarrow.parquet as pq

    scores = pq.read_table(out / "scores.parquet")
    n = int(re.search(r"scored (\d+) events", text).group(1))
    assert scores.num_rows == n > 1000
    assert np.all((scores["proba"].to_numpy() > 0) & (scores["proba"].to_numpy() < 1))
