"""Build the numba disk cache ahead of time, for a batch farm or a container image.

Usage::

    python -m sqnn_kernels.precompile [--dtype float32|float64] MODEL.npz [MODEL.npz ...]

compiles every kernel that :func:`sqnn_kernels.predict_scores` (and so ``SQNNClassifier.predict*``) needs for
each model (spec or classifier file): the serial and the parallel build, for float32 and float64 input
(or only the ``--dtype`` given). The
kernels go to numba's cache folder (``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside the package);
a new process that scores one of these models then loads them instead of compiling. Build the cache on
the CPU model (or with the ``NUMBA_CPU_NAME`` target) that will run it: numba keys entries by target CPU.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence

import numpy as np

from . import engine
from ._jit import PARALLEL_MIN_WORK
from .inference import DEFAULT_CHUNK, predict_scores
from .spec import BinaryNetSpec

DTYPES = (np.float32, np.float64)


def _rows_for_parallel(spec: BinaryNetSpec) -> int:
    """Rows whose scoring runs the parallel build of every kernel it calls (as far as a call can reach it)."""
    if engine.supports(spec):  # one fused call over all rows
        return -(-PARALLEL_MIN_WORK // engine.work(engine.compiled(spec), 1))
    # layer by layer, DEFAULT_CHUNK rows per call: thermometer n·N, each layer n·m·words
    per_row = min([spec.n_inputs] + [layer.weights.size for layer in [*spec.layers, spec.output]])
    return min(DEFAULT_CHUNK, -(-PARALLEL_MIN_WORK // per_row))


def precompile(specs: Iterable[BinaryNetSpec], dtypes: Sequence[type] = DTYPES) -> int:
    """Compile (or load from the cache) every scoring kernel of ``specs`` for input ``dtypes``.

    Parameters
    ----------
    specs : iterable of BinaryNetSpec
    dtypes : float32 and/or float64

    Returns
    -------
    int
        The number of scoring calls made (one small and one large input per spec and dtype).
    """
    calls = 0
    for spec in specs:
        if not isinstance(spec, BinaryNetSpec):
            raise TypeError(f"specs must hold BinaryNetSpec objects, got {type(spec).__name__}")
        for dtype in dtypes:
            if np.dtype(dtype) not in (np.float32, np.float64):
                raise ValueError(f"dtypes must be float32 or float64, got {np.dtype(dtype)}")
            for n in (1, _rows_for_parallel(spec)):
                predict_scores(spec, np.zeros((n, spec.n_features), dtype=dtype))
                calls += 1
    return calls


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sqnn_kernels.precompile MODEL.npz ...``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0 if args else 2
    dtypes: Sequence[type] = DTYPES
    if args[0] == "--dtype":
        names = {"float32": np.float32, "float64": np.float64}
        if len(args) < 3 or args[1] not in names:
            print("error: --dtype takes float32 or float64, then the model files", file=sys.stderr)
            return 2
        dtypes, args = (names[args[1]],), args[2:]
    try:
        specs = [BinaryNetSpec.from_npz(path) for path in args]
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    precompile(specs, dtypes)
    print(f"compiled the scoring kernels of {len(specs)} model(s) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
