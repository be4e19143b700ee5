r"""Training and measuring post 000's MLP autoencoder: the runs of `symmetry` and `features`.

Post 000's network [d] -> 100 -> 25 -> k -> 25 -> 100 -> [d] (ReLU, linear code and output)
and its variants are trained on the user's MNIST-format data (`--data`: every training and
test image it has; MNIST's 10000 test images split 8000 / 2000) or, without it, on
scikit-learn's digits (1437 / 360), through `tiedae.fit`. The recipe:

* a validation split, the last `validation_fraction` of the (shuffled) training split, is
  held out; the model trains on the rest (the *fit rows*); the test split is only measured;
* inputs centred by the fit rows' mean x_bar (the model sees x - x_bar; errors are
  unchanged by the shift). With raw pixels in [0, 1] (all >= 0) every first-layer
  pre-activation carries an offset x_bar W_1 shared by all images, and without centring many
  ReLUs of the 25-unit layer died early in training (the committed MNIST records before this
  recipe: linear-decoder codes of numerical rank 1-4 of 16);
* every hidden bias starting at `hidden_bias` (0 in the committed settings: a positive start
  of 0.3 let the linear decoder at k = 16 reach PCA's error in some seeds where it stalled,
  but failed it in others and cost the mirror a code direction in some seeds);
* minibatch Adam whose step size rises linearly from 0 over the first `warmup` fraction of the
  steps, then decays to 0 along a cosine (`optimizer`), for `steps` steps (the step cap);
* the peak step size per architecture (encoder, decoder, k) chosen from the log-spaced grid
  `learning_rates` by the final validation error of the runs with seed `lr_seed`; every
  seed then trains at that choice (`learning_rate_choice`; each record carries the grid, the
  validation errors and the choice).

Every `log_every` steps the loop logs the mean reconstruction error (1/n) sum_i
||x_i - x_hat_i||^2 on the first `monitor_rows` fit rows (`train_loss`), on the whole
validation split (`validation_loss`) and on the first `monitor_rows` test images
(`test_loss`). The checks of `tiedae.bench.suites.mlp_checks` are recorded per run:
`converged` (validation error improved by < 1 % over the last fifth of the steps), the
numerical `code_rank` of the validation codes and the `dead_units` of each hidden ReLU layer
on them, and for a linear decoder `reaches_optimum` (training error within 2 % of PCA's with k
components on the fit rows, the Eckart-Young optimum); `passed_checks` is their conjunction.

The monitor rows also give the thresholds, the error of PCA (fitted on the fit rows) with k and
with 2k components: the first logged step, and the seconds of training until then (`fit`'s
wall_time: compilation excluded, monitoring included), at which the training curve reaches
each. After training: the errors on the full splits, the frozen codes' linear-probe and 5-NN
accuracy on the test split (`tiedae.features`), how nearly affine the code is
(`features.affine_r2` from the pixels and from PCA's code of the same size), the 2-D test
codes (k = 2) and, where `images` > 0, that many reconstructed test images (one per class
first).

Runs are shared between the suites and between the step-size selection and the seeds:
`shared_runs` keeps each trained run in the process, keyed on its training settings only
(`training_key`: the `TRAIN_KEYS` of its config and its step size, not its run id or suite
labels). The `features` suite's k = 2 runs have the same settings as the `symmetry` suite's
decoder runs, so a command that runs both suites trains each of these models once and
records the same numbers in both suites' results. `shared_runs.cache_clear()` forgets them.

Modules: `mlp_data` (the images, the validation split and PCA's references), `mlp_measures`
(what is measured on a trained model), `mlp_checks` (the training checks) and this one (the
recipe: building, training, the step-size choice and the runs shared between the suites).

Example:
  >>> from tiedae.bench.suites import mlp_training
  >>> mlp_training.matched_width(784, [100, 25], 2)  # one hidden layer, as many parameters
  103
  >>> mlp_training.image_indices([3, 3, 1, 2, 1], 4)  # one image per class first
  [2, 3, 0, 1]
  >>> a = {"code_dim": 2, "decoder": "tied", "seed": 0, "run_id": "a", "variant": "tied"}
  >>> mlp_training.training_key(a) == mlp_training.training_key({**a, "run_id": "b"})
  True
  >>> mlp_training.split_rows(1437, 0.1)  # fit rows, validation rows
  (1293, 144)
"""

