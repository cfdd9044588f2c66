"""Smoke tests of ``benchmarks.report``: a --quick run on a tiny subset; plots from synthetic results."""

import json

import pytest

from benchmarks import coldstart, report
from benchmarks.machine import isa_of_features, numba_isa


@pytest.mark.slow
def test_quick_report_writes_json_and_plots(tmp_path, capsys):
    out = tmp_path / "bench"
    code = report.main([
        "--quick", "--threads", "1", "2", "--suite", "benchmarks/test_network.py",
        "-k", "layer_numpy_float32 or layer_xnor_popcount", "--out", str(out), "--no-coldstart",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "CPU:" in printed and "SIMD:" in printed and "x baseline" in printed

    data = json.loads((out / "results.json").read_text())
    assert data["threads"] == [1, 2] and data["quick"] is True
    assert {"cpu", "simd", "cores"} <= set(data["machine"])
    rows = data["rows"]
    groups = {r["group"] for r in rows}
    assert groups == {"layer 256x64->64", "layer 256x256->256"}
    assert {r["threads"] for r in rows} == {1, 2}
    assert len(rows) == 2 * 2 * 2  # 2 widths x 2 implementations x 2 thread counts
    for r in rows:
        assert r["median_s"] > 0 and r["events_per_s"] > 0 and r["gmacs"] > 0
        assert r["speedup_vs_baseline"] > 0
        assert r["baseline"].startswith("layer_numpy_float32")
        assert r["width"] in (64, 256)
        assert r["isa"] == numba_isa()
        if r["name"].startswith("layer_numpy_float32"):
            assert r["speedup_vs_baseline"] == pytest.approx(1.0)

    assert set(data["plots"]) == {"throughput_vs_width.png", "thread_scaling.png"}
    for name in data["plots"]:
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def _bench(group, name, median, **extra):
    return {"group": group, "name": name, "extra_info": extra,
            "stats": {"median": median, "min": median * 0.9, "rounds": 3}}


def test_summarise_ratios_use_events_and_plots_all_kinds(tmp_path):
    rows = []
    for threads, speed in ((1, 1.0), (2, 1.8)):
        results = {"benchmarks": [
            # the twin runs on fewer events: the ratio must compare events/s, not times
            _bench("net", "test_net_small_numpy_float32_mlp", 1.0 / speed, events=1000, baseline=True),
            _bench("net", "test_net_small_numpy_twin", 1.0 / speed, events=100),
            _bench("net", "test_net_small_sqnn_fused", 0.1 / speed, events=1000),
            *[_bench(f"layer 64x{w}->{w}", f"test_layer_xnor_popcount[{w}]", w * w * 1e-9 / speed, events=64,
                     width=w, macs=64 * w * w) for w in (64, 256)],
            *[_bench("batch", f"test_batch_sqnn_fused[{n}]", n * 1e-7 / speed, events=n, batch=n,
                     peak_rss_mb=300.0 + n * 1e-4, inference_extra_mb=0.5, baseline=n == 1000)
              for n in (1000, 10000)],
        ]}
        rows += report.summarise(results, threads)
    by = {(r["name"], r["threads"]): r for r in rows}
    assert by[("net_small_numpy_twin", 1)]["speedup_vs_baseline"] == pytest.approx(0.1)
    assert by[("net_small_sqnn_fused", 2)]["speedup_vs_baseline"] == pytest.approx(10.0)
    assert by[("net_small_sqnn_fused", 2)]["events_per_s"] == pytest.approx(18000.0)
    assert by[("batch_sqnn_fused[10000]", 1)]["speedup_vs_baseline"] == pytest.approx(1.0)
    assert "net_small_sqnn_fused" in report.format_table(rows)

    plots = report.plot_results(rows, tmp_path)
    assert set(plots) == {"throughput_vs_width.png", "throughput_vs_batch.png", "thread_scaling.png"}
    assert all((tmp_path / p).stat().st_size > 5000 for p in plots)


def test_isa_names_from_llvm_or_cpuinfo_flags_and_cpu_names():
    assert isa_of_features({"+avx2", "+avx512bw", "+avx512vpopcntdq"}) == "AVX-512 VPOPCNTDQ"
    assert isa_of_features({"avx2", "avx512bw", "avx512_vpopcntdq"}) == "AVX-512 VPOPCNTDQ"
    assert isa_of_features({"+avx2", "+avx512bw"}) == "AVX-512"
    assert isa_of_features({"+avx2", "+sse4.2"}) == "AVX2"
    assert numba_isa({"NUMBA_CPU_NAME": "haswell"}) == "AVX2 (haswell code)"
    assert numba_isa({"NUMBA_CPU_NAME": "x", "NUMBA_CPU_FEATURES": "+avx2"}) == "AVX2 (x code)"


def test_coldstart_child_peak_rss_and_table():
    r = coldstart.run_child(["-c", "import numpy as np; a = np.ones(40 * 2**20 // 8); print(a.sum() > 0)"],
                            coldstart._env(coldstart.ROOT / ".no-cache"))
    assert r["stdout"].strip() == "True" and r["peak_rss_mb"] > 40 and r["wall_s"] > 0 and r["cpu_s"] > 0
    with pytest.raises(RuntimeError, match="failed"):
        coldstart.run_child(["-c", "raise SystemExit(3)"], coldstart._env(coldstart.ROOT / ".no-cache"))
    rows = [{"what": "first score, cold cache", "wall_s": 9.5, "cpu_s": 9.0, "peak_rss_mb": 300.0,
             "import_s": 0.3, "load_s": 0.01, "score_s": 9.0, "cache_kb": 400.0,
             "isa": "AVX2 (haswell code)"},
            {"what": "peak RSS: fit", "wall_s": 2.0, "cpu_s": 1.5, "peak_rss_mb": 512.0, "isa": "AVX2"}]
    table = coldstart.format_table(rows)
    assert "first score, cold cache" in table and "400" in table and "AVX2 (haswell code)" in table
    assert "score 1,000 events 9.00 s" in table and "512" in table
