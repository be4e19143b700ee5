"""tiedae: tied-weight and (a)symmetric autoencoders in JAX/Flax NNX, checked against theory.

Floors, from the bottom: `data` (offline data sets) -> `linear` (the linear theory: decoders,
LinearAE, PCA, metrics, algorithms) and `nonlinear` (MLP, conv and graph autoencoders) ->
`saving` (`save` / `load` of those models) and `training` (`fit` and its parts) -> `bench` (the
experiment suite: one module per suite, each turning its records into one `report.Analysis`),
`report` (that analysis and its renderers: terminal, Markdown, LaTeX, HTML) and `paper`
(figures, tables and numbers from the same analyses). `LinearAutoencoder` (tiedae.estimator),
the scikit-learn estimator, is imported on first use, so `import tiedae` works without
scikit-learn; so are `bench`, `report`, `paper` and `launch`, which `import tiedae` leaves out
(`tiedae.bench` imports it).

`tiedae.decoders`, `tiedae.metrics` and `tiedae.pca` are `tiedae.linear`'s modules under short
names, importable both ways (`import tiedae.metrics`, `from tiedae.metrics import ...`).
"""

import sys as _sys

# first: Ctrl-C while `python -m tiedae.bench` imports JAX gives one line and exit status 130
from tiedae import _startup  # noqa: F401  (installs its guard on import; see the module)

# isort: split
from tiedae import data, features, linear, nonlinear, training
from tiedae._submodules import lazy_submodules as _lazy_submodules
from tiedae.linear import CenteringWarning, DataMean, LinearAE, decoders, metrics, pca
from tiedae.nonlinear import MLPAE, ConvAE, GraphAE
from tiedae.saving import load, save
from tiedae.training import TrainingDiverged, fit

# The short names are the same module objects, registered so that the import system finds them.
for _alias, _module in {"decoders": decoders, "metrics": metrics, "pca": pca}.items():
    _sys.modules.setdefault(f"{__name__}.{_alias}", _module)
del _alias, _module

__version__ = "0.2.0"

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


def _lazy(name: str):
    # Lazy: tiedae.estimator imports scikit-learn (an optional extra, tiedae[sklearn]).
    if name == "LinearAutoencoder":
        from tiedae.estimator import LinearAutoencoder

        return LinearAutoencoder
    raise AttributeError(f"module 'tiedae' has no attribute {name!r}")


# tiedae.bench, tiedae.paper, tiedae.launch, ...: imported on first use
__getattr__ = _lazy_submodules(__name__, _lazy)


def __dir__() -> list[str]:
    return sorted([*globals(), "LinearAutoencoder"])
