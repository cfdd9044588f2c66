"""sqnn_kernels: numba kernels for Stochastically Quantized Neural Networks.

Binary values are ±1 with bit 1 meaning +1; rows are packed little-endian into uint64 words. Every kernel has
a plain-numpy twin in :mod:`sqnn_kernels.reference`.
"""

from ._cache import KernelCacheWarning
from .bernoulli import bernoulli_pack
from .bits import pack_bits, unpack_bits
from .dense import binary_dense_threshold, xnor_popcount_dense
from .inference import forward, predict_scores
from .information import bernoulli_entropy, joint_mi, per_neuron_mi
from .spec import BinaryNetSpec, HiddenLayer, OutputLayer, spec_difference
from .thermometer import thermometer_encode

__version__ = "0.2.0.dev0"

__all__ = [
    "BinaryNetSpec",
    "HiddenLayer",
    "KernelCacheWarning",
    "OutputLayer",
    "bernoulli_entropy",
    "bernoulli_pack",
    "binary_dense_threshold",
    "forward",
    "joint_mi",
    "pack_bits",
    "per_neuron_mi",
    "predict_scores",
    "spec_difference",
    "thermometer_encode",
    "unpack_bits",
    "xnor_popcount_dense",
]
