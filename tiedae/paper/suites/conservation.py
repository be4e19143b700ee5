r"""Paper material of the `conservation` suite: the drift of W W^T under the pseudo-inverse and
right-inverse ties against the step size (gradient descent, heavy-ball momentum, Adam; started
below and above W W^T = I), its limiting exponent at small steps, and the decay of the untied
imbalance W W^T - V^T V (mean ± 95% t half-width over seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.bench.suites import conservation as suite
from tiedae.paper import results as R
from tiedae.paper.figures import colormap
from tiedae.paper.style import new_figure, save
from tiedae.paper.suites._linear import pm_ci, verdict
from tiedae.paper.tables import camel, tabular

__all__ = ["conservation", "fig_conservation"]

OPT_NAMES = {"gd": "gradient descent", "momentum": "momentum 0.9", "adam": "Adam"}
OPT_COLORS = {"gd": "#1f77b4", "momentum": "#9467bd", "adam": "#d62728"}


def _drift(records):
    return [r for r in records if r["config"].get("kind") == "drift"]


def _init(record) -> str:
    return record["config"].get("init") or "below"  # records from before "init" was recorded


def _median_over_seeds(records, key):
    x = np.asarray(records[0]["extra"]["eta"], dtype=float)
    ys = np.vstack([np.asarray(r["extra"][key], dtype=float) for r in records])
    return x, np.median(ys, axis=0)


def _x(records, eta):
    """eta * e1 for the SGD optimizers (their grid is in units of 1/e1), eta for Adam."""
    if records[0]["config"]["optimizer"] == "adam":
        return eta
    return eta * float(records[0]["extra"]["lambda1"])


def fig_conservation(records: list[dict], out_dir: Path) -> Path:
    """Left: drift of WW^T vs step size (pinv; solid: W0 below I, dashed: above). Middle: the
    local log-log slope between neighbouring step sizes. Right: untied imbalance against steps
    for several L2 weights, with exp(-4 lam eta t)."""
    fig, axes = new_figure(3, 1, width=7.0, height=2.2)
    drift = [r for r in _drift(records) if r["config"]["decoder"] == "pinv"] or _drift(records)
    for (opt,), recs in R.group(drift, "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if _init(r) == init]
            if not sub:
                continue
            eta, y = _median_over_seeds(sub, "drift")
            x = _x(sub, eta)
            style = "-" if init == "below" else "--"
            color = OPT_COLORS.get(opt, "k")
            axes[0, 0].loglog(x, y, marker="o", markersize=2.5, color=color, linestyle=style,
                              label=f"{OPT_NAMES.get(opt, opt)}, $W_0$ {init} $I$")
            if "local_slopes" in sub[0]["extra"]:
                _, slopes = _median_over_seeds(sub, "local_slopes")
                mid = np.sqrt(x[1:] * x[:-1])
                axes[0, 1].semilogx(mid, slopes, marker="o", markersize=2.5, color=color,
                                    linestyle=style)
    for p in (1, 2):
        axes[0, 1].axhline(p, color="0.6", linewidth=0.7, linestyle=":")
    axes[0, 0].set_xlabel(r"step size ($\eta e_1$; $\eta$ for Adam)")
    axes[0, 0].set_ylabel(r"$\|W_TW_T^\top - W_0W_0^\top\|_F$")
    axes[0, 0].set_title(r"pinv: drift of $WW^\top$ after $T$ steps", fontsize=7)
    axes[0, 0].legend(frameon=False, fontsize=5)
    axes[0, 1].set_xlabel(r"step size ($\eta e_1$; $\eta$ for Adam)")
    axes[0, 1].set_ylabel("local log-log slope")
    axes[0, 1].set_title(r"exponent $p$ in drift $\propto\eta^p$", fontsize=7)
    ax = axes[0, 2]
    decay = [r for r in records if r["config"].get("kind") == "decay"]
    groups = R.group(decay, "lambda_over_lambda1")
    cmap = colormap(len(groups))
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        rec = min(recs, key=lambda r: r["config"]["seed"])
        steps, dn = R.trajectory(rec, "D_norm")
        ax.semilogy(steps, dn / dn[0], color=cmap[i], label=rf"$\lambda={lam_rel:g}\,e_1$")
        lam, eta = float(rec["extra"]["lambda"]), float(rec["extra"]["eta"])
        if lam > 0:
            ax.semilogy(steps, np.exp(-4 * lam * eta * steps), color=cmap[i], linestyle="--",
                        linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\|WW^\top - V^\top V\|_F$ / initial")
    ax.set_title(r"untied: imbalance; dashed $e^{-4\lambda\eta t}$", fontsize=7)
    ax.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "conservation")


def _slope_cells(recs):
    key = suite.slope_key(recs)
    small = pm_ci(R.final(recs, key), 3)
    whole = pm_ci(R.final(recs, "drift_slope_all"), 3) if key != "drift_slope" else "--"
    return small, whole


def _table(drift: list[dict]) -> str:
    rows = []
    for (dec, opt), recs in R.group(drift, "decoder", "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if _init(r) == init]
            if not sub:
                continue
            small, whole = _slope_cells(sub)
            if "trained_orthonormality" in sub[0]["final"]:
                trained = (rf"{pm_ci(R.final(sub, 'trained_orthonormality_start'), 3)} $\to$ "
                           rf"{pm_ci(R.final(sub, 'trained_orthonormality'), 3)}")
            else:
                trained = "--"
            rows.append([R.tex_escape(dec.replace("_", " ")), OPT_NAMES.get(opt, opt),
                         f"{init} $I$", R.num(len(sub)), small, whole,
                         R.num(suite.THEORY.get(opt)), trained])
    return tabular(["tie", "optimiser", "$W_0$", "seeds", r"$p$ (small $\eta$)",
                    r"$p$ (all $\eta$)", "theory", r"$\|WW^\top-I\|_F$ trained"], rows,
                   "lllrrrrr")


def _direction_sentence(drift: list[dict]) -> str:
    parts = []
    for init in ("below", "above"):
        recs = [r for r in drift if r["config"]["decoder"] == "pinv" and _init(r) == init
                and r["config"]["optimizer"] == "gd"]
        recs = sorted(recs, key=lambda r: r["config"]["seed"])
        if not recs or "trained_orthonormality" not in recs[0]["final"]:
            continue
        start = R.final(recs, "trained_orthonormality_start")
        end = R.final(recs, "trained_orthonormality")
        grew = int(np.sum(R.final(recs, "trained_trace_change") > 0))
        parts.append(
            rf"from singular values {init} one ({R.num(min(R.final(recs, 'sv_min_start')), 2)} "
            rf"to {R.num(max(R.final(recs, 'sv_max_start')), 2)}) $\fro{{WW\T-I}}$ goes from "
            rf"{pm_ci(start, 3)} to {pm_ci(end, 3)}, "
            + verdict(end, start, lower="closer to $I$", higher="further from $I$")
            + rf", and $\operatorname{{tr}}WW\T$ grew in {grew} of {len(recs)} runs")
    if not parts:
        return r"\textit{(not recorded)}"
    return ("Trained to the optimum with the pseudo-inverse tie and gradient descent, "
            + "; ".join(parts) + r": $WW\T$ only grows, towards $I$ from below and away from it "
            "from above, so the small change is conservation, not attraction to $I$.")


def conservation(records: list[dict]) -> tuple[dict, dict]:
    """Drift exponents per optimizer (limiting slope at small eta) and the untied imbalance's
    decay rate against 4 lambda; table `conservation`."""
    macros: dict[str, str] = {}
    drift = _drift(records)
    for dec in ("pinv", "right_inverse"):
        for opt in suite.OPTIMIZERS:
            sub = R.select(drift, decoder=dec, optimizer=opt)
            macros[f"RCons{camel(dec)}{camel(opt)}Slope"] = (
                pm_ci(R.final(sub, suite.slope_key(sub)), 3) if sub else R.NA)
            macros[f"RCons{camel(dec)}{camel(opt)}SlopeAll"] = (
                pm_ci(R.final(sub, "drift_slope_all"), 3)
                if sub and "drift_slope_all" in sub[0]["final"] else R.NA)
    decay = [r for r in records if r["config"].get("kind") == "decay"]
    free = [r for r in decay if not r["config"].get("lambda_over_lambda1")]
    macros["RConsUntiedMaxChange"] = R.num(np.nanmax(R.final(free, "max_relative_change"))
                                           if free else None, 2)
    ratios = R.final([r for r in decay if r["config"].get("lambda_over_lambda1")], "rate_ratio")
    macros["RConsRateRatio"] = pm_ci(ratios, 3)
    finite = ratios[np.isfinite(ratios)]
    macros["RConsRateRatioMin"] = R.num(finite.min() if finite.size else None, 3)
    macros["RConsRateRatioMax"] = R.num(finite.max() if finite.size else None, 3)
    cfg = drift[0]["config"] if drift else {}
    macros["RConsSteps"] = R.num(cfg.get("steps"))
    macros["RConsSmall"] = R.num(suite.SMALL)
    present = [dec for dec in ("pinv", "right_inverse") if R.select(drift, decoder=dec)]
    names = {"pinv": "pinv", "right_inverse": "right inverse"}

    def slopes(opt):
        return " and ".join(f"{macros[f'RCons{camel(dec)}{camel(opt)}Slope']} ({names[dec]})"
                            for dec in present
                            if R.select(drift, decoder=dec, optimizer=opt)) or R.NA

    momentum = (rf", $p =$ {slopes('momentum')} with heavy-ball momentum (still second order: "
                r"each step is a sum of gradients orthogonal to the rows of $W$ as they were)"
                if R.select(drift, optimizer="momentum") else "")
    macros["RFindConservation"] = (
        rf"after {macros['RConsSteps']} steps the drift of $WW^\top$ grows like $\eta^p$; the "
        rf"limiting slope over the {macros['RConsSmall']} smallest step sizes (mean $\pm$ "
        rf"95\,\% confidence half-width over seeds and both initialisations) is $p =$ "
        rf"{slopes('gd')} under gradient descent, as Theorem~\ref{{thm:conservation}}(d) "
        rf"predicts ($p=2$){momentum}, and $p =$ {slopes('adam')} under Adam (first order, "
        rf"part (e)). Without regularisation the untied imbalance $WW^\top - V^\top V$ changes "
        rf"by at most {macros['RConsUntiedMaxChange']} of its size; with $L_2$ weight "
        rf"$\lambda$ it decays at a fitted rate of {macros['RConsRateRatio']} times the "
        rf"predicted $4\lambda$."
    )
    macros["RFindConservationInit"] = _direction_sentence(drift)
    return macros, {"conservation": _table(drift)}
