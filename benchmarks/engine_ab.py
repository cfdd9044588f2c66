"""Same-process A/B of the fused engine: a base commit's ``sqnn_kernels`` against this tree's.

Usage::

    python -m benchmarks.engine_ab BASE [--events 20000] [--rounds 400] [--dtype float32] [--hidden 64,64]

On a shared machine the same benchmark swings 1.5-2x from one run to the next, so separate runs of the old
and the new code cannot be compared. Here both run in one process, alternating call by call on the same
rows of a 45-feature, 8-edge net: a neighbour's burst slows both sides of a pair alike. The report gives
each side's best rate (noise only ever adds time) and the median of the per-pair time ratios.

The base commit's ``sqnn_kernels`` is extracted with ``git archive`` into a temporary folder and imported as
the package ``sqnn_base`` (its modules import each other relatively); its kernels compile into the same
numba cache under their own module name. Thread count and ISA as for every benchmark: ``NUMBA_NUM_THREADS``,
``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=`` for AVX2 code (the CPU name alone keeps the host's features).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def import_base(commit: str, where: Path):
    """``sqnn_kernels`` of ``commit`` (this repository) imported as the package ``sqnn_base``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "sqnn_kernels"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    (where / "sqnn_kernels").rename(where / "sqnn_base")
    sys.path.insert(0, str(where))
    import sqnn_base

    return sqnn_base


def _same_spec(pkg, spec):
    """``spec`` rebuilt with ``pkg``'s classes (the base package has its own BinaryNetSpec)."""
    layers = [pkg.HiddenLayer(layer.weights, layer.k, layer.thresholds) for layer in spec.layers]
    out = pkg.OutputLayer(spec.output.weights, spec.output.k, spec.output.bias)
    return pkg.BinaryNetSpec(spec.edges, layers, out)


def compare(base_pkg, events: int, rounds: int, dtype: str, hidden: tuple[int, ...], seed: int = 0) -> dict:
    """Alternate ``predict_scores`` of the base package and of this tree; rates in events/s."""
    import sqnn_kernels as sk
    from benchmarks.test_network import random_spec

    rng = np.random.default_rng(seed)
    spec = random_spec(rng, 45, 8, hidden)
    spec_base = _same_spec(base_pkg, spec)
    x = rng.standard_normal((events, 45)).astype(dtype)
    expected = base_pkg.predict_scores(spec_base, x)
    np.testing.assert_array_equal(sk.predict_scores(spec, x), expected)  # also compiles both
    t_base, t_new = np.empty(rounds), np.empty(rounds)
    for r in range(rounds):
        t = time.perf_counter()
        base_pkg.predict_scores(spec_base, x)
        t_base[r] = time.perf_counter() - t
        t = time.perf_counter()
        sk.predict_scores(spec, x)
        t_new[r] = time.perf_counter() - t
    return {"base_best": events / t_base.min(), "new_best": events / t_new.min(),
            "base_median": events / np.median(t_base), "new_median": events / np.median(t_new),
            "speedup_median_of_pairs": float(np.median(t_base / t_new))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="commit (or branch) whose sqnn_kernels is the baseline")
    parser.add_argument("--events", type=int, default=20_000, help="rows per call")
    parser.add_argument("--rounds", type=int, default=400, help="alternating call pairs")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="input dtype")
    parser.add_argument("--hidden", default="64,64", help="hidden widths, comma-separated")
    args = parser.parse_args(argv)
    hidden = tuple(int(v) for v in args.hidden.split(",") if v)

    import numba

    from benchmarks.machine import cpu_info, numba_isa

    where = Path(tempfile.mkdtemp(prefix="sqnn-ab-"))
    try:
        result = compare(import_base(args.base, where), args.events, args.rounds, args.dtype, hidden)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    net = f"45x8-{'-'.join(map(str, hidden))}-1" if hidden else "45x8-1"
    print(f"CPU: {cpu_info()['cpu']} | code: {numba_isa()} | threads: {numba.get_num_threads()} | {net} "
          f"{args.dtype}, {args.events} events x {args.rounds} pairs")
    print(f"  base {args.base}: best {result['base_best'] / 1e6:.1f} M ev/s, median "
          f"{result['base_median'] / 1e6:.1f}")
    print(f"  this tree:  best {result['new_best'] / 1e6:.1f} M ev/s, median "
          f"{result['new_median'] / 1e6:.1f}")
    print(f"  speed-up (median of pair ratios): {result['speedup_median_of_pairs']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
