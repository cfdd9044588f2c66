"""The numba disk cache: compiled once across processes, and a broken cache never breaks a kernel."""

import json
import os
import secrets
import subprocess
import sys
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

import sqnn_kernels as sk
from sqnn_kernels import _cache, _compile_helper, precompile
from sqnn_kernels import reference as ref
from sqnn_kernels._compile_helper import compile_elsewhere
from sqnn_kernels._jit import jit, pjit

ROOT = Path(__file__).parent.parent


def _small_spec() -> sk.BinaryNetSpec:
    rng = np.random.default_rng(0)
    edges = [np.sort(rng.normal(size=3)) for _ in range(5)]
    w1 = sk.pack_bits(rng.integers(0, 2, (16, 15)).astype(bool))
    w2 = sk.pack_bits(rng.integers(0, 2, (1, 16)).astype(bool))
    return sk.BinaryNetSpec(edges, [sk.HiddenLayer(w1, 15, np.zeros(16, np.int64))],
                            sk.OutputLayer(w2, 16, np.zeros(1, np.int32)))


# A new process loads a model and scores it through the fused engine (a factory-made kernel that captures
# other jitted functions): 20 rows through the serial build, 20,000 through the parallel one. Then it
# records whether numba's compiler set-up ran (extension entry points, registries: scipy.linalg), and
# compiles a function of its own, which must still get that set-up.
SCORE = """
import json, sys, warnings
import numba
import numpy as np
import sqnn_kernels as sk
from sqnn_kernels import engine
warnings.simplefilter("error", sk.KernelCacheWarning)
spec = sk.BinaryNetSpec.from_npz(sys.argv[1])
x = np.random.default_rng(1).normal(size=(20000, 5))
small = sk.predict_scores(spec, x[:20])
large = sk.predict_scores(spec, x)
net = engine.compiled(spec)
k = engine._kernel(net.lanes, net.edges64.shape[1], net.group, net.table.shape[1])
stats = [k.serial.stats, k.parallel.stats]
def numba_setup():
    return {"entry_points": numba.core.entrypoints._already_initialized,
            "scipy.linalg": "scipy.linalg" in sys.modules,
            "heavy": [m for m in ("sklearn", "pandas", "pyarrow", "awkward") if m in sys.modules]}
setup = numba_setup()
user = numba.njit(lambda a: a * 3)
assert user(np.arange(3)).tolist() == [0, 3, 6]
print(json.dumps({"hits": sum(sum(s.cache_hits.values()) for s in stats),
                  "misses": sum(sum(s.cache_misses.values()) for s in stats),
                  "small": small.ravel().tolist(), "large": int(large.sum()),
                  "setup": setup, "after": numba_setup()}))
"""


