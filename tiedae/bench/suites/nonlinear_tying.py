r"""Suite `nonlinear-tying`: a shallow nonlinear autoencoder with W^T tying against an untied
decoder, in the setting of Refinetti & Goldt (2022) (post 004's "nonlinear tying").

The model (`tiedae.MLPAE(d, (k,), code_activation=s, ...)`) is

    tied:    x_hat = s(x W + b) W^T + c        (one parameter W used twice)
    untied:  x_hat = s(x W + b) V + c          (V its own parameter),

with s the logistic sigmoid, the ReLU, or the identity (the linear control), and with the
biases b, c trained or absent (`use_bias`). The identity is the engine check: with or without
the tie its optimum is PCA's (Eckart-Young; with W^T the optimum W has orthonormal rows
spanning the top-k principal subspace), so an identity run whose training error is above
1.02 E_PCA(k) is an optimisation failure. The logistic sigmoid is an affine image of tanh,
sigma(u) = (1 + tanh(u / 2)) / 2: with biases its offset 1/2 is absorbed by c, without them it
is not.

What orthonormality to expect: where the pre-activations stay small, a tied model is close to
its linearisation x_hat ~ x W D W^T + const with D = diag(s'(b_j)), whose optimum is
W D W^T = the projection onto the top-k principal subspace: W's k weight vectors orthogonal with
norms 1 / sqrt(s'(b_j)). For the identity that is orthonormality; for the sigmoid at b = 0,
s'(0) = 1/4, singular values 2 and ||W^T W - I||_F / sqrt(k) = 3, so the suite also records
the ratio of W's largest to smallest singular value (`sv_ratio`; 1 for orthogonal rows of one
norm).

Each run, on MNIST (`--data`; without it scikit-learn's digits) centred by the fit rows' mean,
follows `tiedae.bench.suites.mlp_training`'s recipe: a validation split carved from the
training images, minibatch Adam with warm-up and a cosine decay to 0 over `steps` steps (the
step cap), the peak step size per architecture (data, k, activation, bias, tie) chosen from a
log-spaced grid on the `lr_seed` runs: among those that passed their checks, the smallest step
whose final validation error is within 0.2 % of the lowest (`choose_learning_rate`; recorded:
grid, validation errors, checks, choice), the checks of `tiedae.bench.suites.mlp_checks`
(`converged`: validation error improved by < 1 % over the last fifth; full-rank code on the
validation rows; dead ReLU units; the identity within 2 % of PCA's training error). Every
`log_every` steps it records the errors on fit, validation and test rows, the orthonormality error
||W^T W - I||_F / sqrt(k) of the encoder's k weight vectors (rows of the (k, d) matrix of the
text, columns of `MLPAE`'s (d, k) W), W's singular values (min, median, max) and, per leading
principal direction u_i (i = 1..k, of the fit rows), the fraction ||P u_i||^2 of it in the row
space of the decoder (P the projection onto the span of V's rows; V = W^T when tied): the
*capture* c_i(t). Principal direction i counts as learnt once its capture reaches 1/2 (the
first logged step: `learn_steps`; learnt at the end: `pcs_learnt`); its *learning time* is
tau_i = integral of (1 - c_i(t)) dt over the logged steps (trapezoids; the time it was not yet
in the decoder's span, resolved below the logging interval, where many directions are learnt
between two log points). The Spearman correlation of i with tau_i (`sequential_rho`) is
positive when the leading directions are learnt first (Refinetti & Goldt's sequential
learning).

The analysis (`tiedae.bench.suites.tying_report`) leaves out runs that failed their checks,
except that a non-linear model above PCA's error is not a failure: its optimum is unknown, and
a converged run at a tuned step size that stays above PCA is a finding about the architecture.

References:
  Refinetti, M. & Goldt, S. (2022). The dynamics of representation learning in shallow,
  non-linear autoencoders. ICML, PMLR 162.

Example:
  >>> from tiedae.bench.suite import Options
  >>> from tiedae.bench.suites import nonlinear_tying
  >>> configs = nonlinear_tying.configs(Options(quick=False))
  >>> len(configs), sorted({c["activation"] for c in configs})
  (120, ['identity', 'relu', 'sigmoid'])
  >>> sorted({c["seed"] for c in configs}) == list(range(10)), configs[0]["learning_rates"]
  (True, [0.003, 0.01, 0.03, 0.1, 0.3])
  >>> nonlinear_tying.choose_learning_rate([20.54, 20.53, None], [True, True, False])
  0
  >>> nonlinear_tying.choose_learning_rate([22.9, 22.8, 22.7], [False, False, True])
  2
  >>> nonlinear_tying.choose_learning_rate([25.0, 24.4, 24.2, 24.0], [True] * 4)
  3
  >>> nonlinear_tying.learn_steps([0, 10, 20], [[0.1, 0.0], [0.6, 0.2], [0.9, 0.7]])
  [10.0, 20.0]
  >>> nonlinear_tying.learning_times([0, 10, 20], [[0.0, 0.0], [1.0, 0.5], [1.0, 1.0]])
  [5.0, 10.0]
  >>> nonlinear_tying.sequential_rho([10.0, 20.0, None, 30.0])
  1.0
"""

