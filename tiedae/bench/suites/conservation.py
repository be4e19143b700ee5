r"""Suite `conservation`: the invariants that separate the decoders.

1. pinv / right_inverse: their loss depends on the row space of W only, so the gradient G
   satisfies G W^T = 0 and gradient flow conserves W W^T. One gradient-descent step changes it
   by exactly eta^2 G G^T, so after a fixed number of small steps the drift
   ||W_T W_T^T - W_0 W_0^T||_F grows like eta^2 (log-log slope 2). Adam rescales each
   coordinate, its step is no longer orthogonal to W's rows, and the drift is first order
   (slope 1): Adam breaks the conservation.
2. untied with loss mean ||x - V W x||^2 + lam (||W||^2 + ||V||^2): D = W W^T - V^T V obeys
   dD/dt = -4 lam D under gradient flow (the data terms cancel exactly), so D is conserved
   without L2 and decays like exp(-4 lam eta t) under gradient descent with step eta (exactly
   D_{t+1} = (1 - 2 lam eta)^2 D_t + eta^2 (G_W G_W^T - G_V^T G_V)).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import (
    Options,
    Suite,
    Summary,
    fmt,
    group_by,
    loglog_slope,
    mean_of,
    mean_std,
)
from tiedae.bench.suite import seeds as seed_list

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
INIT_SCALE = 0.5
# One optimizer object per kind: the step size is injected per run (fit's hyperparams), so a
# sweep over step sizes runs one compiled program.
OPTIMIZERS = {"gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    out = []
    for seed in seed_list(options):
        # right_inverse is the same function of W as pinv (full row rank): full runs only
        for dec in ("pinv",) if options.quick else ("pinv", "right_inverse"):
            for opt in ("gd", "adam"):
                out.append({"run_id": f"{tag}-drift-{dec}-{opt}-s{seed}", "kind": "drift",
                            "decoder": dec, "optimizer": opt, "seed": seed,
                            "data_seed": options.seed, "steps": 50,
                            "n_etas": 5 if options.quick else 9, "init_scale": INIT_SCALE,
                            "dtype": "float64", **SPIKED})
        for lam_rel in (0.0, 0.05, 0.1, 0.2):
            out.append({"run_id": f"{tag}-decay-l{lam_rel}-s{seed}", "kind": "decay",
                        "decoder": "untied", "lambda_over_lambda1": lam_rel,
                        "lr_times_lambda1": 0.05, "seed": seed, "data_seed": options.seed,
                        "steps": 200 if options.quick else 1500, "init_scale": INIT_SCALE,
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


def _run_drift(config):
    source, ref = _data(config)
    lam1 = float(ref.eigenvalues[0])
    # Small steps: 50 steps at eta * e1 <= 0.01 barely move the loss, so the per-step drift
    # eta^2 G G^T is summed over nearly the same G and the eta-exponent is clean.
    grid = np.geomspace(1e-4, 1e-2, config["n_etas"])
    etas = grid / lam1 if config["optimizer"] == "gd" else grid
    W0 = np.asarray(_model(config, config["decoder"]).encoder_matrix())
    final_w = []
    for eta in etas:  # the same initial W for every step size
        model, _ = tiedae.fit(_model(config, config["decoder"]), source,
                              optimizer=OPTIMIZERS[config["optimizer"]], steps=config["steps"],
                              hyperparams={"learning_rate": eta}, log_every=config["steps"])
        final_w.append(np.asarray(model.encoder_matrix()))
    drift = [np.linalg.norm(W @ W.T - W0 @ W0.T) for W in final_w]
    moved = [np.linalg.norm(W - W0) for W in final_w]
    slope = loglog_slope(etas, drift)
    return {
        "final": {"drift_slope": slope, "drift_at_largest_eta": drift[-1],
                  "drift_at_smallest_eta": drift[0], "movement_at_largest_eta": moved[-1]},
        "trajectory": {},
        "extra": {"eta": etas, "drift": drift, "movement": moved, "lambda1": lam1},
    }


def _untied_gap(model, loss):
    """||W W^T - V^T V||_F, logged at every step."""
    W, V = model.W[...], model.V[...]
    return {"D_norm": jnp.linalg.norm(W @ W.T - V.T @ V)}


def _run_decay(config):
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
    return _run_drift(config) if config["kind"] == "drift" else _run_decay(config)


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    drift = [r for r in records if r["config"]["kind"] == "drift"]
    for (dec, opt), recs in group_by(drift, "decoder", "optimizer").items():
        f = [r["final"] for r in recs]
        rows.append([f"eta-exponent of ||WW^T - W0W0^T||, {dec}", opt,
                     mean_std([x["drift_slope"] for x in f]), "2" if opt == "gd" else "1",
                     mean_std([x["drift_at_largest_eta"] for x in f], 2)])
    slopes = {(d, o): mean_of([r["final"]["drift_slope"] for r in rs])
              for (d, o), rs in group_by(drift, "decoder", "optimizer").items()}
    for dec in ("pinv", "right_inverse"):
        if (dec, "gd") in slopes and (dec, "adam") in slopes:
            gd, ad = slopes[(dec, "gd")], slopes[(dec, "adam")]
            findings.append(
                f"{dec}: with gradient descent ||WW^T - W0W0^T|| grows like eta^{fmt(gd, 2)} "
                f"(theory: eta^2, the conserved quantity only leaks at second order); with "
                f"Adam like eta^{fmt(ad, 2)} (first order: Adam breaks the conservation)."
            )
    decay = [r for r in records if r["config"]["kind"] == "decay"]
    for (lam_rel,), recs in group_by(decay, "lambda_over_lambda1").items():
        f = [r["final"] for r in recs]
        if lam_rel == 0:
            rows.append(["untied D=WW^T-V^TV", "lam=0", "-", "conserved",
                         mean_std([x["max_relative_change"] for x in f], 2)])
            findings.append(
                "untied without L2: D = WW^T - V^TV changed by at most "
                f"{fmt(max(x['max_relative_change'] for x in f), 2)} of its size over training "
                "(conserved, as gradient flow predicts)."
            )
        else:
            rows.append(["untied D decay rate / 4 lam", f"lam={lam_rel} lam1",
                         mean_std([x["rate_ratio"] for x in f]), "1",
                         mean_std([x["D_end"] for x in f], 2)])
    ratios = [r["final"]["rate_ratio"] for r in decay if "rate_ratio" in r["final"]]
    if ratios:
        findings.append(
            f"untied with L2 lam: D decays like exp(-rate * eta * t) with rate / (4 lam) = "
            f"{fmt(min(ratios))} .. {fmt(max(ratios))} across lam (theory: 1, gradient flow "
            "dD/dt = -4 lam D)."
        )
    return Summary(
        title="conservation: what gradient descent keeps fixed (mean ± std over seeds)",
        columns=["quantity", "setting", "measured", "theory", "drift / ||D|| at end"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="conservation",
    description="invariants: pinv/right_inverse keep WW^T (drift ~ eta^2, Adam ~ eta); untied "
                "WW^T - V^TV conserved, decays like exp(-4 lam eta t) with L2",
    configs=configs, run=run, summarize=summarize,
)
