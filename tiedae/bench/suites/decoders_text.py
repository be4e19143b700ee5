r"""The `decoders` suite's tables, findings and the paper's numbers, from its settings.

`time_table` (steps and seconds to subspace distance 1e-3 per decoder, median [IQR], and each
decoder's steps against the transpose decoder's, paired over seeds), `metrics_table` (the final
||WW^T - I||_F, relative loss gap and time per step, mean ± 95% t half-width over seeds),
`setting_findings` (three sentences per setting) and `numbers` (the paper's ``\RDec...``
macros and sentences), all from `decoders_settings.settings`.

Example:
  >>> from tiedae.bench.suites import decoders_text
  >>> decoders_text.time_table({}).name, decoders_text.metrics_table({}).rows
  ('decoders_time', ())
"""

from __future__ import annotations

from tiedae.bench.suites.decoders_runs import DECODERS, SUBSPACE_TARGET
from tiedae.bench.suites.decoders_settings import (
    DATA_NAMES,
    Setting,
    data_name,
    headline,
    median_iqr_text,
    sv_means,
    wide_setting,
)
from tiedae.report import Cell, Table, cell, plots, query, stats
from tiedae.report import format as F

__all__ = ["metrics_table", "numbers", "setting_findings", "time_table"]


def _reached(values: list[float], digits: int = 3) -> Cell:
    return Cell(median_iqr_text(values), F.med_iqr(values, digits))


def _versus_cell(words: str, r: stats.Paired | None) -> Cell:
    if r is None:
        return cell(words)
    return Cell(*F.paired_short(r, lower="faster", higher="slower"))


def time_table(groups: dict[tuple, Setting]) -> Table:
    rows = []
    for g in groups.values():
        n = len(g.runs.get("transpose", []))
        rows.append([Cell(f"{DATA_NAMES.get(g.dataset, g.dataset)}, d={g.d}, k={g.k}, "
                          f"{g.optimizer}, {n} seeds",
                          rf"\emph{{{data_name(g.dataset)}, $d={g.d}$, $k={g.k}$, "
                          rf"{F.tex_escape(g.optimizer)}, {n} seeds}}")])
        for dec in DECODERS:
            cells = [Cell(dec, plots.LABELS[dec]), _reached(g.to_target[dec, "steps"]),
                     _reached(g.to_target[dec, "seconds"], 2)]
            cells.append(Cell("-", "--") if dec == "transpose" else
                         _versus_cell(*g.versus[dec, "steps"]))
            rows.append(cells)
    return Table(
        "decoders: steps and seconds to subspace distance 1e-3 (median [IQR] over seeds; "
        "'never' when not reached) and each decoder's steps against the transpose decoder's, "
        "paired over seeds (the verdict, then the mean difference and its 95% CI; the findings "
        "also pair the seconds)",
        ["decoder", Cell("steps to 1e-3", "steps to $10^{-3}$"),
         Cell("seconds to 1e-3", "seconds to $10^{-3}$"),
         Cell("steps vs transpose (paired)", r"steps vs $W^\top$ (paired)")],
        rows, name="decoders_time", align="lrrl")


def metrics_table(groups: dict[tuple, Setting]) -> Table:
    rows = []
    for g in groups.values():
        for dec, runs in g.runs.items():
            rows.append([g.dataset, g.k, g.optimizer, dec, len(runs)]
                        + [F.ci(g.values(dec, key), 2) for key in (
                            "orthonormality_start", "orthonormality", "relative_loss_gap",
                            "ms_per_step")])
    return Table(
        "decoders: same init, same optimizer (mean ± 95% CI half-width over seeds)",
        ["data", "k", "opt", "decoder", "seeds", "||WW^T-I|| start", "||WW^T-I|| end",
         "rel. loss gap", "ms/step (with logging)"], rows)


