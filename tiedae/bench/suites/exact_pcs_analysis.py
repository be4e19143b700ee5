r"""What the `exact-pcs` records show: iterations to axis alignment per setting, the paired
comparisons of the methods and of the optimizers, and the fit to Bao et al.'s Figure 4.

`exact_pcs_comparisons.settings(records)` groups the runs once by (d, k, optimizer, method)
(a `Setting` each: iterations to the target, median, IQR, starts that reached it); everything
else derives from that grouping:

* `exact_pcs_comparisons.comparisons(groups)`: RAG against non-uniform L2 and Adam against SGD
  with Nesterov momentum, paired by random start and Holm-corrected together: the rows of the
  table `exact_pcs_paired`;
* `style_fit(groups)`: which reading of Figure 4's unlabelled line styles (solid = Adam or
  solid = SGD) our medians fit better;
* `analyze(records)`: the tables `exact_pcs` (iterations next to Figure 4's values) and
  `exact_pcs_paired`, the findings, the paper's numbers (``\RFindExactPcs`` says at which k
  each method needed fewer iterations) and the figure `exact_pcs` (`exact_pcs_figure.draw`).

Example:
  >>> bao_cell(850.0).text, bao_cell(float("inf")).text, bao_cell(None).tex
  ('~850', 'not converged', '--')
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites.exact_pcs_comparisons import (
    Comparison,
    Setting,
    comparison_text,
    comparisons,
    names,
    on_common_seeds,
    settings,
    verdict_word,
    where_sentence,
)
from tiedae.bench.suites.exact_pcs_figure import draw, method_cell, opt_cell
from tiedae.bench.suites.exact_pcs_reference import METHODS, OPTIMIZERS, STYLES, TARGET, bao_value
from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.analysis import Analysis, Cell, Figure, Table, cell, difference_cells
from tiedae.report.format import fmt


def _ratio_cells(p: stats.Paired | None) -> list[Cell]:
    """The geometric-mean ratio, its interval and Holm's p as cells (dashes without a test)."""
    if p is None:
        return [Cell("-", "--")] * 3
    cells = difference_cells(p)
    if p.n < 2:
        return cells
    ratio = [2.0 ** x for x in (p.mean, p.lo, p.hi)]
    return [Cell(f"{fmt(ratio[0], 2)}x", rf"{F.num(ratio[0], 2)}$\times$"),
            Cell(f"[{fmt(ratio[1], 2)}, {fmt(ratio[2], 2)}]",
                 rf"[{F.num(ratio[1], 2)}, {F.num(ratio[2], 2)}]"), cells[2]]


def iterations_cell(setting: Setting) -> Cell:
    """'median [q25, q75]' of a setting's iterations ('never' for not reached)."""
    def text(x):
        return "never" if math.isinf(x) else fmt(x)

    vals = (setting.median, setting.q25, setting.q75)
    return Cell("{} [{}, {}]".format(*map(text, vals)), F.med_iqr(setting.iterations))


def reached_note(setting: Setting) -> str:
    """'' when every start reached the target, else ' (r/n reached)'."""
    n = len(setting.iterations)
    return "" if setting.reached == n else f" ({setting.reached}/{n} reached)"


def bao_cell(value) -> Cell:
    """A value of Bao et al.'s figure ('~850', 'not converged', '-' for no point)."""
    if value is None:
        return Cell("-", "--")
    if math.isinf(value):
        return Cell("not converged", "not conv.")
    return Cell(f"~{fmt(value)}", F.num(value))


def style_fit(groups: dict[tuple, Setting]) -> dict[str, tuple[float, int]]:
    """How well our medians (`settings(records)`) match Bao et al.'s Figure 4 under each reading
    of its line styles: {"solid = adam": (mean |log10(ours / theirs)|, points), "solid =
    sgd_nesterov": ...} over the (method, k) points at their d where both are finite."""
    out = {}
    for solid in OPTIMIZERS:
        style = {solid: "solid", next(o for o in OPTIMIZERS if o != solid): "dashed"}
        errors = []
        for (d, k, o, m), s in groups.items():
            theirs = bao_value(m, style[o], k, d) if o in style else None
            if theirs is not None and math.isfinite(theirs) and math.isfinite(s.median):
                errors.append(abs(math.log10(s.median / theirs)))
        out[f"solid = {solid}"] = (float(np.mean(errors)) if errors else math.nan, len(errors))
    return out


def _plain_verdict(setting: Setting) -> str:
    missed = [r for r, it in zip(setting.records, setting.iterations, strict=True)
              if math.isinf(it)]
    if not missed:
        return ("reached the target too in every start: from a tiny initialisation the "
                "top directions grow first, although nothing in the loss favours the axes")
    axis = stats.median_iqr(query.final(missed, "axis_distance"))[0]
    sub = stats.median_iqr(query.final(missed, "subspace_distance"))[0]
    return (f"reached it in {setting.reached} of {len(setting.iterations)} starts; the others "
            f"ended at median subspace distance {fmt(sub, 2)} but axis distance {fmt(axis, 2)}"
            + (": it finds the subspace, not the eigenvectors" if sub < 1e-3 else ""))


