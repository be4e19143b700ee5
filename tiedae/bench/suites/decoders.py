r"""Suite `decoders`: the four decoders trained side by side from the same initial W.

For each data set and code size k, a `LinearAE` with decoder transpose (W^T), pinv (W^+),
right_inverse (W^T (W W^T)^{-1}) or untied (free V) starts from the same W (same seed) and is
trained with the same optimizer by `tiedae.fit`. Recorded against steps and wall time: the
loss gap to the Eckart--Young optimum, ||W W^T - I||_F, the subspace distance to the top-k
principal subspace, and cond(W).

Initialisation: W0 has N(0, init_scale^2 / d) entries (rows of norm about init_scale); the
untied decoder's V0 has N(0, init_scale^2 / k) entries, so its spectral norm grows like
init_scale sqrt(d / k), and with it the curvature 2 lambda_1 ||V0||_2^2 of the loss in W.
Where that would make the gradient-descent step eta = lr_gd_times_lambda1 / lambda_1 unstable,
V0 is scaled down so that eta lambda_1 ||V0||_2^2 <= `untied_v0_cap` (0.8, i.e. eta times the
curvature <= 1.6 < 2), for both optimizers (the same init). At d = 64 the cap never binds
(||V0||_2^2 <= 6.6 for the seeds used, all spiked and digits records unchanged); on 784-pixel
MNIST images ||V0||_2^2 is about 56 and gradient descent at 0.1 / lambda_1 diverged within six
steps without it. The factor applied is recorded (`extra.v0_scale`).

Theory: all four reach the optimal loss. Only the transpose decoder needs W W^T = I to be
optimal, and its gradient drives W there; pinv and right_inverse give a loss that depends on
W's row space only, so their gradient G satisfies G W^T = 0 and W W^T is conserved by
gradient flow (gradient descent changes it only by eta^2 G G^T per step: see `conservation`).
"""

from __future__ import annotations

import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, mean_of, mean_std, seeds

DECODERS = ("transpose", "pinv", "right_inverse", "untied")
UNTIED_V0_CAP = 0.8  # eta_gd * lambda_1 * ||V0||_2^2 at most (see the module docstring)


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
    sets = [("digits", 1797, 64, 0.0)] if quick else [("spiked", 2000, 64, 4.0),
                                                      ("digits", 1797, 64, 0.0)]
    if options.mnist:
        sets.append(("user", 0, 0, 0.0))
    ks = (4,) if quick else (4, 16)
    opts = ("gd",) if quick else ("gd", "adam")
    out = []
    for name, n, d, gap in sets:
        for k in ks:
            for opt in opts:
                for seed in seeds(options):
                    for dec in DECODERS:
                        out.append({
                            "run_id": f"{'quick' if quick else 'full'}-{name}-k{k}-{opt}-{dec}"
                                      f"-s{seed}",
                            "dataset": name, "n": n, "d": d, "gap": gap, "k": k,
                            "decoder": dec, "optimizer": opt, "seed": seed,
                            "data_seed": options.seed,
                            "steps": 600 if quick else 1000, "init_scale": 0.5,
                            "lr_gd_times_lambda1": 0.1, "lr_adam": 1e-2, "data": options.mnist,
                            "untied_v0_cap": UNTIED_V0_CAP,
                        })
    return out


