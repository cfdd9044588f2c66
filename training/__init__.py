"""training: numpy autograd, SQNN layers, mutual-information losses and the SQNNClassifier."""

__all__: list[str] = []