from __future__ import annotations

import copy
import functools
import json
import math

import numpy as np
import scipy.stats
from flax import nnx

import tiedae
from tiedae.bench.suite import Options, Suite
from tiedae.bench.suites import mlp_checks, mlp_training, tying_report

ACTIVATIONS = ("identity", "sigmoid", "relu")
TIES = ("tied", "untied")
BIASES = (True, False)
CAPTURE_LEARNT = 0.5  # a principal direction is learnt once half of it lies in V's row space
# Validation errors within 0.2 % of the best: the smallest such step (seed-to-seed spread of
# the committed runs' errors: about 0.05 % for the identity, 0.1-0.3 % for the sigmoid).
LR_TOLERANCE = 0.002
QUICK = {"steps": 300, "batch_size": 64, "learning_rates": [1e-2, 3e-2, 0.1], "warmup": 0.05,
         "log_every": 20, "monitor_rows": 256, "validation_fraction": 0.1}
# Full runs: 1500 steps of 256 images (about 53 epochs of MNIST's 7200 fit rows here), logged
# every 50 steps (30 points, enough for the convergence check's last fifth).
FULL = {"steps": 1500, "batch_size": 256, "learning_rates": [3e-3, 1e-2, 3e-2, 0.1, 0.3],
        "warmup": 0.05, "log_every": 50, "monitor_rows": 1024, "validation_fraction": 0.1}
SEEDS = {"quick": 2, "full": 10}
CODE_SIZES = {"quick": (4,), "digits": (8,), "user": (16,)}
TRAIN_KEYS = ("data", "n_train", "n_test", "code_dim", "activation", "tie", "bias", "steps",
              "batch_size", "warmup", "log_every", "monitor_rows", "validation_fraction",
              "seed")


def configs(options: Options) -> list[dict]:
    quick = options.quick
    data = mlp_training.data_config(options)
    name = "mnist" if options.mnist else "digits"
    sizes = CODE_SIZES["quick" if quick else ("user" if options.mnist else "digits")]
    out = []
    for k in sizes:
        for act in ACTIVATIONS:
            for bias in BIASES:
                for tie in TIES:
                    for seed in range(options.seed, options.seed + SEEDS[
                            "quick" if quick else "full"]):
                        out.append({
                            "run_id": f"{'quick' if quick else 'full'}-{name}-k{k}-{act}-"
                                      f"{'bias' if bias else 'nobias'}-{tie}-seed{seed}",
                            **data, "dataset": name, "code_dim": k, "activation": act,
                            "bias": bias, "tie": tie, "seed": seed, "lr_seed": options.seed,
                            "schedule": "warmup-cosine", "center": True,
                            **(QUICK if quick else FULL)})
    return out


# ---- one run -----------------------------------------------------------------------------------

def build(config: dict, d: int) -> tiedae.MLPAE:
    """The shallow model of a run: x_hat = s(x W + b) W^T + c (tied) or s(x W + b) V + c."""
    return tiedae.MLPAE(d, (config["code_dim"],), code_activation=config["activation"],
                        decoder="tied" if config["tie"] == "tied" else "linear",
                        use_bias=bool(config["bias"]), rngs=nnx.Rngs(config["seed"]))


def weight_stats(model: tiedae.MLPAE, components: np.ndarray) -> dict:
    """Orthonormality error ||W^T W - I||_F / sqrt(k) of the encoder's k weight vectors, W's
    singular values (min, median, max) and the capture ||P u_i||^2 of each principal direction
    (rows of `components`) by the decoder's row space."""
    W = np.asarray(model.encoder_weights[0][...], np.float64)  # (d, k)
    k = W.shape[1]
    V = W.T if model.decoder_kind == "tied" else np.asarray(model.decoder_weights[0][...],
                                                             np.float64)
    sv = np.linalg.svd(W, compute_uv=False)
    Q = np.linalg.qr(V.T)[0]  # (d, k): an orthonormal basis of V's row space (V of full rank)
    return {"orthonormality": float(np.linalg.norm(W.T @ W - np.eye(k)) / math.sqrt(k)),
            "sv_min": float(sv.min()), "sv_median": float(np.median(sv)),
            "sv_max": float(sv.max()), "sv_ratio": float(sv.max() / sv.min()),
            "capture": np.sum((np.asarray(components, np.float64) @ Q) ** 2, axis=1).tolist()}


