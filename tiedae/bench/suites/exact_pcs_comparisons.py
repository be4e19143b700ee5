r"""The `exact-pcs` runs grouped by setting, and the paired comparisons made of them.

`settings(records)` groups the runs once by (d, k, optimizer, method); each `Setting` holds its
runs in seed order, their iterations to the target (inf: not reached within the budget), the
median and IQR over starts and how many starts reached it.

`comparisons(groups)` pairs RAG with non-uniform L2 for each (d, k, optimizer) and Adam with SGD
+ Nesterov for each (d, k, method) but plain, by random start (seed), as a paired t-test on
log2 iterations (`versus`: the estimate is the geometric-mean ratio of iterations) with a run
that never reached the target counted at its budget, so that a ratio involving such runs is a
bound on the true one (right-censored; the test stays valid but conservative). All of them are
Holm-corrected together (`stats.holm`): they are the rows of the table `exact_pcs_paired`. A
comparison in which neither side reached the target in any start has no test and is not
counted in Holm's family. `where_rag_wins` reads off at which k RAG needed measurably fewer or
more iterations than non-uniform L2.

Example:
  >>> def rec(method, seed, it):
  ...     return {"config": {"d": 50, "k": 2, "method": method, "optimizer": "adam",
  ...                        "seed": seed, "steps": 400, "target": 0.3},
  ...             "final": {"iterations_to_axis_0.3": it}}
  >>> groups = settings([rec("rag", s, 100 + 10 * s) for s in range(4)]
  ...                   + [rec("nonuniform_l2", s, None if s == 0 else 50) for s in range(4)])
  >>> rag, l2 = groups[50, 2, "adam", "rag"], groups[50, 2, "adam", "nonuniform_l2"]
  >>> rag.median, rag.reached, l2.iterations[0], l2.budget
  (115.0, 4, inf, 400)
  >>> p = versus(rag, l2)  # log2(100 / 400), log2(110 / 50), ...: never reached counts at 400
  >>> p.n, round(2 ** p.mean, 2)
  (4, 1.36)
"""

from __future__ import annotations

import math
from typing import NamedTuple

from tiedae.bench.suites.exact_pcs_figure import method_cell, opt_cell
from tiedae.bench.suites.exact_pcs_reference import METHODS, OPTIMIZERS, TARGET
from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.format import fmt


class Setting(NamedTuple):
    """The runs of one (d, k, optimizer, method), ordered by seed, and their statistics."""

    records: list[dict]
    iterations: list[float]  # to the axis-distance target; inf: not reached in the budget
    median: float
    q25: float
    q75: float
    reached: int

    @property
    def budget(self) -> int:
        """The iteration budget (the largest of its runs')."""
        return max(int(r["config"]["steps"]) for r in self.records)


def iterations(records: list[dict], target=TARGET) -> list[float]:
    """Iterations to the axis-distance target per record (inf: not reached in the budget)."""
    key = f"iterations_to_axis_{target}"
    return [math.inf if r["final"].get(key) is None else float(r["final"][key])
            for r in records]


def settings(records: list[dict], target=TARGET) -> dict[tuple, Setting]:
    """The records grouped by (d, k, optimizer, method) in first-seen order, each with its
    iterations to the target, their median and IQR and how many starts reached it."""
    out = {}
    for key, recs in query.group(records, "d", "k", "optimizer", "method").items():
        recs = query.by_seed(recs)
        its = iterations(recs, target)
        out[key] = Setting(recs, its, *stats.median_iqr(its), sum(map(math.isfinite, its)))
    return out


def on_common_seeds(a: Setting, b: Setting) -> tuple[list[float], list[float]]:
    """Two settings' iterations on the seeds (random starts) both ran, in seed order: a run
    that failed or is missing leaves its seed out of the pairing instead of shifting it."""
    x, y = ({r["config"]["seed"]: it for r, it in zip(s.records, s.iterations, strict=True)}
            for s in (a, b))
    seeds = sorted(x.keys() & y.keys())
    return [x[seed] for seed in seeds], [y[seed] for seed in seeds]


def versus(a: Setting, b: Setting) -> stats.Paired | None:
    """log2 of a's iterations minus b's, paired by seed, a run that never reached the target
    counted at its setting's budget; None when neither reached it in any common start."""
    x, y = on_common_seeds(a, b)
    if not any(map(math.isfinite, x + y)):
        return None

    def log2(values, budget):
        return [math.log2(v if math.isfinite(v) else budget) for v in values]

    return stats.paired(log2(x, a.budget), log2(y, b.budget))


