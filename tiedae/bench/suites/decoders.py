r"""Suite `decoders`: the four decoders trained side by side from the same initial W.

For each data set and code size k, a `LinearAE` with decoder transpose (W^T), pinv (W^+),
right_inverse (W^T (W W^T)^{-1}) or untied (free V) starts from the same W (same seed) and is
trained with the same optimizer by `tiedae.fit`. Recorded against steps and wall time: the
loss gap to the Eckart--Young optimum, ||W W^T - I||_F, the subspace distance to the top-k
principal subspace, cond(W), and (every fifth log point) the singular values of W. The
practical question "which tie should I use" is answered by the steps and seconds each decoder
needs to reach subspace distance 1e-3, compared with the transpose decoder's over the same
seeds (paired: same data, same initial W).

Data: the spiked covariance (n = 2000, d = 64; k = 4) and scikit-learn's digits (1797 x 64;
k = 4 and 16), trained on the rows (full batch), 10 seeds; with `--data`, the user's
MNIST-format training images (8000 of MNIST's test images, d = 784, k = 16, 5 seeds),
trained through their covariance (the same iterates as the full batch, at O(d^2 k) per step
instead of O(n d k)).

Initialisation: W0 has N(0, init_scale^2 / d) entries (rows of norm about init_scale); the
untied decoder's V0 has N(0, init_scale^2 / k) entries, so its spectral norm grows like
init_scale sqrt(d / k), and with it the curvature 2 lambda_1 ||V0||_2^2 of the loss in W.
Where that would make the gradient-descent step eta = lr_gd_times_lambda1 / lambda_1 unstable,
V0 is scaled down so that eta lambda_1 ||V0||_2^2 <= `untied_v0_cap` (0.8, i.e. eta times the
curvature <= 1.6 < 2), for both optimizers (the same init). At d = 64 the cap never binds
(||V0||_2^2 <= 6.6 for the seeds used); on 784-pixel MNIST images ||V0||_2^2 is about 56 and
gradient descent at 0.1 / lambda_1 diverged within six steps without it. The factor applied
is recorded (`extra.v0_scale`).

Theory: all four reach the optimal loss. Only the transpose decoder needs W W^T = I to be
optimal, and its gradient drives W there; pinv and right_inverse give a loss that depends on
W's row space only, so their gradient G satisfies G W^T = 0 and W W^T is conserved by
gradient flow (gradient descent changes it only by eta^2 G G^T per step: see `conservation`).
"""

from __future__ import annotations

import math

import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, mean_of, seeds
from tiedae.report import stats

