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

Example:
  >>> from tiedae.bench.suites import graph
  >>> graph.graph_name("data/cora/cora.cites")
  'cora'
"""

from __future__ import annotations

import math
import os

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench.datasets import user_graph
from tiedae.bench.suite import Options, Suite, adam
from tiedae.data import graphs
from tiedae.features import linear_probe_accuracy
from tiedae.nonlinear import graph, link_prediction
from tiedae.nonlinear.layers import count_params
from tiedae.report import Analysis, Cell, Figure, Table, cell, difference_cells, query, stats
from tiedae.report import format as F
from tiedae.report.format import fmt

DECODERS = graph.GRAPH_DECODERS  # inner_product, mlp, mirrored_gcn
DECODER_NAMES = {"inner_product": "inner product", "mlp": "MLP", "mirrored_gcn": "mirrored GCN"}
EPOCHS, EVAL_EVERY = 200, 10
SANITY = {"graph": "sbm", "blocks": [50] * 4, "p_in": 0.2, "p_out": 0.02}
SBM_LIKE_CORA = {"graph": "sbm", "blocks": [200] * 5, "p_in": 0.016, "p_out": 0.001}

def _sbm_name(g: dict) -> str:
    return f"sbm{sum(g['blocks'])}"


def graph_name(path: str) -> str:
    """A data set's name from its edge-list path: the file name before its first dot."""
    return os.path.basename(path).split(".")[0] or "graph"


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    settings = []  # (graph config, name, number of seeds)
    if options.graph:
        settings.append(({"graph": "edge_list", "graph_data": options.graph},
                         graph_name(options.graph), 3 if options.quick else 5))
    elif not options.quick:
        settings.append((SBM_LIKE_CORA, _sbm_name(SBM_LIKE_CORA), 10))
    settings.append((SANITY, _sbm_name(SANITY), 5 if options.quick else 10))
    out = []
    for g, name, n_seeds in settings:
        for seed in range(options.seed, options.seed + n_seeds):
            for dec in DECODERS:
                out.append({**g, "run_id": f"{tag}-{name}-{dec}-s{seed}", "name": name,
                            "decoder": dec, "seed": seed, "epochs": EPOCHS,
                            "eval_every": EVAL_EVERY, "learning_rate": 0.01, "hidden": 32,
                            "code_dim": 16, "val_fraction": 0.05, "test_fraction": 0.1})
    return out


