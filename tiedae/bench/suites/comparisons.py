r"""Paired comparisons over seeds as the suites write them: sentences, LaTeX and table cells.

The statistics are `tiedae.report.stats`'s (`paired`, `signed_rank`, `holm`); these helpers
only word them, the same way in every suite that uses them (`symmetry`, `features`):
`difference_text` / `difference_tex` (the estimate, its 95% interval, the Holm-adjusted p-value
where there is one, the verdict), `paired_cells` (a paired table's cells), `holm_family`
(Holm's correction over a table whose comparisons are nested {row: {measure: comparison}}),
`relation` ("a lower test error"). For steps or seconds to a threshold, where a run may never
reach it: `reached` (never as +inf), `reach_cell` (median [IQR] with the count of runs that
never reached it) and `reach_verdict` (a paired verdict that counts a run that never reached
the threshold as slower).

Example:
  >>> from tiedae.bench.suites import comparisons
  >>> from tiedae.report import stats
  >>> p = stats.paired([1.0, 1.1, 1.2], [2.0, 2.2, 2.1])
  >>> comparisons.relation(p, "test error")
  'a lower test error'
  >>> comparisons.difference_text(p)
  '-1 [-1.2, -0.75], n=3: lower'
  >>> comparisons.reach_verdict([100.0, None, None], [50.0, 60.0, 70.0])  # None: never
  'higher'
  >>> comparisons.reach_cell([10.0, 20.0, float("inf")]).text
  '20 [15, inf] (1 of 3 never)'
"""

from __future__ import annotations

import math

from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.analysis import Cell, cell, difference_cells

__all__ = ["DASH", "difference_tex", "difference_text", "holm_family", "median_cell",
           "paired_cells", "reach_cell", "reach_verdict", "reached", "relation"]

DASH = Cell("-", "--")


def _what(p) -> str:
    """'median' for a signed-rank comparison (Hodges-Lehmann), else 'mean'."""
    return "median" if isinstance(p, stats.SignedRank) else "mean"


def _holm_note(p) -> str:
    note = (f", Holm p={F.fmt(p.p_adjusted, 2)} of {p.family}"
            if math.isfinite(getattr(p, "p_adjusted", math.nan)) and p.family > 1 else "")
    return note + ("" if stats.can_reach(p) else f" (undecidable: {_unreachable(p)})")


def _unreachable(p) -> str:
    """Why a signed-rank comparison cannot be called a difference (`stats.can_reach`)."""
    return (f"with {p.n} pairs the rank test's smallest p, {F.fmt(p.smallest_p, 2)}, could not "
            f"pass Holm's correction over {p.family}")


def difference_text(p, digits: int = 3) -> str:
    """'mean [lo, hi], n=N: verdict' of a paired difference (plain text; 'median' for a
    signed-rank comparison; with its Holm-adjusted p-value where one was computed)."""
    if p.n == 0:
        return "not compared (no common seeds)"
    what = "median " if _what(p) == "median" else ""
    return (f"{what}{F.fmt(p.estimate, digits)} [{F.fmt(p.lo, 2)}, {F.fmt(p.hi, 2)}], "
            f"n={p.n}{_holm_note(p)}: {p.verdict}")


def difference_tex(p, digits: int = 2) -> str:
    """'mean, 95 % CI [lo, hi]' of a paired difference (LaTeX; 'median' for signed-rank)."""
    if p.n < 2:
        return F.NA
    what = "median " if _what(p) == "median" else ""
    note = "" if stats.can_reach(p) else (
        rf"; undecidable: with {p.n} pairs the rank test could not pass Holm's correction over "
        rf"{p.family}")
    return (rf"{what}{F.num(p.estimate, digits)}, 95\,\% CI [{F.num(p.lo, digits)}, "
            rf"{F.num(p.hi, digits)}]{note}")


def paired_cells(p) -> list[Cell]:
    """The estimate (mean, or median for a signed-rank comparison), 95% interval, Holm-adjusted
    p-value (`tiedae.report.analysis.difference_cells`) and verdict cells of a paired table's
    row."""
    verdict = p.verdict if stats.can_reach(p) else f"undecidable with {p.n} seeds"
    return [*difference_cells(p), cell(verdict if p.n >= 2 else "one seed")]


def holm_family(family: dict) -> dict:
    """Holm's correction over a table's comparisons {key: {measure: comparison}} (nested one
    level), returned in the same shape."""
    flat = {(a, b): c for a, row in family.items() for b, c in row.items()}
    adjusted = stats.holm(flat) if flat else {}
    out: dict = {a: {} for a in family}
    for (a, b), c in adjusted.items():
        out[a][b] = c
    return out


def relation(p: stats.Paired, what: str) -> str:
    """'a lower <what>' / 'a higher <what>' / 'no measurable difference in <what>'."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"no measurable difference in {what}"
    return f"a {p.verdict} {what}"


def reach_verdict(a, b, verdict: str | None = None) -> str:
    """a against b for steps (or seconds) to a threshold over common seeds, where None / inf
    / nan means the run never reached it: the paired verdict on the seeds where both reached
    it (`verdict`, e.g. Holm-adjusted; default `stats.paired`'s), unless one side missed it
    more often; then 'higher' (a slower) when a missed it more often and the reached pairs do
    not say 'lower', 'lower' in the mirror case, else 'mixed'."""
    def never(v):
        return v is None or not math.isfinite(float(v))

    na, nb = sum(map(never, a)), sum(map(never, b))
    if verdict is None:  # the pairs with a never-reached side are dropped
        verdict = stats.paired(a, b).verdict
    if na == nb:
        return verdict
    if na > nb and verdict != "lower":
        return "higher"
    if na < nb and verdict != "higher":
        return "lower"
    return "mixed"


def reached(records, key: str) -> list[float]:
    """final[key] of steps or seconds to a threshold, never reached (None, nan) as +inf."""
    return [math.inf if math.isnan(v) else float(v) for v in query.final(records, key)]


def reach_cell(values, digits: int = 3) -> Cell:
    """Median [25th, 75th percentile] of steps or seconds to a threshold (never reached:
    +inf), with how many runs never reached it in the text."""
    never = sum(not math.isfinite(v) for v in values)
    if not values:
        return DASH
    if never == len(values):
        return Cell("never", F.med_iqr(values, digits))
    med, q25, q75 = stats.median_iqr(values)
    text = f"{F.fmt(med)} [{F.fmt(q25)}, {F.fmt(q75)}]"
    return Cell(text + (f" ({never} of {len(values)} never)" if never else ""),
                F.med_iqr(values, digits))


def median_cell(recs, key: str) -> Cell:
    """Median [25th, 75th percentile] of final[key] over the records (seeds), the non-finite
    values left out (for heavy-tailed figures such as R^2)."""
    values = [v for v in query.final(recs, key) if math.isfinite(v)]
    if not values:
        return DASH
    med, q25, q75 = stats.median_iqr(values)
    return Cell(f"{F.fmt(med)} [{F.fmt(q25)}, {F.fmt(q75)}]", F.med_iqr(values, 3))
