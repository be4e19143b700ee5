r"""Linear-autoencoder algorithms beside plain gradient descent, as pure functions and optax parts.

* `oja_direction`: Oja's subspace rule, E[y x^T - y y^T W] = W C - W C W^T W (Oja 1989).
* `tied_direction`: -(1/2) grad of the tied loss L(W) = tr C - 2 tr(W^T W C) + tr(W W^T W C W^T);
  it equals `oja_direction` + (I - W W^T) W C, so the two agree wherever W W^T = I.
* `rag_correction` and `rotation_augmented_gradient`: Bao et al. (2020)'s rotation-augmented
  gradient, the latter as an optax transformation to chain before an optimizer.
* `bao_axis_distance`, `bao_penalty_weights`, `BaoMetrics`: Bao et al.'s distance to axis
  alignment, their non-uniform L2 weights (for `tiedae.training.NonuniformL2`), and the metrics
  of their experiments as a `fit` metrics function.

References:
  Oja, "Neural networks, principal components, and subspaces", Int. J. Neural Systems 1 (1989).
  Bao, Lucas, Sachdeva & Grosse, "Regularized linear autoencoders recover the principal
  components, eventually", NeurIPS 2020 (code: github.com/XuchanBao/linear-ae).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tiedae.linear import metrics, pca
from tiedae.linear.model import LinearAE

__all__ = [
    "BaoMetrics",
    "bao_axis_distance",
    "bao_model",
    "bao_penalty_weights",
    "oja_direction",
    "rag_correction",
    "rotation_augmented_gradient",
    "tied_direction",
]


def oja_direction(W: jax.Array, C: jax.Array) -> jax.Array:
    r"""Oja's subspace rule (expected update direction): W C - W C W^T W, for W (k, d)."""
    WC = W @ C
    return WC - (WC @ W.T) @ W


def tied_direction(W: jax.Array, C: jax.Array) -> jax.Array:
    r"""-(1/2) dL/dW for the transpose-tied loss L(W) = `pca.reconstruction_loss(W, W^T, C)`.

    Analytically -(1/2) grad L = (W C - W C W^T W) + (W C - W W^T W C); the second bracket,
    (I - W W^T) W C, is what separates it from Oja's rule and vanishes when W W^T = I.
    """
    return -0.5 * jax.grad(lambda w: pca.reconstruction_loss(w, w.T, C))(W)


def rag_correction(W: jax.Array, V: jax.Array, C: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""Rotation-augmented gradient terms (Bao et al. 2020, their released code).

    With A = W C W^T (the code covariance) and Gamma = (1/2)(triu(A, 1) - triu(A, 1)^T), RAG
    replaces the gradients (G_W, G_V) by (G_W - Gamma W, G_V - V Gamma^T). Gamma is
    skew-symmetric: the extra terms rotate the code space (leaving V W, hence the loss,
    unchanged to first order) towards the ordering in which A is diagonal.

    Returns:
      (Gamma W, V Gamma^T), to be subtracted from the encoder and decoder gradients.
    """
    A = W @ C @ W.T
    upper = jnp.triu(A, 1)
    gamma = 0.5 * (upper - upper.T)
    return gamma @ W, V @ gamma.T


def bao_axis_distance(V: jax.Array, components: jax.Array) -> jax.Array:
    r"""Bao et al.'s distance to axis alignment: (1/k) sum_i (1 - max_j cos^2(u_i, v_j)).

    u_i are the top-k eigenvectors (rows of `components`), v_j the decoder columns. 0 when
    every eigenvector has a decoder column along it, about 1 - 1/d for random directions.
    Note `tiedae.metrics.axis_alignment` is a similarity instead (mean `|cos|` of matched pairs,
    1 = aligned).
    """
    Vn = V / (jnp.linalg.norm(V, axis=0, keepdims=True) + 1e-8)
    cos = components.astype(V.dtype) @ Vn  # (k, k): rows eigenvectors, columns decoder
    return jnp.mean(1.0 - jnp.max(cos**2, axis=1))


def bao_penalty_weights(k: int, d: int) -> np.ndarray:
    """Bao et al.'s non-uniform L2 weights r_i^2, r = linspace(0.1, min(0.1 (d - k - 1), 0.01 d),
    k) (their released code), for `tiedae.training.NonuniformL2`."""
    return np.linspace(0.1, min(0.1 * (d - k - 1), 0.01 * d), k) ** 2


def bao_model(d: int, k: int, init_scale: float, seed: int, dtype=np.float32) -> LinearAE:
    """An untied `LinearAE` with Bao et al.'s initialisation: W, V entries N(0, init_scale^2)
    (float32 by default, as in their code)."""
    model = LinearAE(d, k, decoder="untied", param_dtype=dtype, rngs=nnx.Rngs(seed))
    kw, kv = jax.random.split(jax.random.key(seed))
    model.W[...] = init_scale * jax.random.normal(kw, (k, d), dtype)
    model.V[...] = init_scale * jax.random.normal(kv, (d, k), dtype)
    return model


def _value(x):
    return x[...] if hasattr(x, "replace") else x


def rotation_augmented_gradient(covariance) -> optax.GradientTransformation:
    r"""Bao et al.'s rotation-augmented gradient as an optax transformation.

    Replaces the gradients (G_W, G_V) of an untied linear autoencoder (parameters named "W"
    (k, d) and "V" (d, k), as in `tiedae.LinearAE(decoder="untied")`) by
    (G_W - Gamma W, G_V - V Gamma^T) with Gamma from `rag_correction`. Chain it before the
    optimizer, as optax builds `adam` from `scale_by_adam` and a learning rate:

        optax.chain(rotation_augmented_gradient(C), optax.sgd(lr, momentum=0.9, nesterov=True))

    Args:
      covariance: the data covariance C (d, d).

    Example:
      >>> import jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> import tiedae
      >>> model = tiedae.LinearAE(4, 2, decoder="untied", rngs=nnx.Rngs(0))
      >>> tx = optax.chain(rotation_augmented_gradient(jnp.eye(4)), optax.sgd(0.1))
      >>> _, hist = tiedae.fit(model, jnp.eye(4), optimizer=tx, steps=3)
      >>> int(hist["step"][-1])
      3
    """
    C = jnp.asarray(covariance)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"covariance must be a square (d, d) matrix; got shape {C.shape}")

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params):
        if params is None or "W" not in params or "V" not in params:
            raise ValueError("rotation_augmented_gradient needs the parameters W and V of an "
                             "untied linear autoencoder")
        W, V = _value(params["W"]), _value(params["V"])
        gw, gv = rag_correction(W, V, C.astype(W.dtype))
        updates = jax.tree.map(lambda x: x, updates)  # a copy to write into
        for name, corr in (("W", gw), ("V", gv)):
            g = updates[name]
            updates[name] = g.replace(_value(g) - corr) if hasattr(g, "replace") else g - corr
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BaoMetrics:
    r"""Metrics of Bao et al.'s experiments, for `fit(..., metrics=BaoMetrics(U))`: the
    distance to axis alignment of the decoder columns (theirs), `axis_alignment` of V^T
    (tiedae's), and the subspace distance of V^T, against the top-k eigenvectors U (k, d)."""

    components: jax.Array

    def __call__(self, model, loss):
        V = model.decoder_matrix()
        U = self.components.astype(V.dtype)
        return {"axis_distance": bao_axis_distance(V, U),
                "axis_alignment": metrics.axis_alignment(V.T, U),
                "subspace_distance": metrics.subspace_distance(V.T, U)}