def load_graph(config: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """(A, block labels or None) of a run's graph; SBM graphs are drawn with the run's seed."""
    if config["graph"] == "edge_list":
        A, _ = user_graph(config["graph_data"])
        return A, None
    return graphs.stochastic_block_model(config["blocks"], config["p_in"], config["p_out"],
                                         seed=config["seed"])


def block_probability_scores(labels, p_in, p_out, pos, neg) -> tuple[float, float]:
    """AUC and AP of scoring a pair p_in if both nodes share a block, else p_out."""
    def score(pairs):
        return np.where(labels[pairs[:, 0]] == labels[pairs[:, 1]], p_in, p_out)

    p, q = score(pos), score(neg)
    return (float(link_prediction.roc_auc(p, q)),
            float(link_prediction.average_precision(p, q)))


def padding(config: dict) -> tuple[int | None, dict[str, int]]:
    """Sizes to pad a run's sparse matrices and held-out pairs to, so that the seeds of one
    SBM setting (whose edge counts vary by a few percent) share one compiled program: 25% above
    their expected sizes. None for an edge list (the same graph for every seed)."""
    if config["graph"] == "edge_list":
        return None, {}
    sizes, p_in, p_out = np.asarray(config["blocks"], float), config["p_in"], config["p_out"]
    edges = p_in * np.sum(sizes * (sizes - 1) / 2) + p_out * (sizes.sum() ** 2
                                                               - np.sum(sizes ** 2)) / 2
    val, test = config["val_fraction"] * edges, config["test_fraction"] * edges
    entries = sizes.sum() + 2 * (edges - val - test)
    return int(1.25 * entries) + 1, {"val": int(1.25 * val) + 1, "test": int(1.25 * test) + 1}


def run(config: dict) -> dict:
    seed = config["seed"]
    A, labels = load_graph(config)
    split = graphs.split_edges(A, val_fraction=config["val_fraction"],
                               test_fraction=config["test_fraction"], seed=seed)
    pad_entries, pad_pairs = padding(config)
    batch = graph.training_batch(split.train_adj, pad_to=pad_entries)
    model = graph.GraphAE(len(A), hidden=config["hidden"], code_dim=config["code_dim"],
                          decoder=config["decoder"], rngs=nnx.Rngs(seed))
    metrics = link_prediction.LinkMetrics.from_pairs(
        batch, {"val": (split.val_pos, split.val_neg), "test": (split.test_pos, split.test_neg)},
        pad_to=pad_pairs)
    model, hist = tiedae.fit(model, batch, loss_fn=graph.adjacency_loss, metrics=metrics,
                             optimizer=adam(config["learning_rate"]), steps=config["epochs"],
                             log_every=config["eval_every"])
    curves = {k: [float(v) for v in hist[k]] for k in ("val_auc", "val_ap", "test_auc",
                                                         "test_ap")}
    best = int(np.argmax(curves["val_auc"]))  # the first checkpoint with the best val AUC
    final = {"test_auc": curves["test_auc"][-1], "test_ap": curves["test_ap"][-1],
             "val_auc": curves["val_auc"][-1], "val_ap": curves["val_ap"][-1],
             "selected_epoch": int(hist["step"][best]),
             "selected_val_auc": curves["val_auc"][best],
             "selected_test_auc": curves["test_auc"][best],
             "selected_test_ap": curves["test_ap"][best],
             "train_loss": float(hist["loss"][-1]), "params": count_params(model),
             "nodes": int(len(A)), "edges": int(A.sum() // 2),
             "test_edges": int(len(split.test_pos)), "val_edges": int(len(split.val_pos))}
    if labels is not None:
        final["block_score_auc"], final["block_score_ap"] = block_probability_scores(
            labels, config["p_in"], config["p_out"], split.test_pos, split.test_neg)
        Z = np.asarray(model.encode(graph.normalized_adjacency(split.train_adj)))
        perm = np.random.default_rng(seed).permutation(len(A))
        tr, te = perm[: len(A) // 2], perm[len(A) // 2:]
        final["node_probe_accuracy"] = linear_probe_accuracy(Z[tr], labels[tr], Z[te],
                                                             labels[te])
    trajectory = {"epoch": hist["step"], "loss": hist["loss"], **curves}
    return {"final": final, "trajectory": trajectory, "extra": {}}


# ---- analysis --------------------------------------------------------------------------------

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


def _once_per_seed(records, key) -> list:
    """final[key] once per seed: the block-probability score depends on the seed's graph and
    split only, so each seed counts once whatever the number of decoders run on it."""
    seen: dict[int, float] = {}
    for r in records:
        if r["final"].get(key) is not None:
            seen.setdefault(r["config"]["seed"], r["final"][key])
    return [seen[s] for s in sorted(seen)]


def _median(values: np.ndarray) -> float:
    """Median of the values that are there (nan for none)."""
    vals = values[~np.isnan(values)]
    return float(np.median(vals)) if vals.size else math.nan


def _text_ci(values) -> str:
    """'mean ± half-width of the 95% t-interval' to 3 decimals (the value alone for one)."""
    ci = stats.interval(values)
    if ci.n == 0:
        return "-"
    return fmt(ci.mean) if ci.n < 2 else f"{ci.mean:.3f} ± {ci.hi - ci.mean:.3f}"


def _count(n: float) -> Cell:
    return cell(None) if math.isnan(n) else Cell(f"{int(n):,}", F.num(n))


def _ci(values) -> Cell:
    return Cell(_text_ci(values), F.ci_tex(values))


def _epochs(recs) -> str:
    return "/".join(str(e) for e in sorted({r["config"].get("epochs") for r in recs}))


def _display_name(name: str, recs) -> Cell:
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


class _Graph:
    """One graph's records by decoder, with every paired comparison computed once."""

    def __init__(self, name: str, recs: list[dict]):
        self.name, self.recs, self.shown = name, recs, _display_name(name, recs)
        groups = {dec: r for (dec,), r in query.group(recs, "decoder").items()}
        self.decs = {d: groups[d] for d in (*DECODERS, *sorted(set(groups) - set(DECODERS)))
                     if d in groups}
        self.known = [d for d in DECODERS if d in self.decs]
        self.epochs = _epochs(recs)
        self.seeds = len({r["config"]["seed"] for r in recs})
        self.paired = {(a, b, key): self._paired(a, b, key) for a, b in PAIRS
                       if a in self.decs and b in self.decs for key in KEYS}

    def _paired(self, a, b, key) -> stats.Paired:
        return query.versus(self.decs[a], self.decs[b], key)

    def values(self, dec, key) -> np.ndarray:
        """final[key] of a decoder's runs, by seed (nan where absent)."""
        return query.final(query.by_seed(self.decs[dec]), key)


def _graphs(records) -> list[_Graph]:
    """One `_Graph` per graph, the largest first."""
    groups = [(name, recs) for (name,), recs in query.group(records, "name").items()]
    groups.sort(key=lambda g: -int(g[1][0]["final"].get("nodes") or 0))
    graphs = [_Graph(name, recs) for name, recs in groups]
    adjusted = stats.holm({(i, *key): p for i, g in enumerate(graphs)
                           for key, p in g.paired.items()})  # the paired table's family
    for i, g in enumerate(graphs):
        g.paired = {key: adjusted[(i, *key)] for key in g.paired}
    return graphs


def _main_table(graphs) -> Table:
    rows = []
    for g in graphs:
        f0 = g.recs[0]["final"]
        tail = f": {f0.get('nodes')} nodes, {f0.get('edges')} edges, {g.seeds} seeds"
        rows.append([Cell(g.shown.text + tail, rf"\emph{{{g.shown.tex}{tail}}}")])
        for dec in g.decs:
            rows.append([Cell(DECODER_NAMES.get(dec, dec), LABELS.get(dec, F.tex_escape(dec))),
                         _count(g.values(dec, "params")[0]),
                         *[_ci(g.values(dec, key)) for key in
                           ("train_loss", "val_auc", "test_auc", "test_ap",
                            "selected_test_auc", "selected_test_ap")],
                         cell(_median(g.values(dec, "selected_epoch")))])
        block = _once_per_seed(g.recs, "block_score_auc")
        if block:
            dash = Cell("-", "--")
            rows.append(["block-probability score", dash, dash, dash, _ci(block),
                         _ci(_once_per_seed(g.recs, "block_score_ap")), dash, dash, dash])
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


def _paired_table(graphs) -> Table:
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


def _probe_table(graphs) -> Table | None:
    """Terminal only: the linear probe of the codes predicting the SBM blocks."""
    rows = [[g.name, DECODER_NAMES.get(dec, dec), _text_ci(g.values(dec, "node_probe_accuracy"))]
            for g in graphs for dec in g.decs
            if not np.isnan(g.values(dec, "node_probe_accuracy")).all()]
    return Table("graph: linear probe of the codes Z predicting the SBM blocks (accuracy on "
                 "half of the nodes, mean ± 95% t-interval)", ["graph", "decoder",
                                                                "node probe accuracy"],
                 rows) if rows else None


def _difference(p: stats.Paired, a: str, b: str) -> str:
    a, b = DECODER_NAMES[a], DECODER_NAMES[b]
    if p.n < 2:
        return f"{a} - {b} {p.mean:+.3f} (one seed: no interval)"
    word = {"higher": f"{a} higher", "lower": f"{b} higher"}.get(p.verdict, p.verdict)
    return f"{a} - {b} {p.mean:+.3f} [{p.lo:+.3f}, {p.hi:+.3f}]: {word}"


def _findings(g: _Graph) -> list[str]:
    """Sentences on one graph, every comparative word from a paired test over seeds."""
    f0 = g.recs[0]["final"]
    head = f"{g.name} ({f0['nodes']} nodes, {f0['edges']} edges, {g.seeds} seeds)"
    out = []
    for prefix, when, _ in PROTOCOLS:
        for metric in ("auc", "ap"):
            key = f"{prefix}test_{metric}"
            means = "; ".join(f"{DECODER_NAMES[d]} {_text_ci(g.values(d, key))}"
                              for d in g.known)
            diffs = "; ".join(_difference(p, a, b) for (a, b, k), p in g.paired.items()
                              if k == key)
            out.append(f"{head}: test {metric.upper()} {when.format(epochs=g.epochs)} (mean ± "
                       f"95% t-interval) {means}. Paired differences [95% CI; verdicts after "
                       "Holm's correction over the paired table]: "
                       f"{diffs or 'none (one decoder)'}.")
    selected = "; ".join(f"{DECODER_NAMES[d]} {_median(g.values(d, 'selected_epoch')):.0f}"
                         for d in g.known)
    losses = "; ".join(f"{DECODER_NAMES[d]} {fmt(np.mean(g.values(d, 'train_loss')))}"
                       for d in g.known)
    out.append(f"{head}: epoch of the best validation AUC (median over seeds) {selected}; "
               f"training loss after {g.epochs} epochs {losses}.")
    block = _once_per_seed(g.recs, "block_score_auc")
    if block:
        out.append(f"{head}: block-probability score (true p_in / p_out of the pair's blocks) "
                   f"test AUC {_text_ci(block)}, AP "
                   f"{_text_ci(_once_per_seed(g.recs, 'block_score_ap'))} - a reference, not a "
                   "bound (realised degrees also predict held-out edges).")
    return out


def _relation(p: stats.Paired, b: str) -> str:
    """'higher than the MLP decoder's' / 'not measurably different from ...' (of a vs b)."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"not measurably different from {WORDS[b]}'s"
    return f"{p.verdict} than {WORDS[b]}'s"


def _comparison(g: _Graph, key: str) -> str:
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


def _find_tex(g: _Graph) -> str:
    means = "; ".join(rf"{WORDS[d]} {F.ci_tex(g.values(d, 'test_auc'))} / "
                      rf"{F.ci_tex(g.values(d, 'test_ap'))}" for d in g.known)
    text = (rf"After {g.epochs} epochs, test AUC / AP (mean $\pm$ 95\% interval over seeds): "
            rf"{means}.")
    if "inner_product" not in g.decs or len(g.decs) < 2:
        return text
    return (text + r" The inner-product decoder's test AUC is "
            rf"{_comparison(g, 'test_auc')}; its test AP is {_comparison(g, 'test_ap')}.")


def _selection(g: _Graph) -> str:
    def short(d):
        return WORDS[d].removeprefix("the ")

    epochs = ", ".join(rf"{F.num(_median(g.values(d, 'selected_epoch')))} for {short(d)}"
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
        block = _once_per_seed(g.recs, "block_score_auc")
        if not block:
            continue
        ip = "inner_product" in g.decs
        auc = F.ci_tex(g.values("inner_product", "test_auc")) if ip else F.NA
        ap = F.ci_tex(g.values("inner_product", "test_ap")) if ip else F.NA
        sentences.append(
            rf"On the {g.shown.tex} graphs, the block-probability score reaches test AUC "
            rf"{F.ci_tex(block)} and AP {F.ci_tex(_once_per_seed(g.recs, 'block_score_ap'))}, "
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


def _against(g: _Graph, other: str) -> str:
    """How the inner-product decoder's test AUC compares with another decoder's, after the
    full budget and at the best validation AUC: 'higher than the MLP decoder's with both'."""
    fixed, early = (g.paired["inner_product", other, key].verdict
                    for key in ("test_auc", "selected_test_auc"))
    relation = {"higher": "higher than", "lower": "lower than"}
    if fixed == early:
        return f"{relation.get(fixed, 'no measurable difference from')} {WORDS[other]}'s " \
               "with a fixed budget and with early stopping"
    return f"{fixed} with a fixed budget and {early} with early stopping against {WORDS[other]}'s"


def _numbers(graphs) -> dict[str, str]:
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


def _curves(graphs):
    """Training loss and validation AUC against the epoch, one row per graph: the median over
    seeds and the min-max band, per decoder."""
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
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, frameon=False, loc="upper right")
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
    graphs = _graphs(records)
    probe = _probe_table(graphs)
    tables = [_main_table(graphs), _paired_table(graphs), *([probe] if probe else [])]
    figure = Figure("graph_curves", "Training loss and validation AUC against the epoch per "
                    "graph and decoder (median over seeds, min-max band).",
                    lambda: _curves(graphs))
    return Analysis(tables=tables, findings=[f for g in graphs for f in _findings(g)],
                    numbers=_numbers(graphs), figures=[figure])

SUITE = Suite(
    name="graph",
    description="graph autoencoder (GCN encoder) on Cora (--data) or SBM graphs: inner-product "
                "sigma(ZZ^T) vs MLP vs mirrored GCN decoder, link-prediction AUC/AP (post 002)",
    configs=configs, run=run, analyze=analyze,
)