def setting_findings(g: Setting) -> list[str]:
    name, k, opt = g.dataset, g.k, g.optimizer
    start = g.mean("transpose", "orthonormality_start")
    end = {dec: g.mean(dec, "orthonormality") for dec in DECODERS}
    verdict = "rows became orthonormal" if end["transpose"] < 1e-3 * start else \
        "NOT yet orthonormal"
    change = max(abs(end[dec] - start) for dec in ("pinv", "right_inverse")) / start
    why = ("gradient descent conserves WW^T for them up to an O(eta^2) drift per step"
           if opt == "gd" else
           "Adam's rescaled steps are not orthogonal to W's rows, so WW^T is not conserved; "
           "nothing pulls it to I either")
    sv = {}
    for dec in ("transpose", "pinv"):
        m = sv_means(g, dec)
        sv[dec] = "not recorded" if m is None else \
            f"[{F.fmt(m[0], 2)}, {F.fmt(m[1], 2)}] -> [{F.fmt(m[2], 2)}, {F.fmt(m[3], 2)}]"
    gaps = {dec: g.mean(dec, "relative_loss_gap") for dec in DECODERS}
    times = []
    for dec in DECODERS:
        text = (f"{dec} {median_iqr_text(g.to_target[dec, 'steps'])} steps / "
                f"{median_iqr_text(g.to_target[dec, 'seconds'])} s")
        if dec != "transpose":
            text += (f" ({g.versus[dec, 'steps'][0]} in steps, {g.versus[dec, 'seconds'][0]} "
                     "in seconds than transpose)")
        times.append(text)
    return [
        f"{name}, k={k}, {opt}: transpose ||WW^T-I|| {F.fmt(start)} -> {F.fmt(end['transpose'])}"
        f" ({verdict}); pinv -> {F.fmt(end['pinv'])}, right_inverse -> "
        f"{F.fmt(end['right_inverse'])} (changed by {100 * change:.0f}%: {why}); untied -> "
        f"{F.fmt(end['untied'])} (only the product V W is determined); singular values of "
        f"W: transpose {sv['transpose']}, pinv {sv['pinv']}.",
        f"{name}, k={k}, {opt}: relative loss gap to the PCA optimum (mean over "
        f"{len(g.runs['transpose'])} seeds) "
        + ", ".join(f"{dec} {F.fmt(gap, 2)}" for dec, gap in gaps.items())
        + (" - every decoder reached the optimum (as theory says)." if max(gaps.values())
           < 1e-3 else " - not all reached the optimum within the step budget."),
        f"{name}, k={k}, {opt}: to subspace distance {SUBSPACE_TARGET:g} (median [IQR]; "
        "paired over seeds) - " + "; ".join(times) + ".",
    ]


