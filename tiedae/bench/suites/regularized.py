r"""Suite `regularized`: L2-regularised untied training against its closed form, and the
tied gradient against Oja's subspace rule.

1. Untied x_hat = V W x with loss mean_i ||x_i - V W x_i||^2 + lam (||W||_F^2 + ||V||_F^2)
   (Kunin et al. 2019): at the minimum V = W^T = U_k diag(s) with
   s_i = sqrt(max(0, 1 - lam / e_i)), e_i the top eigenvalues of C = X_c^T X_c / n. (The
   constant is e_i, not n e_i, because the loss is a mean over samples: with
   V = W^T = U diag(s), L = tr C - sum_i e_i (2 s_i^2 - s_i^4) + 2 lam sum_i s_i^2, and
   dL/d(s_i^2) = 0 gives s_i^2 = 1 - lam / e_i.) Logged along the way: ||V - W^T||_F and the
   largest |s_i - sqrt(1 - lam / e_i)|, which fall together as training converges.
2. Tied W (k, d): -(1/2) grad L(W) = [W C - W C W^T W] + (I - W W^T) W C, i.e. Oja's subspace
   rule plus a term that vanishes at W W^T = I. Near the optimum the extra term doubles the
   curvature along the row norms (rate 4 e_i instead of 2 e_i), so the largest stable step of
   W <- W + eta * direction is about 1/(2 e_1) for the direction -(1/2) grad L and 1/e_1 for
   Oja. Plain gradient descent W <- W - eta grad L takes twice that direction, so its limit is
   eta e_1 = 1/4. Measured by bisection along each direction, and predicted from the Jacobian
   of each update at the optimum.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, seeds
from tiedae.linear.algorithms import oja_direction, tied_direction
from tiedae.report import Analysis, Cell, Figure, Table, cell, plots, query, stats
from tiedae.report import format as F
from tiedae.report.analysis import ci_cell

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
RULES = {"tied_gradient": tied_direction, "oja": oja_direction}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    steps = 1500 if options.quick else 20000
    out = []
    for seed in seeds(options, quick=5, full=10):
        for lam_rel in (0.2, 0.7) if options.quick else (0.1, 0.4, 0.7, 0.9):
            out.append({"run_id": f"{tag}-l2-{lam_rel}-s{seed}", "kind": "l2", "seed": seed,
                        "data_seed": options.seed, "lambda_over_lambda1": lam_rel,
                        "lr_times_lambda1": 0.1, "steps": steps, "init_scale": 0.5,
                        "dtype": "float64", **SPIKED})
        for start in ("near_optimum", "random_orthonormal"):
            out.append({"run_id": f"{tag}-stability-{start}-s{seed}", "kind": "stability",
                        "start": start, "seed": seed, "data_seed": options.seed,
                        "steps": 600 if options.quick else 4000,
                        "bisections": 10 if options.quick else 16, **SPIKED})
    return out


def _data(config):
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"])
    return X, tiedae.pca.fit(X, config["k"])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ClosedFormGap:
    """fit metrics: ||V - W^T||_F and max_i |s_i(V) - theory_i| of an untied model."""

    theory: jax.Array

    def __call__(self, model, loss):
        W, V = model.W[...], model.V[...]
        s = jnp.linalg.svd(V, compute_uv=False)
        return {"V_minus_W_T": jnp.linalg.norm(V - W.T),
                "sv_error": jnp.max(jnp.abs(s - self.theory.astype(s.dtype)))}


GD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)  # one compiled program per shape


def _run_l2(config):
    X, ref = _data(config)
    k = config["k"]
    e = ref.eigenvalues[:k]
    lam = config["lambda_over_lambda1"] * float(e[0])
    model = tiedae.LinearAE(config["d"], k, decoder="untied", init_scale=config["init_scale"],
                            param_dtype=config["dtype"], rngs=nnx.Rngs(config["seed"]))
    theory_sv = np.sqrt(np.clip(1.0 - lam / e, 0.0, None))
    model, hist = tiedae.fit(model, X, optimizer=GD,
                             hyperparams={"learning_rate": config["lr_times_lambda1"] / e[0]},
                             steps=config["steps"], l2=lam, batch_size="covariance",
                             metrics=ClosedFormGap(theory_sv),
                             log_every=max(1, config["steps"] // 100))
    W, V = np.asarray(model.W[...]), np.asarray(model.V[...])
    U, s, _ = np.linalg.svd(V, full_matrices=False)
    theory = np.sqrt(np.clip(1.0 - lam / e, 0.0, None))
    wrong = np.sqrt(np.clip(1.0 - lam / (ref.n_samples * e), 0.0, None))  # sum-over-samples
    alive = theory > 0
    sub = float(tiedae.metrics.subspace_distance(jnp.asarray(U[:, alive].T),
                                                 jnp.asarray(ref.components[alive])))
    return {
        "final": {"max_sv_error": np.max(np.abs(s - theory)),
                  "max_sv_error_if_constant_were_n_e": np.max(np.abs(s - wrong)),
                  "V_minus_W_T": np.linalg.norm(V - W.T), "n_alive": int(alive.sum()),
                  "subspace_distance_alive": sub},
        "trajectory": {"step": hist["step"], "objective": hist["objective"],
                       "V_minus_W_T": hist["V_minus_W_T"], "sv_error": hist["sv_error"]},
        "extra": {"singular_values": s, "theory": theory, "eigenvalues": e, "lambda": lam},
    }


@functools.partial(jax.jit, static_argnames=("rule", "steps"))
def _final_gap(W0, C, eta, optimal_loss, *, rule, steps):
    direction = RULES[rule]

    def body(W, _):
        return W + eta * direction(W, C), None

    W, _ = jax.lax.scan(body, W0, None, length=steps)
    return tiedae.pca.reconstruction_loss(W, W.T, C) - optimal_loss


def _largest_stable(W0, C, ref, rule, steps, iters):
    """Bisection (in log eta) for the largest step whose loss gap falls 1000-fold in `steps`."""
    C = jnp.asarray(C)
    gap0 = float(tiedae.pca.reconstruction_loss(W0, W0.T, C)) - ref.optimal_loss
    lam1 = float(ref.eigenvalues[0])

    def stable(c):
        gap = float(_final_gap(W0, C, c / lam1, ref.optimal_loss, rule=rule, steps=steps))
        return np.isfinite(gap) and abs(gap) <= 1e-3 * gap0

    lo, hi = 0.1, 4.0  # eta * e1 = 0.1 is well inside both limits (0.5 and 1)
    if not stable(lo):
        return float("nan")
    for _ in range(iters):
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


@functools.partial(jax.jit, static_argnames=("rule",))
def _direction_jacobian(Wstar, C, *, rule):
    J = jax.jacfwd(lambda w: RULES[rule](w, C).ravel())(Wstar)
    return J.reshape(Wstar.size, Wstar.size)


def _local_prediction(ref, C, rule):
    """2 / (largest |eigenvalue| of d(direction)/dW at the optimum), in units of 1/e_1."""
    J = _direction_jacobian(jnp.asarray(ref.components), C, rule=rule)
    mu = np.linalg.eigvals(np.asarray(J))
    return 2.0 / np.max(np.abs(mu)) * float(ref.eigenvalues[0])


def _run_stability(config):
    X, ref = _data(config)
    _, C = tiedae.pca.covariance(X)
    C = jnp.asarray(C)
    k, d = config["k"], config["d"]
    rng = np.random.default_rng(config["seed"])
    if config["start"] == "near_optimum":
        W0 = ref.components + 1e-3 * rng.standard_normal((k, d))
    else:
        W0 = np.linalg.qr(rng.standard_normal((d, k)))[0].T
    W0 = jnp.asarray(W0)
    final = {}
    for rule in RULES:
        final[f"{rule}_eta_max_times_e1"] = _largest_stable(
            W0, C, ref, rule, config["steps"], config["bisections"])
        final[f"{rule}_local_theory"] = _local_prediction(ref, C, rule)
    final["ratio_oja_over_gradient"] = (final["oja_eta_max_times_e1"]
                                        / final["tied_gradient_eta_max_times_e1"])
    # plain gradient descent W <- W - eta grad L = W + 2 eta (-(1/2) grad L): half the step
    final["gd_eta_max_times_e1"] = final["tied_gradient_eta_max_times_e1"] / 2
    final["gd_local_theory"] = final["tied_gradient_local_theory"] / 2
    return {"final": final, "trajectory": {}, "extra": {}}


def run(config: dict) -> dict:
    return _run_l2(config) if config["kind"] == "l2" else _run_stability(config)


# ---- analysis ----------------------------------------------------------------------------------


def _l2_part(l2: list[dict]) -> tuple[Table, list[str], dict[str, str]]:
    """The L2-regularised untied runs against the closed form: the terminal table (one row per
    lam), the finding and the paper's macros."""
    rows = []
    for (lam_rel,), recs in query.group(l2, "lambda_over_lambda1").items():
        rows.append([f"{lam_rel:g} e1", len(recs), F.ci(query.final(recs, "max_sv_error"), 2),
                     F.ci(query.final(recs, "V_minus_W_T"), 2),
                     f"{recs[0]['final']['n_alive']} of {recs[0]['config']['k']}",
                     F.ci(query.final(recs, "max_sv_error_if_constant_were_n_e"), 2)])
    table = Table(
        "regularized: untied + L2 weight lam against the closed form V = W^T = U diag(s), "
        "s_i = sqrt(max(0, 1 - lam/e_i)) (mean ± 95% CI half-width over seeds)",
        ["lam", "seeds", "max |s_i - sqrt(1 - lam/e_i)|", "||V - W^T||", "components kept",
         "error with n*e_i for e_i"], rows)
    worst = np.nanmax(query.final(l2, "max_sv_error")) if l2 else None
    wrong = query.final(l2, "max_sv_error_if_constant_were_n_e")
    vw = np.nanmax(query.final(l2, "V_minus_W_T")) if l2 else None
    lo, hi = (np.nanmin(wrong), np.nanmax(wrong)) if l2 else (None, None)
    findings = [] if not l2 else [
        f"untied + L2 ({len(l2)} runs): decoder singular values match sqrt(1 - lam/e_i) to "
        f"{F.fmt(worst, 2)} and V = W^T to {F.fmt(vw, 2)} (Kunin et al.'s closed form holds "
        f"with e_i the eigenvalues of the mean covariance; with n*e_i the largest error would "
        f"be {F.fmt(lo, 2)} to {F.fmt(hi, 2)} across lam and seeds); components with "
        "e_i <= lam are switched off."]
    m = {"RRegMaxSvError": F.num(worst, 2), "RRegWrongConstantError": F.num(lo, 2),
         "RRegWrongConstantErrorMax": F.num(hi, 2), "RRegMaxVminusWt": F.num(vw, 2),
         "RRegSteps": F.num(l2[0]["config"].get("steps") if l2 else None),
         "RRegRuns": F.num(len(l2))}
    lams = sorted({r["config"]["lambda_over_lambda1"] for r in l2})
    m["RFindRegularized"] = (
        rf"After {m['RRegSteps']} gradient steps ({m['RRegRuns']} runs: "
        rf"$\lambda/e_1\in\{{{', '.join(f'{v:g}' for v in lams)}\}}$ and several seeds) the "
        rf"singular values match $\sqrt{{1-\lambda/e_i}}$ to within {m['RRegMaxSvError']} "
        rf"and $\|V-W^\top\|_F$ is at most {m['RRegMaxVminusWt']}; with the constant of "
        rf"the summed loss ($n e_i$ in place of $e_i$) the largest singular-value error would "
        rf"be between {m['RRegWrongConstantError']} and "
        rf"{m['RRegWrongConstantErrorMax']}, depending on $\lambda$."
    )
    return table, findings, m


