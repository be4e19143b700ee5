r"""Suite `conservation`: the invariants that separate the decoders.

1. pinv / right_inverse: their loss depends on the row space of W only, so the gradient G
   satisfies G W^T = 0 and gradient flow conserves W W^T. One gradient-descent step changes it
   by exactly eta^2 G G^T (positive semi-definite: W W^T only grows), so after a fixed number
   of small steps the drift ||W_T W_T^T - W_0 W_0^T||_F grows like eta^2. With momentum
   (heavy ball, beta = 0.9) the step is a sum of past gradients, each orthogonal to the rows
   of W as they were, so the step's first-order term is itself O(eta): still second order.
   Adam rescales each coordinate, its step is no longer orthogonal to W's rows, and the drift
   is first order: Adam breaks the conservation.
   The exponent is the limiting log-log slope at small eta (a fit over the three smallest step
   sizes); a fit over the whole range mixes in the higher-order terms of the larger steps. Two
   initialisations: singular values of W below 1 (init_scale 0.5) and above 1 (init_scale 2),
   so that "conserved" is not mistaken for "drifts towards W W^T = I from below": under
   gradient descent W W^T grows from either side, towards I from below and away from it from
   above. Each run also trains to the optimum (2000 steps) and records ||W W^T - I||_F before
   and after.
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
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, loglog_slope
from tiedae.bench.suite import seeds as seed_list
from tiedae.report import stats

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
INITS = {"below": 0.5, "above": 2.0}  # init_scale: singular values of W0 below / above 1
MOMENTUM = 0.9
SMALL = 3  # the limiting slope is fitted over this many of the smallest step sizes
# One optimizer object per kind: the step size is injected per run (fit's hyperparams), so a
# sweep over step sizes runs one compiled program.
OPTIMIZERS = {"gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "momentum": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0,
                                                              momentum=MOMENTUM),
              "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}
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


def _run_drift(config):
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


def ci(values, digits: int = 3) -> str:
    """'mean ± half-width of the 95% t interval' (the value alone for one seed)."""
    iv = stats.interval(values)
    if iv.n < 2:
        return fmt(iv.mean, digits)
    return f"{fmt(iv.mean, digits)} ± {fmt(iv.hi - iv.mean, 2)}"


def slope_key(records: list[dict]) -> str:
    """The recorded drift exponent: the small-eta limit (records from before it was recorded
    have only the whole-range fit, `drift_slope`)."""
    return ("drift_slope_small_eta" if all("drift_slope_small_eta" in r["final"]
                                           for r in records) else "drift_slope")


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    drift = [r for r in records if r["config"]["kind"] == "drift"]
    for (dec, opt, init), recs in group_by(drift, "decoder", "optimizer", "init").items():
        f = [r["final"] for r in recs]
        key = slope_key(recs)
        rows.append([f"eta-exponent of ||WW^T - W0W0^T||, {dec}", opt, init or "below",
                     ci([x[key] for x in f]), str(THEORY.get(opt, "-")),
                     ci([x["drift_slope_all"] for x in f]) if "drift_slope_all" in f[0]
                     else "-",
                     ci([x["drift_at_largest_eta"] for x in f], 2)])
    for (dec, opt), recs in group_by(drift, "decoder", "optimizer").items():
        key = slope_key(recs)
        small = stats.interval([r["final"][key] for r in recs])
        text = (f"{dec}, {opt}: ||WW^T - W0W0^T|| grows like eta^p with p = {fmt(small.mean)} "
                f"(95% CI [{fmt(small.lo)}, {fmt(small.hi)}], {small.n} runs; "
                + ("limiting slope over the 3 smallest step sizes" if key != "drift_slope" else
                   "fit over the whole step-size range")
                + f"; theory {THEORY.get(opt, '?')}")
        if key != "drift_slope":
            whole = stats.interval([r["final"]["drift_slope_all"] for r in recs])
            text += f"; a fit over the whole range gives {fmt(whole.mean)}, mixing in larger steps"
        findings.append(text + ").")
        findings.extend(_direction_findings(dec, opt, recs))
    decay = [r for r in records if r["config"]["kind"] == "decay"]
    for (lam_rel,), recs in group_by(decay, "lambda_over_lambda1").items():
        f = [r["final"] for r in recs]
        if lam_rel == 0:
            rows.append(["untied D=WW^T-V^TV", "lam=0", "-", "-", "conserved", "-",
                         ci([x["max_relative_change"] for x in f], 2)])
            findings.append(
                "untied without L2: D = WW^T - V^TV changed by at most "
                f"{fmt(max(x['max_relative_change'] for x in f), 2)} of its size over training "
                f"({len(f)} runs; conserved, as gradient flow predicts).")
        else:
            rows.append(["untied D decay rate / 4 lam", f"lam={lam_rel} lam1", "-",
                         ci([x["rate_ratio"] for x in f]), "1", "-",
                         ci([x["D_end"] for x in f], 2)])
    ratios = [r["final"]["rate_ratio"] for r in decay if "rate_ratio" in r["final"]]
    if ratios:
        iv = stats.interval(ratios)
        findings.append(
            f"untied with L2 lam: D decays like exp(-rate * eta * t) with rate / (4 lam) = "
            f"{fmt(iv.mean)} (95% CI [{fmt(iv.lo)}, {fmt(iv.hi)}]; range {fmt(min(ratios))} .. "
            f"{fmt(max(ratios))} over {len(ratios)} runs and lam; theory: 1, gradient flow "
            "dD/dt = -4 lam D).")
    return Summary(
        title="conservation: what training keeps fixed (mean ± 95% CI half-width over seeds)",
        columns=["quantity", "optimizer / setting", "init", "measured (small eta)", "theory",
                 "whole-range fit", "drift / ||D|| at end"],
        rows=rows, findings=findings,
    )


def _direction_findings(dec: str, opt: str, recs: list[dict]) -> list[str]:
    """Which way W W^T moves, from each initialisation (trained runs)."""
    out = []
    for (init,), rs in group_by(recs, "init").items():
        f = [r["final"] for r in rs]
        if "trained_orthonormality" not in f[0]:
            continue
        start = stats.interval([x["trained_orthonormality_start"] for x in f])
        end = stats.interval([x["trained_orthonormality"] for x in f])
        grew = sum(x["trained_trace_change"] > 0 for x in f)
        change = stats.paired([x["trained_orthonormality"] for x in f],
                              [x["trained_orthonormality_start"] for x in f])
        moved = {"lower": "closer to I", "higher": "further from I"}.get(
            change.verdict, "no measurable change")
        sv_lo, sv_hi = min(x["sv_min_start"] for x in f), max(x["sv_max_start"] for x in f)
        out.append(
            f"{dec}, {opt}, singular values of W0 {init} 1 ([{fmt(sv_lo, 2)}, {fmt(sv_hi, 2)}]):"
            f" trained to the optimum, ||WW^T-I|| {fmt(start.mean)} -> {fmt(end.mean)} ({moved}:"
            f" paired change {fmt(change.mean, 2)}, 95% CI [{fmt(change.lo, 2)}, "
            f"{fmt(change.hi, 2)}]); tr(WW^T) grew in {grew} of {len(f)} runs.")
    return out


SUITE = Suite(
    name="conservation",
    description="invariants: pinv/right_inverse keep WW^T (drift ~ eta^2 with GD and momentum, "
                "~ eta with Adam; from below and above I); untied WW^T - V^TV conserved, decays "
                "like exp(-4 lam eta t) with L2",
    configs=configs, run=run, summarize=summarize,
)
