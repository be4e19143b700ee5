r"""Training and measuring one run of the `conv-decoders` suite (post 003).

Every model (`tiedae.bench.suites.conv_models`) is trained by one recipe, through `tiedae.fit`:

* **splits**: the run's images (`tiedae.bench.datasets.load_images`); the last
  `validation_fraction` of the training split is the validation split, the model trains on the
  rest (the *fit rows*), and the test split is measured, never used to choose anything;
* **optimiser**: Adam whose step size rises linearly from 0 over the first `warmup` fraction
  of the steps and then decays to 0 along a cosine (`tiedae.bench.suites.mlp_training.optimizer`,
  the MLP suites' schedule), minibatches of `batch_size` fit rows reshuffled every epoch, for
  `steps` steps (the step cap), on the run's loss (the squared error summed over the pixels, or
  the Keras blog's binary cross-entropy for ``keras_cae``);
* **step size per architecture**: the peak step size, the value of the log-spaced grid
  `learning_rates` whose run
  with seed `lr_seed` ends with the lowest validation error (`learning_rate_choice`; a diverged
  run counts as +inf); every seed then trains at that choice, and each record carries the grid,
  the validation errors and the choice;
* **logged** every `eval_every` steps: the squared reconstruction error (1/n) sum_i
  ||x_i - f(x_i)||^2 of the first `monitor_rows` fit rows (`train_loss`), of the whole
  validation split (`validation_loss`) and of the first `monitor_rows` test images
  (`test_loss`): the record's trajectories;
* **converged**: the validation error improved by less than 1 % over the last fifth of the
  steps (`tiedae.bench.suites.mlp_checks.converged`, the criterion of every nonlinear suite);
  a run that did not is recorded with ``converged`` false, and a diverged one with
  ``diverged`` true (it keeps its last finite parameters).

After training, on the full splits: the training, validation and test errors; and on the first
`n_measure` test images x the checkerboard shares c_p (p = 2, 4;
`tiedae.nonlinear.conv.checkerboard_energy`) of x itself (``checker_input_p*``), of the decoded
images at initialisation (``checker_out_init_p*``) and after training (``checker_out_p*``), of
the input gradients d||f(x) - x||^2/dx through the trained model (``checker_grad_p*``), and the
white-noise level (p^2 - 1)/(HW - 1) (``checker_noise_p*``). The first seed's runs keep
`N_IMAGES` test images decoded at initialisation and after training, for the figures.

Runs are shared between the step-size selection and the seeds: `shared_runs` trains each
setting (`training_key`: the config's `TRAIN_KEYS` and the step size) once per process.

Example:
  >>> from tiedae.bench.suites import conv_training
  >>> a = {"model": "tied-k3", "seed": 0, "run_id": "a", "learning_rates": [1e-3, 1e-2]}
  >>> conv_training.training_key(a, 1e-3) == conv_training.training_key(
  ...     {**a, "run_id": "b"}, 1e-3)
  True
  >>> conv_training.epochs({"steps": 100, "batch_size": 32}, 1600)
  2.0
"""

from __future__ import annotations

import copy
import functools
import json
import math

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench.datasets import load_images
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites.conv_models import build
from tiedae.bench.suites.mlp_training import optimizer, split_rows
from tiedae.nonlinear.conv import checkerboard_energy, checkerboard_noise_level, input_gradient
from tiedae.nonlinear.layers import count_params
from tiedae.training import binary_cross_entropy, reconstruction_error

__all__ = ["LOSSES", "N_IMAGES", "TRAIN_KEYS", "epochs", "learning_rate_choice", "shared_runs",
           "train", "training_key"]

# The loss a run trains on, by name (every run is measured on the squared error).
LOSSES = {"binary_cross_entropy": binary_cross_entropy, "squared_error": reconstruction_error}
N_IMAGES = 4  # decoded images kept by the first seed's runs, for the figures
TRAIN_KEYS = ("data", "n_train", "n_test", "validation_fraction", "model", "decoder",
              "kernel_size", "channels", "stride", "loss", "batch_size", "steps", "warmup",
              "eval_every", "monitor_rows", "n_measure", "seed")

_outputs = nnx.jit(lambda model, x: (model(x), input_gradient(model, x)))


def splits(config: dict) -> tuple:
    """(fit rows, validation rows, test rows, image shape) of a run, float32 in [0, 1]."""
    X, _, X_test, _, shape = load_images(config)
    n_fit, _ = split_rows(len(X), config.get("validation_fraction", 0.0))
    return X[:n_fit], X[n_fit:], X_test, tuple(shape)


def epochs(config: dict, n_fit: int) -> float:
    """Passes over the fit rows that `steps` minibatches of `batch_size` make."""
    return config["steps"] * config["batch_size"] / n_fit


def _images(x, shape):
    return np.asarray(x, np.float64).reshape(len(x), *shape)


def _checker(images, prefix: str) -> dict:
    return {f"{prefix}_p{p}": float(np.mean(checkerboard_energy(images, p))) for p in (2, 4)}


def _keep(images) -> list:
    return np.round(np.asarray(images[:N_IMAGES, :, :, 0], np.float64), 3).tolist()


def _error(model, X) -> float:
    return float(reconstruction_error(model, np.asarray(X, np.float32)))


