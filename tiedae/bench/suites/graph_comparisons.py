r"""The `graph` suite's records by graph and decoder, with every paired comparison computed once.

`by_graph(records)` gives one `GraphRuns` per graph (the largest first): its runs by decoder,
its display name, and the paired differences between decoders over seeds of every test score
(`PAIRS` x `KEYS`: after the full training and at the best validation AUC), Holm-corrected
together over all graphs (the paired table's family). The small formatters here are the
suite's own (three decimals, the value alone for one seed).

Example:
  >>> from tiedae.bench.suites import graph_comparisons as gc
  >>> gc.text_ci([0.9, 0.92, 0.91]), gc.text_ci([0.9])
  ('0.910 ± 0.025', '0.9')
  >>> gc.once_per_seed([{"config": {"seed": 1}, "final": {"s": 0.5}},
  ...                   {"config": {"seed": 1}, "final": {"s": 0.5}},
  ...                   {"config": {"seed": 0}, "final": {"s": 0.4}}], "s")
  [0.4, 0.5]
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites.graph_runs import DECODERS
from tiedae.report import Cell, cell, query, stats
from tiedae.report import format as F
from tiedae.report.format import fmt

__all__ = ["COLORS", "KEYS", "LABELS", "PAIRS", "PROTOCOLS", "WORDS", "GraphRuns", "ci_cell_3",
           "count_cell", "display_name", "epochs_of", "by_graph", "median_present",
           "once_per_seed", "text_ci"]

LABELS = {"inner_product": r"inner product $\sigma(ZZ^\top)$", "mlp": "MLP of rows",
          "mirrored_gcn": "mirrored GCN"}
WORDS = {"inner_product": "the inner-product decoder", "mlp": "the MLP decoder",
         "mirrored_gcn": "the mirrored GCN decoder"}
COLORS = {"inner_product": "#1f77b4", "mlp": "#d62728", "mirrored_gcn": "#2ca02c"}
PAIRS = (("inner_product", "mlp"), ("inner_product", "mirrored_gcn"), ("mlp", "mirrored_gcn"))
# (prefix of the final keys, text, LaTeX): after the full training / at the best val AUC
PROTOCOLS = (("", "after {epochs} epochs", "after {epochs} epochs"),
             ("selected_", "at the best validation AUC", "at best val.\\ AUC"))
KEYS = tuple(f"{prefix}test_{m}" for prefix, _, _ in PROTOCOLS for m in ("auc", "ap"))


def once_per_seed(records, key) -> list:
    """final[key] once per seed: the block-probability score depends on the seed's graph and
    split only, so each seed counts once whatever the number of decoders run on it."""
    seen: dict[int, float] = {}
    for r in records:
        if r["final"].get(key) is not None:
            seen.setdefault(r["config"]["seed"], r["final"][key])
    return [seen[s] for s in sorted(seen)]


def median_present(values: np.ndarray) -> float:
    """Median of the values that are there (nan for none)."""
    vals = values[~np.isnan(values)]
    return float(np.median(vals)) if vals.size else math.nan


def text_ci(values) -> str:
    """'mean ± half-width of the 95% t-interval' to 3 decimals (the value alone for one)."""
    ci = stats.interval(values)
    if ci.n == 0:
        return "-"
    return fmt(ci.mean) if ci.n < 2 else f"{ci.mean:.3f} ± {ci.hi - ci.mean:.3f}"


def count_cell(n: float) -> Cell:
    return cell(None) if math.isnan(n) else Cell(f"{int(n):,}", F.num(n))


def ci_cell_3(values) -> Cell:
    return Cell(text_ci(values), F.ci_tex(values))


def epochs_of(recs) -> str:
    return "/".join(str(e) for e in sorted({r["config"].get("epochs") for r in recs}))


def display_name(name: str, recs) -> Cell:
    config = recs[0]["config"]
    if config.get("graph") != "sbm":
        return cell(name.capitalize())
    blocks = config.get("blocks") or []
    if not blocks:
        return Cell("SBM", "SBM")
    p_in, p_out = config.get("p_in"), config.get("p_out")
    return Cell(f"SBM, {len(blocks)} blocks of {blocks[0]}, p_in={p_in}, p_out={p_out}",
                rf"SBM, {len(blocks)} blocks of {blocks[0]}, $p_{{\mathrm{{in}}}}={p_in}$, "
                rf"$p_{{\mathrm{{out}}}}={p_out}$")


class GraphRuns:
    """One graph's records by decoder, with every paired comparison computed once."""

    def __init__(self, name: str, recs: list[dict]):
        self.name, self.recs, self.shown = name, recs, display_name(name, recs)
        groups = {dec: r for (dec,), r in query.group(recs, "decoder").items()}
        self.decs = {d: groups[d] for d in (*DECODERS, *sorted(set(groups) - set(DECODERS)))
                     if d in groups}
        self.known = [d for d in DECODERS if d in self.decs]
        self.epochs = epochs_of(recs)
        self.seeds = len({r["config"]["seed"] for r in recs})
        self.paired = {(a, b, key): self._paired(a, b, key) for a, b in PAIRS
                       if a in self.decs and b in self.decs for key in KEYS}

    def _paired(self, a, b, key) -> stats.Paired:
        return query.versus(self.decs[a], self.decs[b], key)

    def values(self, dec, key) -> np.ndarray:
        """final[key] of a decoder's runs, by seed (nan where absent)."""
        return query.final(query.by_seed(self.decs[dec]), key)


def by_graph(records) -> list[GraphRuns]:
    """One `GraphRuns` per graph, the largest first."""
    groups = [(name, recs) for (name,), recs in query.group(records, "name").items()]
    groups.sort(key=lambda g: -int(g[1][0]["final"].get("nodes") or 0))
    graphs = [GraphRuns(name, recs) for name, recs in groups]
    adjusted = stats.holm({(i, *key): p for i, g in enumerate(graphs)
                           for key, p in g.paired.items()})  # the paired table's family
    for i, g in enumerate(graphs):
        g.paired = {key: adjusted[(i, *key)] for key in g.paired}
    return graphs
