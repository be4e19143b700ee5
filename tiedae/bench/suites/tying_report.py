r"""The analysis of the `nonlinear-tying` suite: tables, findings, the paper's numbers, a figure.

Runs that failed their checks (`tiedae.bench.suites.mlp_checks`: not converged, a code of
rank < k, an identity run above 1.02 times PCA's training error) are counted, named and left
out of every comparison. A sigmoid or ReLU run above PCA's error is not a failure: when it
converged at its tuned step size, its error is what the architecture reached.

* Table `nonlinear_tying`: per (data, k, activation, biases), each tie's chosen step size, runs
  passed, training and test error over PCA's (E / E_PCA(k), mean and 95 % interval over the
  passing seeds) and the paired difference tied - untied of the test ratio (same seeds: same
  data, same initial W), its 95 % interval and Holm's correction over the table.
* Table `nonlinear_tying_bias`: per (data, k, activation, tie), the paired difference
  without - with biases of the test ratio, Holm-corrected over that table.
* Table `nonlinear_tying_weights`: per architecture, ||W^T W - I||_F / sqrt(k) and W's
  singular values at the end (median over passing seeds), principal directions learnt and
  the sequential-learning correlation (median, Wilcoxon's signed-rank test against 0).
* Findings: the checks, a sentence per comparison, and Refinetti & Goldt's three claims each
  set against what the records show (sentences generated from the statistics).

Example:
  >>> from tiedae.bench.suites import tying_report
  >>> tying_report.label(("mnist", 16, "sigmoid", False))
  'MNIST, k=16, sigmoid, no biases'
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites import mlp_checks, tying_figure
from tiedae.report import Analysis, Cell, Figure, Table, difference_cells, query, stats
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


def _values(records, key) -> list[float]:
    return [r["final"].get(key) for r in query.by_seed(records)]


def _paired(a: list[dict], b: list[dict], key: str = "test_ratio") -> stats.Paired:
    return query.versus(a, b, key)


def _ci(records, key, digits=3) -> Cell:
    vals = _values(records, key)
    if not any(v is not None for v in vals):
        return Cell("-", F.NA)
    return Cell(F.ci(vals, digits), F.pm_ci(vals, digits))


def _lr(records) -> Cell:
    if not records:
        return Cell("-", F.NA)
    f = records[0]["final"]
    mark = " (grid end)" if f.get("learning_rate_at_grid_end") else ""
    return Cell(f"{f['learning_rate']:g}{mark}", F.num(f["learning_rate"]) + mark)


class _Split:
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


def _tie_table(s: _Split):
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
                             for recs in (t, u)], *difference_cells(p), _verdict(p, "tied"),
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


def _verdict(p: stats.Paired, what: str) -> str:
    return {"lower": f"{what} lower", "higher": f"{what} higher"}.get(p.verdict, p.verdict)


def _bias_table(s: _Split):
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
                           _verdict(p, "no biases")]))
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


def _median(records, key) -> float:
    vals = [v for v in _values(records, key) if v is not None]
    return float(np.median(vals)) if vals else math.nan


def _rho(records) -> stats.SignedRank:
    rho = [v for v in _values(records, "sequential_rho") if v is not None]
    return stats.signed_rank(rho, [0.0] * len(rho))


def _p_cell(p: float) -> Cell:
    text = F.p_value(p)
    return Cell(text, text.replace("<", "$<$"))


def _weights_table(s: _Split) -> Table:
    rows = []
    for key, recs in s.all.items():
        ok = s.get(key)
        rho = _rho(ok)
        rows.append((key, [f"{len(ok)}/{len(recs)}",
                           *[Cell(F.fmt(_median(ok, m)), F.num(_median(ok, m))) for m in
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

def _mean_text(records, key) -> str:
    ci = stats.interval(_values(records, key))
    if ci.n == 0:
        return "n/a"
    return f"{ci.mean:.3g}" if ci.n < 2 else f"{ci.mean:.3g} [{ci.lo:.3g}, {ci.hi:.3g}]"


def _above_optimum(records) -> bool:
    """Whether the runs' training error is measurably above 1.02 times PCA's (the whole 95 %
    interval of train / PCA above it)."""
    ci = stats.interval(_values(records, "train_ratio"))
    return ci.n >= 2 and ci.lo > OPTIMUM


def _p_text(p) -> str:
    if p.n < 2:
        return "not compared (fewer than 2 seeds passed)"
    return (f"{p.estimate:+.3g} [{p.lo:+.3g}, {p.hi:+.3g}] over {p.n} seeds, Holm-adjusted "
            f"{F.p_equals(p.p_adjusted if p.family > 1 else p.p_value)}")


def _identity_finding(s: _Split) -> str:
    runs = [r for key, recs in s.all.items() if key[2] == "identity" for r in recs]
    if not runs:
        return "The identity control was not run."
    within = [r for r in runs if r["final"].get("reaches_optimum")]
    ratios = [r["final"]["train_ratio"] for r in runs if r["final"].get("train_ratio")]
    if not ratios:
        return f"engine check: none of the {len(runs)} identity runs recorded its error."
    return (f"engine check: {len(within)} of {len(runs)} identity (linear) runs reached within "
            f"2 % of PCA's training error (train / PCA from {min(ratios):.5f} to "
            f"{max(ratios):.5f}); the identity is the control whose optimum is known.")


def _optimum_findings(s: _Split) -> list[str]:
    out = []
    for key, recs in s.all.items():
        ok = s.get(key)
        if key[2] == "identity" or not ok or not _above_optimum(ok):
            continue
        grid_end = any(r["final"].get("learning_rate_at_grid_end") for r in recs)
        out.append(
            f"{label(key)}: {len(ok)} of {len(recs)} runs converged with a full-rank code at "
            f"the tuned step size {recs[0]['final'].get('learning_rate', math.nan):g} and "
            f"end at training error {_mean_text(ok, 'train_ratio')} times PCA's: above "
            f"PCA's optimum, a result about the architecture, not an optimisation failure"
            + (" (the step size is at the grid's end: a wider grid might do better)."
               if grid_end else "."))
    return out


def _claims(s: _Split, ties: dict, biases: dict) -> list[str]:
    """Refinetti & Goldt's three claims, each with what the records show."""
    out = []
    by_act = {}
    for act in dict.fromkeys(k[2] for k in s.all):
        recs = [r for key in s.all if key[2] == act for r in s.get(key)]
        by_act[act] = _rho(recs)
    by_act = stats.holm(by_act)
    parts = [f"{act}: median rho {p.median:.2g} over {p.n} runs, Holm-adjusted "
             f"{F.p_equals(p.p_adjusted if p.family > 1 else p.p_value)}"
             for act, p in by_act.items() if p.n]
    shown = [act for act, p in by_act.items() if p.verdict == "higher"]
    against = [act for act, p in by_act.items() if p.verdict == "lower"]
    verdict = ("agrees for " + ", ".join(shown) if shown else "does not show it for any "
               "activation") + (" and contradicts it for " + ", ".join(against)
                                if against else "")
    out.append("Refinetti & Goldt: autoencoders learn the leading principal components "
               "sequentially. Here (Adam on minibatches, not online SGD), the Spearman "
               "correlation of a principal direction's index with its learning time (the "
               "integral of the part of it not yet in the decoder's row space; "
               + "; ".join(parts)
               + f"): this {verdict}.")
    for key, p in ties.items():
        if key[2] != "sigmoid":
            continue
        tied, untied = s.get((*key, "tied")), s.get((*key, "untied"))
        fails = _above_optimum(tied) and p.verdict == "higher"
        untied_fine = untied and not _above_optimum(untied)
        verdict = ("cannot be checked: fewer than 2 seeds of both ties passed" if p.n < 2 else
                   "agrees: the tied model converged and stays measurably above PCA's "
                   "training error and above the untied one" if fails else
                   "does not agree: the tied model is not measurably worse than the untied "
                   "one" if p.verdict != "higher" else
                   "agrees in part: the tied model is worse than the untied one but not "
                   "measurably above PCA's training error")
        out.append(
            f"Refinetti & Goldt: sigmoidal autoencoders fail to learn with tied weights. "
            f"Here ({label(key)}): training error over PCA's tied {_mean_text(tied, 'train_ratio')}"
            f", untied {_mean_text(untied, 'train_ratio')}"
            + (" (the untied one within PCA's optimum)" if untied_fine else "")
            + f"; tied - untied test ratio {_p_text(p)}: this {verdict}.")
    for key, p in biases.items():
        if key[2] != "relu":
            continue
        verdict = ("cannot be checked: fewer than 2 seeds with and without biases passed"
                   if p.n < 2 else
                   "agrees: without biases the test error is measurably higher" if
                   p.verdict == "higher" else "does not agree: without biases the error is "
                   "measurably lower" if p.verdict == "lower" else
                   "is not shown: no measurable difference")
        name = label((*key[:3], True)).rsplit(", ", 1)[0] + f", {key[3]}"
        out.append(f"Refinetti & Goldt: training the bias matters for ReLU autoencoders. Here "
                   f"({name}): without - with biases, test ratio {_p_text(p)}: this {verdict}.")
    return out


