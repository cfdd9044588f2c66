"""Run a subset of the kernel tests with ``NUMBA_DISABLE_JIT=1`` so the kernels' Python source is covered."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

SUBSET = [
    "test_bits.py::test_pack_matches_reference_and_roundtrips",
    "test_dense.py::test_xnor_popcount_matches_reference",
    "test_dense.py::test_threshold_matches_reference",
    "test_dense.py::test_table_lookup_and_popcount_paths_match_reference",
    "test_thermometer.py::test_thermometer_matches_reference",
    "test_bernoulli.py::test_bernoulli_matches_reference",
    "test_information.py::test_per_neuron_mi_matches_reference",
    "test_information.py::test_joint_mi_matches_reference",
    "test_information.py::test_xor_dependence_is_seen_only_by_joint_mi",
    "test_spec.py::test_forward_matches_reference",
    "test_fused.py::test_group_code_means_matches_twin",
    "test_fused.py::test_category_rows_matches_twin",
    "test_fused.py::test_sample_pm1_is_bernoulli_pack_unpacked",
    "test_fused.py::test_stochastic_activation_matches_twin",
    "test_fused.py::test_activation_table_and_lookup_match_twins",
    "test_fused.py::test_unpack_pm1_matches_twin",
    "test_fused.py::test_layer_backward_matches_twin",
]


@pytest.mark.slow
def test_kernel_subset_without_jit():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        pytest.skip("already running without JIT")
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "HYPOTHESIS_PROFILE": "nojit"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::RuntimeWarning",
           *[str(HERE / t) for t in SUBSET]]
    result = subprocess.run(cmd, cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "failed" not in result.stdout
