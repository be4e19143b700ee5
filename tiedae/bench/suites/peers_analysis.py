r"""The `peers` suite's analysis: each method's time to the target, paired over the seeds.

`settings(records)` groups the runs once by (n, d, k), seed-ordered, with each method's seconds
to the target (`method_times`: inf where not reached) and the order of the methods that always
reached it. `compare_times` pairs two methods over the seeds (`tiedae.report.stats.paired`); a
method is called the fastest only when it is measurably faster than the runner-up. `analyze`
writes the table `peers` (the largest setting: mean ± 95% t half-width over seeds), the
findings (every setting) and the paper's sentence (the largest setting).

Example:
  >>> from tiedae.bench.suites.peers_analysis import method_times
  >>> recs = [{"final": {"a.time_to_target": 0.5}}, {"final": {"a.time_to_target": None}}]
  >>> method_times(recs, "a")
  [0.5, inf]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae.bench.suite import mean_of
from tiedae.bench.suites.peers_methods import TARGET
from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.analysis import Analysis, Cell, Table, cell, ci_cell
from tiedae.report.format import fmt

__all__ = ["COMPARED", "PAIRS", "PEER_LABELS", "SPOKEN", "WHY_MISSED", "Setting", "analyze",
           "compare_times", "method_times", "settings"]

PEER_LABELS = {
    "scipy_eigh": Cell("scipy.linalg.eigh of C", r"\texttt{scipy.linalg.eigh} of $C$"),
    "sklearn_pca_full": Cell("scikit-learn PCA (full SVD)", "scikit-learn PCA (full SVD)"),
    "sklearn_pca_randomized": Cell("scikit-learn PCA (randomized)",
                                   "scikit-learn PCA (randomized)"),
    "sklearn_incremental_pca": Cell("scikit-learn IncrementalPCA",
                                    "scikit-learn IncrementalPCA"),
    "oja_minibatch": Cell("Oja's subspace rule (minibatch)", "Oja's subspace rule (minibatch)"),
    "tiedae_tied_gd": Cell("tied W^T, gradient descent on X",
                           "tied $W^\\top$, gradient descent on $X$"),
    "tiedae_tied_gd_covariance": Cell("tied W^T, gradient descent on C",
                                      "tied $W^\\top$, gradient descent on $C$"),
    "tiedae_untied_rag": Cell("untied + RAG (JAX)", "untied + RAG (JAX)"),
    "torch_tied_gd": Cell("tied W^T, PyTorch eager", "tied $W^\\top$, PyTorch eager"),
    "torch_untied_rag": Cell("untied + RAG, PyTorch eager", "untied + RAG, PyTorch eager"),
}
SPOKEN = {"scipy_eigh": "an eigensolver", "tiedae_tied_gd": "tied gradient descent on the data",
          "tiedae_tied_gd_covariance": "tied gradient descent on the covariance",
          "sklearn_pca_randomized": "randomized PCA", "oja_minibatch": "minibatch Oja",
          "torch_tied_gd": "the same tied step in PyTorch"}
# (a, b, what): the paper's paired comparisons
COMPARED = (("tiedae_tied_gd", "torch_tied_gd", "the same tied step in JAX and in PyTorch"),
            ("tiedae_tied_gd_covariance", "scipy_eigh",
             "tied gradient descent on the covariance and the eigensolver"))
# (a, b, what): the findings' paired comparisons
PAIRS = (("tiedae_tied_gd", "torch_tied_gd", "same tied gradient-descent step on X, JAX (jit) "
          "vs PyTorch eager"),
         ("tiedae_untied_rag", "torch_untied_rag", "same untied + RAG step on the covariance, "
          "JAX (jit) vs PyTorch eager"),
         ("tiedae_tied_gd_covariance", "scipy_eigh", "tied gradient descent on the covariance "
          "vs an eigensolver"))
WHY_MISSED = {"oja_minibatch": "a constant step leaves a noise floor",
              "sklearn_incremental_pca": "it keeps only k directions between batches"}


def method_times(recs: list[dict], m: str) -> list[float]:
    """Seconds to the target per seed (inf: not reached)."""
    return [np.inf if r["final"].get(f"{m}.time_to_target") is None else
            float(r["final"][f"{m}.time_to_target"]) for r in recs]


class Setting(NamedTuple):
    """The runs of one (n, d, k), ordered by seed, and each method's seconds to the target."""

    records: list[dict]
    times: dict[str, list[float]]  # per method (as `extra.methods` lists them), inf: missed
    reached: dict[str, float]  # mean seconds of the methods that reached it in every seed
    order: list[str]  # those methods, fastest first


def settings(records: list[dict]) -> dict[tuple, Setting]:
    """The records grouped by (n, d, k) in first-seen order, with their times."""
    out = {}
    for key, recs in query.group(records, "n", "d", "k").items():
        recs = query.by_seed(recs)
        times = {m: method_times(recs, m) for m in recs[0]["extra"]["methods"]}
        reached = {m: float(np.mean(t)) for m, t in times.items() if np.all(np.isfinite(t))}
        out[key] = Setting(recs, times, reached, sorted(reached, key=reached.get))
    return out


