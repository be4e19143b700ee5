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
"""

from __future__ import annotations

import os

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench.datasets import user_graph
from tiedae.bench.suite import Options, Suite, Summary, adam, fmt, group_by
from tiedae.data import graphs
from tiedae.features import linear_probe_accuracy
from tiedae.nonlinear import graph, link_prediction
from tiedae.nonlinear.layers import count_params
from tiedae.report import stats

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


# ---- summary ---------------------------------------------------------------------------------


def by_seed(records: list[dict]) -> dict[int, dict]:
    """`final` of each record by its seed (one record per seed of a graph and decoder)."""
    return {r["config"]["seed"]: r["final"] for r in records}


def one_per_seed(records: list[dict], key: str) -> list[float]:
    """`final[key]` once per seed: for scores that depend on the seed's graph and split only
    (the block-probability score), whatever the number of decoders run on it."""
    seen: dict[int, float] = {}
    for r in records:
        if key in r["final"]:
            seen.setdefault(r["config"]["seed"], r["final"][key])
    return [seen[s] for s in sorted(seen)]


def paired_difference(recs_a: list[dict], recs_b: list[dict], key: str) -> stats.Paired:
    """`stats.paired` of final[key] over the seeds both decoders ran."""
    a, b = by_seed(recs_a), by_seed(recs_b)
    common = sorted(set(a) & set(b))
    return stats.paired([a[s].get(key) for s in common], [b[s].get(key) for s in common])


PAIRS = (("inner_product", "mlp"), ("inner_product", "mirrored_gcn"), ("mlp", "mirrored_gcn"))
PROTOCOLS = (("", "after {epochs} epochs"), ("selected_", "at the best validation AUC"))


def _ci(values) -> str:
    ci = stats.interval(values)
    if ci.n < 2:
        return fmt(ci.mean)
    return f"{ci.mean:.3f} ± {ci.hi - ci.mean:.3f}"


def _difference(p: stats.Paired, a: str, b: str) -> str:
    if p.n < 2:
        return f"{a} - {b} {p.mean:+.3f} (one seed: no interval)"
    word = {"higher": f"{a} higher", "lower": f"{b} higher"}.get(p.verdict, p.verdict)
    return f"{a} - {b} {p.mean:+.3f} [{p.lo:+.3f}, {p.hi:+.3f}]: {word}"


def _values(records: list[dict], key: str) -> list:
    """final[key] of each seed's record (None where absent)."""
    return [f.get(key) for f in by_seed(records).values()]


def findings_for(name: str, recs_g: list[dict]) -> list[str]:
    """Sentences on one graph, every comparative word from a paired test over seeds."""
    decs = {d: recs for (d,), recs in group_by(recs_g, "decoder").items()}
    order = [d for d in DECODERS if d in decs]
    f0 = recs_g[0]["final"]
    n_seeds = len({r["config"]["seed"] for r in recs_g})
    head = f"{name} ({f0['nodes']} nodes, {f0['edges']} edges, {n_seeds} seeds)"
    epochs = "/".join(str(e) for e in sorted({r["config"].get("epochs") for r in recs_g}))
    out = []
    for prefix, protocol in PROTOCOLS:
        when = protocol.format(epochs=epochs)
        for metric in ("auc", "ap"):
            key = f"{prefix}test_{metric}"
            means = "; ".join(f"{DECODER_NAMES[d]} {_ci(_values(decs[d], key))}" for d in order)
            diffs = "; ".join(_difference(paired_difference(decs[a], decs[b], key),
                                          DECODER_NAMES[a], DECODER_NAMES[b])
                              for a, b in PAIRS if a in decs and b in decs)
            out.append(f"{head}: test {metric.upper()} {when} (mean ± 95% t-interval) "
                       f"{means}. Paired differences [95% CI]: {diffs or 'none (one decoder)'}.")
    selected = "; ".join(f"{DECODER_NAMES[d]} "
                         f"{np.median(_values(decs[d], 'selected_epoch')):.0f}" for d in order)
    losses = "; ".join(f"{DECODER_NAMES[d]} {fmt(np.mean(_values(decs[d], 'train_loss')))}"
                       for d in order)
    out.append(f"{head}: epoch of the best validation AUC (median over seeds) {selected}; "
               f"training loss after {epochs} epochs {losses}.")
    block = one_per_seed(recs_g, "block_score_auc")
    if block:
        out.append(f"{head}: block-probability score (true p_in / p_out of the pair's blocks) "
                   f"test AUC {_ci(block)}, AP {_ci(one_per_seed(recs_g, 'block_score_ap'))} "
                   "- a reference, not a bound (realised degrees also predict held-out edges).")
    return out


COLUMNS = ("train_loss", "val_auc", "test_auc", "test_ap", "selected_test_auc",
           "selected_test_ap", "node_probe_accuracy")


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    for (name,), recs_g in group_by(records, "name").items():
        for (dec,), recs in group_by(recs_g, "decoder").items():
            seeds = by_seed(recs)
            first = next(iter(seeds.values()))
            rows.append([name, DECODER_NAMES.get(dec, dec), first["params"], len(seeds),
                         *(_ci(_values(recs, key)) if key in first else "-"
                           for key in COLUMNS)])
        block_auc = one_per_seed(recs_g, "block_score_auc")
        if block_auc:
            rows.append([name, "block-probability score", "-", len(block_auc), "-", "-",
                         _ci(block_auc), _ci(one_per_seed(recs_g, "block_score_ap")), "-", "-",
                         "-"])
        findings += findings_for(name, recs_g)
    return Summary(
        title="graph: GAE link prediction, inner-product vs MLP vs mirrored GCN decoder "
              "(mean ± 95% t-interval over seeds)",
        columns=["graph", "decoder", "params", "seeds", "train loss", "val AUC", "test AUC",
                 "test AP", "test AUC (val-selected)", "test AP (val-selected)",
                 "node probe acc"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="graph",
    description="graph autoencoder (GCN encoder) on Cora (--data) or SBM graphs: inner-product "
                "sigma(ZZ^T) vs MLP vs mirrored GCN decoder, link-prediction AUC/AP (post 002)",
    configs=configs, run=run, summarize=summarize,
)
