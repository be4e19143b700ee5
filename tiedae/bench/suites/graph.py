r"""Suite `graph`: which decoder should a graph autoencoder have (post 002)? Link prediction with
the inner-product decoder sigma(Z Z^T), an MLP decoder of adjacency rows and a mirrored GCN
decoder, all behind the same two-layer GCN encoder.

Setting (Kipf & Welling 2016's GAE, featureless X = I, their "*" rows): GCN encoder 32 -> 16,
Adam 0.01, 200 full-batch epochs, the class-weighted cross-entropy over all n^2 entries of
A_train + I. Edges are split 85% / 5% / 10% into training / validation / test with as many
sampled non-edges (`tiedae.data.graphs.split_edges`); test and validation AUC and AP are
measured every 10 epochs. Per seed, the graph (SBM), the split and the encoder's initial weights
are the same for every decoder, so decoders are compared by paired differences over seeds.

Two protocols, both reported: the test scores after the 200 epochs (Kipf & Welling's protocol),
and early stopping by validation: the test scores at the checkpoint (of the 21 every 10
epochs) with the highest validation AUC. The test scores never choose anything.

Graphs:

* the user's edge list from `--data` (Cora's cora.cites: 2708 nodes, 5278 edges), 5 seeds in
  the full run (3 quick);
* without one, in the full run, a stochastic block model of Cora's sparsity (5 blocks of 200
  nodes, mean degree about 4), 10 seeds;
* always a small SBM sanity setting (4 blocks of 50, p_in 0.2, p_out 0.02), 10 seeds (5 quick).

On an SBM, the "block-probability score" (a pair scored p_in within a block, p_out across)
knows how the graph was generated but not the sampled graph. It is a reference, not an upper
bound: the held-out edges are a sample of the realised edges, so a node's realised degree
(visible in the training graph) also predicts them, and its two tied score values make
scikit-learn's average precision count the whole tied group at its final precision. A linear
probe of the embeddings Z predicting the blocks (half of the nodes train it) measures the code
itself there.

`analyze(records)` gives the tables `graph` (per graph and decoder, intervals over seeds) and
`graph_paired` (paired differences between decoders), the node probe (terminal), the findings,
the paper's numbers and the figure `graph_curves`. Every word that compares decoders
("higher", "no measurable difference") comes from one `tiedae.report.stats.paired` per graph,
pair and measure, so no text can contradict the tables.

Modules: `graph_runs` (the settings and one run), `graph_comparisons` (the records by graph
and decoder, the paired comparisons), `graph_tables`, `graph_findings` (findings and the
paper's numbers) and this one (the figure and the suite).

Example:
  >>> from tiedae.bench.suites import graph
  >>> graph.graph_name("data/cora/cora.cites")
  'cora'
"""

from __future__ import annotations

from tiedae.bench.suite import Suite
from tiedae.bench.suites.graph_comparisons import COLORS, LABELS, GraphRuns, by_graph
from tiedae.bench.suites.graph_findings import graph_findings, numbers
from tiedae.bench.suites.graph_runs import (
    DECODER_NAMES,
    DECODERS,
    EPOCHS,
    EVAL_EVERY,
    SANITY,
    SBM_LIKE_CORA,
    block_probability_scores,
    configs,
    graph_name,
    load_graph,
    padding,
    run,
)
from tiedae.bench.suites.graph_tables import main_table, paired_table, probe_table
from tiedae.report import Analysis, Figure, query

__all__ = ["DECODERS", "DECODER_NAMES", "EPOCHS", "EVAL_EVERY", "SANITY", "SBM_LIKE_CORA",
           "SUITE", "GraphRuns", "analyze", "block_probability_scores", "configs", "draw_curves",
           "graph_name", "by_graph", "load_graph", "padding", "run"]


def draw_curves(graphs):
    """Training loss and validation AUC against the epoch, one row per graph: the median over
    seeds and the min-max band, per decoder."""
    from matplotlib.ticker import NullFormatter

    from tiedae.report.plots import band, new_figure

    fig, axes = new_figure(2, max(len(graphs), 1), width=6.4, height=2.0)
    for row, g in zip(axes, graphs, strict=False):
        for dec, recs in g.decs.items():
            for ax, key in zip(row, ("loss", "val_auc"), strict=True):
                curves = [query.trajectory(r, key, x="epoch") for r in recs
                          if key in (r.get("trajectory") or {})]  # older records: loss only
                if not curves:
                    continue
                x = curves[0][0]
                same = [c[1] for c in curves if c[0].shape == x.shape]
                band(ax, x, same, COLORS.get(dec, "#7f7f7f"), LABELS.get(dec, dec))
        row[0].set(xlabel="epoch", ylabel="training loss", yscale="log", title=str(g.name))
        row[1].set(xlabel="epoch", ylabel="validation AUC", title=str(g.name))
        row[0].yaxis.set_minor_formatter(NullFormatter())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.93))  # titles and labels of the rows apart
    if handles:
        fig.legend(handles, labels, frameon=False, loc="upper center", ncol=len(handles))
    return fig


def analyze(records: list[dict]) -> Analysis:
    """Tables `graph` (per graph and decoder: mean ± 95% t-interval over seeds of the training
    loss and of validation / test AUC and AP, after the full training and at the checkpoint
    with the best validation AUC; on SBM graphs the block-probability score, counted once per
    seed) and `graph_paired` (paired differences between decoders over seeds), a terminal
    table of the node probe (SBM graphs), the findings, the paper's numbers (``\\RGraphName``,
    ``\\RGraphNodes``, ``\\RGraphEdges``, ``\\RGraphSeeds``, ``\\RGraphEpochs``: the largest
    graph run; ``\\RFindGraph``, ``\\RGraphSelection``, ``\\RGraphSanity``, ``\\RAnswerGraph``)
    and the figure `graph_curves`."""
    graphs = by_graph(records)
    probe = probe_table(graphs)
    tables = [main_table(graphs), paired_table(graphs), *([probe] if probe else [])]
    figure = Figure("graph_curves", "Training loss and validation AUC against the epoch per "
                    "graph and decoder (median over seeds, min-max band).",
                    lambda: draw_curves(graphs))
    return Analysis(tables=tables, findings=[f for g in graphs for f in graph_findings(g)],
                    numbers=numbers(graphs), figures=[figure])


SUITE = Suite(
    name="graph",
    description="graph autoencoder (GCN encoder) on Cora (--data) or SBM graphs: inner-product "
                "sigma(ZZ^T) vs MLP vs mirrored GCN decoder, link-prediction AUC/AP (post 002)",
    configs=configs, run=run, analyze=analyze,
)
