r"""The `graph` suite's sentences: the findings per graph and the paper's numbers.

Every comparative word ("higher", "no measurable difference") comes from the Holm-corrected
paired comparisons of `graph_comparisons.by_graph`, so no sentence can contradict the
tables. `graph_findings(g)` writes one graph's sentences; `numbers(graphs)` the paper's
``\RGraph...`` macros (the largest graph run), the block-model sanity check and the answer.

Example:
  >>> from tiedae.bench.suites import graph_findings
  >>> graph_findings.numbers([])["RAnswerGraph"]
  'For graphs, no results.'
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.graph_comparisons import (
    PROTOCOLS,
    WORDS,
    GraphRuns,
    median_present,
    once_per_seed,
    text_ci,
)
from tiedae.bench.suites.graph_runs import DECODER_NAMES
from tiedae.report import format as F
from tiedae.report import stats
from tiedae.report.format import fmt

__all__ = ["graph_findings", "numbers"]


def _difference(p: stats.Paired, a: str, b: str) -> str:
    a, b = DECODER_NAMES[a], DECODER_NAMES[b]
    if p.n < 2:
        return f"{a} - {b} {p.mean:+.3f} (one seed: no interval)"
    word = {"higher": f"{a} higher", "lower": f"{b} higher"}.get(p.verdict, p.verdict)
    return f"{a} - {b} {p.mean:+.3f} [{p.lo:+.3f}, {p.hi:+.3f}]: {word}"


def graph_findings(g: GraphRuns) -> list[str]:
    """Sentences on one graph, every comparative word from a paired test over seeds."""
    f0 = g.recs[0]["final"]
    head = f"{g.name} ({f0['nodes']} nodes, {f0['edges']} edges, {g.seeds} seeds)"
    out = []
    for prefix, when, _ in PROTOCOLS:
        for metric in ("auc", "ap"):
            key = f"{prefix}test_{metric}"
            means = "; ".join(f"{DECODER_NAMES[d]} {text_ci(g.values(d, key))}"
                              for d in g.known)
            diffs = "; ".join(_difference(p, a, b) for (a, b, k), p in g.paired.items()
                              if k == key)
            out.append(f"{head}: test {metric.upper()} {when.format(epochs=g.epochs)} (mean ± "
                       f"95% t-interval) {means}. Paired differences [95% CI; verdicts after "
                       "Holm's correction over the paired table]: "
                       f"{diffs or 'none (one decoder)'}.")
    selected = "; ".join(f"{DECODER_NAMES[d]} {median_present(g.values(d, 'selected_epoch')):.0f}"
                         for d in g.known)
    losses = "; ".join(f"{DECODER_NAMES[d]} {fmt(np.mean(g.values(d, 'train_loss')))}"
                       for d in g.known)
    out.append(f"{head}: epoch of the best validation AUC (median over seeds) {selected}; "
               f"training loss after {g.epochs} epochs {losses}.")
    block = once_per_seed(g.recs, "block_score_auc")
    if block:
        out.append(f"{head}: block-probability score (true p_in / p_out of the pair's blocks) "
                   f"test AUC {text_ci(block)}, AP "
                   f"{text_ci(once_per_seed(g.recs, 'block_score_ap'))} - a reference, not a "
                   "bound (realised degrees also predict held-out edges).")
    return out


def _relation(p: stats.Paired, b: str) -> str:
    """'higher than the MLP decoder's' / 'not measurably different from ...' (of a vs b)."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"not measurably different from {WORDS[b]}'s"
    return f"{p.verdict} than {WORDS[b]}'s"


def _comparison(g: GraphRuns, key: str) -> str:
    """The inner-product decoder's `key` against the two others, in words and numbers."""
    parts = []
    for other in ("mlp", "mirrored_gcn"):
        if ("inner_product", other, key) in g.paired:
            p = g.paired["inner_product", other, key]
            d = F.decimals((p.hi - p.lo) / 2)
            parts.append(rf"{_relation(p, other)} (paired difference "
                         rf"\ensuremath{{{p.mean:+.{d}f}}}, 95\% interval "
                         rf"\ensuremath{{[{p.lo:+.{d}f}, {p.hi:+.{d}f}]}})")
    return " and ".join(parts)


def _find_tex(g: GraphRuns) -> str:
    means = "; ".join(rf"{WORDS[d]} {F.ci_tex(g.values(d, 'test_auc'))} / "
                      rf"{F.ci_tex(g.values(d, 'test_ap'))}" for d in g.known)
    text = (rf"After {g.epochs} epochs, test AUC / AP (mean $\pm$ 95\% interval over seeds): "
            rf"{means}.")
    if "inner_product" not in g.decs or len(g.decs) < 2:
        return text
    return (text + r" The inner-product decoder's test AUC is "
            rf"{_comparison(g, 'test_auc')}; its test AP is {_comparison(g, 'test_ap')}.")


