"""tiedae: tied-weight and (a)symmetric autoencoders in JAX/Flax NNX, checked against theory.

Floors, from the bottom: `data` (offline data sets) -> `linear` (the linear theory: decoders,
LinearAE, PCA, metrics, algorithms) and `nonlinear` (MLP, conv and graph autoencoders) ->
`saving` (`save` / `load` of those models) and
`training` (`fit` and its parts) -> `bench` (the experiment suite) and `paper` (figures and
tables from its records). `LinearAutoencoder` (tiedae.estimator), the scikit-learn estimator,
is imported on first use, so `import tiedae` works without scikit-learn.
"""

from tiedae import data, features, linear, nonlinear, training
from tiedae.linear import CenteringWarning, DataMean, LinearAE, decoders, metrics, pca
from tiedae.nonlinear import MLPAE, ConvAE, GraphAE
from tiedae.saving import load, save
from tiedae.training import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "CenteringWarning",
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
    "load",
    "metrics",
    "nonlinear",
    "pca",
    "save",
    "training",
]


def __getattr__(name: str):
    # Lazy: tiedae.estimator imports scikit-learn (an optional extra, tiedae[sklearn]).
    if name == "LinearAutoencoder":
        from tiedae.estimator import LinearAutoencoder

        return LinearAutoencoder
    raise AttributeError(f"module 'tiedae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "LinearAutoencoder"])
