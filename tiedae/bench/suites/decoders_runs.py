r"""What the `decoders` suite runs: the four decoders of a `LinearAE` from the same initial W.

One run trains one decoder (`DECODERS`) on one data set with one optimizer and seed through
`tiedae.fit`, logging the loss gap, ||W W^T - I||_F, the subspace distance, cond(W) and (every
`SV_EVERY`-th log point) the singular values of W, and records the steps and seconds until the
subspace distance first reaches `SUBSPACE_TARGET`. An untied decoder's V0 is scaled down where
the gradient-descent step would otherwise be unstable (`cap_untied_decoder`; see the
`decoders` suite's docstring).

Example:
  >>> from tiedae.bench.suite import Options
  >>> from tiedae.bench.suites import decoders_runs
  >>> configs = decoders_runs.configs(Options())
  >>> len(configs), sorted({c["decoder"] for c in configs}) == sorted(decoders_runs.DECODERS)
  (20, True)
"""

from __future__ import annotations

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, injected, seeds

__all__ = ["DECODERS", "OPTIMIZERS", "SUBSPACE_TARGET", "SV_EVERY", "UNTIED_V0_CAP",
           "cap_untied_decoder", "configs", "run"]

DECODERS = ("transpose", "pinv", "right_inverse", "untied")
UNTIED_V0_CAP = 0.8  # eta_gd * lambda_1 * ||V0||_2^2 at most (see the module docstring)
SUBSPACE_TARGET = 1e-3
SV_EVERY = 5  # singular values of W at every fifth log point
# One optimizer object per kind, the step size injected per run: runs that differ only in
# their seed or data share one compiled program.
OPTIMIZERS = {kind: injected(kind) for kind in ("gd", "adam")}


def cap_untied_decoder(model, cap: float, lr_gd_times_lambda1: float) -> float:
    """Scales an untied model's V0 down (in place) so that eta lambda_1 ||V0||_2^2 <= cap with
    eta lambda_1 = lr_gd_times_lambda1; returns the factor applied (1 when it already holds)."""
    V = np.asarray(model.V[...], np.float64)
    norm2 = float(np.linalg.norm(V, 2)) ** 2
    scale = min(1.0, float(np.sqrt(cap / (lr_gd_times_lambda1 * norm2))))
    if scale < 1.0:
        model.V[...] = model.V[...] * np.asarray(scale, model.V[...].dtype)
    return scale


def configs(options: Options) -> list[dict]:
    quick = options.quick
    # (name, n, d, gap, k, source, steps)
    sets = ([("digits", 1797, 64, 0.0, 4, "rows", 600)] if quick else
            [("spiked", 2000, 64, 4.0, 4, "rows", 1000),
             ("digits", 1797, 64, 0.0, 4, "rows", 1000),
             ("digits", 1797, 64, 0.0, 16, "rows", 1500)])
    if options.mnist:
        sets.append(("user", 0, 0, 0.0, 16, "covariance", 600 if quick else 1000))
    opts = ("gd",) if quick else ("gd", "adam")
    out = []
    for name, n, d, gap, k, source, steps in sets:
        for opt in opts:
            for seed in seeds(options, quick=5, full=5 if name == "user" else 10):
                for dec in DECODERS:
                    out.append({
                        "run_id": f"{'quick' if quick else 'full'}-{name}-k{k}-{opt}-{dec}"
                                  f"-s{seed}",
                        "dataset": name, "n": n, "d": d, "gap": gap, "k": k, "decoder": dec,
                        "optimizer": opt, "seed": seed, "data_seed": options.seed,
                        "source": source, "steps": steps, "init_scale": 0.5,
                        "lr_gd_times_lambda1": 0.1, "lr_adam": 1e-2,
                        "data": options.mnist if name == "user" else None,
                        "untied_v0_cap": UNTIED_V0_CAP,
                    })
    return out


def run(config: dict) -> dict:
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"], path=config["data"])
    k = config["k"]
    ref = tiedae.pca.fit(X, k)
    lam1 = float(ref.eigenvalues[0])
    lr = config["lr_gd_times_lambda1"] / lam1 if config["optimizer"] == "gd" else \
        config["lr_adam"]
    model = tiedae.LinearAE(X.shape[1], k, decoder=config["decoder"],
                            init_scale=config["init_scale"], rngs=nnx.Rngs(config["seed"]))
    v0_scale = 1.0
    if config["decoder"] == "untied" and config.get("untied_v0_cap") is not None:
        v0_scale = cap_untied_decoder(model, config["untied_v0_cap"],
                                      config["lr_gd_times_lambda1"])
    steps = config["steps"]
    log_every = max(1, steps // 100)
    singular = tiedae.training.Observe(
        lambda m: np.linalg.svd(np.asarray(m.encoder_matrix(), np.float64), compute_uv=False))

    def every_fifth(step, metrics, m):
        if (step // log_every) % SV_EVERY == 0 or step == steps:
            singular(step, metrics, m)

    data = X.astype(np.float32)
    if config.get("source") == "covariance":
        data = tiedae.training.Covariance(data)
    model, hist = tiedae.fit(model, data, optimizer=OPTIMIZERS[config["optimizer"]],
                             hyperparams={"learning_rate": lr}, steps=steps, reference=ref,
                             log_every=log_every, callback=every_fifth)
    sub = hist["subspace_distance"]
    reached = np.flatnonzero(sub <= SUBSPACE_TARGET)
    keys = ("step", "wall_time", "loss_gap", "orthonormality", "subspace_distance",
            "condition_number")
    sv = np.asarray(singular.values)
    return {
        "final": {
            "orthonormality_start": hist["orthonormality"][0],
            "orthonormality": hist["orthonormality"][-1],
            "loss_gap": hist["loss_gap"][-1],
            "relative_loss_gap": hist["loss_gap"][-1] / ref.optimal_loss,
            "subspace_distance": sub[-1],
            "condition_number": hist["condition_number"][-1],
            "steps_to_subspace_1e-3": hist["step"][reached[0]] if reached.size else None,
            "seconds_to_subspace_1e-3": hist["wall_time"][reached[0]] if reached.size else None,
            "ms_per_step": 1e3 * hist["wall_time"][-1] / max(steps, 1),
            "sv_min_start": sv[0].min(), "sv_max_start": sv[0].max(),
            "sv_min": sv[-1].min(), "sv_max": sv[-1].max(),
        },
        "trajectory": {key: hist[key] for key in keys},
        "extra": {"eigenvalues_top": ref.eigenvalues[: k + 1], "optimal_loss": ref.optimal_loss,
                  "v0_scale": v0_scale, "n": X.shape[0], "d": X.shape[1],
                  "sv_step": singular.steps, "singular_values": sv},
    }