def compare_times(a: list[float], b: list[float]) -> stats.Paired | None:
    """Paired comparison of two methods' seconds over the seeds (None unless both always
    reached the target)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None
    return stats.paired(a, b)


def _versus(name_a, name_b, a, b) -> str:
    r = compare_times(a, b)
    if r is None:
        return f"{name_a} vs {name_b}: not both reached the target in every seed"
    words = {"lower": "faster", "higher": "slower"}.get(r.verdict, r.verdict)
    return (f"{name_a} {fmt(np.mean(a))} s vs {name_b} {fmt(np.mean(b))} s: {words} (paired "
            f"difference {fmt(r.mean, 2)} s, 95% CI [{fmt(r.lo, 2)}, {fmt(r.hi, 2)}], {r.n} "
            "seeds)")


def _label(m: str) -> Cell:
    return PEER_LABELS.get(m) or Cell(m, F.tex_escape(m))


def _time_cell(times: list[float]) -> Cell:
    """Seconds to the target, or how many seeds reached it."""
    reached = np.isfinite(times)
    if reached.all():
        return ci_cell(times, 2)
    return cell(f"{int(reached.sum())}/{len(times)} reached" if reached.any() else "not reached")


def table(key: tuple, s: Setting) -> Table:
    recs = s.records
    rows = [[_label(m), _time_cell(t), ci_cell(query.final(recs, f"{m}.total_time"), 2),
             ci_cell(query.final(recs, f"{m}.subspace_distance"), 2),
             ci_cell(query.final(recs, f"{m}.loss_gap"), 2)] for m, t in s.times.items()]
    n, d, k = key
    return Table(title=f"peers: same data, one process, n={n} d={d} k={k} (seconds; mean ± 95% "
                       f"CI half-width over {len(recs)} seeds)",
                 columns=["method", "time to target (s)", "total time (s)", "subspace distance",
                          "loss gap"], rows=rows, name="peers", align="lrrrr")


def findings(groups: dict[tuple, Setting]) -> list[str]:
    findings = []
    for (n, d, k), s in groups.items():
        recs, times, reached, order = s
        names = list(times)
        if reached:
            text = (f"n={n} d={d} k={k} ({len(recs)} seeds): mean time to subspace distance "
                    f"{TARGET:g} - " + ", ".join(f"{m} {fmt(reached[m])} s" for m in order))
            missed = [m for m in names if m not in reached]
            if missed:
                text += f"; not reached in every seed: {', '.join(missed)}"
            if len(order) > 1:
                r = compare_times(times[order[0]], times[order[1]])
                text += (f". Fastest: {order[0]} (measurably faster than {order[1]}: paired "
                         f"difference {fmt(r.mean, 2)} s, 95% CI [{fmt(r.lo, 2)}, "
                         f"{fmt(r.hi, 2)}])" if r is not None and r.verdict == "lower" else
                         f". {order[0]} and {order[1]} lead with no measurable difference")
            findings.append(text + ".")
        missed = [m for m in names if m not in reached]
        if missed:
            findings.append(
                "not reached: " + "; ".join(
                    f"{m} (final distance "
                    f"{fmt(mean_of(r['final'][f'{m}.subspace_distance'] for r in recs), 2)}"
                    + (f": {WHY_MISSED[m]})" if m in WHY_MISSED else ")") for m in missed)
                + ". Every training method that reached 1e-3 has the same subspace as eigh.")
        for a, b, what in PAIRS:
            if a in times and b in times:
                findings.append(f"{what}: " + _versus(a, b, times[a], times[b]) + ".")
    return findings


def numbers(key: tuple, s: Setting) -> dict[str, str]:
    """The largest setting's sizes and the section's sentence."""
    times, n_seeds = s.times, len(s.records)
    macros = {"RPeersTarget": F.num(TARGET), "RPeersN": F.num(key[0]), "RPeersD": F.num(key[1]),
              "RPeersK": F.num(key[2]), "RPeersSeeds": F.num(n_seeds)}
    parts = []
    for name, words in SPOKEN.items():
        if name not in times:
            continue
        ok = np.isfinite(times[name])
        parts.append(f"{words} in {ci_cell(times[name], 2).tex}~s" if ok.all() else
                     f"{words} in {int(ok.sum())} of {n_seeds} seeds" if ok.any() else
                     f"{words} not at all")
    listing = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    compared = [f"{what}: the first is " + F.verdict(times[a], times[b], lower="faster",
                                                     higher="slower")
                for a, b, what in COMPARED if a in s.reached and b in s.reached]
    lead = ""
    if len(s.order) > 1:
        first, second = (_label(m).tex for m in s.order[:2])
        r = compare_times(times[s.order[0]], times[s.order[1]])
        lead = (rf" The fastest was {first}, measurably faster than the runner-up ({second})."
                if r.verdict == "lower" else
                rf" {first} and {second} lead with no measurable difference between them.")
    macros["RFindPeers"] = (
        rf"At $n={macros['RPeersN']}$, $d={macros['RPeersD']}$, $k={macros['RPeersK']}$ "
        rf"({macros['RPeersSeeds']} data sets; mean $\pm$ 95\,\% confidence half-width) the "
        rf"subspace distance falls below {macros['RPeersTarget']} for {listing}."
        + ("" if not compared else " Paired over the data sets, " + "; ".join(compared) + ".")
        + lead
    )
    return macros


def analyze(records: list[dict]) -> Analysis:
    """Time to the target subspace distance and final loss gap of each method (table `peers`,
    of the largest setting), paired comparisons (findings, every setting) and the paper's
    sentence."""
    groups = settings(records)
    largest = max(groups, key=lambda key: key[0] * key[1])
    return Analysis(tables=[table(largest, groups[largest])], findings=findings(groups),
                    numbers=numbers(largest, groups[largest]))