def _table(groups: dict[tuple, Setting], target) -> Table:
    rows = []
    for (d, k, opt, method), s in groups.items():
        axis = stats.median_iqr(query.final(s.records, "axis_distance"))[0]
        rows.append([_int(d), _int(k), opt_cell(opt), method_cell(method),
                     _int(len(s.records)), iterations_cell(s), f"{s.reached}/{len(s.iterations)}",
                     cell(axis, 2), _int(s.records[0]["config"]["steps"]),
                     *(bao_cell(bao_value(method, style, k, d)) for style in STYLES)])
    return Table(
        title=f"exact-pcs: iterations to axis distance {target}, Bao et al. 2020 setup "
              "(median [IQR] over random starts)",
        columns=[Cell("d", "$d$"), Cell("k", "$k$"), "optimiser", "method", "starts",
                 f"iterations to {target:g}: median [IQR]", "reached", "axis dist.", "budget",
                 "Bao solid", "Bao dashed"],
        rows=rows, name="exact_pcs", align="rrllrrrrrrr")


def _paired_table(compared: list[Comparison], target) -> Table:
    rows = []
    for c in compared:
        a, b, within = names(c)
        x, y = on_common_seeds(c.a, c.b)
        reached = f"{sum(map(math.isfinite, x))} vs {sum(map(math.isfinite, y))} of {len(x)}"
        verdict = ("neither reached" if c.test is None else
                   verdict_word(c.test) if c.test.n >= 2 else "not compared")
        rows.append([_int(c.d), _int(c.k), cell(f"{a} / {b}"), cell(within), reached,
                     *_ratio_cells(c.test), verdict])
    return Table(
        title=f"exact-pcs: paired by random start, iterations to axis distance {target} of RAG "
              "over non-uniform L2 and of Adam over SGD + Nesterov (geometric-mean ratio, 95% "
              "interval, paired t-test on log2 iterations with never reached counted at the "
              "budget, Holm-corrected over the table)",
        columns=[Cell("d", "$d$"), Cell("k", "$k$"), "a / b", "with", "reached (a vs b)",
                 "ratio a / b", "95% interval", "Holm p", "verdict"],
        rows=rows, name="exact_pcs_paired", align="rrllrrrrl")


def _int(n: int) -> Cell:
    return Cell(str(n), F.num(n))


def _by_method(groups: dict[tuple, Setting]) -> dict[tuple, dict[str, Setting]]:
    """{(d, k, optimizer): {method: setting}} in first-seen order."""
    out: dict[tuple, dict[str, Setting]] = {}
    for (d, k, opt, method), s in groups.items():
        out.setdefault((d, k, opt), {})[method] = s
    return out


def _findings(groups: dict[tuple, Setting], compared: list[Comparison], target,
              fit: list) -> list[str]:
    findings = []
    by_setting = {(c.d, c.k, c.within): c for c in compared if c.what == "methods"}
    for (d, k, opt), by in _by_method(groups).items():
        if set(METHODS) - set(by):
            continue
        parts = []
        for m in METHODS:
            text = f"{m} {iterations_cell(by[m]).text}{reached_note(by[m])}"
            bao = [bao_value(m, style, k, d) for style in STYLES]
            if any(v is not None for v in bao):
                text += (f" (Bao et al.'s Figure 4: solid {bao_cell(bao[0]).text}, dashed "
                         f"{bao_cell(bao[1]).text})")
            parts.append(text)
        budget, plain_budget = by["rag"].budget, by["plain"].budget
        budgets = f"budget {budget}" + (
            f", {plain_budget} for plain" if plain_budget != budget else "")
        findings.append(
            f"d={d}, k={k}, {opt}: iterations to axis distance {target} (median [IQR] over "
            f"{len(by['rag'].records)} starts, {budgets}) - " + "; ".join(parts) + ".")
        findings.append(
            f"d={d}, k={k}, {opt}: RAG vs non-uniform L2 - "
            + comparison_text(by_setting[d, k, opt])
            + f"; plain training: {_plain_verdict(by['plain'])}.")
    for c in compared:
        if c.what == "optimizers":
            findings.append(
                f"d={c.d}, k={c.k}, {c.within}: Adam vs SGD with Nesterov momentum (their step "
                "sizes) - " + comparison_text(c) + ".")
    tested = sum(c.test is not None and c.test.n >= 2 for c in compared)
    for d in sorted({c.d for c in compared}):
        where = where_sentence(compared, d)
        if where:
            findings.append(f"d={d}, RAG vs non-uniform L2 (Holm-corrected over the {tested} "
                            f"tested comparisons of the paired table): {where}.")
    if fit:
        (best, (err, n)), (other, (err2, _)) = fit
        findings.append(
            f"Bao et al.'s Figure 4 does not label its line styles; over the {n} points both "
            f"have, our medians fit the reading {best} (mean |log10(ours/theirs)| {fmt(err, 2)})"
            f" better than {other} ({fmt(err2, 2)}).")
    return findings


