"""benchmarks.dense_ratio: the same-process ratio of the dense kernels to numpy (tiny shapes)."""

import numpy as np

from benchmarks.dense_ratio import alternate, calls_for, ratios


def test_alternating_calls_give_a_ratio_per_kernel_and_check_the_dots():
    calls = calls_for(9, 130, 70)
    times = alternate(calls, 3)
    assert all(len(t["wall"]) == 3 and len(t["cpu"]) == 3 for t in times.values())
    result = ratios(times, 9 * 130 * 70)
    assert set(result) == {"numpy", "xnor_popcount_dense", "binary_dense_threshold"}
    assert result["numpy"]["ratio_wall"] == 1.0
    assert all(np.isfinite(r["best_gmacs"]) and r["best_gmacs"] > 0 for r in result.values())