def _limits(recs: list[dict]) -> dict:
    """The largest stable steps of one start over seeds (measured values per seed; the linear
    theory, the same for every seed, as its mean)."""
    grad = query.final(recs, "tied_gradient_eta_max_times_e1")
    theory = float(np.nanmean(query.final(recs, "tied_gradient_local_theory"))) if recs \
        else None
    return {"grad": grad, "oja": query.final(recs, "oja_eta_max_times_e1"),
            "ratio": query.final(recs, "ratio_oja_over_gradient"), "theory": theory,
            "oja_theory": float(np.nanmean(query.final(recs, "oja_local_theory"))) if recs
            else None}


def _stability_part(stab: list[dict]) -> tuple[Table, list[str], dict[str, str]]:
    """The largest stable step of the tied gradient, plain gradient descent and Oja's rule:
    the paper's table `oja`, the findings and the macros."""
    rows, findings = [], []
    for (start,), recs in query.group(stab, "start").items():
        t = _limits(recs)
        rows.append([start.replace("_", " "), len(recs), ci_cell(t["grad"]), ci_cell(t["grad"] / 2),
                     cell(t["theory"]), cell(t["theory"] / 2), ci_cell(t["oja"]),
                     cell(t["oja_theory"]), ci_cell(t["ratio"])])
        grad, oja = stats.interval(t["grad"]), stats.interval(t["oja"])
        findings.append(
            f"step size ({start.replace('_', ' ')} start, {grad.n} runs): steps W <- W + eta * "
            f"(-1/2 grad L) stay stable up to eta*e1 = {F.fmt(grad.mean)} (95% CI "
            f"[{F.fmt(grad.lo)}, {F.fmt(grad.hi)}]), so plain gradient descent W <- W - eta "
            f"grad L up to eta*e1 = {F.fmt(grad.mean / 2)}; Oja's rule up to {F.fmt(oja.mean)} "
            f"(linear theory at the optimum: {F.fmt(t['theory'])}, {F.fmt(t['theory'] / 2)} and "
            f"{F.fmt(t['oja_theory'])}): the extra (I - WW^T)WC term that pulls the rows to unit "
            "norm halves the usable step.")
    table = Table(
        "regularized: largest stable step eta*e1 along -1/2 grad L of the tied loss, of plain "
        "gradient descent (-grad L) and of Oja's rule, with the linear theory at the optimum "
        "(mean ± 95% CI half-width over seeds)",
        ["start", "seeds", Cell("-1/2 grad L", r"$-\tfrac12\nabla L_T$"),
         Cell("GD -grad L", r"GD $-\nabla L_T$"), "theory", "theory (GD)", "Oja", "theory",
         Cell("ratio Oja / -1/2 grad", r"ratio Oja / $-\tfrac12\nabla$")],
        rows, name="oja")
    t = _limits(query.select(stab, start="near_optimum") or stab)
    m = {"ROjaGradientEtaMax": F.pm_ci(t["grad"], 3), "ROjaGdEtaMax": F.pm_ci(t["grad"] / 2, 3),
         "ROjaEtaMax": F.pm_ci(t["oja"], 3), "ROjaRatio": F.pm_ci(t["ratio"], 3),
         "ROjaGradientTheory": F.num(t["theory"], 3),
         "ROjaGdTheory": F.num(None if t["theory"] is None else t["theory"] / 2, 3),
         "ROjaTheory": F.num(t["oja_theory"], 3)}
    m["RFindOja"] = (
        rf"Started near the optimum, steps $W\leftarrow W+\eta(-\tfrac12\nabla L_T)$ stay "
        rf"stable up to $\eta e_1 = {m['ROjaGradientEtaMax']}$, so plain gradient descent "
        rf"$W\leftarrow W-\eta\nabla L_T$ up to $\eta e_1 = {m['ROjaGdEtaMax']}$, and "
        rf"Oja's rule up to ${m['ROjaEtaMax']}$ (ratio {m['ROjaRatio']} to the "
        rf"first); the linear stability analysis at the optimum predicts "
        rf"{m['ROjaGradientTheory']}, {m['ROjaGdTheory']} and {m['ROjaTheory']}."
    )
    return table, findings, m