def numbers(groups: dict[tuple, Setting], records: list[dict]) -> dict[str, str]:
    """The paper's macros: the headline setting per optimizer, the time to the subspace and the
    singular values on the wide real-image setting."""
    macros: dict[str, str] = {}
    for opt, prefix in (("gd", "RDec"), ("adam", "RDecAdam")):
        g = headline(groups, opt)
        for dec in DECODERS:
            name = prefix + F.camel(dec)
            for key, macro, digits in (("orthonormality_start", "OrthoInit", 2),
                                       ("orthonormality", "OrthoFinal", 2),
                                       ("relative_loss_gap", "GapFinal", 2),
                                       ("subspace_distance", "SubspaceFinal", 2),
                                       ("condition_number", "CondFinal", 3)):
                macros[name + macro] = F.pm_ci(g.values(dec, key) if g else [], digits)
    head = headline(groups, "gd")
    cfg = head.records[0]["config"] if head else {}
    macros["RDecK"] = F.num(cfg.get("k"))
    macros["RDecSteps"] = F.num(cfg.get("steps"))
    macros["RDecData"] = F.tex_escape(cfg.get("dataset", "n/a"))
    macros["RDecSeeds"] = F.num(len({r["config"]["seed"] for r in head.records} if head else ()))
    m = macros
    sentence = (
        rf"on the {m['RDecData']} data ($k={m['RDecK']}$, gradient descent, "
        rf"{m['RDecSeeds']} seeds, {m['RDecSteps']} steps; mean $\pm$ 95\,\% "
        rf"confidence half-width) the transpose tie's "
        rf"$\|WW^\top-I\|_F$ goes from {m['RDecTransposeOrthoInit']} to "
        rf"{m['RDecTransposeOrthoFinal']}, while the pseudo-inverse and right-inverse ties "
        rf"end at {m['RDecPinvOrthoFinal']} and {m['RDecRightInverseOrthoFinal']}, "
        rf"with relative loss gaps {m['RDecTransposeGapFinal']}, "
        rf"{m['RDecPinvGapFinal']} and {m['RDecRightInverseGapFinal']} and subspace "
        rf"distances {m['RDecTransposeSubspaceFinal']}, {m['RDecPinvSubspaceFinal']} "
        rf"and {m['RDecRightInverseSubspaceFinal']}. The untied model's encoder, fixed only "
        rf"up to an invertible mixing of the code, ends at {m['RDecUntiedOrthoFinal']}."
    )
    if headline(groups, "adam"):
        sentence += (
            rf" With Adam, which breaks the conservation law, the pseudo-inverse tie's "
            rf"$\|WW^\top-I\|_F$ ends at {m['RDecAdamPinvOrthoFinal']} and the transpose "
            rf"tie's at {m['RDecAdamTransposeOrthoFinal']}."
        )
    macros["RFindDecoders"] = sentence[0].upper() + sentence[1:]
    wide = wide_setting(records)
    macros["RFindDecodersTime"] = _time_sentence(groups, records, wide)
    macros["RFindDecodersSv"] = _sv_sentence(groups, wide)
    macros["RDecTarget"] = F.num(SUBSPACE_TARGET)
    return macros


def _time_sentence(groups, records, wide) -> str:
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    parts = []
    for opt in ("gd", "adam"):
        g = groups.get((*wide, opt))
        if g is None:
            continue
        t = g.to_target
        words = {"gd": "gradient descent", "adam": "Adam"}[opt]
        text = (rf"with {words} the transpose tie reaches subspace distance $10^{{-3}}$ after "
                rf"{F.med_iqr(t['transpose', 'steps'])} steps (median [IQR]; "
                rf"{F.med_iqr(t['transpose', 'seconds'], 2)}~s), the pseudo-inverse tie "
                rf"after {F.med_iqr(t['pinv', 'steps'])} steps "
                rf"({F.med_iqr(t['pinv', 'seconds'], 2)}~s)")
        answer, r = g.versus["pinv", "steps"]
        if r is not None:
            text += (", " + F.paired_tex(r, lower="fewer steps", higher="more steps")
                     + " paired over seeds")
        else:
            text += f" ({F.tex_escape(answer)})"
        text += rf", and the untied model after {F.med_iqr(t['untied', 'steps'])} steps"
        parts.append(text)
    if not parts:
        return r"\textit{(no runs)}"
    d = query.select(records, dataset=wide[0])[0].get("extra", {}).get("d") or "n/a"
    return (rf"On {data_name(wide[0])} ($d={d}$, $k={wide[1]}$), " + "; ".join(parts) + ".")


def _sv_sentence(groups, wide) -> str:
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    g = groups.get((*wide, "gd"))
    means = [None if g is None else sv_means(g, dec) for dec in ("transpose", "pinv")]
    if None in means:
        return r"\textit{(singular values not recorded)}"
    ranges = [rf"[{F.num(m[0], 2)}, {F.num(m[1], 2)}] to [{F.num(m[2], 2)}, {F.num(m[3], 2)}]"
              for m in means]
    return (rf"Under gradient descent on {data_name(wide[0])} ($k={wide[1]}$) the singular "
            rf"values of $W$ move from {ranges[0]} with the transpose tie and from {ranges[1]} "
            r"with the pseudo-inverse tie (means over seeds of the smallest and largest).")
