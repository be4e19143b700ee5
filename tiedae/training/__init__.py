"""Training: `fit` and its parts (objective, data sources, compiled step, callbacks).

Every model and experiment in tiedae trains through `fit`; nothing else runs an optimizer loop.

* `objectives`: losses (`reconstruction_error`, `autodiff_reconstruction_error`,
  `binary_cross_entropy`, `covariance_loss`) and regularizers (`L2`, `NonuniformL2`).
* `sources`: `FullBatch`, `Minibatches`, `Covariance`, `RowChunks`.
* `step`: `TrainState` and the compiled step (`make_train_step` for a loop of one's own).
* `loop`: `fit` and `TrainingDiverged`.
* `callbacks`: `Observe`, `StopWhen`.
* `checkpoint`: `Checkpoint` (write checkpoints; resume an interrupted run).
* `hooks`: `ModelHooks`, the optional members of a model `fit` uses (`model_hooks`).
* `distributed`: multi-process data parallelism (`initialize`, then `fit(..., devices="all")`;
  start the processes with `python -m tiedae.launch`).
"""

from tiedae.training import distributed
from tiedae.training.callbacks import Observe, StopWhen
from tiedae.training.checkpoint import Checkpoint
from tiedae.training.hooks import ModelHooks, model_hooks
from tiedae.training.loop import TrainingDiverged, fit
from tiedae.training.objectives import (
    L2,
    NonuniformL2,
    autodiff_reconstruction_error,
    binary_cross_entropy,
    covariance_loss,
    reconstruction_error,
    weight_matrices,
)
from tiedae.training.sources import Covariance, FullBatch, Minibatches, RowChunks, Source
from tiedae.training.step import TrainState, make_train_step

__all__ = [
    "L2",
    "Checkpoint",
    "Covariance",
    "FullBatch",
    "Minibatches",
    "ModelHooks",
    "NonuniformL2",
    "Observe",
    "RowChunks",
    "Source",
    "StopWhen",
    "TrainState",
    "TrainingDiverged",
    "autodiff_reconstruction_error",
    "binary_cross_entropy",
    "covariance_loss",
    "distributed",
    "fit",
    "make_train_step",
    "model_hooks",
    "reconstruction_error",
    "weight_matrices",
]
