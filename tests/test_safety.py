"""Never silently wrong, never destroys user data (issue 15): files, modes, links, guards, loaders."""

from __future__ import annotations

import importlib
import os
import stat
import time

import numpy as np
import pytest
from spec_factory import random_spec

from sqnn_kernels import fileio
from training.cli import main


@pytest.fixture
def spec():
    return random_spec(np.random.default_rng(0), 3, (8,))


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _csv(path, n=200, seed=0, header="a,b,c,y,s"):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 3)) + y[:, None]
    lines = [header] + [f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{a},{b}" for r, a, b in zip(x, y, s, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(capsys, code):
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- item 4: modes ------------------------------------------------------------------------------------------
def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_mode(tmp_path, spec, umask022):
    p = tmp_path / "m.npz"
    spec.to_npz(p)
    assert _mode(p) == 0o644
    os.chmod(p, 0o640)
    spec.to_npz(p)
    assert _mode(p) == 0o640
    os.umask(0o077)
    q = tmp_path / "q.npz"
    spec.to_npz(q)
    assert _mode(q) == 0o600


# -- item 9: long names, links, stale temporaries -----------------------------------------------------------
def test_long_file_name_works(tmp_path, spec):
    p = tmp_path / ("m" * 247 + ".npz")  # 251 bytes: fits the 255-byte limit, a '.<name>.xxxx.tmp' would not
    spec.to_npz(p)
    assert p.is_file()
    assert sorted(os.listdir(tmp_path)) == [p.name]


def test_symlinked_file_is_written_through(tmp_path, spec):
    real = tmp_path / "real.npz"
    spec.to_npz(real)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    spec.to_npz(link)
    assert link.is_symlink() and real.is_file()


def test_stale_temporaries_of_a_dead_process_are_removed_others_kept(tmp_path, spec):
    dead = 2**22 + 12345  # above Linux pid_max (4194304): no such process
    old = time.time() - 3600
    stale = tmp_path / f"{fileio.TMP_PREFIX}{dead}-0123abcd.tmp"
    stale.write_bytes(b"partial")
    stale_dir = tmp_path / f"{fileio.TMP_PREFIX}{dead}-89abcdef"
    stale_dir.mkdir()
    (stale_dir / "x.mem").write_text("1")
    young = tmp_path / f"{fileio.TMP_PREFIX}{dead}-00000000.tmp"
    young.write_bytes(b"being written on another host")
    alive = tmp_path / f"{fileio.TMP_PREFIX}{os.getpid()}-11111111.tmp"
    alive.write_bytes(b"ours, in progress")
    user = tmp_path / ".sqnn-tmp-notes.txt"  # not our pattern
    user.write_text("mine")
    for p in (stale, stale_dir, alive, user):
        os.utime(p, (old, old))
    spec.to_npz(tmp_path / "m.npz")
    assert not stale.exists() and not stale_dir.exists()
    assert young.exists() and alive.exists() and user.exists()


# -- item 5: the output must not overwrite the input ------------------------------------------------------
def test_train_refuses_to_overwrite_its_data(tmp_path, capsys):
    data = _csv(tmp_path / "x.csv")
    before = data.read_bytes()
    code = main(["train", "--data", str(data), "--out", str(data), "--epochs", "1", "--quiet"])
    line = _one_line(capsys, code)
    assert "overwrite the input" in line
    assert data.read_bytes() == before
    link = tmp_path / "alias.csv"
    link.symlink_to(data)
    code = main(["train", "--data", str(link), "--out", str(data), "--epochs", "1", "--quiet"])
    assert "overwrite the input" in _one_line(capsys, code)
    assert data.read_bytes() == before



def test_export_onnx_refuses_to_overwrite_its_model(tmp_path, capsys, spec):
    model = tmp_path / "m.npz"
    spec.to_npz(model)
    before = model.read_bytes()
    line = _one_line(capsys, main(["export-onnx", str(model), "--out", str(model)]))
    assert "overwrite the input" in line and model.read_bytes() == before


def test_killed_fpga_build_leftovers_are_cleaned(tmp_path, monkeypatch, spec):
    import fpga

    sim = importlib.import_module("fpga.simulate")
    out = fpga.write_project(spec, tmp_path / "proj")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    left = cache / f"{fileio.TMP_PREFIX}{2**22 + 7}-0badc0de"
    left.mkdir()
    (left / "obj").mkdir()
    old = time.time() - 3600
    os.utime(left, (old, old))
    monkeypatch.setattr(sim, "_build_verilator", _no_build)
    with pytest.raises(_Built):
        fpga.build(out, cache_dir=cache)
    assert not left.exists()
    assert os.listdir(cache) == []  # the interrupted build of this call is removed too


# -- item 6: the CLI and the Python loader agree on the domain column ---------------------------------------
def test_train_default_domain_is_s_like_load_csv(tmp_path, capsys):
    from training import SQNNClassifier
    from training.datasets import load_csv

    data = _csv(tmp_path / "d.csv")
    out = tmp_path / "m.npz"
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--hidden", "4",
                 "--quiet"]) == 0
    names = SQNNClassifier.load(out).to_spec().feature_names
    assert names == load_csv(data)[3] == ["a", "b", "c"]
    no_s = _csv(tmp_path / "n.csv", header="a,b,c,y,t")
    line = _one_line(capsys, main(["train", "--data", str(no_s), "--out", str(out), "--quiet"]))
    assert "missing domain column 's'" in line and "--domain none" in line
    assert main(["train", "--data", str(no_s), "--domain", "none", "--out", str(out), "--epochs", "1",
                 "--hidden", "4", "--gamma", "0", "--quiet"]) == 0
    assert SQNNClassifier.load(out).to_spec().feature_names == ["a", "b", "c", "t"]


