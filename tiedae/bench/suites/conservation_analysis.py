r"""The `conservation` suite's tables, findings and the paper's numbers.

The drift exponents per tie, optimizer and initialisation (table `conservation`: the limiting
slope at small step sizes, the fit over all of them, the theory's exponent, and ||WW^T - I||_F
before and after training to the optimum with its paired change over seeds), the untied
imbalance's decay (a terminal table), the findings and the paper's ``\RCons...`` numbers.

Example:
  >>> from tiedae.bench.suites import conservation_analysis as ca
  >>> ca.slope_key([{"final": {"drift_slope_small_eta": 2.0}}]), ca.slope_key([{"final": {}}])
  ('drift_slope_small_eta', 'drift_slope')
  >>> ca.init_of({"config": {}})  # records from before "init" was recorded
  'below'
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.conservation_runs import OPTIMIZERS, SMALL, THEORY
from tiedae.report import Cell, Table, cell, query, stats
from tiedae.report import format as F
from tiedae.report.analysis import ci_cell

__all__ = ["OPT_COLORS", "OPT_NAMES", "TIE_NAMES", "decay_numbers", "decay_table", "drift_findings",
           "drift_table", "init_of", "numbers", "slope_key", "trained_change"]


def slope_key(records: list[dict]) -> str:
    """The recorded drift exponent: the small-eta limit (records from before it was recorded
    have only the whole-range fit, `drift_slope`)."""
    return ("drift_slope_small_eta" if all("drift_slope_small_eta" in r["final"]
                                           for r in records) else "drift_slope")


OPT_NAMES = {"gd": "gradient descent", "momentum": "momentum 0.9", "adam": "Adam"}
OPT_COLORS = {"gd": "#1f77b4", "momentum": "#9467bd", "adam": "#d62728"}
TIE_NAMES = {"pinv": "pinv", "right_inverse": "right inverse"}


def init_of(record) -> str:
    return record["config"].get("init") or "below"  # records from before "init" was recorded


def trained_change(records: list[dict]) -> dict | None:
    """||WW^T - I|| before and after training to the optimum (runs ordered by seed), its paired
    change, how often tr(WW^T) grew, the range of W0's singular values; None if not recorded."""
    recs = query.by_seed(records)
    if not recs or "trained_orthonormality" not in recs[0]["final"]:
        return None
    start = query.final(recs, "trained_orthonormality_start")
    end = query.final(recs, "trained_orthonormality")
    return {"start": start, "end": end, "change": stats.paired(end, start), "n": len(recs),
            "grew": int(np.sum(query.final(recs, "trained_trace_change") > 0)),
            "sv_lo": min(query.final(recs, "sv_min_start")),
            "sv_hi": max(query.final(recs, "sv_max_start"))}


