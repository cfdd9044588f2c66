"""Run the engine and dense tests with code generated for an AVX2-only CPU (``NUMBA_CPU_NAME=haswell``).

The vector IR of ``ge_mask64`` and ``lane_codes`` lowers differently without AVX-512 (``vpmovmskb`` instead of
mask registers, ymm instead of zmm), and the dense kernels take the table-lookup path (``_lut``)
where there is no vector popcount; this host runs both, so both code paths are checked on every CI run.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

SUBSET = [
    "test_engine.py::test_every_feature_grouping_is_exact[1]",  # [3] is not a default grouping
    "test_engine.py::test_every_feature_grouping_is_exact[2]",
    "test_engine.py::test_engine_edge_counts_and_unpaired_tables",
    "test_engine.py::test_non_finite_values_are_found_anywhere",
    "test_engine.py::test_values_past_a_row_do_not_leak_into_it",
    "test_engine.py::test_float32_edges_are_rounded_up_exactly",
    "test_engine.py::test_values_at_and_beside_their_edges_in_every_lane",
    "test_engine.py::test_later_layers_by_popcount_or_byte_tables",
    "test_engine.py::test_one_word_byte_layer_at_its_extremes",
    "test_dense.py::test_xnor_popcount_matches_reference",
    "test_dense.py::test_threshold_matches_reference",
    "test_dense.py::test_wide_rows_match_reference",
    "test_dense.py::test_counts_at_their_largest_cross_every_counter_width",
]


@pytest.mark.slow
def test_engine_with_avx2_code(tmp_path):
    if os.environ.get("NUMBA_CPU_NAME"):
        pytest.skip("already running with a chosen CPU target")
    env = {**os.environ, "NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(HERE / t) for t in SUBSET]]
    result = subprocess.run(cmd, cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "failed" not in result.stdout
