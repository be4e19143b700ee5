r"""Geometry of a linear encoder W (k, d): pure `jnp` functions, safe inside `jax.jit`.

* `orthonormality_error(W)` = ||W W^T - I_k||_F: 0 iff W has orthonormal rows, i.e. iff the
  transpose decoder W^T is W's right inverse.
* `principal_angles(W, U)`: the angles between the row spaces of W and U.
* `subspace_distance(W, U)` = mean sin^2 of those angles = 1 - ||Q_W U^T||_F^2 / k for
  orthonormal bases: 0 when the row spaces agree, 1 when they are orthogonal.
* `condition_number(W)` = s_max / s_min.
* `axis_alignment(W, U)`: how far the individual rows match the individual (ordered)
  components, which a subspace measure cannot see.
* `LinearAEMetrics`: what `tiedae.fit` logs for a linear autoencoder (the above, plus the loss
  gap to the PCA optimum).

References:
  Björck & Golub, "Numerical methods for computing angles between linear subspaces",
  Math. Comp. 27 (1973).
  Knyazev & Argentati, "Principal angles between subspaces in an A-based scalar product",
  SIAM J. Sci. Comput. 23 (2002) (the sine-based formula for small angles).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "LinearAEMetrics",
    "axis_alignment",
    "condition_number",
    "orthonormality_error",
    "principal_angles",
    "subspace_distance",
]


def orthonormality_error(W: jax.Array) -> jax.Array:
    r"""||W W^T - I_k||_F for W of shape (k, d).

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> float(metrics.orthonormality_error(jnp.eye(2, 5)))
      0.0
    """
    k = W.shape[0]
    return jnp.linalg.norm(W @ W.T - jnp.eye(k, dtype=W.dtype))


def _row_basis(W: jax.Array) -> jax.Array:
    """An orthonormal basis (d, k) of the row space of W (k, d), from a reduced QR."""
    q, _ = jnp.linalg.qr(W.T)
    return q


def _cos_sin(W: jax.Array, components: jax.Array) -> tuple[jax.Array, jax.Array]:
    if W.shape != components.shape:
        raise ValueError(
            f"W and components must have the same shape (k, d); got {W.shape} and "
            f"{components.shape}"
        )
    qw = _row_basis(W)
    qu = _row_basis(components.astype(W.dtype))
    cross = qu.T @ qw
    cos = jnp.linalg.svd(cross, compute_uv=False)  # descending
    sin = jnp.linalg.svd(qw - qu @ cross, compute_uv=False)[::-1]  # ascending
    return jnp.clip(cos, 0.0, 1.0), jnp.clip(sin, 0.0, 1.0)


def principal_angles(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""Principal angles (radians, ascending) between the row spaces of W and `components`.

    Uses arccos of the singular values of Q_U^T Q_W for large angles and arcsin of the singular
    values of (I - Q_U Q_U^T) Q_W for small ones, which keeps full precision near 0.

    Args:
      W: (k, d) encoder.
      components: (k, d) reference rows (e.g. `pca.fit(X, k).components`).
    """
    cos, sin = _cos_sin(W, components)
    return jnp.where(cos**2 < 0.5, jnp.arccos(cos), jnp.arcsin(sin))


def subspace_distance(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""1 - ||Q_W U_k^T||_F^2 / k, computed as sum(sin^2 theta_i) / k for accuracy near 0.

    0 when the row space of W equals that of the components, 1 when orthogonal.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> W = jnp.array([[3.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
      >>> float(metrics.subspace_distance(W, jnp.eye(2, 3)))
      0.0
    """
    _, sin = _cos_sin(W, components)
    return jnp.sum(sin**2) / W.shape[0]


def condition_number(W: jax.Array) -> jax.Array:
    """s_max / s_min of W (inf for rank-deficient W)."""
    s = jnp.linalg.svd(W, compute_uv=False)
    return s[0] / s[-1]


def axis_alignment(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""Mean over i of |<w_i, u_i>| / ||w_i||: 1 when row i of W points along component i.

    A subspace measure is blind to rotations inside the subspace; this one is not, so it tells
    whether training recovered the ordered principal directions (Bao et al. 2020). For an
    encoder whose decoder is V, pass the decoder's columns as rows (V^T).
    """
    norms = jnp.linalg.norm(W, axis=1)
    dots = jnp.abs(jnp.sum(W * components.astype(W.dtype), axis=1))
    return jnp.mean(dots / jnp.where(norms > 0, norms, 1.0))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LinearAEMetrics:
    r"""The log of a linear autoencoder's training: a function `(model, loss) -> dict`.

    Always `orthonormality` (||W W^T - I||_F) and `condition_number` of the encoder W; with a
    PCA reference also `loss_gap` (loss - Eckart--Young optimum) and `subspace_distance` to
    the top-k principal subspace. A pytree: the reference arrays are arguments of the compiled
    step, not constants in it.

    Attributes:
      components: (k, d) reference rows, or None.
      optimal_loss: the reference's optimal loss, or None.
    """

    components: jax.Array | None = None
    optimal_loss: jax.Array | None = None

    @classmethod
    def from_reference(cls, reference, *, k: int, d: int) -> LinearAEMetrics:
        """From a `tiedae.pca.PCAResult` (or None), checked against the model's (k, d)."""
        if reference is None:
            return cls()
        components = getattr(reference, "components", None)
        if components is None or not hasattr(reference, "optimal_loss"):
            raise TypeError(f"reference must be a pca.PCAResult; got {type(reference).__name__}")
        if components.shape != (k, d):
            raise ValueError(
                f"reference has components of shape {components.shape}; the model needs "
                f"({k}, {d}): call pca.fit(X, k={k}) on the same data")
        return cls(np.asarray(components), np.asarray(reference.optimal_loss, np.float64))

    def __call__(self, model, loss: jax.Array) -> dict[str, jax.Array]:
        W = model.encoder_matrix()
        out = {"orthonormality": orthonormality_error(W), "condition_number": condition_number(W)}
        if self.components is not None:
            out["loss_gap"] = loss - self.optimal_loss.astype(loss.dtype)
            out["subspace_distance"] = subspace_distance(W, self.components.astype(W.dtype))
        return out
