"""benchmarks.engine_ab: the same-process A/B of the fused engine (here with this tree on both sides)."""

import numpy as np

import sqnn_kernels as sk
from benchmarks.engine_ab import compare


def test_compare_alternates_calls_and_checks_the_scores_agree():
    result = compare(sk, events=300, rounds=3, dtype="float32", hidden=(64,))
    assert set(result) == {"base_best", "new_best", "base_median", "new_median", "speedup_median_of_pairs"}
    assert all(np.isfinite(v) and v > 0 for v in result.values())
    assert result["base_best"] >= result["base_median"] and result["new_best"] >= result["new_median"]