def _fit(config: dict, model, X_fit, X_val, X_test):
    """`tiedae.fit` at the config's step size; (model, history, diverged)."""
    m = config["monitor_rows"]
    source = tiedae.training.Minibatches(X_fit, config["batch_size"], seed=config["seed"])
    evals = {"train": X_fit[:m], "test": X_test[:m]}
    if len(X_val):
        evals["validation"] = X_val
    try:
        model, hist = tiedae.fit(
            model, source, optimizer=optimizer(config["steps"], config.get("warmup", 0.0)),
            loss_fn=LOSSES[config["loss"]],
            hyperparams={"learning_rate": float(config["learning_rate"])},
            steps=config["steps"], log_every=config["eval_every"], eval_data=evals,
            eval_loss_fn=reconstruction_error)
    except tiedae.TrainingDiverged as err:  # the model keeps its last finite parameters
        return model, err.history, True
    return model, hist, False


def _train(config: dict) -> dict:
    """Trains and measures one run at `config["learning_rate"]` (module docstring); not
    cached."""
    X_fit, X_val, X_test, shape = splits(config)
    model = build(config, shape)
    probe = X_test[: config["n_measure"]]
    init_out = _images(_outputs(model, probe)[0], shape)
    final = {"params": count_params(model), **_checker(_images(probe, shape), "checker_input"),
             **_checker(init_out, "checker_out_init"),
             **{f"checker_noise_p{p}": checkerboard_noise_level(shape[0], shape[1], p)
                for p in (2, 4)}}
    model, hist, diverged = _fit(config, model, X_fit, X_val, X_test)
    val_curve = hist.get("validation_loss", [])
    final.update(
        train_error=_error(model, X_fit), test_error=_error(model, X_test),
        validation_error=_error(model, X_val) if len(X_val) else None,
        diverged=diverged, converged=(not diverged) and mlp_checks.converged(val_curve),
        late_validation_change=mlp_checks.late_change(val_curve),
        late_test_change=mlp_checks.late_change(hist["test_loss"]),
        steps_run=int(hist["step"][-1]), epochs=epochs(config, len(X_fit)),
        ms_per_step=1e3 * float(hist["wall_time"][-1]) / max(int(hist["step"][-1]), 1))
    out, grad = _outputs(model, probe)
    out = _images(out, shape)
    final.update(_checker(out, "checker_out"))
    final.update(_checker(_images(grad, shape), "checker_grad"))
    trajectory = {key: np.asarray(hist[key]).tolist() for key in
                  ("step", "wall_time", "train_loss", "validation_loss", "test_loss")
                  if key in hist}
    extra = {"image_shape": list(shape),
             "images_input": _keep(_images(probe, shape)), "images_init": _keep(init_out),
             "images_trained": _keep(out)}
    return {"final": final, "trajectory": trajectory, "extra": extra}


def training_key(config: dict, learning_rate: float | None = None) -> str:
    """The run's training settings (`TRAIN_KEYS`, and the step size when given) as a JSON
    string: two configs with the same key train the same model."""
    key = {name: config.get(name) for name in TRAIN_KEYS}
    if learning_rate is not None:
        key["learning_rate"] = float(learning_rate)
    return json.dumps(key, sort_keys=True)


@functools.lru_cache(maxsize=64)
def shared_runs(key: str) -> dict:
    """The trained and measured run of `training_key` `key`, once per process (the step-size
    selection's run at the chosen step size is the first seed's run). Do not modify the
    result: `train` returns a copy."""
    return _train(json.loads(key))


def learning_rate_choice(config: dict) -> dict:
    """The step size of the config's architecture: the value of `config["learning_rates"]`
    whose run with seed `config["lr_seed"]` ends with the lowest validation error (diverged or
    non-finite: +inf; ties: the first). Returns {"learning_rate_grid",
    "learning_rate_validation" (None where not finite), "learning_rate",
    "learning_rate_seed"}.

    Raises:
      ValueError: an empty grid or a non-positive step size.
    """
    grid = [float(v) for v in config["learning_rates"]]
    if not grid or min(grid) <= 0:
        raise ValueError(f"learning_rates must be positive step sizes; got {grid}")
    at = {**config, "seed": config.get("lr_seed", config["seed"])}
    losses = []
    for lr in grid:
        f = shared_runs(training_key(at, lr))["final"]
        v = f.get("validation_error")
        ok = v is not None and math.isfinite(v) and not f.get("diverged")
        losses.append(float(v) if ok else None)
    best = int(np.argmin([math.inf if v is None else v for v in losses]))
    return {"learning_rate_grid": grid, "learning_rate_validation": losses,
            "learning_rate": grid[best], "learning_rate_seed": at["seed"]}


def train(config: dict) -> dict:
    """One run of the suite (module docstring) at the step size `learning_rate_choice` picks
    for its architecture: {"final", "trajectory", "extra"}; final["learning_rate"] and
    extra["learning_rate_selection"] record the choice. Images are kept by the first seed's
    runs only (`first_seed`)."""
    choice = learning_rate_choice(config)
    out = copy.deepcopy(shared_runs(training_key(config, choice["learning_rate"])))
    out["final"]["learning_rate"] = choice["learning_rate"]
    out["extra"]["learning_rate_selection"] = choice
    if config["seed"] != config.get("first_seed", config["seed"]):
        for key in ("images_input", "images_init", "images_trained"):
            out["extra"].pop(key)
    return out