# -- item 2: FPGA export never deletes user files ------------------------------------------------------------
def test_fpga_export_refuses_a_folder_with_a_foreign_manifest(spec, tmp_path):
    import fpga

    app = tmp_path / "webapp"
    (app / "src").mkdir(parents=True)
    (app / "index.html").write_text("<html/>")
    (app / "manifest.json").write_text('{"name": "my web app"}')
    with pytest.raises(ValueError, match="not an sqnn FPGA project manifest"):
        fpga.write_project(spec, app)
    assert (app / "index.html").read_text() == "<html/>" and (app / "src").is_dir()


def test_fpga_re_export_refuses_user_added_and_edited_files(spec, tmp_path):
    import fpga

    out = fpga.write_project(spec, tmp_path / "proj")
    (out / "resources_xilinx.rpt").write_text("yosys log")  # what fpga.estimate_resources writes there
    (out / "sqnn_core_netlist.v").write_text("module sqnn_core; endmodule\n")  # fpga.synthesize_netlist
    fpga.write_project(spec, out)  # an untouched earlier export (and its reports) is replaced
    assert not (out / "resources_xilinx.rpt").exists()
    (out / "my_top.v").write_text("module my_top; endmodule\n")
    (out / "vivado").mkdir()
    with pytest.raises(ValueError, match=r"not written by sqnn: my_top\.v, vivado"):
        fpga.write_project(spec, out)
    assert (out / "my_top.v").is_file() and (out / "vivado").is_dir()
    (out / "my_top.v").unlink()
    (out / "vivado").rmdir()
    with open(out / "sqnn_params.vh", "a") as f:
        f.write("// my note\n")
    with pytest.raises(ValueError, match=r"changed since export: sqnn_params\.vh"):
        fpga.write_project(spec, out)
    assert "my note" in (out / "sqnn_params.vh").read_text()


