"""tiedae: tied-weight and (a)symmetric autoencoders in JAX/Flax NNX, checked against theory."""

from tiedae import data, decoders, metrics, pca
from tiedae.linear import LinearAE
from tiedae.train import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "LinearAE",
    "TrainingDiverged",
    "data",
    "decoders",
    "fit",
    "metrics",
    "pca",
]
