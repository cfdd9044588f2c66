"""training: numpy autograd, SQNN layers, mutual-information losses and the SQNNClassifier.

Public API::

    from training import SQNNClassifier, MLPBaseline, GradientReversalClassifier
    from training import load_showers, load_csv, invariance_report, evaluate_protocol
"""

from .baselines import GradientReversalClassifier, MLPBaseline
from .classifier import SQNNClassifier
from .datasets import load_csv, load_showers
from .metrics import evaluate_protocol, invariance_report

__all__ = [
    "GradientReversalClassifier",
    "MLPBaseline",
    "SQNNClassifier",
    "evaluate_protocol",
    "invariance_report",
    "load_csv",
    "load_showers",
]
