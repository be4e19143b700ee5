r"""Suite `graph`: inner-product decoder sigma(Z Z^T) vs an MLP decoder of rows (post 002).
A two-layer GCN encoder (Kipf & Welling 2016's GAE, featureless X = I, 32 -> 16) is trained on
a stochastic-block-model graph with 10% of the edges held out for testing and 5% for
validation; link prediction is scored by ROC AUC and average precision on held-out edges
against as many sampled non-edges. Two references: on SBM graphs the "oracle" scores a pair by
its true edge probability (p_in inside a block, p_out across; the best any method can do on
average), and a linear probe of the node embeddings Z predicting the block (half of the nodes
train the probe, half test it) measures the feature quality of the code itself. Full runs add
Zachary's karate club (networkx) with the two factions as labels; its edge probabilities are
unknown, so in place of the oracle it gets the "same-faction score" (1 for a pair in one
faction, 0 across), a baseline rather than a bound, recorded as `same_faction_auc` / `_ap`.
"""

from __future__ import annotations

import numpy as np
from flax import nnx

import tiedae
from tiedae.bench.suite import Options, Suite, Summary, adam, fmt, group_by, mean_std
from tiedae.bench.suite import seeds as seed_list
from tiedae.data import graphs
from tiedae.features import linear_probe_accuracy
from tiedae.nonlinear import graph
from tiedae.nonlinear.layers import count_params

_encode = nnx.jit(lambda model, a: model.encode(a))


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    graphs = [{"graph": "sbm", "blocks": [50] * 4, "p_in": 0.2, "p_out": 0.02}]
    if not options.quick:
        graphs = [{"graph": "sbm", "blocks": [100] * 5, "p_in": 0.1, "p_out": 0.01},
                  {"graph": "sbm", "blocks": [50] * 4, "p_in": 0.2, "p_out": 0.02}]
        try:
            import networkx  # noqa: F401

            graphs.append({"graph": "karate"})
        except ImportError:
            pass
    out = []
    for g in graphs:
        name = g["graph"] if g["graph"] == "karate" else f"sbm{sum(g['blocks'])}"
        for seed in seed_list(options, quick=3, full=5):
            for dec in graph.GRAPH_DECODERS:
                out.append({**g, "run_id": f"{tag}-{name}-{dec}-s{seed}", "name": name,
                            "decoder": dec, "seed": seed, "epochs": 200,
                            "learning_rate": 0.01, "hidden": 32, "code_dim": 16})
    return out


def _block_scores(labels, pos, neg, p_in, p_out):
    """AUC and AP of scoring a pair p_in if both nodes share a label, else p_out."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    same = lambda pairs: labels[pairs[:, 0]] == labels[pairs[:, 1]]  # noqa: E731
    scores = np.concatenate([np.where(same(pos), p_in, p_out), np.where(same(neg), p_in, p_out)])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return float(roc_auc_score(y, scores)), float(average_precision_score(y, scores))


def run(config: dict) -> dict:
    seed = config["seed"]
    if config["graph"] == "karate":
        A, labels = graphs.karate_club()
    else:
        A, labels = graphs.stochastic_block_model(config["blocks"], config["p_in"],
                                                 config["p_out"], seed=seed)
    split = graphs.split_edges(A, seed=seed)
    model = graph.GraphAE(len(A), hidden=config["hidden"], code_dim=config["code_dim"],
                          decoder=config["decoder"], rngs=nnx.Rngs(seed))
    model, hist = tiedae.fit(model, graph.training_batch(split.train_adj),
                             loss_fn=graph.adjacency_loss, optimizer=adam(config["learning_rate"]),
                             steps=config["epochs"], log_every=1)
    test = graph.link_prediction(model, split.train_adj, split.test_pos, split.test_neg)
    if config["graph"] == "karate":  # no true edge probabilities: the same-faction score
        ref_key, p_in, p_out = "same_faction", 1.0, 0.0
    else:
        ref_key, p_in, p_out = "oracle", config["p_in"], config["p_out"]
    ref_auc, ref_ap = _block_scores(labels, split.test_pos, split.test_neg, p_in, p_out)
    Z = np.asarray(_encode(model, graph.normalized_adjacency(split.train_adj)))
    perm = np.random.default_rng(seed).permutation(len(A))
    tr, te = perm[: len(A) // 2], perm[len(A) // 2:]
    final = {"test_auc": test["auc"], "test_ap": test["ap"], f"{ref_key}_auc": ref_auc,
             f"{ref_key}_ap": ref_ap,
             "node_probe_accuracy": linear_probe_accuracy(Z[tr], labels[tr], Z[te], labels[te]),
             "train_loss": float(hist["loss"][-1]), "params": count_params(model),
             "edges": float(A.sum() / 2), "test_edges": float(len(split.test_pos))}
    if len(split.val_pos):
        val = graph.link_prediction(model, split.train_adj, split.val_pos, split.val_neg)
        final.update(val_auc=val["auc"], val_ap=val["ap"])
    return {"final": final, "trajectory": {"epoch": hist["step"], "loss": hist["loss"]},
            "extra": {}}


def reference(name: str, finals: list[dict]) -> tuple[str, str, list[float]]:
    """(label, key prefix, AUCs) of a graph's reference score: the SBM oracle, or for the karate
    club the same-faction score (older karate records stored it as `oracle_auc`)."""
    if name == "karate":
        key = "same_faction" if "same_faction_auc" in finals[0] else "oracle"
        return "same-faction score", key, [x[f"{key}_auc"] for x in finals]
    return "oracle", "oracle", [x["oracle_auc"] for x in finals]


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    for (name,), recs_g in group_by(records, "name").items():
        means = {}
        for (dec,), recs in group_by(recs_g, "decoder").items():
            f = [r["final"] for r in recs]
            ref_label, _, ref_aucs = reference(name, f)
            rows.append([name, dec, f[0]["params"], mean_std([x["test_auc"] for x in f]),
                         mean_std([x["test_ap"] for x in f]),
                         mean_std([x["node_probe_accuracy"] for x in f]),
                         mean_std([x["train_loss"] for x in f]),
                         mean_std(ref_aucs)])
            means[dec] = {k: float(np.mean([x[k] for x in f]))
                          for k in ("test_auc", "test_ap", "node_probe_accuracy", "train_loss")}
            means[dec]["ref_auc"] = float(np.mean(ref_aucs))
        if {"inner_product", "mlp"} <= set(means):
            ip, mlp = means["inner_product"], means["mlp"]
            findings.append(
                f"{name}: link prediction AUC / AP inner product {fmt(ip['test_auc'])} / "
                f"{fmt(ip['test_ap'])} vs MLP decoder {fmt(mlp['test_auc'])} / "
                f"{fmt(mlp['test_ap'])} ({ref_label} AUC {fmt(ip['ref_auc'])}); "
                f"block/faction probe on Z {fmt(ip['node_probe_accuracy'])} vs "
                f"{fmt(mlp['node_probe_accuracy'])}; training loss {fmt(ip['train_loss'])} vs "
                f"{fmt(mlp['train_loss'])}."
            )
    return Summary(
        title="graph: GAE link prediction, inner-product vs MLP decoder (mean ± std over seeds)",
        columns=["graph", "decoder", "params", "test AUC", "test AP", "node probe acc",
                 "train loss", "oracle AUC (karate: same-faction score)"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="graph",
    description="graph autoencoder (GCN encoder) on SBM graphs: inner-product sigma(ZZ^T) vs MLP "
                "decoder, link-prediction AUC/AP and node-probe accuracy (post 002)",
    configs=configs, run=run, summarize=summarize,
)