from __future__ import annotations

import copy
import functools
import json
import math

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae import MLPAE
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites.mlp_data import (
    QUICK_USER_ROWS,
    data_config,
    image_indices,
    load,
    n_fit_rows,
    pca_codes,
    pca_errors,
    pca_reference,
    probe_data,
    split_rows,
)
from tiedae.bench.suites.mlp_measures import (
    IMAGES,
    code_scores,
    codes_2d,
    codes_and_outputs,
    first_reach,
    hidden_preactivations,
    mean_error,
    pictures,
    probe_codes,
)
from tiedae.features import knn_accuracy, linear_probe_accuracy
from tiedae.nonlinear.layers import count_params

__all__ = ["ENCODER", "FULL", "IMAGES", "QUICK", "QUICK_USER_ROWS", "SELECTION_KEYS",
           "TRAIN_KEYS", "base_config", "build", "code_scores", "data_config",
           "hidden_preactivations", "image_indices", "learning_rate_choice", "load",
           "matched_width", "optimizer", "pca_codes", "pca_errors", "pca_reference", "pca_run",
           "probe_data", "shared_runs", "split_rows", "train", "training_key"]

ENCODER = [100, 25]  # post 000's encoder widths before the code
QUICK = {"steps": 300, "batch_size": 64, "learning_rates": [3e-3, 1e-2, 3e-2], "warmup": 0.05,
         "hidden_bias": 0.0, "log_every": 5, "monitor_rows": 256, "validation_fraction": 0.1}
# Full runs (MNIST): centred inputs, 5 % warm-up, then a cosine to 0 over 8000 steps of 256
# images (about 280 epochs of the 7200 fit rows): with fewer steps or smaller batches the
# linear decoder at k = 16 stopped a few percent above PCA's training error in more seeds; the
# records' `reaches_optimum` says how often these settings reach it (not always).
FULL = {"steps": 8000, "batch_size": 256, "learning_rates": [1e-3, 3e-3, 1e-2], "warmup": 0.05,
        "hidden_bias": 0.0, "log_every": 40, "monitor_rows": 256, "validation_fraction": 0.1}
TRAIN_KEYS = ("data", "n_train", "n_test", "encoder", "decoder", "code_dim", "activation",
              "steps", "batch_size", "schedule", "warmup", "log_every", "monitor_rows",
              "validation_fraction", "center", "hidden_bias", "train_classes", "probe_classes",
              "seed")
SELECTION_KEYS = ("learning_rates", "lr_seed")  # how the step size is chosen


def base_config(options) -> dict:
    """Data and training settings shared by every trained run of both suites."""
    return {**data_config(options), "activation": "relu", "schedule": "warmup-cosine",
            "center": True, "lr_seed": options.seed, **(QUICK if options.quick else FULL)}


def matched_width(d: int, encoder, k: int) -> int:
    """Width h of a one-hidden-layer encoder d -> h -> k with as many parameters (weights and
    biases) as the encoder d -> encoder -> k: h (d + 1 + k) + k = P."""
    widths = [d, *encoder, k]
    P = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return max(1, round((P - k) / (d + 1 + k)))


def _schedule(scale: float, steps: int, warmup: float):
    """scale times the step-size profile: linear from 0 over the first `warmup` fraction of
    the steps, then a cosine down to 0 at `steps` (no warm-up: the cosine alone)."""
    n_warm = int(round(warmup * steps))
    if n_warm:
        return optax.warmup_cosine_decay_schedule(0.0, scale, n_warm, steps)
    return optax.cosine_decay_schedule(scale, steps)


def _adam_warmup_cosine(learning_rate, steps: int, warmup: float):
    return optax.chain(optax.scale_by_adam(),
                       optax.scale_by_schedule(_schedule(1.0, steps, warmup)),
                       optax.scale(-learning_rate))


@functools.lru_cache(maxsize=8)
def optimizer(steps: int, warmup: float = 0.0) -> optax.GradientTransformation:
    """Adam whose step size is `learning_rate` (an injected hyperparameter: pass it as
    `tiedae.fit(..., hyperparams={"learning_rate": lr})`) times `_schedule`'s profile; one
    object per setting, so that runs that differ only in their seed or step size share one
    compiled training program."""
    return optax.inject_hyperparams(_adam_warmup_cosine, static_args=("steps", "warmup"))(
        learning_rate=1e-3, steps=int(steps), warmup=float(warmup))


