r"""Graph autoencoders: a GCN encoder with the inner-product decoder sigma(Z Z^T) or an MLP decoder.

The encoder is the two-layer graph convolutional network of the (non-variational) graph
autoencoder GAE of Kipf & Welling (2016):

    A_norm = D^{-1/2} (A + I) D^{-1/2},    Z = A_norm relu(A_norm X W_0) W_1   (n, k),

here featureless: X = I (one-hot node identities), so A_norm X W_0 = A_norm W_0.

Decoders of the adjacency logits (the reconstruction is sigma(logits)):

* ``"inner_product"``: logits = Z Z^T, parameter-free (the "simple decoder" of post 002);
* ``"mlp"``: row i of the logits is an MLP of z_i, R^k -> R^n (a decoder of adjacency rows
  with capacity of its own); the score of a pair is the mean of logits_ij and logits_ji.

Training minimises the class-weighted binary cross-entropy of Kipf & Welling over all n^2
entries of A_train + I, with positive weight (n^2 - |E|)/|E|. Link prediction is evaluated on
held-out edges against an equal number of sampled non-edges with scikit-learn's ROC AUC and
average precision. Graphs come from `stochastic_block_model` (seeded) or `karate_club`
(networkx, optional).

References:
  Kipf, T. N. & Welling, M. (2016). Variational graph auto-encoders. NIPS Bayesian Deep
  Learning Workshop. arXiv:1611.07308.
  Kipf, T. N. & Welling, M. (2017). Semi-supervised classification with graph convolutional
  networks. ICLR.
  Holland, P. W., Laskey, K. B. & Leinhardt, S. (1983). Stochastic blockmodels: first steps.
  Social Networks 5(2), 109-137.

Example:
  >>> from flax import nnx
  >>> from tiedae import graph
  >>> A, labels = graph.stochastic_block_model((20, 20), 0.3, 0.02, seed=0)
  >>> split = graph.split_edges(A, seed=0)
  >>> model = graph.GraphAE(40, decoder="inner_product", rngs=nnx.Rngs(0))
  >>> model, losses = graph.train_graph_ae(model, split.train_adj, epochs=50)
  >>> sorted(graph.link_prediction(model, split.train_adj, split.test_pos, split.test_neg))
  ['ap', 'auc']
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tiedae.deep import _init_weight

__all__ = [
    "EdgeSplit",
    "GRAPH_DECODERS",
    "GraphAE",
    "karate_club",
    "link_prediction",
    "normalized_adjacency",
    "split_edges",
    "stochastic_block_model",
    "train_graph_ae",
]

GRAPH_DECODERS = ("inner_product", "mlp")


def _check_adjacency(A, name="A") -> np.ndarray:
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) adjacency matrix; got shape {A.shape}")
    if not np.isfinite(A).all() or not np.isin(A, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    if not np.array_equal(A, A.T):
        raise ValueError(f"{name} must be symmetric (undirected graph)")
    return A.astype(np.float32)


def stochastic_block_model(sizes, p_in: float, p_out: float, *, seed: int = 0):
    """Undirected SBM graph: nodes in block b; an edge with prob. p_in inside, p_out across.

    Returns:
      (A, labels): A float32 (n, n) symmetric 0/1 with zero diagonal; labels int (n,) blocks.
    """
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be positive block sizes; got {sizes}")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {p}")
    labels = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(seed)
    prob = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = np.triu(rng.random(prob.shape) < prob, k=1)
    A = (upper | upper.T).astype(np.float32)
    return A, labels


def karate_club():
    """Zachary's karate club (34 nodes, 78 edges) and its two factions; needs networkx."""
    try:
        import networkx as nx
    except ImportError as err:  # pragma: no cover - optional extra
        raise ImportError("karate_club needs networkx: pip install 'tiedae[graph]'") from err
    g = nx.karate_club_graph()
    A = (nx.to_numpy_array(g, nodelist=range(34)) > 0).astype(np.float32)
    labels = np.array([g.nodes[i]["club"] != "Mr. Hi" for i in range(34)], dtype=int)
    return A, labels


