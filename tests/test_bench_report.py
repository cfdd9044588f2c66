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
    assert numba_isa({"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""}) == "AVX2 (haswell code)"
    assert numba_isa({"NUMBA_CPU_NAME": "haswell"}) == f"{numba_isa({})} (host features, haswell tuning)"
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


def test_hepinfo_peer_lines_and_availability(tmp_path):
    import sys

    from benchmarks import hepinfo_peer

    sqnn = {"group": "fit vs hepinfo", "batch": 200, "threads": 2, "epoch_s_median": 0.8,
            "hepinfo_epoch_s_median": 1.6, "epoch_wall_vs_hepinfo": 0.5, "epoch_cpu_s_median": 0.5,
            "hepinfo_epoch_cpu_s_median": 1.0, "epoch_cpu_vs_hepinfo": 0.5, "peak_rss_mb": 282.0,
            "hepinfo_peak_rss_mb": 716.0, "first_prediction_s": 2.5, "hepinfo_first_prediction_s": 7.5}
    text = report.format_hepinfo([sqnn, {"group": "fit 50k", "batch": None}])
    assert text.splitlines() == [
        "fit vs hepinfo, batch 200, 2 thread(s): s/epoch wall 0.800 (hepinfo 1.600, x0.50), CPU 0.500 "
        "(hepinfo 1.000, x0.50), peak RSS MB 282 (hepinfo 716), new process to first prediction s 2.50 "
        "(hepinfo 7.50)"]
    assert report.format_hepinfo([{"group": "fit 50k"}]) == ""
    assert not hepinfo_peer.hepinfo_available(None)
    assert not hepinfo_peer.hepinfo_available(str(tmp_path / "no-python"))
    assert not hepinfo_peer.hepinfo_available(sys.executable)  # sqnn's env never holds hepinfo
    rows = [{"learner": "sqnn", "batch": 200, "threads": 1, "epoch_wall_s": 0.5, "epoch_cpu_s": 0.4,
             "ratio": 0.5, "peak_rss_mb": 280.0, "first_prediction_s": 2.0}]
    last = hepinfo_peer.format_table(rows).splitlines()[-1]
    assert last == "| sqnn | 200 | 1 | 0.500 | 0.400 | 0.50 | 280 | 2.00 |"
