"""training: numpy autograd, SQNN layers, mutual-information losses and the SQNNClassifier.

Public API::

    from training import SQNNClassifier, MLPBaseline, GradientReversalClassifier
    from training import load_showers, load_csv, invariance_report, evaluate_protocol, InvarianceScorer
    from training import select_budget

The names load on first use (module ``__getattr__``), so ``training.cli`` starts without importing numba
or scikit-learn (``sqnn --help`` answers at once).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "GradientReversalClassifier": ".baselines",
    "InvarianceScorer": ".metrics",
    "MLPBaseline": ".baselines",
    "SQNNClassifier": ".classifier",
    "evaluate_protocol": ".metrics",
    "invariance_report": ".metrics",
    "load_csv": ".datasets",
    "load_showers": ".datasets",
    "select_budget": ".operating_point",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