def test_demo_refuses_user_files_in_out_fpga_before_training(spec, tmp_path, capsys, monkeypatch):
    import fpga
    from training import cli

    out = tmp_path / "D"
    fpga.write_project(spec, out / "fpga")
    (out / "fpga" / "constraints.xdc").write_text("set_property ...")
    monkeypatch.setattr("training.datasets.load_showers", lambda: pytest.fail("trained before checking"))
    line = _one_line(capsys, cli.main(["demo", "--out", str(out), "--quiet"]))
    assert "constraints.xdc" in line
    with pytest.raises(ValueError, match=r"constraints\.xdc"):
        cli._write_fpga(spec, out / "fpga")
    assert (out / "fpga" / "constraints.xdc").is_file()


def test_fpga_export_through_a_symlinked_folder_keeps_the_link(spec, tmp_path, umask022):
    import fpga

    real = tmp_path / "real"
    fpga.write_project(spec, real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    fpga.write_project(spec, link, frac_bits=6)
    assert link.is_symlink() and os.path.samefile(link, real)
    fpga.verify_project(real, spec)
    assert sorted(os.listdir(tmp_path)) == ["link", "real"]  # no .new-* or temporary left
    assert _mode(real) == 0o755 and _mode(real / "sqnn_params.vh") == 0o644
    long = tmp_path / ("p" * 250)
    fpga.write_project(spec, long)
    assert (long / "manifest.json").is_file()


# -- item 1: the FPGA build cache is private and runs only what it built -------------------------------------
class _Built(Exception):
    pass


def _no_build(*args, **kwargs):
    raise _Built


def test_simulate_cache_defaults_to_a_private_user_cache_dir(tmp_path, monkeypatch):
    import tempfile

    import fpga
    sim = importlib.import_module("fpga.simulate")

    monkeypatch.delenv("SQNN_FPGA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert fpga.default_cache_dir() == tmp_path / "xdg" / "sqnn" / "fpga"
    root = sim.private_cache()
    assert root == tmp_path / "xdg" / "sqnn" / "fpga" and _mode(root) == 0o700


def test_simulate_refuses_a_cache_others_can_write_or_own(tmp_path, monkeypatch, spec):
    import fpga
    sim = importlib.import_module("fpga.simulate")

    out = fpga.write_project(spec, tmp_path / "proj")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setattr(sim, "_build_verilator", _no_build)
    with pytest.raises(fpga.UnsafeCacheError, match="mode 0777"):
        fpga.build(out, cache_dir=shared)
    os.chmod(shared, 0o700)
    monkeypatch.setattr(sim, "_uid", lambda: os.getuid() + 1)
    with pytest.raises(PermissionError, match="owned by user id"):
        fpga.build(out, cache_dir=shared)


def test_simulate_never_runs_a_binary_it_did_not_build(tmp_path, monkeypatch, spec):
    import fpga
    sim = importlib.import_module("fpga.simulate")

    out = fpga.write_project(spec, tmp_path / "proj")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    built = {}

    def fake_build(exe, root, work, sources, defines, timeout):  # stands in for verilator + make
        (work / "Vsqnn_tb").write_text("#!/bin/sh\necho built by us\n")
        built["n"] = built.get("n", 0) + 1

    monkeypatch.setattr(sim, "_build_verilator", fake_build)
    binary = fpga.build(out, cache_dir=cache)
    assert built["n"] == 1 and fpga.build(out, cache_dir=cache) == binary and built["n"] == 1  # reused
    binary.write_text("#!/bin/sh\ntouch planted\n")  # replaced behind our back
    assert fpga.build(out, cache_dir=cache) == binary and built["n"] == 2
    assert "built by us" in binary.read_text()
    runtime = sim._runtime_dir(cache)
    runtime.mkdir()
    (runtime / "Makefile").write_text("all:\n\ttouch planted\n")  # unrecorded runtime objects: not copied
    assert sim._verified(runtime) is None


# -- item 16: missing build tools are named up front ---------------------------------------------------------
def test_simulate_names_missing_make_and_compiler(tmp_path, monkeypatch, spec):
    import fpga
    sim = importlib.import_module("fpga.simulate")

    out = fpga.write_project(spec, tmp_path / "proj")
    real = sim.tools.find_tool
    gone = {"make", "g++", "c++", "clang++"}
    monkeypatch.setattr(sim.tools, "find_tool", lambda *names: None if gone & set(names) else real(*names))
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(sim, "_build_verilator", _no_build)
    with pytest.raises(fpga.SimulationError, match=r"make \(apt-get install make\); a C\+\+ compiler"):
        fpga.simulate(out, np.zeros((2, 3)), cache_dir=tmp_path / "c")


def test_bench_without_the_test_extra_is_one_line(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pytest_benchmark(name, *args, **kwargs):
        if name.startswith("benchmarks.report") or name.startswith("pytest_benchmark"):
            raise ModuleNotFoundError("No module named 'pytest_benchmark'", name="pytest_benchmark")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pytest_benchmark)
    line = _one_line(capsys, main(["bench", "--quick"]))
    assert "pip install" in line and "[test]" in line
    monkeypatch.setattr(builtins, "__import__", real_import)
    import importlib.util

    real_find = importlib.util.find_spec
    gone = "pytest_benchmark"
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == gone else real_find(n, *a))
    line = _one_line(capsys, main(["bench", "--quick"]))
    assert line.endswith("(pip install -e '.[test]'): missing pytest_benchmark")


# -- item 8: model files checked before decompressing; extras loadable and consistent ------------------------
def _reseal(path, members: dict[str, bytes]) -> None:
    """Rewrite a model file with raw npy members (as an attacker could) and a valid seal."""
    import hashlib
    import io
    import zipfile

    from sqnn_kernels import spec as spec_mod

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, raw in members.items():
            z.writestr(name, raw)
        z.comment = b"\0" * spec_mod._TRAILER
    data = bytearray(buf.getvalue())
    n = spec_mod._TRAILER
    data[-n:] = spec_mod._DIGEST_TAG + hashlib.sha256(data[:-n]).hexdigest().encode()
    path.write_bytes(bytes(data))


def _members(path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_model_file_declaring_a_huge_array_is_refused_before_decompressing(spec, tmp_path):
    import io

    import sqnn_kernels as sk

    p = tmp_path / "m.npz"
    spec.to_npz(p)
    members = _members(p)
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint64))
    header["shape"] = (3 * 2**27,)  # 3 GiB of uint64 declared
    fake = io.BytesIO()
    np.lib.format.write_array_header_1_0(fake, header)
    members["output_weights.npy"] = fake.getvalue() + b"\0" * 4096
    _reseal(p, members)
    with pytest.raises(ValueError, match=r"declares shape \(402653184,\)"):
        sk.BinaryNetSpec.from_npz(p)
    spec.to_npz(p, extra={"big": np.zeros(10_000)})  # 80 kB decompressed, a few hundred bytes on disk
    assert p.stat().st_size < 5000
    with pytest.raises(ValueError, match="more than the limit of 50000 bytes"):
        sk.BinaryNetSpec.from_npz(p, max_bytes=50_000)
    assert sk.BinaryNetSpec.from_npz(p, max_bytes=100_000).widths == spec.widths