ORTHONORMAL = 0.1  # ||W^T W - I||_F / sqrt(k) below this: "orthonormal rows" in the findings


def _orthonormality_findings(s: _Split) -> list[str]:
    out = []
    for key in dict.fromkeys(k[:4] for k in s.all):
        tied, untied = s.get((*key, "tied")), s.get((*key, "untied"))
        if not tied:
            continue
        err = _median(tied, "orthonormality")
        what = ("drove W to orthonormal rows" if err < ORTHONORMAL else
                "did not drive W to orthonormal rows")
        out.append(
            f"{label(key)}: with W^T tying ||W^T W - I||/sqrt(k) ends at {err:.3g} (median; "
            f"singular values {_median(tied, 'sv_min'):.3g} to {_median(tied, 'sv_max'):.3g}, "
            f"max/min {_median(tied, 'sv_ratio'):.3g}), untied "
            f"{_median(untied, 'orthonormality'):.3g} (max/min "
            f"{_median(untied, 'sv_ratio'):.3g}): the tie {what} (threshold {ORTHONORMAL:g}).")
    return out


def _answer(s: _Split, ties: dict, same: dict) -> str:
    """The paper's answer (LaTeX): in which settings tying raised, lowered or did not change
    the test error (beyond the equivalence margin), and where it left W's orthonormality."""
    verdicts = {"higher": [], "lower": [], "same": [], "none": []}
    for key, p in ties.items():
        if p.n >= 2:
            kind = ("same" if same[key] else p.verdict if p.verdict in ("higher", "lower")
                    else "none")
            verdicts[kind].append(F.tex_escape(label(key)))
    ortho = {act: _median([r for key in s.all if key[2] == act and key[4] == "tied"
                           for r in s.get(key)], "orthonormality")
             for act in dict.fromkeys(k[2] for k in s.all)}
    parts = [f"{words} {len(names)} setting(s) ({'; '.join(names)})" for words, names in
             (("tying raised the test error in", verdicts["higher"]),
              ("lowered it in", verdicts["lower"]),
              (rf"changed it by less than $\pm{MARGIN:g}$ of PCA's error (two one-sided "
               r"tests) in", verdicts["same"]),
              ("made no measurable difference in", verdicts["none"])) if names]
    if not parts:
        return "The ties were not compared (fewer than two passing seeds per setting)."
    return ("In the shallow autoencoder, " + ", ".join(parts) + r" (Holm-corrected); with the "
            r"tie $\fro{W\T W - I}/\sqrt{k}$ ended at "
            + ", ".join(f"{F.num(v, 2)} ({act})" for act, v in ortho.items())
            + " (median over the passing runs and settings).")


