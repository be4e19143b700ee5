r"""What the `conservation` suite runs: the drift of W W^T and the untied imbalance's decay.

A "drift" run trains the pseudo-inverse or right-inverse tie (float64, through the covariance)
for a fixed number of steps at each step size of a log-spaced grid from the same W0 and
records ||W_T W_T^T - W_0 W_0^T||_F against the step size, its log-log slopes (the limiting one
over the `SMALL` smallest step sizes, and over all), then trains to the optimum and records
||W W^T - I||_F before and after. A "decay" run trains the untied model with L2 weight lam and
logs ||W W^T - V^T V||_F at every step, whose decay rate it fits. See the `conservation`
suite's docstring for the theory.

Example:
  >>> from tiedae.bench.suite import Options
  >>> from tiedae.bench.suites import conservation_runs
  >>> configs = conservation_runs.configs(Options())
  >>> sorted({c["kind"] for c in configs}), len(configs)
  (['decay', 'drift'], 50)
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import MOMENTUM, Options, injected, loglog_slope
from tiedae.bench.suite import seeds as seed_list

__all__ = ["INITS", "MOMENTUM", "OPTIMIZERS", "SMALL", "SPIKED", "THEORY", "TRAINED_LR",
           "configs", "run", "run_decay", "run_drift"]

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
INITS = {"below": 0.5, "above": 2.0}  # init_scale: singular values of W0 below / above 1
SMALL = 3  # the limiting slope is fitted over this many of the smallest step sizes
# One optimizer object per kind: the step size is injected per run (fit's hyperparams), so a
# sweep over step sizes runs one compiled program.
OPTIMIZERS = {kind: injected(kind) for kind in ("gd", "momentum", "adam")}
THEORY = {"gd": 2, "momentum": 2, "adam": 1}
# the step sizes of the trained runs: eta * e1 = 0.1 for gradient descent (0.1 / (1 - beta)
# for momentum's effective step), and Adam's usual 1e-2
TRAINED_LR = {"gd": 0.1, "momentum": 0.1 * (1 - MOMENTUM), "adam": 1e-2}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    out = []
    for seed in seed_list(options, quick=5, full=10):
        # right_inverse is the same function of W as pinv (full row rank): full runs only
        for dec in ("pinv",) if options.quick else ("pinv", "right_inverse"):
            for opt in OPTIMIZERS:
                for init, scale in INITS.items():
                    out.append({"run_id": f"{tag}-drift-{dec}-{opt}-{init}-s{seed}",
                                "kind": "drift", "decoder": dec, "optimizer": opt,
                                "init": init, "init_scale": scale, "seed": seed,
                                "data_seed": options.seed, "steps": 50,
                                "eta_min": 1e-5, "eta_max": 1e-2,
                                "n_etas": 7 if options.quick else 10,
                                "trained_steps": 500 if options.quick else 2000,
                                "dtype": "float64", **SPIKED})
        for lam_rel in (0.0, 0.05, 0.1, 0.2):
            out.append({"run_id": f"{tag}-decay-l{lam_rel}-s{seed}", "kind": "decay",
                        "decoder": "untied", "lambda_over_lambda1": lam_rel,
                        "lr_times_lambda1": 0.05, "seed": seed, "data_seed": options.seed,
                        "steps": 200 if options.quick else 1500, "init_scale": INITS["below"],
                        "dtype": "float64", **SPIKED})
    return out


def _data(config):
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"])
    return tiedae.training.Covariance(X), tiedae.pca.fit(X, config["k"])


def _model(config, decoder):
    return tiedae.LinearAE(config["d"], config["k"], decoder=decoder,
                           init_scale=config["init_scale"], param_dtype=config["dtype"],
                           rngs=nnx.Rngs(config["seed"]))


def _gram_change(W, W0) -> dict:
    G, G0 = W @ W.T, W0 @ W0.T
    eye = np.eye(W.shape[0])
    return {"drift": float(np.linalg.norm(G - G0)), "trace_change": float(np.trace(G - G0)),
            "orthonormality_change": float(np.linalg.norm(G - eye) - np.linalg.norm(G0 - eye))}


def _train(config, source, lr, steps):
    """The encoder after `steps` steps of size lr, and the trained model's loss."""
    model, hist = tiedae.fit(_model(config, config["decoder"]), source,
                             optimizer=OPTIMIZERS[config["optimizer"]], steps=steps,
                             hyperparams={"learning_rate": lr}, log_every=steps)
    return np.asarray(model.encoder_matrix()), float(hist["loss"][-1])