class EdgeSplit(NamedTuple):
    train_adj: np.ndarray  # (n, n) with validation and test edges removed
    val_pos: np.ndarray  # (m_val, 2) held-out edges
    val_neg: np.ndarray  # (m_val, 2) non-edges
    test_pos: np.ndarray  # (m_test, 2)
    test_neg: np.ndarray  # (m_test, 2)


def split_edges(A, *, val_fraction: float = 0.05, test_fraction: float = 0.1, seed: int = 0):
    """Holds out a share of the edges and samples as many non-edges (balanced negatives).

    Negatives are distinct pairs i < j that are not edges of the *full* graph.
    """
    A = _check_adjacency(A)
    if not (0 <= val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise ValueError("need 0 <= val_fraction, 0 < test_fraction, and their sum < 1")
    rng = np.random.default_rng(seed)
    edges = np.argwhere(np.triu(A, k=1) > 0)
    rng.shuffle(edges)
    n_test = max(1, int(round(test_fraction * len(edges))))
    n_val = int(round(val_fraction * len(edges)))
    if n_test + n_val >= len(edges):
        raise ValueError(f"the graph has too few edges ({len(edges)}) to hold some out")
    test_pos, val_pos = edges[:n_test], edges[n_test : n_test + n_val]
    non_edges = np.argwhere(np.triu(1 - A, k=1) > 0)
    if len(non_edges) < n_test + n_val:
        raise ValueError("the graph has too few non-edges for balanced negatives")
    neg = non_edges[rng.choice(len(non_edges), n_test + n_val, replace=False)]
    train = A.copy()
    held = np.concatenate([test_pos, val_pos])
    train[held[:, 0], held[:, 1]] = 0.0
    train[held[:, 1], held[:, 0]] = 0.0
    return EdgeSplit(train, val_pos, neg[n_test:], test_pos, neg[:n_test])


def normalized_adjacency(A) -> np.ndarray:
    """D^{-1/2} (A + I) D^{-1/2}, the GCN propagation matrix (float32)."""
    A = _check_adjacency(A) + np.eye(len(A), dtype=np.float32)
    d = 1.0 / np.sqrt(A.sum(1))
    return (d[:, None] * A * d[None, :]).astype(np.float32)


class GraphAE(nnx.Module):
    """GCN encoder (Kipf & Welling 2016 GAE) with an inner-product or MLP adjacency decoder.

    Args:
      n_nodes: number of nodes n (the first GCN weight is (n, hidden), as the node features
        are the identity X = I; the MLP decoder outputs n logits per node).
      hidden: width of the first GCN layer.
      code_dim: k, the embedding dimension.
      decoder: "inner_product" or "mlp".
      mlp_hidden: hidden widths of the MLP decoder.
      rngs: `nnx.Rngs`.
    """

    def __init__(self, n_nodes: int, *, hidden: int = 32,
                 code_dim: int = 16, decoder: str = "inner_product", mlp_hidden=(64,),
                 rngs: nnx.Rngs):
        if decoder not in GRAPH_DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {GRAPH_DECODERS}")
        if n_nodes < 2 or hidden < 1 or code_dim < 1:
            raise ValueError("need n_nodes >= 2, hidden >= 1 and code_dim >= 1")
        self.n_nodes, self.decoder = int(n_nodes), decoder
        keys = iter(rngs.params() for _ in range(3 + len(mlp_hidden)))
        self.W0 = nnx.Param(_init_weight(next(keys), (self.n_nodes, hidden), jnp.float32))
        self.W1 = nnx.Param(_init_weight(next(keys), (hidden, code_dim), jnp.float32))
        if decoder == "mlp":
            widths = (code_dim, *mlp_hidden, self.n_nodes)
            self.mlp_weights = nnx.List(
                [nnx.Param(_init_weight(next(keys), (a, b), jnp.float32))
                 for a, b in zip(widths[:-1], widths[1:], strict=True)]
            )
            self.mlp_biases = nnx.List(
                [nnx.Param(jnp.zeros((b,), jnp.float32)) for b in widths[1:]]
            )

    def encode(self, A_norm: jax.Array) -> jax.Array:
        """Z = A_norm relu(A_norm W0) W1, shape (n, k) (featureless: X = I)."""
        return A_norm @ (jax.nn.relu(A_norm @ self.W0[...]) @ self.W1[...])

    def decode(self, Z: jax.Array) -> jax.Array:
        """Adjacency logits (n, n)."""
        if self.decoder == "inner_product":
            return Z @ Z.T
        h = Z
        for i, (W, b) in enumerate(zip(self.mlp_weights, self.mlp_biases, strict=True)):
            h = h @ W[...] + b[...][None, :]
            if i < len(self.mlp_weights) - 1:
                h = jax.nn.relu(h)
        return h

    def __call__(self, A_norm: jax.Array) -> jax.Array:
        return self.decode(self.encode(A_norm))


def _weighted_bce(logits, target, pos_weight, norm):
    log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    return -norm * jnp.mean(pos_weight * target * log_p + (1.0 - target) * log_not_p)


@functools.lru_cache(maxsize=16)
def _train_fn(graphdef, epochs, learning_rate):
    tx = optax.adam(learning_rate)

    @jax.jit
    def run(params, rest, A_norm, target, pos_weight, norm):
        def loss_of(p):
            logits = nnx.merge(graphdef, p, rest)(A_norm)
            return _weighted_bce(logits, target, pos_weight, norm)

        def step(carry, _):
            p, s = carry
            loss, g = jax.value_and_grad(loss_of)(p)
            updates, s = tx.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, length=epochs)
        return params, losses

    return run


