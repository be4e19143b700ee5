"""The tables of suite `nonlinear-tying` (see `tying_report` for the analysis they belong to):
`nonlinear_tying` (error over PCA's per tie, tied - untied paired with Holm's correction and an
equivalence test against `MARGIN`), `nonlinear_tying_bias` (without - with biases) and
`nonlinear_tying_weights` (how orthonormal W ends, principal directions learnt, sequential
learning), with the helpers that group and check the records (`Checked`).

Example:
  >>> from tiedae.bench.suites import tying_tables
  >>> tying_tables.label(("mnist", 16, "sigmoid", False))
  'MNIST, k=16, sigmoid, no biases'
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites import mlp_checks
from tiedae.report import Cell, Table, difference_cells, query, stats
from tiedae.report import format as F

DATA_NAMES = {"mnist": "MNIST", "digits": "digits"}
OPTIMUM = 1 + mlp_checks.OPTIMUM_TOLERANCE
# Equivalence margin of the tied - untied test ratio, fixed before the full run: 1 % of PCA's
# test error (half the optimum check's tolerance).
MARGIN = 0.01


def label(key: tuple) -> str:
    """'MNIST, k=16, sigmoid, no biases' for a key (data, k, activation, bias[, tie])."""
    data, k, act, bias, *tie = key
    parts = [DATA_NAMES.get(data, data), f"k={k}", act, "biases" if bias else "no biases", *tie]
    return ", ".join(str(p) for p in parts)


def _headed(rows: list[tuple[tuple, list]], short=None) -> list[list]:
    """Rows (key, cells) with a heading row (data set, k) before each new (data, k) and the
    setting cell without it (`short(key)`, default: the label's other parts)."""
    out, last = [], None
    for key, cells in rows:
        if key[:2] != last:
            last = key[:2]
            out.append([label(key).split(", ")[0] + f", k={key[1]}"])
        short_name = short(key) if short else ", ".join(label(key).split(", ")[2:])
        out.append([Cell(short_name, F.tex_escape(short_name)), *cells])
    return out


def _arch(records) -> dict[tuple, list[dict]]:
    return query.group(records, "dataset", "code_dim", "activation", "bias", "tie")


def final_values(records, key) -> list[float]:
    return [r["final"].get(key) for r in query.by_seed(records)]


def _paired(a: list[dict], b: list[dict], key: str = "test_ratio") -> stats.Paired:
    return query.versus(a, b, key)


def _ci(records, key, digits=3) -> Cell:
    vals = final_values(records, key)
    if not any(v is not None for v in vals):
        return Cell("-", F.NA)
    return Cell(F.ci(vals, digits), F.pm_ci(vals, digits))


def _lr(records) -> Cell:
    if not records:
        return Cell("-", F.NA)
    f = records[0]["final"]
    mark = " (grid end)" if f.get("learning_rate_at_grid_end") else ""
    return Cell(f"{f['learning_rate']:g}{mark}", F.num(f["learning_rate"]) + mark)


class Checked:
    """Every architecture's records, and those that passed their checks."""

    def __init__(self, records):
        self.all = _arch(records)
        self.ok = {key: mlp_checks.split(recs)[0] for key, recs in self.all.items()}
        self.failed = [r for recs in self.all.values() for r in mlp_checks.split(recs)[1]]

    def get(self, key) -> list[dict]:
        return self.ok.get(key, [])


def equivalent(pairs: dict, margin: float = MARGIN) -> dict:
    """Per key of {key: (a values, b values)}: whether |mean(a - b)| < margin by two one-sided
    tests (`stats.equivalence`), the p-values Holm-corrected over the keys (None: untested)."""
    tests = {key: stats.equivalence(a, b, margin) for key, (a, b) in pairs.items()}
    proxies = {key: stats.Paired(e.mean, e.lo, e.hi, e.p_value, e.n, e.verdict)
               for key, e in tests.items()}
    return {key: (None if not math.isfinite(p.p_value) else bool(p.p_adjusted < stats.ALPHA))
            for key, p in stats.holm(proxies).items()}


def tie_comparisons(s: Checked):
    rows, compared, keys = [], {}, []
    for key in dict.fromkeys(k[:4] for k in s.all):
        keys.append(key)
        compared[key] = _paired(s.get((*key, "tied")), s.get((*key, "untied")))
    compared = stats.holm(compared)
    same = equivalent({key: query.paired_values(s.get((*key, "tied")), s.get((*key, "untied")),
                                                "test_ratio") for key in keys})
    for key in keys:
        t, u = s.get((*key, "tied")), s.get((*key, "untied"))
        p = compared[key]
        all_t, all_u = s.all.get((*key, "tied"), []), s.all.get((*key, "untied"), [])
        lt, lu = _lr(all_t), _lr(all_u)
        rows.append((key, [Cell(f"{lt.text} / {lu.text}", f"{lt.tex} / {lu.tex}"),
                           f"{len(t)}/{len(all_t)}, {len(u)}/{len(all_u)}",
                           *[_ci(recs, metric, 4) for metric in ("train_ratio", "test_ratio")
                             for recs in (t, u)], *difference_cells(p), verdict_text(p, "tied"),
                           {True: "yes", False: "not shown", None: "-"}[same[key]]]))
    table = Table(
        "nonlinear-tying: error over PCA's at the same k (mean +- 95% interval over the runs "
        "that passed their checks) with W^T tied and untied, and tied - untied of the test "
        "ratio paired by seed (95% interval, Holm-corrected over the table) and whether it is "
        f"within +-{MARGIN:g} (two one-sided tests, Holm-corrected; margin fixed before the "
        "run)",
        ["setting", "lr tied / untied", "passed tied, untied",
         Cell("train/PCA tied", r"$E_\mathrm{train}/E_\mathrm{PCA}$ tied"),
         Cell("train/PCA untied", r"$E_\mathrm{train}/E_\mathrm{PCA}$ untied"),
         Cell("test/PCA tied", r"$E_\mathrm{test}/E_\mathrm{PCA}$ tied"),
         Cell("test/PCA untied", r"$E_\mathrm{test}/E_\mathrm{PCA}$ untied"),
         "tied - untied", "95% interval", "Holm p", "verdict",
         Cell(f"within +-{MARGIN:g}", rf"within $\pm{MARGIN:g}$")],
        _headed(rows), name="nonlinear_tying", align="llrrrrrrrrll")
    return table, compared, same


def verdict_text(p: stats.Paired, what: str) -> str:
    return {"lower": f"{what} lower", "higher": f"{what} higher"}.get(p.verdict, p.verdict)


def bias_comparisons(s: Checked):
    keys = list(dict.fromkeys((*k[:3], k[4]) for k in s.all))

    def recs(key, bias):
        data, k, act, tie = key
        return s.get((data, k, act, bias, tie))

    compared = stats.holm({key: _paired(recs(key, False), recs(key, True)) for key in keys})
    rows = []
    for key in keys:
        p = compared[key]
        rows.append((key, [_ci(recs(key, True), "test_ratio", 4),
                           _ci(recs(key, False), "test_ratio", 4), *difference_cells(p),
                           verdict_text(p, "no biases")]))
    table = Table(
        "nonlinear-tying: test error over PCA's with biases b, c trained and without them "
        "(runs that passed their checks), and without - with paired by seed (95% interval, "
        "Holm-corrected over the table)",
        ["setting", Cell("test/PCA biases", r"$E_\mathrm{test}/E_\mathrm{PCA}$ biases"),
         Cell("test/PCA none", r"$E_\mathrm{test}/E_\mathrm{PCA}$ none"),
         "none - biases", "95% interval", "Holm p", "verdict"],
        _headed(rows, lambda key: f"{key[2]}, {key[3]}"), name="nonlinear_tying_bias",
        align="lrrrrrl")
    return table, compared


def median_final(records, key) -> float:
    vals = [v for v in final_values(records, key) if v is not None]
    return float(np.median(vals)) if vals else math.nan


def sequential_test(records) -> stats.SignedRank:
    rho = [v for v in final_values(records, "sequential_rho") if v is not None]
    return stats.signed_rank(rho, [0.0] * len(rho))


def _p_cell(p: float) -> Cell:
    text = F.p_value(p)
    return Cell(text, text.replace("<", "$<$"))


def weights_table(s: Checked) -> Table:
    rows = []
    for key, recs in s.all.items():
        ok = s.get(key)
        rho = sequential_test(ok)
        rows.append((key, [f"{len(ok)}/{len(recs)}",
                           *[Cell(F.fmt(median_final(ok, m)), F.num(median_final(ok, m))) for m in
                             ("orthonormality", "sv_min", "sv_median", "sv_max", "sv_ratio",
                              "pcs_learnt")],
                           Cell(F.fmt(rho.median, 2), F.num(rho.median, 2)) if rho.n else "-",
                           _p_cell(rho.p_value) if rho.n else "-"]))
    return Table(
        "nonlinear-tying: the encoder W at the end of training (median over the runs that "
        "passed their checks): orthonormality error ||W^T W - I||_F / sqrt(k) of its k weight "
        "vectors, its singular values and their ratio (1: orthogonal rows of one norm), the "
        "principal directions learnt (at least half in the decoder's row space) and the "
        "Spearman correlation of a direction's index with its "
        "learning time (median; Wilcoxon signed-rank p against 0)",
        ["setting", "passed", Cell("||W^T W - I||/sqrt(k)", r"$\fro{W\T W - I}/\sqrt{k}$"),
         Cell("sv min", r"$\sigma_\mathrm{min}$"), Cell("sv median", r"$\sigma_\mathrm{med}$"),
         Cell("sv max", r"$\sigma_\mathrm{max}$"),
         Cell("sv max/min", r"$\sigma_\mathrm{max}/\sigma_\mathrm{min}$"), "PCs learnt",
         Cell("order rho", r"order $\rho$"), "p"],
        _headed(rows), name="nonlinear_tying_weights", align="lrrrrrrrrr")


# ---- findings ----------------------------------------------------------------------------------