DECODERS = ("transpose", "pinv", "right_inverse", "untied")
UNTIED_V0_CAP = 0.8  # eta_gd * lambda_1 * ||V0||_2^2 at most (see the module docstring)
SUBSPACE_TARGET = 1e-3
SV_EVERY = 5  # singular values of W at every fifth log point
# One optimizer object per kind, the step size injected per run: runs that differ only in
# their seed or data share one compiled program.
OPTIMIZERS = {"gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}


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


def ci(values) -> str:
    """'mean ± half-width of the 95% t interval' (the value alone for one seed)."""
    iv = stats.interval(values)
    if iv.n < 2:
        return fmt(iv.mean, 2)
    return f"{fmt(iv.mean, 2)} ± {fmt(iv.hi - iv.mean, 2)}"


def to_target(records: list[dict], unit: str = "steps") -> list[float]:
    """Steps (or seconds) to subspace distance 1e-3 per record: inf when not reached, nan
    when the record does not have the figure (records from before it was recorded)."""
    key = f"{unit}_to_subspace_1e-3"
    return [math.nan if key not in r["final"] else
            math.inf if r["final"][key] is None else float(r["final"][key]) for r in records]


def median_iqr_text(values: list[float]) -> str:
    """'median [q25, q75]', 'never' for inf, with the count reached when not all did."""
    if any(math.isnan(v) for v in values):
        return "not recorded"
    med, lo, hi = stats.median_iqr(values)
    reached = sum(map(math.isfinite, values))

    def one(x):
        return "never" if math.isinf(x) else fmt(x)

    text = f"{one(med)} [{one(lo)}, {one(hi)}]"
    return text if reached == len(values) else f"{text} ({reached}/{len(values)})"


def paired_to_target(a: list[float], b: list[float]) -> tuple[str, stats.Paired | None]:
    """Verdict of a vs b (per seed; a - b < 0: a is faster) with the paired comparison when
    every run of both reached the target."""
    if any(math.isnan(v) for v in a + b):
        return "not recorded", None
    na, nb = sum(map(math.isfinite, a)), sum(map(math.isfinite, b))
    if na < len(a) or nb < len(b):
        return f"reached in {na} vs {nb} of {len(a)} seeds", None
    r = stats.paired(a, b)
    words = {"lower": "faster", "higher": "slower"}.get(r.verdict, r.verdict)
    return words, r


def by_seed(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["config"]["seed"])


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    groups = group_by(records, "dataset", "k", "optimizer", "decoder")
    for (name, k, opt, dec), recs in groups.items():
        f = [r["final"] for r in recs]
        rows.append([name, k, opt, dec, len(recs),
                     ci([x["orthonormality_start"] for x in f]),
                     ci([x["orthonormality"] for x in f]), ci([x["relative_loss_gap"] for x in f]),
                     median_iqr_text(to_target(recs)),
                     median_iqr_text(to_target(recs, "seconds")),
                     ci([x["ms_per_step"] for x in f])])
    for (name, k, opt), recs in group_by(records, "dataset", "k", "optimizer").items():
        by_dec = {dec: by_seed(rs) for (dec,), rs in group_by(recs, "decoder").items()}
        if not set(DECODERS) <= set(by_dec):
            continue

        def onorm(dec, key="orthonormality", by_dec=by_dec):
            return mean_of([r["final"][key] for r in by_dec[dec]])

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
            f"{fmt(onorm('untied'))} (only the product V W is determined); singular values of "
            f"W: transpose {_sv_range(by_dec['transpose'])}, pinv {_sv_range(by_dec['pinv'])}."
        )
        gaps = {dec: mean_of([r["final"]["relative_loss_gap"] for r in by_dec[dec]])
                for dec in DECODERS}
        findings.append(
            f"{name}, k={k}, {opt}: relative loss gap to the PCA optimum (mean over "
            f"{len(by_dec['transpose'])} seeds) "
            + ", ".join(f"{dec} {fmt(g, 2)}" for dec, g in gaps.items())
            + (" - every decoder reached the optimum (as theory says)." if max(gaps.values())
               < 1e-3 else " - not all reached the optimum within the step budget.")
        )
        findings.append(_time_finding(name, k, opt, by_dec))
    return Summary(
        title="decoders: same init, same optimizer (mean ± 95% CI half-width over seeds; "
              "times to subspace distance 1e-3: median [IQR])",
        columns=["data", "k", "opt", "decoder", "seeds", "||WW^T-I|| start", "||WW^T-I|| end",
                 "rel. loss gap", "steps to 1e-3", "seconds to 1e-3", "ms/step (with logging)"],
        rows=rows, findings=findings,
    )


def _sv_range(records: list[dict]) -> str:
    lo = mean_of([r["final"].get("sv_min_start") for r in records])
    hi = mean_of([r["final"].get("sv_max_start") for r in records])
    lo_end = mean_of([r["final"].get("sv_min") for r in records])
    hi_end = mean_of([r["final"].get("sv_max") for r in records])
    if math.isnan(lo):
        return "not recorded"
    return f"[{fmt(lo, 2)}, {fmt(hi, 2)}] -> [{fmt(lo_end, 2)}, {fmt(hi_end, 2)}]"


def _time_finding(name, k, opt, by_dec) -> str:
    """Which tie reaches the subspace first: medians, and each decoder against the transpose
    decoder paired over seeds, in steps and in seconds."""
    parts = []
    for dec in DECODERS:
        steps, secs = to_target(by_dec[dec]), to_target(by_dec[dec], "seconds")
        text = f"{dec} {median_iqr_text(steps)} steps / {median_iqr_text(secs)} s"
        if dec != "transpose":
            v_steps, _ = paired_to_target(steps, to_target(by_dec["transpose"]))
            v_secs, _ = paired_to_target(secs, to_target(by_dec["transpose"], "seconds"))
            text += f" ({v_steps} in steps, {v_secs} in seconds than transpose)"
        parts.append(text)
    return (f"{name}, k={k}, {opt}: to subspace distance {SUBSPACE_TARGET:g} (median [IQR]; "
            "paired over seeds) - " + "; ".join(parts) + ".")


SUITE = Suite(
    name="decoders",
    description="transpose vs pinv vs right_inverse vs untied: loss gap, ||WW^T-I||, singular "
                "values of W, steps and seconds to the principal subspace",
    configs=configs, run=run, summarize=summarize,
)