def _selection(g: GraphRuns) -> str:
    def short(d):
        return WORDS[d].removeprefix("the ")

    epochs = ", ".join(rf"{F.num(median_present(g.values(d, 'selected_epoch')))} for {short(d)}"
                       for d in g.known)
    text = (rf"With early stopping on the validation AUC (checked every "
            rf"{g.recs[0]['config'].get('eval_every')} epochs; median selected epoch {epochs}),"
            rf" test AUC / AP become "
            + "; ".join(rf"{F.ci_tex(g.values(d, 'selected_test_auc'))} / "
                        rf"{F.ci_tex(g.values(d, 'selected_test_ap'))} for {short(d)}"
                        for d in g.known))
    if "inner_product" in g.decs and len(g.decs) > 1:
        text += (r", and the inner-product decoder's test AUC is "
                 + _comparison(g, "selected_test_auc"))
    return text + "."


def _sanity(graphs) -> str:
    sentences = []
    for g in graphs:
        block = once_per_seed(g.recs, "block_score_auc")
        if not block:
            continue
        ip = "inner_product" in g.decs
        auc = F.ci_tex(g.values("inner_product", "test_auc")) if ip else F.NA
        ap = F.ci_tex(g.values("inner_product", "test_ap")) if ip else F.NA
        sentences.append(
            rf"On the {g.shown.tex} graphs, the block-probability score reaches test AUC "
            rf"{F.ci_tex(block)} and AP {F.ci_tex(once_per_seed(g.recs, 'block_score_ap'))}, "
            rf"the inner-product decoder {auc} and {ap}.")
    return " ".join(sentences) if sentences else "No block-model graph was run."


def _answer(graphs) -> str:
    if not graphs:
        return "For graphs, no results."
    g = graphs[0]
    if "inner_product" not in g.decs or len(g.decs) < 2:
        return ("For graphs, the inner-product decoder was not run beside another decoder, so "
                "they were not compared.")
    shown = g.shown.tex
    verdicts = [g.paired["inner_product", other, key].verdict for other in ("mlp", "mirrored_gcn")
                if other in g.decs for key in ("test_auc", "selected_test_auc")]
    if all(v == "higher" for v in verdicts):
        summary = (rf"For graphs, on {shown} the parameter-free inner-product decoder "
                   r"predicted held-out links measurably better than the decoders with "
                   r"parameters of their own, with a fixed budget and with early stopping.")
    elif all(v == "lower" for v in verdicts):
        summary = (rf"For graphs, on {shown} the decoders with parameters of their own "
                   r"predicted held-out links measurably better than the inner-product "
                   r"decoder, with a fixed budget and with early stopping.")
    elif all(v == "no measurable difference" for v in verdicts):
        summary = (rf"For graphs, on {shown} the decoders' link prediction showed no "
                   r"measurable difference.")
    else:
        summary = (rf"For graphs, on {shown} the answer is mixed: the inner-product decoder's "
                   r"test AUC was "
                   + "; ".join(_against(g, other) for other in ("mlp", "mirrored_gcn")
                               if other in g.decs)
                   + r" (Holm's correction over Table~\ref{tab:graph-paired}).")
    losses = ", ".join(rf"{F.ci_tex(g.values(d, 'train_loss'))} for "
                       rf"{WORDS[d].removeprefix('the ')}" for d in g.known)
    return summary + rf" Training losses after {g.epochs} epochs: {losses}."


def _against(g: GraphRuns, other: str) -> str:
    """How the inner-product decoder's test AUC compares with another decoder's, after the
    full budget and at the best validation AUC: 'higher than the MLP decoder's with both'."""
    fixed, early = (g.paired["inner_product", other, key].verdict
                    for key in ("test_auc", "selected_test_auc"))
    relation = {"higher": "higher than", "lower": "lower than"}
    if fixed == early:
        return f"{relation.get(fixed, 'no measurable difference from')} {WORDS[other]}'s " \
               "with a fixed budget and with early stopping"
    return f"{fixed} with a fixed budget and {early} with early stopping against {WORDS[other]}'s"


def numbers(graphs) -> dict[str, str]:
    keys = ("RGraphName", "RGraphNodes", "RGraphEdges", "RGraphSeeds", "RGraphEpochs",
            "RFindGraph", "RGraphSelection")
    numbers = dict.fromkeys(keys, F.NA)
    if graphs:
        g = graphs[0]
        f0 = g.recs[0]["final"]
        numbers.update(RGraphName=g.shown.tex, RGraphNodes=F.num(f0.get("nodes")),
                       RGraphEdges=F.num(f0.get("edges")), RGraphSeeds=F.num(g.seeds),
                       RGraphEpochs=F.tex_escape(g.epochs), RFindGraph=_find_tex(g),
                       RGraphSelection=_selection(g))
    return {**numbers, "RGraphSanity": _sanity(graphs), "RAnswerGraph": _answer(graphs)}
