r"""The `graph` suite's tables: `graph`, `graph_paired` and the node probe (terminal only).

`main_table` (per graph and decoder: mean ± 95% t-interval over seeds of the training loss and
of validation / test AUC and AP, after the full training and at the best validation AUC, and
on block-model graphs the block-probability score), `paired_table` (paired differences between
decoders with Holm-adjusted p-values and verdicts) and `probe_table` (the linear probe of the
codes predicting the blocks; None without block labels).

Example:
  >>> from tiedae.bench.suites import graph_tables
  >>> graph_tables.main_table([]).name, graph_tables.paired_table([]).name
  ('graph', 'graph_paired')
  >>> graph_tables.probe_table([]) is None
  True
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.graph_comparisons import (
    KEYS,
    LABELS,
    PAIRS,
    PROTOCOLS,
    ci_cell_3,
    count_cell,
    median_present,
    once_per_seed,
    text_ci,
)
from tiedae.bench.suites.graph_runs import DECODER_NAMES
from tiedae.report import Cell, Table, cell, difference_cells, stats
from tiedae.report import format as F

__all__ = ["main_table", "paired_table", "probe_table"]


def main_table(graphs) -> Table:
    rows = []
    for g in graphs:
        f0 = g.recs[0]["final"]
        tail = f": {f0.get('nodes')} nodes, {f0.get('edges')} edges, {g.seeds} seeds"
        rows.append([Cell(g.shown.text + tail, rf"\emph{{{g.shown.tex}{tail}}}")])
        for dec in g.decs:
            rows.append([Cell(DECODER_NAMES.get(dec, dec), LABELS.get(dec, F.tex_escape(dec))),
                         count_cell(g.values(dec, "params")[0]),
                         *[ci_cell_3(g.values(dec, key)) for key in
                           ("train_loss", "val_auc", "test_auc", "test_ap",
                            "selected_test_auc", "selected_test_ap")],
                         cell(median_present(g.values(dec, "selected_epoch")))])
        block = once_per_seed(g.recs, "block_score_auc")
        if block:
            dash = Cell("-", "--")
            rows.append(["block-probability score", dash, dash, dash, ci_cell_3(block),
                         ci_cell_3(once_per_seed(g.recs, "block_score_ap")), dash, dash, dash])
    columns = ["decoder", "params", "train loss", "val AUC", "test AUC", "test AP",
               "test AUC (sel.)", "test AP (sel.)", "sel. epoch"]
    return Table("graph: GAE link prediction, inner-product vs MLP vs mirrored GCN decoder "
                 "(mean ± 95% t-interval over seeds; sel.: at the best validation AUC)",
                 columns, rows, name="graph", align="lrrrrrrrr")


def _verdict(p: stats.Paired, a: str, b: str) -> Cell:
    if p.n < 2 or p.verdict == "no measurable difference":
        word = "one seed" if p.n < 2 else p.verdict
        return Cell(word, word)
    win = a if p.verdict == "higher" else b
    return Cell(f"{DECODER_NAMES[win]} higher", f"{LABELS[win]} higher")


def paired_table(graphs) -> Table:
    rows = []
    for g in graphs:
        rows.append([Cell(g.shown.text, rf"\emph{{{g.shown.tex}}}")])
        for a, b in PAIRS:
            for prefix, text, tex in PROTOCOLS if (a, b, KEYS[0]) in g.paired else ():
                for metric in ("auc", "ap"):
                    p = g.paired[a, b, f"{prefix}test_{metric}"]
                    measure = f"test {metric.upper()} "
                    rows.append([Cell(f"{DECODER_NAMES[a]} - {DECODER_NAMES[b]}",
                                      rf"{LABELS[a]} $-$ {LABELS[b]}"),
                                 Cell(measure + text.format(epochs=g.epochs),
                                      measure + tex.format(epochs=g.epochs)),
                                 *difference_cells(p), _verdict(p, a, b)])
    return Table("graph: paired differences between decoders over seeds (verdicts at "
                 "Holm-adjusted p < 0.05 over the table)",
                 ["difference", "measure", "mean", "95% interval", "Holm p", "verdict"], rows,
                 name="graph_paired", align="llrrrl")


def probe_table(graphs) -> Table | None:
    """Terminal only: the linear probe of the codes predicting the SBM blocks."""
    rows = [[g.name, DECODER_NAMES.get(dec, dec), text_ci(g.values(dec, "node_probe_accuracy"))]
            for g in graphs for dec in g.decs
            if not np.isnan(g.values(dec, "node_probe_accuracy")).all()]
    return Table("graph: linear probe of the codes Z predicting the SBM blocks (accuracy on "
                 "half of the nodes, mean ± 95% t-interval)", ["graph", "decoder",
                                                                "node probe accuracy"],
                 rows) if rows else None