def _draw(records: list[dict]):
    """Left: trained singular values against sqrt(1 - lam/e_i). Right: ||V - W^T||_F (solid) and
    max_i |s_i - sqrt(1 - lam/e_i)| (dashed) against steps, median over seeds, per lam."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = plots.new_figure(2, 1, width=6.6, height=2.1)
    groups = query.group(query.select(records, kind="l2"), "lambda_over_lambda1")
    cmap = plots.colormap(len(groups))
    ax = axes[0, 0]
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        for j, rec in enumerate(recs):
            e = np.asarray(rec["extra"]["eigenvalues"], dtype=float)
            s = np.asarray(rec["extra"]["singular_values"], dtype=float)
            ax.plot(float(rec["extra"]["lambda"]) / e, s, "o", color=cmap[i], markersize=3,
                    fillstyle="none", label=rf"$\lambda={lam_rel:g}\,e_1$" if j == 0 else None)
    x = np.linspace(0, 1.5, 300)
    ax.plot(x, np.sqrt(np.clip(1 - x, 0, None)), color="k", linewidth=0.8,
            label=r"$\sqrt{\max(0, 1-\lambda/e_i)}$")
    ax.set_xlabel(r"$\lambda / e_i$")
    ax.set_ylabel("singular value of trained $V$")
    ax.set_title("trained singular values vs closed form", fontsize=7)
    ax.legend(frameon=False, fontsize=6)
    ax = axes[0, 1]
    drawn, settled, last = False, 0.0, 0.0
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        if "V_minus_W_T" not in (recs[0].get("trajectory") or {}):
            continue
        for metric, style in (("V_minus_W_T", "-"), ("sv_error", "--")):
            steps, _ = query.trajectory(recs[0], metric)
            stack = np.vstack([query.trajectory(r, metric)[1] for r in recs])
            median = plots.positive(np.median(stack, axis=0))
            ax.semilogy(steps, median, color=cmap[i], linestyle=style,
                        label=rf"$\lambda={lam_rel:g}\,e_1$" if style == "-" else None)
            # the first step within 10x of the final level: what follows is flat
            finite = np.isfinite(median)
            if finite.any():
                near = np.flatnonzero(finite & (median <= 10 * median[finite][-1]))
                settled = max(settled, float(steps[near[0]]) if near.size else 0.0)
            last = max(last, float(steps[-1]))
            drawn = True
    if drawn and 0 < settled < last / 3:  # show the descent, not a flat tail
        ax.set_xlim(0, 1.5 * settled)
        ax.set_xlabel(f"step (flat from here to step {last:.0f}, not shown)", fontsize=6)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    if drawn:
        ax.plot([], [], color="0.4", linestyle="-", label=r"$\|V-W^\top\|_F$")
        ax.plot([], [], color="0.4", linestyle="--", label=r"$\max_i|s_i-\sqrt{1-\lambda/e_i}|$")
        ax.legend(frameon=False, fontsize=5)
    else:
        ax.text(0.5, 0.5, "trajectories not recorded", ha="center", va="center",
                transform=ax.transAxes)
    if not ax.get_xlabel():
        ax.set_xlabel("step")
    ax.set_title("distance to the closed form during training", fontsize=7)
    fig.tight_layout()
    return fig


def analyze(records: list[dict]) -> Analysis:
    """The closed form of the L2-regularised untied model, the step-size limits of the tied
    gradient, plain gradient descent and Oja's rule (table `oja`), the findings, the paper's
    numbers and the figure."""
    l2_table, l2_findings, l2_numbers = _l2_part(query.select(records, kind="l2"))
    oja_table, oja_findings, oja_numbers = _stability_part(
        query.select(records, kind="stability"))
    return Analysis(
        tables=[oja_table, l2_table], findings=l2_findings + oja_findings,
        numbers={**l2_numbers, **oja_numbers},
        figures=[Figure("regularized", "Trained singular values of the L2-regularised untied "
                        "model against sqrt(max(0, 1 - lam/e_i)), and the distance to the closed "
                        "form during training.", lambda: _draw(records))],
    )


SUITE = Suite(
    name="regularized",
    description="untied + L2 vs the closed form sqrt(1 - lam/e_i), V = W^T; tied gradient vs "
                "Oja's rule: largest stable step (and plain GD's, half of it)",
    configs=configs, run=run, analyze=analyze,
)