def _numbers(groups: dict[tuple, Setting], compared: list[Comparison], target,
             fit: list) -> dict[str, str]:
    """The paper's macros: the setting, each method's iterations, the section's sentence and
    the answer's (at which k RAG needed fewer or more iterations than non-uniform L2)."""
    d = max(key[0] for key in groups)
    starts = max(len(s.records) for s in groups.values())
    macros = {"RExactAxisTarget": F.num(float(target)), "RExactD": F.num(d),
              "RExactStarts": F.num(starts)}
    by_setting = {(c.d, c.k, c.within): c for c in compared if c.what == "methods"}
    sentences = []
    for (d_, k, opt), by in _by_method(groups).items():
        if d_ != d:
            continue
        parts = []
        for method in METHODS:
            if method in by:
                its = iterations_cell(by[method]).tex
                parts.append(f"{method_cell(method).tex} {its}{reached_note(by[method])}")
                macros[f"RExact{F.camel(method)}{F.camel(opt)}KIters" + F.camel(str(k))] = its
        budget = max(s.budget for s in by.values())
        n = max(len(s.records) for s in by.values())
        extra = f", {F.num(n)} starts" if n != starts else ""
        sentence = (rf"$k={k}$, {opt_cell(opt).tex} (budget {F.num(budget)}{extra}): "
                    + ", ".join(parts))
        if (d, k, opt) in by_setting:
            answer = comparison_text(by_setting[d, k, opt])
            sentence += rf"; RAG against non-uniform $L_2$: {F.tex_escape(answer)}"
        sentences.append(sentence)
    style = ""
    if fit:
        (best, (err, n)), (other, (err2, _)) = fit
        style = (rf" Their figure does not say which line style is which optimiser; over the "
                 rf"{F.num(n)} points both have, our medians fit the reading "
                 rf"``{F.tex_escape(best)}'' (mean $|\log_{{10}}(\text{{ours}}/"
                 rf"\text{{theirs}})|$ {F.num(err, 2)}) better than ``{F.tex_escape(other)}'' "
                 rf"({F.num(err2, 2)}).")
    where = where_sentence(compared, d)
    summary = ""
    if where:
        tested = sum(c.test is not None and c.test.n >= 2 for c in compared)
        summary = (rf" Paired by start and Holm-corrected over the {F.num(tested)} comparisons "
                   rf"of Table~\ref{{tab:exact-pcs-paired}}, RAG against non-uniform $L_2$: "
                   rf"{F.tex_escape(where)}.")
    macros["RAnswerExactPcs"] = (
        rf"In their released setting, paired by random start and Holm-corrected "
        rf"(Table~\ref{{tab:exact-pcs-paired}}), the rotation-augmented gradient against the "
        rf"penalty alone: {F.tex_escape(where)}." if where else
        "The rotation-augmented gradient and the penalty alone were not compared.")
    macros["RFindExactPcs"] = (
        rf"Iterations until the distance to axis alignment falls below "
        rf"{macros['RExactAxisTarget']} at $d={macros['RExactD']}$ (median [interquartile "
        rf"range] over {macros['RExactStarts']} random starts; ``never'' beyond the budget): "
        + "; ".join(sentences) + "." + summary + style
    )
    return macros


def analyze(records: list[dict]) -> Analysis:
    """Iterations to the axis-alignment target per (d, k, optimizer, method) next to Bao et
    al.'s Figure 4 (table `exact_pcs`), the paired comparisons of the methods and the
    optimizers, Holm-corrected (table `exact_pcs_paired`), which reading of their line styles
    our medians fit, and the trajectories (figure `exact_pcs`)."""
    target = records[0]["config"].get("target", TARGET)
    groups = settings(records, target)
    compared = comparisons(groups)
    fit = style_fit(groups)  # the readings, best first, when both have points
    fit = sorted(fit.items(), key=lambda kv: kv[1][0]) if all(n for _, n in fit.values()) else []
    return Analysis(
        tables=[_table(groups, target)] + ([_paired_table(compared, target)] if compared else []),
        findings=_findings(groups, compared, target, fit),
        numbers=_numbers(groups, compared, target, fit),
        figures=[Figure("exact_pcs", "Iterations to axis distance 0.3 against k next to Bao et "
                        "al.'s Figure 4, and the distance to axis alignment during training.",
                        lambda: draw(groups, target))])