def test_to_npz_rejects_extras_it_could_not_load_back(spec, tmp_path):
    import sqnn_kernels as sk

    p = tmp_path / "m.npz"
    for bad in ({"meta": {"a": 1}}, {"objs": np.array([1, "a", None], dtype=object)}):
        with pytest.raises(TypeError, match="JSON text"):
            spec.to_npz(p, extra=bad)
        assert not p.exists()
    with pytest.raises(ValueError, match="extra names"):
        spec.to_npz(p, extra={"a/b": np.zeros(2)})
    spec.to_npz(p, extra={"meta": np.array('{"a": 1}'), "w": np.arange(3.0)})
    _, extra = sk.BinaryNetSpec.from_npz(p, return_extra=True)
    assert str(extra["meta"]) == '{"a": 1}' and extra["w"].tolist() == [0.0, 1.0, 2.0]


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    from training import SQNNClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    model = SQNNClassifier(hidden=(8,), epochs=1, gamma=0.0, random_state=0).fit(X, y)
    p = tmp_path_factory.mktemp("clf") / "m.npz"
    model.save(p)
    return p, X


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda e: e.pop("layer0_W"), "missing array 'layer0_W'"),
        (lambda e: e.__setitem__("layer0_W", e["layer0_W"][:, :4]), r"'layer0_W' is float64 \(\d+, 4\)"),
        (lambda e: e.__setitem__("layer0_W", -e["layer0_W"]), "hidden layer 0 weights differ"),
        (lambda e: e.__setitem__("output_alpha_c", e["output_alpha_c"] * 2), "output"),
    ],
)
def test_loaded_classifier_latents_must_match_the_sealed_spec(saved_classifier, tmp_path, edit, match):
    import sqnn_kernels as sk
    from training import SQNNClassifier

    src, X = saved_classifier
    spec, extra = sk.BinaryNetSpec.from_npz(src, return_extra=True)
    assert SQNNClassifier.load(src).predict_proba(X).shape == (len(X), 2)
    edit(extra)
    bad = tmp_path / "bad.npz"
    spec.to_npz(bad, extra=extra)
    with pytest.raises(ValueError, match=match):
        SQNNClassifier.load(bad)