def drift_table(drift: list[dict]) -> Table:
    rows = []
    for (dec, opt), recs in query.group(drift, "decoder", "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if init_of(r) == init]
            if not sub:
                continue
            key = slope_key(sub)
            whole = ci_cell(query.final(sub, "drift_slope_all")) if key != "drift_slope" else \
                Cell("-", "--")
            trained = trained_change(sub)
            if trained is None:
                trained_cell = Cell("-", "--")
            else:
                a, b = ci_cell(trained["start"]), ci_cell(trained["end"])
                trained_cell = Cell(f"{a.text} -> {b.text}", rf"{a.tex} $\to$ {b.tex}")
            name = OPT_NAMES.get(opt, opt)
            rows.append([Cell(dec.replace("_", " "), F.tex_escape(dec.replace("_", " "))),
                         Cell(name, name), Cell(f"{init} I", f"{init} $I$"), len(sub),
                         ci_cell(query.final(sub, key)), whole, cell(THEORY.get(opt)),
                         trained_cell])
    return Table(
        "conservation: exponent p of the drift ||W_T W_T^T - W_0 W_0^T|| ~ eta^p of the "
        "pseudo- and right-inverse ties (limiting slope at small eta and a fit over all eta), "
        "and ||WW^T - I||_F before -> after training to the optimum (mean ± 95% CI half-width "
        "over seeds)",
        ["tie", "optimiser", Cell("W0", "$W_0$"), "seeds", Cell("p (small eta)",
                                                               r"$p$ (small $\eta$)"),
         Cell("p (all eta)", r"$p$ (all $\eta$)"), "theory",
         Cell("||WW^T-I|| trained", r"$\|WW^\top-I\|_F$ trained")],
        rows, name="conservation", align="lllrrrrr")


def decay_table(groups: dict[tuple, list[dict]]) -> Table:
    rows = []
    for (lam_rel,), recs in groups.items():
        free = not lam_rel
        rows.append([f"{lam_rel:g} e1", len(recs),
                     F.ci(query.final(recs, "max_relative_change"), 2) if free else "-",
                     "-" if free else F.ci(query.final(recs, "rate_ratio")),
                     F.ci(query.final(recs, "D_end"), 2)])
    return Table(
        "conservation: untied imbalance D = WW^T - V^TV under gradient descent with L2 weight "
        "lam (theory: conserved without L2, decays like exp(-4 lam eta t) with it; mean ± 95% "
        "CI half-width over seeds)",
        ["lam", "seeds", "max relative change of D", "decay rate / (4 lam)", "||D|| at end"],
        rows)


def drift_findings(dec: str, opt: str, recs: list[dict], small: stats.Interval,
                    key: str) -> list[str]:
    text = (f"{dec}, {opt}: ||WW^T - W0W0^T|| grows like eta^p with p = {F.fmt(small.mean)} "
            f"(95% CI [{F.fmt(small.lo)}, {F.fmt(small.hi)}], {small.n} runs; "
            + ("limiting slope over the 3 smallest step sizes" if key != "drift_slope" else
               "fit over the whole step-size range")
            + f"; theory {THEORY.get(opt, '?')}")
    if key != "drift_slope":
        whole = stats.interval(query.final(recs, "drift_slope_all"))
        text += (f"; a fit over the whole range gives {F.fmt(whole.mean)}, mixing in larger "
                 "steps")
    out = [text + ")."]
    for (init,), rs in query.group(recs, "init").items():
        t = trained_change(rs)
        if t is None:
            continue
        change = t["change"]
        moved = {"lower": "closer to I", "higher": "further from I"}.get(
            change.verdict, "no measurable change")
        out.append(
            f"{dec}, {opt}, singular values of W0 {init} 1 ([{F.fmt(t['sv_lo'], 2)}, "
            f"{F.fmt(t['sv_hi'], 2)}]): trained to the optimum, ||WW^T-I|| "
            f"{F.fmt(stats.interval(t['start']).mean)} -> {F.fmt(stats.interval(t['end']).mean)}"
            f" ({moved}: paired change {F.fmt(change.mean, 2)}, 95% CI [{F.fmt(change.lo, 2)}, "
            f"{F.fmt(change.hi, 2)}]); tr(WW^T) grew in {t['grew']} of {t['n']} runs.")
    return out


def _direction_sentence(drift: list[dict]) -> str:
    parts = []
    for init in ("below", "above"):
        t = trained_change([r for r in drift if r["config"]["decoder"] == "pinv"
                            and init_of(r) == init and r["config"]["optimizer"] == "gd"])
        if t is None:
            continue
        parts.append(
            rf"from singular values {init} one ({F.num(t['sv_lo'], 2)} "
            rf"to {F.num(t['sv_hi'], 2)}) $\fro{{WW\T-I}}$ goes from "
            rf"{F.pm_ci(t['start'], 3)} to {F.pm_ci(t['end'], 3)}, "
            + F.paired_tex(t["change"], lower="closer to $I$", higher="further from $I$")
            + rf", and $\operatorname{{tr}}WW\T$ grew in {t['grew']} of {t['n']} runs")
    if not parts:
        return r"\textit{(not recorded)}"
    return ("Trained to the optimum with the pseudo-inverse tie and gradient descent, "
            + "; ".join(parts) + r": $WW\T$ only grows, towards $I$ from below and away from it "
            "from above, so the small change is conservation, not attraction to $I$.")


def decay_numbers(decay: list[dict]) -> tuple[dict[str, str], list[str]]:
    """The untied imbalance: the paper's macros and the findings."""
    free = [r for r in decay if not r["config"].get("lambda_over_lambda1")]
    max_change = float(np.nanmax(query.final(free, "max_relative_change"))) if free else None
    ratios = query.final([r for r in decay if r["config"].get("lambda_over_lambda1")],
                         "rate_ratio")
    finite = ratios[np.isfinite(ratios)]
    macros = {"RConsUntiedMaxChange": F.num(max_change, 2),
              "RConsRateRatio": F.pm_ci(ratios, 3),
              "RConsRateRatioMin": F.num(finite.min() if finite.size else None, 3),
              "RConsRateRatioMax": F.num(finite.max() if finite.size else None, 3)}
    findings = []
    if free:
        findings.append(
            "untied without L2: D = WW^T - V^TV changed by at most "
            f"{F.fmt(max_change, 2)} of its size over training "
            f"({len(free)} runs; conserved, as gradient flow predicts).")
    if finite.size:
        iv = stats.interval(finite)
        findings.append(
            f"untied with L2 lam: D decays like exp(-rate * eta * t) with rate / (4 lam) = "
            f"{F.fmt(iv.mean)} (95% CI [{F.fmt(iv.lo)}, {F.fmt(iv.hi)}]; range "
            f"{F.fmt(finite.min())} .. {F.fmt(finite.max())} over {finite.size} runs and lam; "
            "theory: 1, gradient flow dD/dt = -4 lam D).")
    return macros, findings


def numbers(drift, slopes, decay_macros) -> dict[str, str]:
    macros: dict[str, str] = {}
    for dec in ("pinv", "right_inverse"):
        for opt in OPTIMIZERS:
            sub = query.select(drift, decoder=dec, optimizer=opt)
            name = f"RCons{F.camel(dec)}{F.camel(opt)}"
            macros[name + "Slope"] = F.pm_ci(slopes[dec, opt], 3) if sub else F.NA
            macros[name + "SlopeAll"] = (F.pm_ci(query.final(sub, "drift_slope_all"), 3)
                                         if sub and "drift_slope_all" in sub[0]["final"]
                                         else F.NA)
    macros.update(decay_macros)
    cfg = drift[0]["config"] if drift else {}
    macros["RConsSteps"] = F.num(cfg.get("steps"))
    macros["RConsSmall"] = F.num(SMALL)
    present = [dec for dec in ("pinv", "right_inverse") if query.select(drift, decoder=dec)]

    def slopes_of(opt):
        return " and ".join(f"{macros[f'RCons{F.camel(dec)}{F.camel(opt)}Slope']} "
                            f"({TIE_NAMES[dec]})" for dec in present
                            if query.select(drift, decoder=dec, optimizer=opt)) or F.NA

    momentum = (rf", $p =$ {slopes_of('momentum')} with heavy-ball momentum (still second "
                r"order: each step is a sum of gradients orthogonal to the rows of $W$ as they "
                r"were)" if query.select(drift, optimizer="momentum") else "")
    macros["RFindConservation"] = (
        rf"after {macros['RConsSteps']} steps the drift of $WW^\top$ grows like $\eta^p$; the "
        rf"limiting slope over the {macros['RConsSmall']} smallest step sizes (mean $\pm$ "
        rf"95\,\% confidence half-width over seeds and both initialisations) is $p =$ "
        rf"{slopes_of('gd')} under gradient descent, as Theorem~\ref{{thm:conservation}}(d) "
        rf"predicts ($p=2$){momentum}, and $p =$ {slopes_of('adam')} under Adam (first order, "
        rf"part (e)). Without regularisation the untied imbalance $WW^\top - V^\top V$ changes "
        rf"by at most {macros['RConsUntiedMaxChange']} of its size; with $L_2$ weight "
        rf"$\lambda$ it decays at a fitted rate of {macros['RConsRateRatio']} times the "
        rf"predicted $4\lambda$."
    )
    macros["RFindConservationInit"] = _direction_sentence(drift)
    return macros
