r"""Graph autoencoders: a GCN encoder with an inner-product, MLP or mirrored GCN decoder.

The encoder is the two-layer graph convolutional network of the (non-variational) graph
autoencoder GAE of Kipf & Welling (2016):

    A_norm = D~^{-1/2} (A + I) D~^{-1/2},   D~ = diag(A + I) 1,
    Z = A_norm relu(A_norm X W_0) W_1                                 (n, k),

here featureless: X = I (one-hot node identities), so A_norm X W_0 = A_norm W_0 and W_0 (n, h)
holds one free h-vector per node. There are no biases, as in GAE.

Decoders of the adjacency logits L (n, n) (the reconstruction is sigma(L)):

* ``"inner_product"``: L = Z Z^T, parameter-free (the "simple decoder" of post 002);
* ``"mlp"``: row i of L is an MLP of z_i, R^k -> `mlp_hidden` -> R^n (relu, biases): a
  decoder of adjacency rows with capacity of its own that ignores the graph;
* ``"mirrored_gcn"``: the encoder run backwards, two graph-convolution layers with the
  encoder's widths reversed (k -> h -> n) and no biases:

      L = P relu(P Z W_2) W_3,    W_2 (k, h),  W_3 (h, n),

  the mirror image of Z = A_norm relu(A_norm X W_0) W_1, whose output has the shape of the
  featureless input X = I (one row of n values per node), read as adjacency logits. The
  propagation P is ``decoder_propagation``: ``"sharpening"`` (default) uses the numerically
  stable Laplacian sharpening of Park et al. (2019)'s symmetric graph autoencoder GALA,

      A_sharp = D^^{-1/2} (2I - A) D^^{-1/2},   D^ = D + 2I,

  the decoder-side counterpart of the encoder's Laplacian smoothing (each node moves away from
  its neighbours' mean instead of towards it); ``"smoothing"`` uses the encoder's own A_norm.
  Unlike GALA, which reconstructs node features with a squared loss, this decoder is trained on
  the adjacency with the same loss as the other two (there are no features: X = I).

For the MLP and mirrored decoders L is not symmetric; a pair (i, j) is scored by
(L_ij + L_ji) / 2 (`tiedae.nonlinear.link_prediction`).

Training (`tiedae.fit` with `loss_fn=adjacency_loss` on `training_batch(A_train)`) minimises
the class-weighted binary cross-entropy of Kipf & Welling over all n^2 entries of A_train + I,
with positive weight `(n^2 - |E|)/|E|` (`|E|` the number of ones of A_train + I). The propagation
matrices are `jax.experimental.sparse.BCOO` matrices in the batch, so a graph convolution costs
`O(|E| h)` rather than O(n^2 h); the n^2 logits and the loss remain dense, as in GAE.
`tiedae.nonlinear.link_prediction` scores held-out edges against sampled non-edges (ROC AUC and
average precision); graphs and edge splits come from `tiedae.data.graphs`.

References:
  Kipf, T. N. & Welling, M. (2016). Variational graph auto-encoders. NIPS Bayesian Deep
  Learning Workshop. arXiv:1611.07308.
  Kipf, T. N. & Welling, M. (2017). Semi-supervised classification with graph convolutional
  networks. ICLR.
  Park, J., Lee, M., Chang, H. J., Lee, K. & Choi, J. Y. (2019). Symmetric graph convolutional
  autoencoder for unsupervised graph representation learning. ICCV.

Example:
  >>> import optax
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.data import graphs
  >>> from tiedae.nonlinear import graph, link_prediction
  >>> A, labels = graphs.stochastic_block_model((20, 20), 0.3, 0.02, seed=0)
  >>> split = graphs.split_edges(A, seed=0)
  >>> batch = graph.training_batch(split.train_adj)
  >>> model = graph.GraphAE(40, decoder="mirrored_gcn", rngs=nnx.Rngs(0))
  >>> model, hist = tiedae.fit(model, batch, loss_fn=graph.adjacency_loss,
  ...                          optimizer=optax.adam(0.01), steps=50)
  >>> sorted(link_prediction.evaluate(model, batch, split.test_pos, split.test_neg))
  ['ap', 'auc']
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import sparse

from tiedae._validation import check_positive_int
from tiedae.data.graphs import check_adjacency
from tiedae.nonlinear import layers

__all__ = [
    "DECODER_PROPAGATIONS",
    "GRAPH_DECODERS",
    "GraphAE",
    "GraphBatch",
    "adjacency_loss",
    "normalized_adjacency",
    "sharpened_adjacency",
    "training_batch",
]

GRAPH_DECODERS = ("inner_product", "mlp", "mirrored_gcn")
DECODER_PROPAGATIONS = ("sharpening", "smoothing")


def normalized_adjacency(A) -> np.ndarray:
    """D~^{-1/2} (A + I) D~^{-1/2}, the GCN propagation matrix (dense float32)."""
    A = check_adjacency(A) + np.eye(len(A), dtype=np.float32)
    d = 1.0 / np.sqrt(A.sum(1))
    return (d[:, None] * A * d[None, :]).astype(np.float32)


def sharpened_adjacency(A) -> np.ndarray:
    """D^^{-1/2} (2I - A) D^^{-1/2} with D^ = D + 2I: Park et al. (2019)'s numerically stable
    Laplacian sharpening (dense float32). Its eigenvalues lie in [-1, 1] (`|A_sharp|` is similar
    to the row-stochastic D^^{-1} (2I + A)), where those of 2I - A_norm reach 3."""
    A = check_adjacency(A)
    d = 1.0 / np.sqrt(A.sum(1) + 2.0)
    S = 2.0 * np.eye(len(A), dtype=np.float32) - A
    return (d[:, None] * S * d[None, :]).astype(np.float32)


def _bucket(m: int) -> int:
    """The next power of two >= m: arrays padded to it keep one compiled program for graphs
    (or pair lists) whose sizes differ a little, such as block-model draws of several seeds."""
    return 1 << max(int(m) - 1, 0).bit_length()


def _bcoo(M: np.ndarray, pad_to: int | None = None) -> sparse.BCOO:
    """M as a BCOO matrix, its entries padded with explicit zeros at (0, 0) to `pad_to` (or
    `_bucket` of their number, whichever is needed)."""
    rows, cols = np.nonzero(M)
    pad = (pad_to if pad_to is not None and pad_to >= len(rows)
           else _bucket(len(rows))) - len(rows)
    indices = np.stack([np.concatenate([rows, np.zeros(pad, rows.dtype)]),
                        np.concatenate([cols, np.zeros(pad, cols.dtype)])], axis=1)
    values = np.concatenate([M[rows, cols], np.zeros(pad, M.dtype)])
    return sparse.BCOO((jnp.asarray(values), jnp.asarray(indices.astype(np.int32))),
                       shape=M.shape)


class GraphAE(nnx.Module):
    """GCN encoder (Kipf & Welling 2016 GAE) with an inner-product, MLP or mirrored GCN decoder.

    The encoder's weights are drawn first, so models of one seed share their initial encoder
    whatever the decoder.

    Args:
      n_nodes: number of nodes n (the first GCN weight is (n, hidden), as the node features
        are the identity X = I; the MLP and mirrored decoders output n logits per node).
      hidden: width h of the first GCN layer (and of the mirrored decoder's first layer).
      code_dim: k, the embedding dimension.
      decoder: one of `GRAPH_DECODERS`.
      mlp_hidden: hidden widths of the MLP decoder.
      decoder_propagation: the mirrored decoder's propagation matrix, "sharpening" (Park et
        al.'s A_sharp) or "smoothing" (the encoder's A_norm).
      rngs: `nnx.Rngs`.
    """

    def __init__(self, n_nodes: int, *, hidden: int = 32, code_dim: int = 16,
                 decoder: str = "inner_product", mlp_hidden=(64,),
                 decoder_propagation: str = "sharpening", rngs: nnx.Rngs):
        if decoder not in GRAPH_DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {GRAPH_DECODERS}")
        if decoder_propagation not in DECODER_PROPAGATIONS:
            raise ValueError(f"unknown decoder_propagation {decoder_propagation!r}; choose one "
                             f"of {DECODER_PROPAGATIONS}")
        n_nodes = check_positive_int(n_nodes, "n_nodes")
        hidden, code_dim = check_positive_int(hidden, "hidden"), check_positive_int(code_dim,
                                                                                    "code_dim")
        if n_nodes < 2:
            raise ValueError(f"n_nodes must be >= 2; got n_nodes={n_nodes}")
        mlp_hidden = layers.check_widths(mlp_hidden, "mlp_hidden")
        self.n_nodes, self.decoder = n_nodes, decoder
        self.decoder_propagation = decoder_propagation
        keys = iter(rngs.params() for _ in range(4 + len(mlp_hidden)))
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
        elif decoder == "mirrored_gcn":
            self.W2 = nnx.Param(layers.lecun_normal(next(keys), (code_dim, hidden), jnp.float32))
            self.W3 = nnx.Param(layers.lecun_normal(next(keys), (hidden, self.n_nodes),
                                                    jnp.float32))

    def encode(self, a_norm) -> jax.Array:
        """Z = A_norm relu(A_norm W0) W1, shape (n, k) (featureless: X = I). `a_norm` is dense
        or a `BCOO` matrix."""
        return a_norm @ (jax.nn.relu(a_norm @ self.W0[...]) @ self.W1[...])

    def decode(self, Z: jax.Array, a_norm=None, a_sharp=None) -> jax.Array:
        """Adjacency logits (n, n). The mirrored decoder needs its propagation matrix
        (`a_sharp` for "sharpening", `a_norm` for "smoothing")."""
        if self.decoder == "inner_product":
            return Z @ Z.T
        if self.decoder == "mirrored_gcn":
            P = a_sharp if self.decoder_propagation == "sharpening" else a_norm
            if P is None:
                name = "a_sharp" if self.decoder_propagation == "sharpening" else "a_norm"
                raise ValueError(f"the mirrored GCN decoder with {self.decoder_propagation} "
                                 f"needs {name}")
            # (P H) W3 costs n h n; P (H W3) would cost |E| n (n^3 when dense).
            return (P @ jax.nn.relu(P @ (Z @ self.W2[...]))) @ self.W3[...]
        h = Z
        for i, (W, b) in enumerate(zip(self.mlp_weights, self.mlp_biases, strict=True)):
            h = h @ W[...] + b[...][None, :]
            if i < len(self.mlp_weights) - 1:
                h = jax.nn.relu(h)
        return h

    def __call__(self, a_norm, a_sharp=None) -> jax.Array:
        return self.decode(self.encode(a_norm), a_norm, a_sharp)


class GraphBatch(NamedTuple):
    """What the graph autoencoder trains on (a `fit` batch): the propagation matrices of the
    training graph (BCOO), the target A_train + I, and the weights of Kipf & Welling's loss."""

    a_norm: sparse.BCOO
    a_sharp: sparse.BCOO
    target: jax.Array
    pos_weight: jax.Array
    norm: jax.Array