def _checks_tex(s: _Split) -> str:
    """The paper's sentence on the checks (LaTeX)."""
    runs = [r for recs in s.all.values() for r in recs]
    ident = [r for key, recs in s.all.items() if key[2] == "identity" for r in recs]
    top = max((r["final"].get("train_ratio") or 0.0 for r in ident), default=float("nan"))
    within = sum(bool(r["final"].get("reaches_optimum")) for r in ident)
    return (f"{len(runs) - len(s.failed)} of {len(runs)} runs passed their checks; {within} "
            rf"of {len(ident)} identity runs reached within 2\,\% of PCA's training error (at "
            f"most {F.num(top, 5)} times it).")


def _claims_tex(s: _Split, ties: dict, biases: dict) -> str:
    """Refinetti & Goldt's three claims against the records, one LaTeX sentence each."""
    def verdicts(ok: list[bool], what: str = "settings") -> str:
        return (f"agrees in {sum(ok)} of {len(ok)} {what}" if ok else "not checked")

    rho = stats.holm({act: _rho([r for key in s.all if key[2] == act for r in s.get(key)])
                      for act in dict.fromkeys(k[2] for k in s.all)})
    seq = "; ".join(f"{act} {F.num(p.median, 2)}" for act, p in rho.items() if p.n)
    sig = {key: p for key, p in ties.items() if key[2] == "sigmoid" and p.n >= 2}
    sig_text = "; ".join(
        f"{'with' if key[3] else 'without'} biases: tied "
        f"{F.num(_median(s.get((*key, 'tied')), 'train_ratio'), 3)}, untied "
        f"{F.num(_median(s.get((*key, 'untied')), 'train_ratio'), 3)}" for key in sig)
    relu = {key: p for key, p in biases.items() if key[2] == "relu" and p.n >= 2}
    relu_text = "; ".join(f"{key[3]}: {F.num(p.estimate, 2)} [{F.num(p.lo, 2)}, "
                          f"{F.num(p.hi, 2)}]" for key, p in relu.items())
    return (
        r"(i) \emph{The leading principal components are learnt sequentially}: the Spearman "
        r"correlation of a direction's index with its learning time has median " + seq
        + " (Wilcoxon, Holm-corrected); "
        + verdicts([p.verdict == "higher" for p in rho.values() if p.n], "activations") + ". "
        r"(ii) \emph{Sigmoidal autoencoders fail to learn with tied weights}: training error "
        r"over PCA's (median) " + sig_text + "; "
        + verdicts([_above_optimum(s.get((*key, "tied"))) and p.verdict == "higher"
                    for key, p in sig.items()])
        + r" (agreement: the tied model converged and stays above 1.02 times PCA's error and "
        r"measurably above the untied one). "
        r"(iii) \emph{Training the bias matters for ReLU autoencoders}: without $-$ with "
        r"biases, test error over PCA's " + relu_text + " (Holm-corrected); "
        + verdicts([p.verdict == "higher" for p in relu.values()]) + ".")