def run_drift(config):
    source, ref = _data(config)
    lam1 = float(ref.eigenvalues[0])
    opt = config["optimizer"]
    # Small steps: 50 steps at eta * e1 <= 0.01 barely move the loss, so the per-step drift
    # eta^2 G G^T is summed over nearly the same G.
    grid = np.geomspace(config["eta_min"], config["eta_max"], config["n_etas"])
    etas = grid / lam1 if opt in ("gd", "momentum") else grid
    W0 = np.asarray(_model(config, config["decoder"]).encoder_matrix())
    changes = [_gram_change(_train(config, source, eta, config["steps"])[0], W0)
               for eta in etas]  # the same initial W for every step size
    drift = np.array([c["drift"] for c in changes])
    local = np.diff(np.log(drift)) / np.diff(np.log(etas))
    sv0 = np.linalg.svd(W0, compute_uv=False)
    trained_lr = TRAINED_LR[opt] / lam1 if opt in ("gd", "momentum") else TRAINED_LR[opt]
    W, loss = _train(config, source, trained_lr, config["trained_steps"])
    trained = _gram_change(W, W0)
    eye = np.eye(W.shape[0])
    return {
        "final": {"drift_slope_small_eta": loglog_slope(etas[:SMALL], drift[:SMALL]),
                  "drift_slope_all": loglog_slope(etas, drift),
                  "drift_at_smallest_eta": drift[0], "drift_at_largest_eta": drift[-1],
                  "trace_change_at_largest_eta": changes[-1]["trace_change"],
                  "orthonormality_change_at_largest_eta":
                      changes[-1]["orthonormality_change"],
                  "sv_min_start": float(sv0.min()), "sv_max_start": float(sv0.max()),
                  "trained_orthonormality_start": float(np.linalg.norm(W0 @ W0.T - eye)),
                  "trained_orthonormality": float(np.linalg.norm(W @ W.T - eye)),
                  "trained_trace_change": trained["trace_change"],
                  "trained_relative_loss_gap": (loss - ref.optimal_loss) / ref.optimal_loss},
        "trajectory": {},
        "extra": {"eta": etas, "drift": drift, "local_slopes": local, "lambda1": lam1,
                  "trace_change": [c["trace_change"] for c in changes]},
    }


def _untied_gap(model, loss):
    """||W W^T - V^T V||_F, logged at every step."""
    W, V = model.W[...], model.V[...]
    return {"D_norm": jnp.linalg.norm(W @ W.T - V.T @ V)}


def run_decay(config):
    source, ref = _data(config)
    lam1 = float(ref.eigenvalues[0])
    lam = config["lambda_over_lambda1"] * lam1
    eta = config["lr_times_lambda1"] / lam1
    _, hist = tiedae.fit(_model(config, "untied"), source, optimizer=OPTIMIZERS["gd"],
                         steps=config["steps"], hyperparams={"learning_rate": eta}, l2=lam,
                         metrics=_untied_gap, log_every=1)
    steps, norms = hist["step"], hist["D_norm"]
    final = {"D_start": norms[0], "D_end": norms[-1]}
    if lam > 0:
        window = norms > max(1e-9 * norms[0], 1e-12)
        rate = -np.polyfit(steps[window], np.log(norms[window]), 1)[0] / eta
        final.update(rate_per_time=rate, theory_rate=4 * lam,
                     discrete_theory_rate=-2 * np.log1p(-2 * lam * eta) / eta,
                     rate_ratio=rate / (4 * lam))
    else:
        final.update(max_relative_change=float(np.max(np.abs(norms - norms[0])) / norms[0]))
    return {"final": final, "trajectory": {"step": steps, "D_norm": norms},
            "extra": {"lambda": lam, "eta": eta, "lambda1": lam1}}


def run(config: dict) -> dict:
    return run_drift(config) if config["kind"] == "drift" else run_decay(config)