# -- item 7: CSV and ROOT problems are clear one-line errors naming the file --------------------------------
@pytest.fixture(params=["pyarrow", "numpy"])
def csv_engine(request, monkeypatch):
    from training import tables

    monkeypatch.setattr(tables, "_csv_engine", lambda: request.param)
    return request.param


def test_csv_duplicate_header_names_are_refused(csv_engine, tmp_path):
    from training.datasets import load_csv
    from training.tables import load_table

    p = tmp_path / "d.csv"
    p.write_text("pt,eta,pt,y\n1,2,3,0\n4,5,6,1\n")
    for load in (lambda: load_table(p, label="y"), lambda: load_table(p, ["pt", "eta"]),
                 lambda: load_csv(p, domain=None)):
        with pytest.raises(ValueError, match=r"d\.csv: the header names column 'pt' more than once"):
            load()


def test_csv_byte_order_mark_is_not_part_of_the_first_name(csv_engine, tmp_path):
    import gzip

    from training.tables import load_table

    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffpt,y\n1.5,0\n2.5,1\n".encode())
    x, y, _, names = load_table(p, label="y")
    assert names == ["pt"] and x[:, 0].tolist() == [1.5, 2.5] and y.tolist() == [0, 1]
    g = tmp_path / "bom.csv.gz"
    g.write_bytes(gzip.compress(p.read_bytes()))
    assert load_table(g, ["pt"], label="y")[3] == ["pt"]


@pytest.mark.parametrize("value", ["1e30", "inf", "-9.3e18"])
def test_csv_huge_or_infinite_label_names_the_value(csv_engine, tmp_path, value):
    from training.tables import load_table

    p = tmp_path / "d.csv"
    p.write_text(f"a,y\n1,0\n2,{value}\n")
    match = r"label column 'y' must hold integers; data row 2 has (-?9\.3e\+18|1e\+30|inf)"
    with pytest.raises(ValueError, match=match):
        load_table(p, label="y")


