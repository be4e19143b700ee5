"""tiedae: tied-weight and (a)symmetric autoencoders in JAX/Flax NNX, checked against theory.

Floors, from the bottom: `data` (offline data sets) -> `linear` (the linear theory: decoders,
LinearAE, PCA, metrics, algorithms) and `nonlinear` (MLP, conv and graph autoencoders) ->
`training` (`fit` and its parts) -> `bench` (the experiment suite) and `paper` (figures and
tables from its records).
"""

from tiedae import data, features, linear, nonlinear, training
from tiedae.linear import DataMean, LinearAE, decoders, metrics, pca
from tiedae.nonlinear import MLPAE, ConvAE, GraphAE
from tiedae.training import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "ConvAE",
    "DataMean",
    "GraphAE",
    "LinearAE",
    "MLPAE",
    "TrainingDiverged",
    "data",
    "decoders",
    "features",
    "fit",
    "linear",
    "metrics",
    "nonlinear",
    "pca",
    "training",
]
