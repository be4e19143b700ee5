r"""Paper material of the `regularized` suite: the L2-regularised untied model against Kunin et
al.'s closed form (trained singular values, and how ||V - W^T|| and the singular-value error
fall during training), and the largest stable step of the tied gradient, of plain gradient
descent and of Oja's rule (mean ± 95% t half-width over seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.figures import colormap, positive
from tiedae.paper.style import new_figure, save
from tiedae.paper.suites._linear import pm_ci
from tiedae.paper.tables import tabular

__all__ = ["fig_regularized", "regularized"]


def _l2(records):
    return [r for r in records if r["config"].get("kind") == "l2"]


def fig_regularized(records: list[dict], out_dir: Path) -> Path:
    """Left: trained singular values against sqrt(1 - lam/e_i). Right: ||V - W^T||_F (solid) and
    max_i |s_i - sqrt(1 - lam/e_i)| (dashed) against steps, median over seeds, per lam."""
    fig, axes = new_figure(2, 1, width=6.6, height=2.1)
    groups = R.group(_l2(records), "lambda_over_lambda1")
    cmap = colormap(len(groups))
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
    drawn = False
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        if "V_minus_W_T" not in (recs[0].get("trajectory") or {}):
            continue
        for metric, style in (("V_minus_W_T", "-"), ("sv_error", "--")):
            steps, _ = R.trajectory(recs[0], metric)
            stack = np.vstack([R.trajectory(r, metric)[1] for r in recs])
            ax.semilogy(steps, positive(np.median(stack, axis=0)), color=cmap[i],
                        linestyle=style,
                        label=rf"$\lambda={lam_rel:g}\,e_1$" if style == "-" else None)
            drawn = True
    if drawn:
        ax.plot([], [], color="0.4", linestyle="-", label=r"$\|V-W^\top\|_F$")
        ax.plot([], [], color="0.4", linestyle="--", label=r"$\max_i|s_i-\sqrt{1-\lambda/e_i}|$")
        ax.legend(frameon=False, fontsize=5)
    else:
        ax.text(0.5, 0.5, "trajectories not recorded", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("step")
    ax.set_title("distance to the closed form during training", fontsize=7)
    fig.tight_layout()
    return save(fig, out_dir, "regularized")


def regularized(records: list[dict]) -> tuple[dict, dict]:
    """Closed-form singular values of the L2-regularised untied model; step-size limits of the
    tied gradient, plain gradient descent and Oja's rule (table `oja`)."""
    macros: dict[str, str] = {}
    l2 = _l2(records)
    wrong = R.final(l2, "max_sv_error_if_constant_were_n_e")
    macros["RRegMaxSvError"] = R.num(np.nanmax(R.final(l2, "max_sv_error")) if l2 else None, 2)
    macros["RRegWrongConstantError"] = R.num(np.nanmin(wrong) if l2 else None, 2)
    macros["RRegWrongConstantErrorMax"] = R.num(np.nanmax(wrong) if l2 else None, 2)
    macros["RRegMaxVminusWt"] = R.num(np.nanmax(R.final(l2, "V_minus_W_T")) if l2 else None, 2)
    macros["RRegSteps"] = R.num(l2[0]["config"].get("steps") if l2 else None)
    macros["RRegRuns"] = R.num(len(l2))
    lams = sorted({r["config"]["lambda_over_lambda1"] for r in l2})
    macros["RFindRegularized"] = (
        rf"After {macros['RRegSteps']} gradient steps ({macros['RRegRuns']} runs: "
        rf"$\lambda/e_1\in\{{{', '.join(f'{v:g}' for v in lams)}\}}$ and several seeds) the "
        rf"singular values match $\sqrt{{1-\lambda/e_i}}$ to within {macros['RRegMaxSvError']} "
        rf"and $\|V-W^\top\|_F$ is at most {macros['RRegMaxVminusWt']}; with the constant of "
        rf"the summed loss ($n e_i$ in place of $e_i$) the largest singular-value error would "
        rf"be between {macros['RRegWrongConstantError']} and "
        rf"{macros['RRegWrongConstantErrorMax']}, depending on $\lambda$."
    )
    stab = [r for r in records if r["config"].get("kind") == "stability"]
    rows = []
    for (start,), recs in R.group(stab, "start").items():
        grad = R.final(recs, "tied_gradient_eta_max_times_e1")
        theory = float(np.nanmean(R.final(recs, "tied_gradient_local_theory")))
        rows.append([R.tex_escape(start.replace("_", " ")), R.num(len(recs)),
                     pm_ci(grad, 3), pm_ci(grad / 2, 3), R.num(theory, 3),
                     R.num(theory / 2, 3), pm_ci(R.final(recs, "oja_eta_max_times_e1"), 3),
                     R.num(float(np.nanmean(R.final(recs, "oja_local_theory"))), 3),
                     pm_ci(R.final(recs, "ratio_oja_over_gradient"), 3)])
    table = tabular(["start", "seeds", r"$-\tfrac12\nabla L_T$", r"GD $-\nabla L_T$",
                     "theory", "theory (GD)", "Oja", "theory", "ratio Oja / $-\\tfrac12\\nabla$"],
                    rows)
    near = R.select(stab, start="near_optimum") or stab
    grad = R.final(near, "tied_gradient_eta_max_times_e1")
    macros["ROjaGradientEtaMax"] = pm_ci(grad, 3)
    macros["ROjaGdEtaMax"] = pm_ci(grad / 2, 3)
    macros["ROjaEtaMax"] = pm_ci(R.final(near, "oja_eta_max_times_e1"), 3)
    macros["ROjaRatio"] = pm_ci(R.final(near, "ratio_oja_over_gradient"), 3)
    theory = float(np.nanmean(R.final(near, "tied_gradient_local_theory"))) if near else None
    macros["ROjaGradientTheory"] = R.num(theory, 3)
    macros["ROjaGdTheory"] = R.num(None if theory is None else theory / 2, 3)
    macros["ROjaTheory"] = R.num(float(np.nanmean(R.final(near, "oja_local_theory")))
                                 if near else None, 3)
    macros["RFindOja"] = (
        rf"Started near the optimum, steps $W\leftarrow W+\eta(-\tfrac12\nabla L_T)$ stay "
        rf"stable up to $\eta e_1 = {macros['ROjaGradientEtaMax']}$, so plain gradient descent "
        rf"$W\leftarrow W-\eta\nabla L_T$ up to $\eta e_1 = {macros['ROjaGdEtaMax']}$, and "
        rf"Oja's rule up to ${macros['ROjaEtaMax']}$ (ratio {macros['ROjaRatio']} to the "
        rf"first); the linear stability analysis at the optimum predicts "
        rf"{macros['ROjaGradientTheory']}, {macros['ROjaGdTheory']} and {macros['ROjaTheory']}."
    )
    return macros, {"oja": table}