def training_batch(train_adj, *, pad_to: int | None = None) -> GraphBatch:
    """The `GraphBatch` of a training graph (held-out edges already removed).

    Args:
      train_adj: (n, n) symmetric 0/1 adjacency of the training graph.
      pad_to: store the sparse matrices' n + 2|E| entries padded with zeros to this many
        (when it is enough; default: the next power of two), so that graphs with a little
        different numbers of edges (several draws of one random graph model) share one
        compiled training program.
    """
    A = check_adjacency(train_adj, "train_adj")
    n = A.shape[0]
    target = A + np.eye(n, dtype=np.float32)
    n_pos = float(target.sum())
    return GraphBatch(_bcoo(normalized_adjacency(A), pad_to),
                      _bcoo(sharpened_adjacency(A), pad_to), target,
                      np.float32((n * n - n_pos) / n_pos),
                      np.float32(n * n / (2.0 * (n * n - n_pos))))


def adjacency_loss(model: GraphAE, batch: GraphBatch) -> jax.Array:
    r"""Kipf & Welling's class-weighted binary cross-entropy of the adjacency logits L over all
    n^2 entries of the target T = A_train + I::

        -norm * mean(w T log sigma(L) + (1 - T) log(1 - sigma(L)))
        = norm * mean(softplus(L) (1 + (w - 1) T) - w T L),

    computed in the second form, with `softplus(L) = max(L, 0) + log1p(exp(-|L|))` (one
    exponential per entry; on the CPU about twice as fast as `jax.nn.softplus`)."""
    logits = model(batch.a_norm, batch.a_sharp)
    t, w = batch.target, batch.pos_weight
    softplus = jnp.maximum(logits, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return batch.norm * jnp.mean(softplus * (1.0 + (w - 1.0) * t) - w * t * logits)