def learn_steps(steps, capture, level: float = CAPTURE_LEARNT) -> list[float | None]:
    """Per principal direction, the first logged step whose capture is >= level (None: never);
    `capture` holds one row of captures per logged step."""
    c = np.asarray(capture, float)
    out = []
    for i in range(c.shape[1]):
        hit = np.flatnonzero(c[:, i] >= level)
        out.append(float(steps[hit[0]]) if hit.size else None)
    return out


def learning_times(steps, capture) -> list[float]:
    """Per principal direction, tau_i = integral of (1 - c_i(t)) dt over the logged steps
    (trapezoid rule): the longer a direction stays out of the decoder's span, the larger."""
    c = np.asarray(capture, float)
    t = np.asarray(steps, float)
    if c.ndim != 2 or len(t) != len(c) or len(t) < 2:
        return [math.nan] * (c.shape[1] if c.ndim == 2 else 0)
    gap = 1.0 - c
    return (np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(t)[:, None], axis=0)).tolist()


def sequential_rho(times) -> float | None:
    """Spearman correlation of the principal direction's index with its learning time (or
    step; None entries, never learnt, left out); None with fewer than 3 values or no spread."""
    pairs = [(i, s) for i, s in enumerate(times) if s is not None and math.isfinite(s)]
    if len(pairs) < 3 or len({s for _, s in pairs}) < 2:
        return None
    return float(scipy.stats.spearmanr(*zip(*pairs, strict=True)).statistic)


@nnx.jit
def _codes_and_outputs(model, x):
    z = model.encode(x)
    return z, model.decode(z)


def _error(a, b) -> float:
    return float(np.mean(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2,
                                axis=1)))


def _train(config: dict) -> dict:
    """Trains and measures one run at `config["learning_rate"]` (not cached)."""
    X_all, _, X_test_raw, _, _ = mlp_training.load(config)
    n_fit, n_val = mlp_training.split_rows(len(X_all), config["validation_fraction"])
    shift = X_all[:n_fit].mean(0)
    X, X_test = (np.asarray(a - shift, np.float32) for a in (X_all, X_test_raw))
    X_fit, X_val = X[:n_fit], X[n_fit:]
    k, m = config["code_dim"], config["monitor_rows"]
    ref = mlp_training.pca_reference(config, k, fit_rows=True)
    model = build(config, X.shape[1])
    start = weight_stats(model, ref.components)
    watch = tiedae.training.Observe(functools.partial(weight_stats, components=ref.components))
    source = tiedae.training.Minibatches(X_fit, config["batch_size"], seed=config["seed"])
    diverged = False
    try:
        model, hist = tiedae.fit(
            model, source, optimizer=mlp_training.optimizer(config["steps"], config["warmup"]),
            hyperparams={"learning_rate": float(config["learning_rate"])},
            steps=config["steps"], log_every=config["log_every"], callback=watch,
            eval_data={"train": X_fit[:m], "validation": X_val, "test": X_test})
    except tiedae.TrainingDiverged as err:  # the model keeps its last finite parameters
        hist, diverged = err.history, True
    codes, out = _codes_and_outputs(model, np.concatenate([X, X_test]))
    codes, out = np.asarray(codes, np.float64), np.asarray(out, np.float64)
    W = np.asarray(model.encoder_weights[0][...], np.float64)
    pre = X_val.astype(np.float64) @ W + (np.asarray(model.encoder_biases[0][...], np.float64)
                                          if config["bias"] else 0.0)
    dead = mlp_checks.dead_units([pre])[0] if config["activation"] == "relu" else 0
    last = weight_stats(model, ref.components)
    steps = [int(s) for s in watch.steps]
    capture = [v["capture"] for v in watch.values]
    learnt = learn_steps(steps, capture) if steps else [None] * k
    times = learning_times(steps, capture)
    train_error, test_error = _error(out[:n_fit], X_fit), _error(out[len(X):], X_test)
    pca_test = float(np.mean(mlp_training.pca_errors(ref, X_test_raw)))
    final = {
        "train_error": train_error, "validation_error": _error(out[n_fit:len(X)], X_val),
        "test_error": test_error, "pca_train_error": float(ref.optimal_loss),
        "pca_test_error": pca_test, "train_ratio": train_error / float(ref.optimal_loss),
        "test_ratio": test_error / pca_test,
        "code_rank": mlp_checks.code_rank(codes[n_fit:len(X)]), "dead_units": dead,
        "dead_fraction": dead / k, "diverged": diverged,
        "converged": (not diverged) and mlp_checks.converged(hist["validation_loss"]),
        "reaches_optimum": mlp_checks.reaches_optimum(
            train_error, ref.optimal_loss, "linear" if config["activation"] == "identity"
            else None),
        **{key: last[key] for key in ("orthonormality", "sv_min", "sv_median", "sv_max",
                                   "sv_ratio")},
        **{f"{key}_start": start[key] for key in ("orthonormality", "sv_min", "sv_max")},
        "pcs_learnt": int(np.sum(np.asarray(last["capture"]) >= CAPTURE_LEARNT)),
        "sequential_rho": sequential_rho(times),
        "late_validation_change": mlp_checks.late_change(hist["validation_loss"]),
    }
    final["code_full_rank"] = final["code_rank"] == k
    final["passed_checks"] = not mlp_checks.failures({**final, "code_dim": k})
    trajectory = {key: np.asarray(hist[key]).tolist() for key in
                  ("step", "wall_time", "train_loss", "validation_loss", "test_loss")}
    trajectory.update({key: [v[key] for v in watch.values] for key in
                       ("orthonormality", "sv_min", "sv_median", "sv_max")})
    extra = {"learn_steps": learnt, "learning_times": times, "capture_steps": steps,
             "capture_final": np.round(last["capture"], 4).tolist(),
             "capture": [np.round(v["capture"], 4).tolist() for v in watch.values]}
    return {"final": final, "trajectory": trajectory, "extra": extra}


