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

from tiedae.bench.suites import mlp_checks, tying_figure
from tiedae.bench.suites.tying_tables import (
    MARGIN,
    OPTIMUM,
    Checked,
    bias_comparisons,
    final_values,
    label,
    median_final,
    sequential_test,
    tie_comparisons,
    verdict_text,
    weights_table,
)
from tiedae.report import Analysis, Figure, stats
from tiedae.report import format as F


def _mean_text(records, key) -> str:
    ci = stats.interval(final_values(records, key))
    if ci.n == 0:
        return "n/a"
    return f"{ci.mean:.3g}" if ci.n < 2 else f"{ci.mean:.3g} [{ci.lo:.3g}, {ci.hi:.3g}]"


def _above_optimum(records) -> bool:
    """Whether the runs' training error is measurably above 1.02 times PCA's (the whole 95 %
    interval of train / PCA above it)."""
    ci = stats.interval(final_values(records, "train_ratio"))
    return ci.n >= 2 and ci.lo > OPTIMUM


def _p_text(p) -> str:
    if p.n < 2:
        return "not compared (fewer than 2 seeds passed)"
    return (f"{p.estimate:+.3g} [{p.lo:+.3g}, {p.hi:+.3g}] over {p.n} seeds, Holm-adjusted "
            f"{F.p_equals(p.p_adjusted if p.family > 1 else p.p_value)}")


def _identity_finding(s: Checked) -> str:
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


def _optimum_findings(s: Checked) -> list[str]:
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


def _claims(s: Checked, ties: dict, biases: dict) -> list[str]:
    """Refinetti & Goldt's three claims, each with what the records show."""
    out = []
    by_act = {}
    for act in dict.fromkeys(k[2] for k in s.all):
        recs = [r for key in s.all if key[2] == act for r in s.get(key)]
        by_act[act] = sequential_test(recs)
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


def _orthonormality_findings(s: Checked) -> list[str]:
    out = []
    for key in dict.fromkeys(k[:4] for k in s.all):
        tied, untied = s.get((*key, "tied")), s.get((*key, "untied"))
        if not tied:
            continue
        err = median_final(tied, "orthonormality")
        what = ("drove W to orthonormal rows" if err < ORTHONORMAL else
                "did not drive W to orthonormal rows")
        out.append(
            f"{label(key)}: with W^T tying ||W^T W - I||/sqrt(k) ends at {err:.3g} (median; "
            f"singular values {median_final(tied, 'sv_min'):.3g} to "
            f"{median_final(tied, 'sv_max'):.3g}, "
            f"max/min {median_final(tied, 'sv_ratio'):.3g}), untied "
            f"{median_final(untied, 'orthonormality'):.3g} (max/min "
            f"{median_final(untied, 'sv_ratio'):.3g}): the tie {what} (threshold {ORTHONORMAL:g}).")
    return out


def _answer(s: Checked, ties: dict, same: dict) -> str:
    """The paper's answer (LaTeX): in which settings tying measurably raised or lowered the
    test error, in which it changed it by less than the equivalence margin (a setting can be
    both: measurably higher, but within the margin), and where it left W's orthonormality."""
    verdicts = {"higher": [], "lower": [], "same": [], "none": []}
    for key, p in ties.items():
        if p.n >= 2:
            name = F.tex_escape(label(key))
            if p.verdict in ("higher", "lower"):  # measurable, within the margin or not
                verdicts[p.verdict].append(name + (" (within the margin)" if same[key] else ""))
            if same[key]:
                verdicts["same"].append(name)
            elif p.verdict not in ("higher", "lower"):
                verdicts["none"].append(name)
    ortho = {act: median_final([r for key in s.all if key[2] == act and key[4] == "tied"
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


def _checks_tex(s: Checked) -> str:
    """The paper's sentence on the checks (LaTeX)."""
    runs = [r for recs in s.all.values() for r in recs]
    ident = [r for key, recs in s.all.items() if key[2] == "identity" for r in recs]
    top = max((r["final"].get("train_ratio") or 0.0 for r in ident), default=float("nan"))
    within = sum(bool(r["final"].get("reaches_optimum")) for r in ident)
    return (f"{len(runs) - len(s.failed)} of {len(runs)} runs passed their checks; {within} "
            rf"of {len(ident)} identity runs reached within 2\,\% of PCA's training error (at "
            f"most {F.num(top, 5)} times it).")


def _claims_tex(s: Checked, ties: dict, biases: dict) -> str:
    """Refinetti & Goldt's three claims against the records, one LaTeX sentence each."""
    def verdicts(ok: list[bool], what: str = "settings") -> str:
        return (f"agrees in {sum(ok)} of {len(ok)} {what}" if ok else "not checked")

    rho = stats.holm({act: sequential_test([r for key in s.all if key[2] == act
                                            for r in s.get(key)])
                      for act in dict.fromkeys(k[2] for k in s.all)})
    seq = "; ".join(f"{act} {F.num(p.median, 2)}" for act, p in rho.items() if p.n)
    sig = {key: p for key, p in ties.items() if key[2] == "sigmoid" and p.n >= 2}
    sig_text = "; ".join(
        f"{'with' if key[3] else 'without'} biases: tied "
        f"{F.num(median_final(s.get((*key, 'tied')), 'train_ratio'), 3)}, untied "
        f"{F.num(median_final(s.get((*key, 'untied')), 'train_ratio'), 3)}" for key in sig)
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
    s = Checked(records)
    tie_table, ties, same = tie_comparisons(s)
    bias_table, biases = bias_comparisons(s)
    trained = [r for recs in s.all.values() for r in recs]
    checks = mlp_checks.check_findings(trained, s.failed)
    findings = [*checks, _identity_finding(s)]
    for key, p in ties.items():
        findings.append(f"{label(key)}: tied - untied test error over PCA's {_p_text(p)}: "
                        f"{verdict_text(p, 'tied')}"
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
    return Analysis(tables=[tie_table, bias_table, weights_table(s)], findings=findings,
                    numbers=numbers,
                    figures=[Figure("nonlinear_tying", "Orthonormality error of W and training "
                                    "error over PCA's against steps, per activation (median "
                                    "over the runs that passed their checks).",
                                    tying_figure.drawer(s.ok, OPTIMUM))])