def train_graph_ae(model: GraphAE, train_adj, *, epochs: int = 200,
                   learning_rate: float = 0.01):
    """Full-batch Adam on the weighted cross-entropy of A_train + I (featureless X = I).

    Returns:
      (model, losses): the trained model (updated in place) and the loss per epoch (numpy).
    """
    A = _check_adjacency(train_adj, "train_adj")
    if A.shape[0] != model.n_nodes:
        raise ValueError(f"train_adj has {A.shape[0]} nodes; the model expects {model.n_nodes}")
    n = A.shape[0]
    target = A + np.eye(n, dtype=np.float32)
    n_pos = float(target.sum())
    pos_weight = (n * n - n_pos) / n_pos
    norm = n * n / (2.0 * (n * n - n_pos))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    run = _train_fn(graphdef, int(epochs), float(learning_rate))
    params, losses = run(params, rest, jnp.asarray(normalized_adjacency(A)), jnp.asarray(target),
                         jnp.float32(pos_weight), jnp.float32(norm))
    losses = np.asarray(losses, np.float64)
    if not np.isfinite(losses).all():
        raise ValueError("graph autoencoder training diverged (non-finite loss)")
    nnx.update(model, params)
    return model, losses


def link_prediction(model: GraphAE, train_adj, pos, neg) -> dict:
    """ROC AUC and average precision of held-out edges `pos` vs non-edges `neg`.

    The score of pair (i, j) is sigma((logits_ij + logits_ji) / 2) from the graph the model
    was trained on (held-out edges removed).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    pos, neg = np.asarray(pos).reshape(-1, 2), np.asarray(neg).reshape(-1, 2)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("need at least one positive and one negative pair")
    logits = np.asarray(model(jnp.asarray(normalized_adjacency(train_adj))), np.float64)
    sym = 0.5 * (logits + logits.T)
    pairs = np.concatenate([pos, neg])
    scores = 1.0 / (1.0 + np.exp(-sym[pairs[:, 0], pairs[:, 1]]))
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return {"auc": float(roc_auc_score(labels, scores)),
            "ap": float(average_precision_score(labels, scores))}