def build(config: dict, d: int) -> MLPAE:
    """The model of a run: encoder widths + [code_dim], the decoder as named or as widths;
    every hidden layer's bias starts at `config["hidden_bias"]` (default 0)."""
    decoder = config["decoder"]
    decoder = tuple(decoder) if isinstance(decoder, list) else decoder
    model = MLPAE(d, (*config["encoder"], config["code_dim"]), activation=config["activation"],
                  decoder=decoder, rngs=nnx.Rngs(config["seed"]))
    bias = float(config.get("hidden_bias") or 0.0)
    for b in (*model.encoder_biases[:-1], *model.decoder_biases[:-1]):
        b[...] = jnp.full(b[...].shape, bias, b[...].dtype)
    return model


def _fit(config: dict, model, X_fit, X_val, X_test):
    """`tiedae.fit` at the config's step size on centred rows; (model, history, diverged)."""
    m = config["monitor_rows"]
    source = tiedae.training.Minibatches(X_fit, config["batch_size"], seed=config["seed"])
    try:
        model, hist = tiedae.fit(
            model, source, optimizer=optimizer(config["steps"], config.get("warmup", 0.0)),
            hyperparams={"learning_rate": float(config["learning_rate"])},
            steps=config["steps"], log_every=config["log_every"],
            eval_data={"train": X_fit[:m], "validation": X_val, "test": X_test[:m]})
    except tiedae.TrainingDiverged as err:  # the model keeps its last finite parameters
        return model, err.history, True
    return model, hist, False


def _train(config: dict) -> dict:
    """Trains and measures one run at `config["learning_rate"]` (see the module docstring);
    not cached."""
    X_all, _, X_test_raw, _, _ = load(config)
    n_fit = n_fit_rows(config)
    shift = X_all[:n_fit].mean(0) if config.get("center") else np.zeros(X_all.shape[1])
    X, X_test = (np.asarray(a - shift, np.float32) for a in (X_all, X_test_raw))
    X_fit, X_val = X[:n_fit], X[n_fit:]
    d, k, m = X.shape[1], config["code_dim"], config["monitor_rows"]
    model = build(config, d)
    n_enc = sum(int(W[...].size + b[...].size)
                for W, b in zip(model.encoder_weights, model.encoder_biases, strict=True))
    model, hist, diverged = _fit(config, model, X_fit, X_val, X_test)
    codes, out = codes_and_outputs(model, np.concatenate([X, X_test]))  # one compiled shape
    codes, out = np.asarray(codes, np.float64), np.asarray(out)
    z, z_test = codes[: len(X)], codes[len(X):]
    ref_k, ref_2k = (pca_reference(config, j, fit_rows=True) for j in (k, 2 * k))
    thresholds = {"pca_k": float(np.mean(pca_errors(ref_k, X_all[:m]))),
                  "pca_2k": float(np.mean(pca_errors(ref_2k, X_all[:m])))}
    test_error, train_error = mean_error(out[len(X):], X_test), mean_error(out[:n_fit], X_fit)
    val = X_val if len(X_val) else X_fit
    dead = mlp_checks.dead_units(hidden_preactivations(model, val))
    final = {"test_error": test_error, "train_error": train_error,
             "validation_error": mean_error(out[n_fit:len(X)], X_val) if len(X_val) else None,
             "test_error_relative": test_error / float(np.sum(np.var(
                 np.asarray(X_test, np.float64), axis=0))),
             "pca_test_error": float(np.mean(pca_errors(ref_k, X_test_raw))),
             "pca_train_error": float(ref_k.optimal_loss),
             **code_scores(config, z, z_test, probe_codes(config, model, shift)),
             "code_rank": mlp_checks.code_rank(codes[n_fit:len(X)] if len(X_val) else z),
             "dead_units": sum(dead),
             "dead_fraction": sum(dead) / max(1, sum(len(b[...]) for b in
                                                  [*model.encoder_biases[:-1],
                                                   *model.decoder_biases[:-1]])),
             "diverged": diverged,
             "converged": (not diverged) and mlp_checks.converged(hist["validation_loss"]),
             "reaches_optimum": mlp_checks.reaches_optimum(train_error, ref_k.optimal_loss,
                                                           config["decoder"])}
    final["code_full_rank"] = final["code_rank"] == k
    final["passed_checks"] = not mlp_checks.failures({**final, "code_dim": k})
    for name, level in thresholds.items():
        final[f"steps_to_{name}"], final[f"seconds_to_{name}"] = first_reach(hist, level)
    final.update(ms_per_step=1e3 * float(hist["wall_time"][-1]) / max(config["steps"], 1),
                 late_test_change=mlp_checks.late_change(hist["test_loss"]),
                 late_validation_change=mlp_checks.late_change(hist["validation_loss"]),
                 params_total=count_params(model), params_encoder=n_enc,
                 params_decoder=count_params(model) - n_enc)
    trajectory = {key: np.asarray(hist[key]).tolist() for key in
                  ("step", "wall_time", "train_loss", "validation_loss", "test_loss")}
    extra = {"decoder_widths": list(model.decoder_widths), "thresholds": thresholds,
             "dead_units_per_layer": dead,
             **codes_2d(config, z_test), **pictures(config, out[len(X):] + shift)}
    return {"final": final, "trajectory": trajectory, "extra": extra}