def run(config: dict) -> dict:
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"], path=config["data"])
    k = config["k"]
    ref = tiedae.pca.fit(X, k)
    lam1 = float(ref.eigenvalues[0])
    if config["optimizer"] == "gd":
        opt = optax.sgd(config["lr_gd_times_lambda1"] / lam1)
    else:
        opt = optax.adam(config["lr_adam"])
    model = tiedae.LinearAE(X.shape[1], k, decoder=config["decoder"],
                            init_scale=config["init_scale"], rngs=nnx.Rngs(config["seed"]))
    v0_scale = 1.0
    if config["decoder"] == "untied" and config.get("untied_v0_cap") is not None:
        v0_scale = cap_untied_decoder(model, config["untied_v0_cap"],
                                      config["lr_gd_times_lambda1"])
    steps = config["steps"]
    model, hist = tiedae.fit(model, X.astype(np.float32), optimizer=opt, steps=steps,
                             reference=ref, log_every=max(1, steps // 100))
    sub = hist["subspace_distance"]
    reached = np.flatnonzero(sub <= 1e-3)
    keys = ("step", "wall_time", "loss_gap", "orthonormality", "subspace_distance",
            "condition_number")
    return {
        "final": {
            "orthonormality_start": hist["orthonormality"][0],
            "orthonormality": hist["orthonormality"][-1],
            "loss_gap": hist["loss_gap"][-1],
            "relative_loss_gap": hist["loss_gap"][-1] / ref.optimal_loss,
            "subspace_distance": sub[-1],
            "condition_number": hist["condition_number"][-1],
            "steps_to_subspace_1e-3": hist["step"][reached[0]] if reached.size else None,
            "ms_per_step": 1e3 * hist["wall_time"][-1] / max(steps, 1),
        },
        "trajectory": {key: hist[key] for key in keys},
        "extra": {"eigenvalues_top": ref.eigenvalues[: k + 1], "optimal_loss": ref.optimal_loss,
                  "v0_scale": v0_scale},
    }


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    groups = group_by(records, "dataset", "k", "optimizer", "decoder")
    for (name, k, opt, dec), recs in groups.items():
        f = [r["final"] for r in recs]
        rows.append([name, k, opt, dec,
                     mean_std([x["orthonormality_start"] for x in f], 2),
                     mean_std([x["orthonormality"] for x in f], 2),
                     mean_std([x["relative_loss_gap"] for x in f], 2),
                     mean_std([x["subspace_distance"] for x in f], 2),
                     mean_std([x["condition_number"] for x in f], 3),
                     mean_std([x["ms_per_step"] for x in f], 2)])
    for (name, k, opt), recs in group_by(records, "dataset", "k", "optimizer").items():
        by_dec = {dec: [r["final"] for r in rs] for (dec,), rs in group_by(recs, "decoder").items()}
        if not set(DECODERS) <= set(by_dec):
            continue

        def onorm(dec, key="orthonormality", by_dec=by_dec):
            return mean_of([x[key] for x in by_dec[dec]])

        def gap(dec, by_dec=by_dec):
            return mean_of([x["relative_loss_gap"] for x in by_dec[dec]])

        start = onorm("transpose", "orthonormality_start")
        verdict = "rows became orthonormal" if onorm("transpose") < 1e-3 * start else \
            "NOT yet orthonormal"
        change = max(abs(onorm(dec) - start) for dec in ("pinv", "right_inverse")) / start
        why = ("gradient descent conserves WW^T for them up to an O(eta^2) drift per step"
               if opt == "gd" else
               "Adam's rescaled steps are not orthogonal to W's rows, so WW^T is not conserved; "
               "nothing pulls it to I either")
        findings.append(
            f"{name}, k={k}, {opt}: transpose ||WW^T-I|| {fmt(start)} -> {fmt(onorm('transpose'))}"
            f" ({verdict}); pinv -> {fmt(onorm('pinv'))}, right_inverse -> "
            f"{fmt(onorm('right_inverse'))} (changed by {100 * change:.0f}%: {why}); untied -> "
            f"{fmt(onorm('untied'))} (only the product V W is determined)."
        )
        gaps = {dec: gap(dec) for dec in DECODERS}
        best = max(gaps.values())
        findings.append(
            f"{name}, k={k}, {opt}: relative loss gap to the PCA optimum "
            + ", ".join(f"{dec} {fmt(g, 2)}" for dec, g in gaps.items())
            + (" - every decoder reached the optimum (as theory says)." if best < 1e-3 else
               " - not all reached the optimum within the step budget.")
        )
    return Summary(
        title="decoders: same init, same optimizer (mean ± std over seeds)",
        columns=["data", "k", "opt", "decoder", "||WW^T-I|| start", "||WW^T-I|| end",
                 "rel. loss gap",
                 "subspace dist", "cond(W)", "ms/step (with logging)"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="decoders",
    description="transpose vs pinv vs right_inverse vs untied: loss gap, ||WW^T-I||, subspace, "
                "cond(W) against steps and time",
    configs=configs, run=run, summarize=summarize,
)