def analyze(records: list[dict]) -> Analysis:
    r"""Tables `nonlinear_tying`, `nonlinear_tying_bias`, `nonlinear_tying_weights`, the
    findings, the figure `nonlinear_tying` and the paper's numbers (``\RTyingSeeds``,
    ``\RTyingSteps``, ``\RTyingGrid``, ``\RTyingChecks``, ``\RAnswerNonlinearTying``,
    ``\RTyingRefinetti``)."""
    s = _Split(records)
    tie_table, ties, same = _tie_table(s)
    bias_table, biases = _bias_table(s)
    trained = [r for recs in s.all.values() for r in recs]
    checks = mlp_checks.check_findings(trained, s.failed)
    findings = [*checks, _identity_finding(s)]
    for key, p in ties.items():
        findings.append(f"{label(key)}: tied - untied test error over PCA's {_p_text(p)}: "
                        f"{_verdict(p, 'tied')}"
                        + (f"; equivalent within +-{MARGIN:g} (TOST, Holm-corrected)"
                           if same[key] else "") + ".")
    findings += _optimum_findings(s) + _orthonormality_findings(s)
    claims = _claims(s, ties, biases)
    findings += claims
    cfg = records[0]["config"]
    numbers = {
        "RTyingSeeds": F.num(len({r["config"]["seed"] for r in records})),
        "RTyingSteps": F.num(cfg["steps"]),
        "RTyingGrid": ", ".join(F.num(v) for v in cfg["learning_rates"]),
        "RTyingChecks": _checks_tex(s),
        "RAnswerNonlinearTying": _answer(s, ties, same),
        "RTyingRefinetti": _claims_tex(s, ties, biases),
    }
    return Analysis(tables=[tie_table, bias_table, _weights_table(s)], findings=findings,
                    numbers=numbers,
                    figures=[Figure("nonlinear_tying", "Orthonormality error of W and training "
                                    "error over PCA's against steps, per activation (median "
                                    "over the runs that passed their checks).",
                                    tying_figure.drawer(s.ok, OPTIMUM))])
