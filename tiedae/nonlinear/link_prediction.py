r"""Link prediction: how well a graph autoencoder ranks held-out edges above non-edges.

A pair (i, j) is scored by the symmetrised logit s_ij = (L_ij + L_ji) / 2 of the model's
adjacency logits L on the training graph (`pair_logits`); sigma(s_ij) ranks the pairs the same
way. With P held-out edges (scores p_1..p_P) and N non-edges (scores q_1..q_N):

    AUC = 1/(P N) sum_{a, b} ( [p_a > q_b] + 1/2 [p_a = q_b] )              (Mann-Whitney U),
    AP  = 1/P sum_a  #{c: p_c >= p_a} / ( #{c: p_c >= p_a} + #{b: q_b >= p_a} ),

the area under the ROC curve and the average precision, the mean over positives of the
precision at their score. Both equal scikit-learn's `roc_auc_score` and
`average_precision_score` ties included (a tied group counts at its final precision). They are
written with O(P N) comparisons in JAX, so `LinkMetrics` computes them inside `tiedae.fit`'s
compiled step at every log point, with no host round trip and no extra compilation.

References:
  Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under a receiver
  operating characteristic (ROC) curve. Radiology 143(1), 29-36.
  Kipf, T. N. & Welling, M. (2016). Variational graph auto-encoders. arXiv:1611.07308.

Example:
  >>> import numpy as np
  >>> from tiedae.nonlinear import link_prediction as lp
  >>> pos, neg = np.array([0.9, 0.4, 0.7]), np.array([0.1, 0.4, 0.8])
  >>> round(float(lp.roc_auc(pos, neg)), 4), round(float(lp.average_precision(pos, neg)), 4)
  (0.7222, 0.7556)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae.nonlinear import graph
from tiedae.nonlinear.graph import _bucket

__all__ = ["LinkMetrics", "average_precision", "evaluate", "pair_logits", "roc_auc"]


def _masks(pos, neg, pos_mask, neg_mask):
    pos, neg = jnp.asarray(pos), jnp.asarray(neg)
    if pos.ndim != 1 or neg.ndim != 1:
        raise ValueError(f"scores must be 1-D; got shapes {pos.shape} and {neg.shape}")
    ones = lambda x: jnp.ones(x.shape, x.dtype)  # noqa: E731
    pm = ones(pos) if pos_mask is None else jnp.asarray(pos_mask, pos.dtype)
    nm = ones(neg) if neg_mask is None else jnp.asarray(neg_mask, neg.dtype)
    return pos, neg, pm, nm


def roc_auc(pos_scores, neg_scores, pos_mask=None, neg_mask=None) -> jax.Array:
    """Area under the ROC curve of positives vs negatives, ties counted half (Mann-Whitney).

    Args:
      pos_scores, neg_scores: 1-D scores of the positive and negative pairs.
      pos_mask, neg_mask: optional 0/1 weights (padding entries weigh 0).
    """
    pos, neg, pm, nm = _masks(pos_scores, neg_scores, pos_mask, neg_mask)
    p, q = pos[:, None], neg[None, :]
    wins = jnp.where(p > q, 1.0, jnp.where(p == q, 0.5, 0.0)).astype(pos.dtype)
    return jnp.sum(pm[:, None] * nm[None, :] * wins) / (jnp.sum(pm) * jnp.sum(nm))


def average_precision(pos_scores, neg_scores, pos_mask=None, neg_mask=None) -> jax.Array:
    """Average precision (scikit-learn's definition, ties included): the mean over positives of
    the precision among the pairs scored at least as high. Arguments as in `roc_auc`."""
    pos, neg, pm, nm = _masks(pos_scores, neg_scores, pos_mask, neg_mask)
    above_pos = jnp.sum(pm[None, :] * (pos[None, :] >= pos[:, None]), axis=1)
    above_neg = jnp.sum(nm[None, :] * (neg[None, :] >= pos[:, None]), axis=1)
    real = pm > 0  # a padded positive may have no real pair scored above it: 0 / 0
    precision = jnp.where(real, above_pos, 1.0) / jnp.where(real, above_pos + above_neg, 1.0)
    return jnp.sum(jnp.where(real, pm * precision, 0.0)) / jnp.sum(pm)


def _check_pairs(pairs, n: int, name: str = "pairs") -> np.ndarray:
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"{name} must be an (m, 2) array of node indices; got shape "
                         f"{pairs.shape}, dtype {pairs.dtype}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(f"{name} hold node indices outside 0..{n - 1}")
    return pairs


def _padded(pairs: np.ndarray, pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs padded with (0, 0) to `pad_to` (when enough) or the next power of two (so that
    splits of a little different sizes share one compiled program), and the 0/1 mask of the
    real ones."""
    size = pad_to if pad_to is not None and pad_to >= len(pairs) else _bucket(len(pairs))
    out = np.zeros((size, 2), np.int32)
    out[: len(pairs)] = pairs
    mask = np.zeros(len(out), np.float32)
    mask[: len(pairs)] = 1.0
    return out, mask


def _symmetrised(logits: jax.Array, pairs: jax.Array) -> jax.Array:
    return 0.5 * (logits[pairs[:, 0], pairs[:, 1]] + logits[pairs[:, 1], pairs[:, 0]])


@nnx.jit
def _pair_logits(model, a_norm, a_sharp, pairs):
    return _symmetrised(model(a_norm, a_sharp), pairs)


def _as_batch(graph_or_adj) -> graph.GraphBatch:
    if isinstance(graph_or_adj, graph.GraphBatch):
        return graph_or_adj
    return graph.training_batch(graph_or_adj)


def pair_logits(model, graph_or_adj, pairs) -> np.ndarray:
    """s_ij = (L_ij + L_ji) / 2 for each row (i, j) of `pairs` (m, 2), float64 (m,); the logits
    L are computed on `graph_or_adj`: a `graph.GraphBatch` or the training adjacency."""
    batch = _as_batch(graph_or_adj)
    pairs = _check_pairs(pairs, batch.target.shape[0])
    padded, _ = _padded(pairs)
    out = _pair_logits(model, batch.a_norm, batch.a_sharp, jnp.asarray(padded))
    return np.asarray(out, np.float64)[: len(pairs)]


def evaluate(model, graph_or_adj, pos, neg) -> dict[str, float]:
    """{"auc", "ap"} of held-out edges `pos` (m, 2) against non-edges `neg` (m', 2), scored by
    `pair_logits` on the graph the model was trained on (held-out edges removed)."""
    pos, neg = np.asarray(pos).reshape(-1, 2), np.asarray(neg).reshape(-1, 2)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("need at least one positive and one negative pair")
    s = pair_logits(model, graph_or_adj, np.concatenate([pos, neg]))
    return {"auc": float(roc_auc(s[: len(pos)], s[len(pos):])),
            "ap": float(average_precision(s[: len(pos)], s[len(pos):]))}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LinkMetrics:
    """`fit` metrics `(model, loss) -> dict` logging `<name>_auc` and `<name>_ap` of each named
    set of held-out pairs at every log point. A pytree: the graph and the pairs are arguments
    of the compiled step, so runs on other splits of similar size reuse it.

    Example:
      >>> import optax
      >>> from flax import nnx
      >>> import tiedae
      >>> from tiedae.data import graphs
      >>> from tiedae.nonlinear import graph, link_prediction
      >>> A, _ = graphs.stochastic_block_model((20, 20), 0.3, 0.02, seed=0)
      >>> split = graphs.split_edges(A, seed=0)
      >>> batch = graph.training_batch(split.train_adj)
      >>> metrics = link_prediction.LinkMetrics.from_pairs(
      ...     batch, {"test": (split.test_pos, split.test_neg)})
      >>> model = graph.GraphAE(40, rngs=nnx.Rngs(0))
      >>> _, hist = tiedae.fit(model, batch, loss_fn=graph.adjacency_loss, steps=20,
      ...                      log_every=10, metrics=metrics)
      >>> hist["test_auc"].shape
      (3,)
    """

    a_norm: object
    a_sharp: object
    pairs: tuple  # per name: (pos, pos_mask, neg, neg_mask), padded
    names: tuple[str, ...] = dataclasses.field(metadata={"static": True}, default=())

    @classmethod
    def from_pairs(cls, batch: graph.GraphBatch, pairs: Mapping[str, tuple], *,
                   pad_to: Mapping[str, int] | None = None) -> LinkMetrics:
        """From the training batch and {name: (pos (m, 2), neg (m', 2))}; `pad_to` {name:
        size} pads a set's pairs to that many (see `graph.training_batch`)."""
        if not isinstance(batch, graph.GraphBatch):
            raise TypeError(f"batch must be a graph.GraphBatch; got {type(batch).__name__}")
        n, packed = batch.target.shape[0], []
        for name, (pos, neg) in pairs.items():
            if not str(name).isidentifier():
                raise ValueError(f"pair set names must be identifiers; got {name!r}")
            pos, neg = _check_pairs(pos, n, f"{name} pos"), _check_pairs(neg, n, f"{name} neg")
            if len(pos) == 0 or len(neg) == 0:
                raise ValueError(f"{name}: need at least one positive and one negative pair")
            size = (pad_to or {}).get(name)
            packed.append((*_padded(pos, size), *_padded(neg, size)))
        return cls(batch.a_norm, batch.a_sharp, tuple(packed), tuple(pairs))

    def __call__(self, model, loss) -> dict[str, jax.Array]:
        logits = model(self.a_norm, self.a_sharp)
        out = {}
        for name, (pos, pos_mask, neg, neg_mask) in zip(self.names, self.pairs, strict=True):
            p, q = _symmetrised(logits, pos), _symmetrised(logits, neg)
            out[f"{name}_auc"] = roc_auc(p, q, pos_mask, neg_mask)
            out[f"{name}_ap"] = average_precision(p, q, pos_mask, neg_mask)
        return out
