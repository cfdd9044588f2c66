import numpy as np
import pytest

from benchmarks.machine import cpu_info, describe, thread_info


def pytest_report_header(config):
    return f"sqnn benchmarks: {describe()}"


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update(cpu_info())
    machine_info.update(thread_info())


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(2024)
