"""tiedae: tied-weight and (a)symmetric autoencoders in JAX/Flax NNX, checked against theory."""

from tiedae import conv, data, decoders, deep, features, graph, metrics, mnist, pca
from tiedae.conv import ConvAE
from tiedae.deep import MLPAE
from tiedae.graph import GraphAE
from tiedae.linear import LinearAE
from tiedae.train import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "ConvAE",
    "GraphAE",
    "LinearAE",
    "MLPAE",
    "TrainingDiverged",
    "conv",
    "data",
    "decoders",
    "deep",
    "features",
    "fit",
    "graph",
    "metrics",
    "mnist",
    "pca",
]
