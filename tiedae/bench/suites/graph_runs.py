r"""What the `graph` suite runs: one graph autoencoder trained for link prediction.

A run draws its graph (`load_graph`: the user's edge list, or a stochastic block model drawn
with the run's seed), splits its edges 85 / 5 / 10 % (`tiedae.data.graphs.split_edges`), trains
`tiedae.nonlinear.GraphAE` with one of the decoders (`DECODERS`) through `tiedae.fit` and
records the test and validation AUC / AP after the full training and at the checkpoint with the
best validation AUC; on a block model also the block-probability score
(`block_probability_scores`) and a linear probe of the codes predicting the blocks.

Example:
  >>> from tiedae.bench.suites import graph_runs
  >>> graph_runs.graph_name("data/cora/cora.cites")
  'cora'
  >>> entries, pairs = graph_runs.padding({"graph": "sbm", **graph_runs.SANITY,
  ...                                      "val_fraction": 0.05, "test_fraction": 0.1})
  >>> entries > 200, sorted(pairs)
  (True, ['test', 'val'])
"""

from __future__ import annotations

import os

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench.datasets import user_graph
from tiedae.bench.suite import Options, adam
from tiedae.data import graphs
from tiedae.features import linear_probe_accuracy
from tiedae.nonlinear import graph, link_prediction
from tiedae.nonlinear.layers import count_params

__all__ = ["DECODERS", "DECODER_NAMES", "EPOCHS", "EVAL_EVERY", "SANITY", "SBM_LIKE_CORA",
           "block_probability_scores", "configs", "graph_name", "load_graph", "padding", "run"]

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