def test_truncated_csv_gz_is_one_line_naming_the_file(csv_engine, tmp_path, capsys, spec):
    import gzip

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    rows = "\n".join(f"{a:.6f},{b:.6f},{c:.6f},{int(a > 0)},{int(b > 0)}" for a, b, c in x)
    full = gzip.compress(("a,b,c,y,s\n" + rows + "\n").encode())
    p = tmp_path / "t.csv.gz"
    p.write_bytes(full[: len(full) // 2])
    line = _one_line(capsys, main(["train", "--data", str(p), "--out", str(tmp_path / "m.npz"), "--quiet"]))
    assert "t.csv.gz: truncated or corrupt gzip file" in line
    spec_path = tmp_path / "spec.npz"
    random_spec(np.random.default_rng(0), 3, (4,)).to_npz(spec_path)
    out = str(tmp_path / "o.parquet")
    code = main(["predict", str(spec_path), str(p), "--features", "a,b,c", "--out", out, "--quiet"])
    assert "t.csv.gz: truncated or corrupt gzip file" in _one_line(capsys, code)


def test_truncated_root_file_names_the_file_and_the_problem(tmp_path, capsys):
    import uproot

    from training.tables import load_table

    p = tmp_path / "t.root"
    with uproot.recreate(p) as f:
        f["events"] = {"a": np.arange(5000, dtype=np.float64), "y": np.zeros(5000)}
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.9)])
    match = r"t\.root(:events)?: not a readable ROOT file \(truncated or corrupt\?\): OSError: expected"
    with pytest.raises(ValueError, match=match):
        load_table(p, label="y")
    code = main(["train", "--data", str(p), "--domain", "none", "--out", str(tmp_path / "m.npz"), "--quiet"])
    assert "t.root:events: not a readable ROOT file" in _one_line(capsys, code)


# -- item 13: one validation vocabulary: TypeError for a wrong type, ValueError for a wrong value -----------
def _raises(exc, fn, *args, **kwargs):
    with pytest.raises(exc):
        fn(*args, **kwargs)


def test_same_fault_same_exception_type_everywhere(spec):
    import fpga
    import sqnn_kernels as sk
    from sqnn_kernels.validation import check_packed, check_width
    from training._validation import check_s
    from training.streaming import iter_table_chunks

    w = spec.layers[0].weights
    t = spec.layers[0].thresholds
    # packed weights of the wrong dtype: a wrong type, in the kernels and in the spec alike
    _raises(TypeError, check_packed, w.astype(np.int64), "w", spec.layers[0].k)
    _raises(TypeError, sk.xnor_popcount_dense, w, w.astype(np.float64), spec.layers[0].k)
    _raises(TypeError, sk.HiddenLayer, w.astype(np.int64), spec.layers[0].k, t)
    out = spec.output
    _raises(TypeError, sk.OutputLayer, out.weights.astype(np.float64), out.k, out.bias)
    # widths: a string or float is a wrong type, zero a wrong value
    for bad, exc in (("8", TypeError), (8.0, TypeError), (True, TypeError), (0, ValueError)):
        _raises(exc, check_width, bad)
        _raises(exc, sk.HiddenLayer, w, bad, t)
        _raises(exc, sk.xnor_popcount_dense, w, w, bad)
    _raises(TypeError, sk.OutputLayer, spec.output.weights, spec.output.k, spec.output.bias, scale="1.0")
    _raises(ValueError, sk.OutputLayer, spec.output.weights, spec.output.k, spec.output.bias, scale=np.inf)
    _raises(TypeError, fpga.StochasticConfig, slope="2")
    _raises(TypeError, fpga.StochasticConfig, seed=1.5)
    _raises(TypeError, lambda: next(iter_table_chunks("x.csv", None, chunk_size="5")))
    _raises(ValueError, lambda: next(iter_table_chunks("x.csv", None, chunk_size=0)))
    _raises(TypeError, check_s, np.array([0, 1j]), 2)
    _raises(TypeError, check_s, np.array(["a", "b"]), 2)
    _raises(ValueError, check_s, np.array([0.3, 0.7]), 2)


def test_huge_domain_values_are_reported_as_given_not_wrapped():
    from sqnn_kernels.validation import check_domain

    with pytest.raises(ValueError, match=r"range \[0\.0, 1e\+30\]"):
        check_domain(np.array([0.0, 1e30]), 2)
    with pytest.raises(ValueError, match=r"range \[0, 18446744073709551615\]"):
        check_domain(np.array([0, 2**64 - 1], np.uint64), 2)