class Comparison(NamedTuple):
    """One row of the paired table: a against b in one (d, k) and optimizer or method."""

    d: int
    k: int
    what: str  # "methods" (RAG vs non-uniform L2) or "optimizers" (Adam vs SGD)
    within: str  # the optimizer (methods) or the method (optimizers) both share
    a: Setting
    b: Setting
    test: stats.Paired | None  # None: neither reached the target (no test)


def comparisons(groups: dict[tuple, Setting]) -> list[Comparison]:
    """RAG vs non-uniform L2 per (d, k, optimizer), then Adam vs SGD per (d, k, method) other
    than plain, in first-seen order of (d, k), Holm-corrected together."""
    rows = []
    for d, k in dict.fromkeys((key[0], key[1]) for key in groups):
        for opt in OPTIMIZERS:
            a, b = groups.get((d, k, opt, "rag")), groups.get((d, k, opt, "nonuniform_l2"))
            if a and b:
                rows.append(Comparison(d, k, "methods", opt, a, b, versus(a, b)))
        for method in METHODS[1:]:
            a, b = groups.get((d, k, "adam", method)), groups.get((d, k, "sgd_nesterov", method))
            if a and b:
                rows.append(Comparison(d, k, "optimizers", method, a, b, versus(a, b)))
    adjusted = stats.holm({i: c.test for i, c in enumerate(rows) if c.test is not None})
    return [c._replace(test=adjusted.get(i)) for i, c in enumerate(rows)]


def names(c: Comparison) -> tuple[str, str, str]:
    """(a's name, b's name, what they share) of a comparison, as plain text."""
    if c.what == "methods":
        return "RAG", "non-uniform L2", opt_cell(c.within).text
    return "Adam", "SGD + Nesterov", method_cell(c.within).text


def verdict_word(p: stats.Paired) -> str:
    return {"lower": "fewer iterations", "higher": "more iterations"}.get(p.verdict, p.verdict)


def comparison_text(c: Comparison) -> str:
    """A comparison as a sentence: the geometric-mean ratio of iterations, its 95% interval,
    how many starts reached the target, Holm's adjusted p and the verdict."""
    a, b, _ = names(c)
    x, y = on_common_seeds(c.a, c.b)
    reached = (f"reached in {sum(map(math.isfinite, x))} vs {sum(map(math.isfinite, y))} of "
               f"{len(x)} starts")
    p = c.test
    if p is None:
        return f"neither reached the target ({reached})"
    if p.n < 2:
        return f"not compared ({reached})"
    bound = ("; never reached counted at the budget, so the ratio is a bound"
             if not all(map(math.isfinite, x + y)) else "")
    ratio = [fmt(2.0 ** v, 2) for v in (p.mean, p.lo, p.hi)]
    return (f"{a} needed {ratio[0]}x {b}'s iterations (geometric mean, 95% CI [{ratio[1]}, "
            f"{ratio[2]}]; {reached}{bound}), Holm-adjusted {F.p_equals(p.p_adjusted)}: "
            f"{verdict_word(p)}")


def where_rag_wins(compared: list[Comparison], d: int) -> dict[str, dict[str, list[int]]]:
    """{optimizer: {"fewer" / "more" / "no difference" / "neither": [k, ...]}}: the k at which
    RAG needed measurably fewer or more iterations than non-uniform L2 (Holm-adjusted), showed
    no measurable difference, or neither reached the target; at the data dimension d."""
    out: dict[str, dict[str, list[int]]] = {}
    for c in compared:
        if c.what != "methods" or c.d != d:
            continue
        key = ("neither" if c.test is None else
               {"lower": "fewer", "higher": "more"}.get(c.test.verdict, "no difference"))
        out.setdefault(c.within, {}).setdefault(key, []).append(c.k)
    return out


def _ks(ks: list[int]) -> str:
    return ("k = " + ", ".join(map(str, ks))) if ks else ""


def where_sentence(compared: list[Comparison], d: int) -> str:
    """'with SGD + Nesterov, RAG needed fewer iterations than non-uniform L2 at k = 20, 50,
    more at k = 2 ...' from `where_rag_wins`; '' without comparisons."""
    parts = []
    for opt, by in where_rag_wins(compared, d).items():
        words = [f"{label} at {_ks(by[key])}" for key, label in (
            ("fewer", "fewer iterations"), ("more", "more iterations"),
            ("no difference", "no measurable difference"),
            ("neither", "neither reached the target")) if by.get(key)]
        parts.append(f"with {opt_cell(opt).text}, " + ", ".join(words))
    return "; ".join(parts)