def training_key(config: dict, learning_rate: float) -> str:
    """The run's training settings (`TRAIN_KEYS`) and step size as a JSON string."""
    return json.dumps({**{key: config.get(key) for key in TRAIN_KEYS},
                       "learning_rate": float(learning_rate)}, sort_keys=True)


@functools.lru_cache(maxsize=256)
def shared_runs(key: str) -> dict:
    """The trained run of a `training_key`, trained once per process (the step-size selection's
    `lr_seed` run at the chosen step is also that seed's run). Do not modify the result."""
    return _train(json.loads(key))


def choose_learning_rate(losses, passed, tolerance: float = LR_TOLERANCE) -> int:
    """Index of the chosen step size of an increasing grid, from the final validation errors
    (None: diverged) and whether each run passed its checks: among the runs that passed (all,
    when none did), the smallest step whose validation error is within `tolerance` (relative)
    of their lowest. Validation errors that differ by less than that are within one seed's noise,
    and of those the smallest step is the stablest (a larger one that won by noise on the
    selection seed stopped above PCA's optimum on others)."""
    finite = [i for i, v in enumerate(losses) if v is not None]
    if not finite:
        return 0
    pool = [i for i in finite if passed[i]] or finite
    best = min(losses[i] for i in pool)
    return min(i for i in pool if losses[i] <= (1 + tolerance) * best)


def learning_rate_choice(config: dict) -> dict:
    """The step size of the config's architecture (`choose_learning_rate` over the grid's runs
    with seed `lr_seed`), with the grid, the validation errors and which runs passed."""
    grid = [float(v) for v in config["learning_rates"]]
    at = {**config, "seed": config["lr_seed"]}
    losses, passed = [], []
    for lr in grid:
        f = shared_runs(training_key(at, lr))["final"]
        v = f["validation_error"]
        losses.append(float(v) if math.isfinite(v) and not f["diverged"] else None)
        passed.append(bool(f["passed_checks"]))
    best = choose_learning_rate(losses, passed)
    return {"learning_rate_grid": grid, "learning_rate_validation": losses,
            "learning_rate_passed": passed, "learning_rate": grid[best],
            "learning_rate_seed": at["seed"],
            "learning_rate_at_grid_end": len(grid) > 1 and best in (0, len(grid) - 1)}


def run(config: dict) -> dict:
    choice = learning_rate_choice(config)
    out = copy.deepcopy(shared_runs(training_key(config, choice["learning_rate"])))
    out["final"]["learning_rate"] = choice["learning_rate"]
    out["final"]["learning_rate_at_grid_end"] = choice["learning_rate_at_grid_end"]
    out["extra"]["learning_rate_selection"] = choice
    return out


SUITE = Suite(
    name="nonlinear-tying",
    description="shallow sigmoid / ReLU / linear autoencoders on MNIST, W^T-tied vs untied, "
                "with and without biases: orthonormality of W and error against PCA's "
                "(Refinetti & Goldt 2022)",
    configs=configs, run=run, analyze=tying_report.analyze, in_quick=False,
)
