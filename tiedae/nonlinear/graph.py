r"""Graph autoencoders: a GCN encoder with the inner-product decoder sigma(Z Z^T) or an MLP decoder.

The encoder is the two-layer graph convolutional network of the (non-variational) graph
autoencoder GAE of Kipf & Welling (2016):

    A_norm = D^{-1/2} (A + I) D^{-1/2},    Z = A_norm relu(A_norm X W_0) W_1   (n, k),

here featureless: X = I (one-hot node identities), so A_norm X W_0 = A_norm W_0.

Decoders of the adjacency logits (the reconstruction is sigma(logits)):

* ``"inner_product"``: logits = Z Z^T, parameter-free (the "simple decoder" of post 002);
* ``"mlp"``: row i of the logits is an MLP of z_i, R^k -> R^n (a decoder of adjacency rows
  with capacity of its own); the score of a pair is the mean of logits_ij and logits_ji.

Training (`tiedae.fit` with `loss_fn=adjacency_loss` on `training_batch(A_train)`) minimises
the class-weighted binary cross-entropy of Kipf & Welling over all n^2 entries of A_train + I,
with positive weight (n^2 - |E|)/|E|. Link prediction is evaluated on held-out edges against an
equal number of sampled non-edges with scikit-learn's ROC AUC and average precision. Graphs
and edge splits come from `tiedae.data.graphs`.

References:
  Kipf, T. N. & Welling, M. (2016). Variational graph auto-encoders. NIPS Bayesian Deep
  Learning Workshop. arXiv:1611.07308.
  Kipf, T. N. & Welling, M. (2017). Semi-supervised classification with graph convolutional
  networks. ICLR.

Example:
  >>> import optax
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.data import graphs
  >>> from tiedae.nonlinear import graph
  >>> A, labels = graphs.stochastic_block_model((20, 20), 0.3, 0.02, seed=0)
  >>> split = graphs.split_edges(A, seed=0)
  >>> model = graph.GraphAE(40, decoder="inner_product", rngs=nnx.Rngs(0))
  >>> model, hist = tiedae.fit(model, graph.training_batch(split.train_adj),
  ...                          loss_fn=graph.adjacency_loss, optimizer=optax.adam(0.01),
  ...                          steps=50)
  >>> sorted(graph.link_prediction(model, split.train_adj, split.test_pos, split.test_neg))
  ['ap', 'auc']
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae._validation import check_positive_int
from tiedae.data.graphs import check_adjacency
from tiedae.nonlinear import layers

__all__ = [
    "GRAPH_DECODERS",
    "GraphAE",
    "GraphBatch",
    "adjacency_loss",
    "link_prediction",
    "normalized_adjacency",
    "training_batch",
]

GRAPH_DECODERS = ("inner_product", "mlp")


def normalized_adjacency(A) -> np.ndarray:
    """D^{-1/2} (A + I) D^{-1/2}, the GCN propagation matrix (float32)."""
    A = check_adjacency(A) + np.eye(len(A), dtype=np.float32)
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
        n_nodes = check_positive_int(n_nodes, "n_nodes")
        hidden, code_dim = check_positive_int(hidden, "hidden"), check_positive_int(code_dim,
                                                                                    "code_dim")
        if n_nodes < 2:
            raise ValueError(f"n_nodes must be >= 2; got n_nodes={n_nodes}")
        mlp_hidden = layers.check_widths(mlp_hidden, "mlp_hidden")
        self.n_nodes, self.decoder = n_nodes, decoder
        keys = iter(rngs.params() for _ in range(3 + len(mlp_hidden)))
        self.W0 = nnx.Param(layers.lecun_normal(next(keys), (self.n_nodes, hidden), jnp.float32))
        self.W1 = nnx.Param(layers.lecun_normal(next(keys), (hidden, code_dim), jnp.float32))
        if decoder == "mlp":
            widths = (code_dim, *mlp_hidden, self.n_nodes)
            self.mlp_weights = nnx.List(
                [nnx.Param(layers.lecun_normal(next(keys), (a, b), jnp.float32))
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


class GraphBatch(NamedTuple):
    """What the graph autoencoder trains on (a `fit` batch): the GCN propagation matrix of the
    training graph, the target A_train + I, and the weights of Kipf & Welling's loss."""

    a_norm: jax.Array
    target: jax.Array
    pos_weight: jax.Array
    norm: jax.Array


def training_batch(train_adj) -> GraphBatch:
    """The `GraphBatch` of a training graph (held-out edges already removed)."""
    A = check_adjacency(train_adj, "train_adj")
    n = A.shape[0]
    target = A + np.eye(n, dtype=np.float32)
    n_pos = float(target.sum())
    return GraphBatch(normalized_adjacency(A), target,
                      np.float32((n * n - n_pos) / n_pos),
                      np.float32(n * n / (2.0 * (n * n - n_pos))))


def adjacency_loss(model: GraphAE, batch: GraphBatch) -> jax.Array:
    """Kipf & Welling's class-weighted binary cross-entropy of the adjacency logits, over all
    n^2 entries of A_train + I: -norm * mean(w_pos * A log p + (1 - A) log(1 - p))."""
    logits = model(batch.a_norm)
    log_p, log_not_p = jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
    t = batch.target
    return -batch.norm * jnp.mean(batch.pos_weight * t * log_p + (1.0 - t) * log_not_p)


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