def _python(args: list[str], cache_dir: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_precompiled_kernels_load_in_a_new_process_and_the_cache_stops_growing(tmp_path):
    """Regression: the cache key hashed a pickle holding a per-process id, so every process recompiled."""
    spec = _small_spec()
    model = tmp_path / "model.npz"
    spec.to_npz(model)
    cache = tmp_path / "cache"
    out = _python(["-m", "sqnn_kernels.precompile", "--dtype", "float64", str(model)], cache)
    assert "compiled the scoring kernels of 1 model(s)" in out
    files = _files(cache)
    assert files
    x = np.random.default_rng(1).normal(size=(20000, 5))
    expected = {"small": ref.forward(spec, x[:20])[0].ravel().tolist(),
                "large": int(ref.forward(spec, x)[0].sum())}
    # cached kernels load without numba's compiler set-up (~0.5-1 s in a new process: entry points such as
    # awkward's, scipy.linalg, the registries); a function the user compiles afterwards still gets it
    setup = {"entry_points": False, "scipy.linalg": False, "heavy": []}
    after = {"entry_points": True, "scipy.linalg": True}
    for _ in range(2):
        got = json.loads(_python(["-c", SCORE, str(model)], cache).strip().splitlines()[-1])
        assert got.pop("after").items() >= after.items()  # awkward, if installed, is loaded by now
        assert got == {**expected, "hits": 2, "misses": 0, "setup": setup}
        assert _files(cache) == files  # nothing compiled, nothing written


def test_precompile_command_line_errors(tmp_path, capsys):
    assert precompile.main([]) == 2
    assert precompile.main(["--help"]) == 0
    assert "python -m sqnn_kernels.precompile" in capsys.readouterr().out
    assert precompile.main([str(tmp_path / "missing.npz")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert precompile.main(["--dtype", "int8", "m.npz"]) == 2
    assert "--dtype takes float32 or float64" in capsys.readouterr().err
    with pytest.raises(TypeError, match="BinaryNetSpec"):
        precompile.precompile(["model.npz"])
    with pytest.raises(ValueError, match="float32 or float64"):
        precompile.precompile([_small_spec()], dtypes=[np.int32])


def _add_one(a):
    return a + 1


def _captures(helper):
    def outer(a):
        return helper(a) * 2
    return outer


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_cache, "_warned", False)
    return tmp_path


def test_a_captured_jitted_function_has_a_stable_key(cache_dir):
    helper = jit(_add_one)
    outer = jit(_captures(helper))
    assert outer(np.int64(3)) == 8
    again = jit(_captures(jit(_add_one)))  # as a new process builds it: other dispatcher objects
    assert again(np.int64(3)) == 8
    assert sum(again.stats.cache_hits.values()) == 1 and not again.stats.cache_misses


@pytest.mark.parametrize("what", ["index", "data"])
def test_a_corrupt_cache_compiles_in_memory_with_one_warning(cache_dir, what):
    assert jit(_add_one)(np.int64(1)) == 2
    suffix = ".nbi" if what == "index" else ".nbc"
    broken = [p for p in cache_dir.rglob(f"*{suffix}") if "_add_one" in p.name]
    assert broken
    for p in broken:
        p.write_bytes(b"\x80\x04not a pickle")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert jit(_add_one)(np.int64(41)) == 42
        assert jit(_add_one)(np.float64(0.5)) == 1.5  # a second failure in the same process: no new warning
    found = [w for w in caught if issubclass(w.category, _cache.KernelCacheWarning)]
    assert len(found) == 1 and str(cache_dir) in str(found[0].message)


def test_a_full_disk_compiles_in_memory_with_one_warning(cache_dir, monkeypatch):
    def no_space(self, name, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(numba.core.caching.IndexDataCacheFile, "_save_data", no_space)
    with pytest.warns(_cache.KernelCacheWarning, match="No space left on device"):
        assert jit(_add_one)(np.int64(1)) == 2


def test_importing_the_kernels_loads_no_training_or_plotting_library():
    """A scoring job pays for numpy and numba only (scikit-learn alone takes ~1 s to import)."""
    code = ("import sys, sqnn_kernels; print(sorted(m for m in ('sklearn', 'matplotlib', 'training', 'fpga', "
            "'pandas', 'dask', 'onnx', 'tqdm') if m in sys.modules))")
    assert _python(["-c", code], ROOT / ".numba-cache").strip() == "[]"


def test_no_writable_cache_folder_compiles_in_memory_with_one_warning(cache_dir, monkeypatch):
    def no_locator(self, py_func):
        raise RuntimeError("cannot cache function '_add_one': no locator available for file")

    monkeypatch.setattr(_cache.KernelCache, "__init__", no_locator)
    with pytest.warns(_cache.KernelCacheWarning, match="NUMBA_CACHE_DIR"):
        kernel = jit(_add_one)
    assert kernel(np.int64(1)) == 2


def _adds(c):
    def add(a):
        return a + c
    return add


def test_an_entry_is_used_only_by_the_kernel_that_wrote_it(cache_dir):
    """Two kernels of one factory share an index; processes compiling them at once can leave one kernel's
    data file under the other's name (numba numbers data files from the index it read). The loaded entry
    must be checked against its key, so such a file is recompiled, never run for the other kernel."""
    assert jit(_adds(1))(np.int64(1)) == 2
    first = set(cache_dir.rglob("*.nbc"))
    assert jit(_adds(2))(np.int64(1)) == 3
    (second,) = set(cache_dir.rglob("*.nbc")) - first
    (other,) = first
    second.write_bytes(other.read_bytes())  # what a concurrent writer of the other kernel leaves behind
    fresh = jit(_adds(2))
    assert fresh(np.int64(1)) == 3
    assert not fresh.stats.cache_hits  # the foreign entry was not loaded


def test_arguments_numba_cannot_type_get_numbas_own_error(cache_dir):
    kernel = jit(_add_one)
    assert kernel(np.int64(1)) == 2
    with pytest.raises(numba.core.errors.TypingError, match="argument 0"):
        kernel(object())  # the quick cache lookup cannot type it: numba's own path reports it
    assert kernel(np.float64(1.5)) == 2.5


# Two kernels of one factory, each calling its own helper (too large for LLVM to inline, so the kernel calls
# it through a symbol). Prints each kernel's value on ``a`` and how many kernels came from the disk cache.
FACTORY = """
import json, sys
import numpy as np
from sqnn_kernels._jit import jit

def kernel(c):
    @jit
    def helper(a):
        s = 0
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                s += a[i, j] * c + i * j
        t = 0
        for i in range(a.shape[0]):
            t = t * 3 + s + a[i, 0]
        return t

    @jit
    def outer(a):
        return helper(a) + helper(a[1:])
    return outer

a = np.arange(12).reshape(3, 4)
kernels = [kernel(int(c)) for c in sys.argv[1:]]
print(json.dumps({"values": [int(k(a)) for k in kernels],
                  "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels)}))
"""


def test_kernels_compiled_by_different_processes_each_keep_their_own_helper(tmp_path):
    """Regression: numba names a compiled function's symbol by its qualified name, argument types and a
    per-process counter, so two processes compiling two kernels of one factory in the same order gave them
    the same symbols. A process that loaded both from the cache linked the second kernel to the first one's
    helper (a weak symbol) and returned the first kernel's values (the fused engine: wrong scores)."""
    script = tmp_path / "factory.py"
    script.write_text(FACTORY)
    cache = tmp_path / "cache"
    one, two = (json.loads(_python([str(script), c], cache)) for c in ("1", "2"))  # each compiles its own
    assert one["hits"] == two["hits"] == 0 and one["values"] != two["values"]
    both = json.loads(_python([str(script), "1", "2"], cache))
    assert both == {"values": one["values"] + two["values"], "hits": 2}
    reverse = json.loads(_python([str(script), "2", "1"], cache))
    assert reverse == {"values": two["values"] + one["values"], "hits": 2}


FORKED_IDS = """
import os
import sqnn_kernels
from numba.core.bytecode import FunctionIdentity
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, str(next(FunctionIdentity._unique_ids)).encode())
    os._exit(0)
os.wait()
print(next(FunctionIdentity._unique_ids), os.read(read, 64).decode())
"""


def test_symbol_ids_differ_between_processes_and_after_fork(tmp_path):
    """Code compiled in two processes (two runs, a forked worker and its parent) never shares symbol ids."""
    runs = [_python(["-c", FORKED_IDS], tmp_path).split() for _ in range(2)]
    ids = [int(i) for run in runs for i in run]
    assert len(set(ids)) == 4 and min(ids) > 1000


def _times(c):
    def times(a):
        return a * c
    return times


def _compiled_here(names: list):
    """A numba compile-event listener that records the qualified names of what this process compiles."""
    from numba.core import event

    class Recorder(event.Listener):
        def on_start(self, ev):
            pass

        def on_end(self, ev):
            names.append(ev.data["dispatcher"].py_func.__qualname__)

    return event.install_listener("numba:compile", Recorder())


def test_a_miss_inside_compile_elsewhere_is_compiled_by_the_helper_process(cache_dir):
    c = secrets.randbits(40)  # a kernel no cache holds yet
    names: list = []
    with compile_elsewhere(), _compiled_here(names):
        kernel = jit(_times(c))
        assert kernel(np.int64(3)) == 3 * c
        assert kernel(np.float64(0.5)) == 0.5 * c  # a second miss: the same helper
        assert _compile_helper._helper is not None
        assert _compile_helper._helper.proc.poll() is None
    assert _compile_helper._helper is None  # stopped with the block
    assert names == []  # nothing compiled in this process
    assert sum(kernel.stats.cache_hits.values()) == 2 and not kernel.stats.cache_misses
    again = jit(_times(c))  # as a later process meets it: from the cache
    assert again(np.int64(5)) == 5 * c and sum(again.stats.cache_hits.values()) == 1


def test_a_helper_that_cannot_start_leaves_the_compile_here(cache_dir, monkeypatch):
    def no_helper():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(_compile_helper, "_Helper", no_helper)
    names: list = []
    with compile_elsewhere(), _compiled_here(names):
        assert jit(_times(7))(np.int64(6)) == 42
    assert names == ["_times.<locals>.times"]


def test_a_compile_error_in_the_helper_is_numbas_own_error_here(cache_dir):
    def bad(a):
        return a.no_such_attribute

    with compile_elsewhere(), pytest.raises(numba.core.errors.TypingError, match="no_such_attribute"):
        jit(bad)(np.int64(1))


def test_the_helpers_warnings_are_raised_here(cache_dir):
    def nothing_parallel(a):
        return a + secrets_value

    secrets_value = secrets.randbits(40)
    with compile_elsewhere(), pytest.warns(numba.core.errors.NumbaPerformanceWarning, match="parallel"):
        assert pjit(nothing_parallel)(np.int64(1)) == 1 + secrets_value