def training_key(config: dict, learning_rate: float | None = None) -> str:
    """The run's training settings (`TRAIN_KEYS`, and the step size `learning_rate` when
    given) as a JSON string: two configs with the same key train the same model (whatever
    their run ids, suites or labels)."""
    key = {name: config.get(name) for name in TRAIN_KEYS}
    if learning_rate is not None:
        key["learning_rate"] = float(learning_rate)
    return json.dumps(key, sort_keys=True)


@functools.lru_cache(maxsize=512)
def shared_runs(key: str) -> dict:
    """The trained run of `training_key` `key` (with its step size), trained once per process
    and shared by the step-size selection and every suite that asks for it (`features`' k = 2
    runs are `symmetry`'s decoder runs). Do not modify the result: `train` returns a copy."""
    return _train(json.loads(key))


def learning_rate_choice(config: dict) -> dict:
    """The step size of the config's architecture: the value of the grid
    `config["learning_rates"]` whose run with seed `config["lr_seed"]` ends with the lowest
    validation error (a diverged or unrecorded run counts as +inf; ties: the first). Returns
    {"learning_rate_grid", "learning_rate_validation" (errors, None where not finite),
    "learning_rate", "learning_rate_seed"}."""
    grid = [float(v) for v in config["learning_rates"]]
    if not grid:
        raise ValueError("learning_rates must name at least one step size")
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
    """Trains and measures one run (see the module docstring) at the step size
    `learning_rate_choice` selects for its architecture: {"final", "trajectory", "extra"}
    (final["learning_rate"], extra["learning_rate_selection"]). A run with the same training
    settings and step size as one already trained in this process (`training_key`) is not
    trained again: its result is taken from `shared_runs`."""
    choice = learning_rate_choice(config)
    out = copy.deepcopy(shared_runs(training_key(config, choice["learning_rate"])))
    out["final"]["learning_rate"] = choice["learning_rate"]
    out["extra"]["learning_rate_selection"] = choice
    n = int(config.get("images") or 0)  # every shared run keeps IMAGES reconstructions
    for key in ("images", "reconstructions", "image_labels"):
        if key in out["extra"]:
            out["extra"][key] = out["extra"][key][:n]
    if n <= 0:
        for key in ("images", "reconstructions", "image_labels", "image_shape"):
            out["extra"].pop(key, None)
    return out


def pca_run(config: dict) -> dict:
    """The PCA reference with `code_dim` components: its errors, code scores, 2-D codes and
    reconstructions, in the layout of `train`."""
    X_test = load(config)[2]
    k = config["code_dim"]
    ref = pca_reference(config, k)
    z_test = pca_codes(ref, X_test)
    recon = z_test @ ref.components + ref.mean
    Xp, yp, Xp_test, yp_test, _ = probe_data(config)
    zp, zp_test = pca_codes(ref, Xp), pca_codes(ref, Xp_test)
    final = {"test_error": float(np.mean(pca_errors(ref, X_test))),
             "train_error": float(ref.optimal_loss),
             "probe_accuracy": linear_probe_accuracy(zp, yp, zp_test, yp_test),
             "knn_accuracy": knn_accuracy(zp, yp, zp_test, yp_test)}
    return {"final": final, "trajectory": {},
            "extra": {**codes_2d(config, z_test),
                      **pictures(config, recon, int(config.get("images") or 0))}}
