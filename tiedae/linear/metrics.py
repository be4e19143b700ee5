r"""Geometry of a linear encoder W (k, d): pure `jnp` functions, safe inside `jax.jit`.

* `orthonormality_error(W)` = ||W W^T - I_k||_F: 0 iff W has orthonormal rows, i.e. iff the
  transpose decoder W^T is W's right inverse.
* `principal_angles(W, U)`: the angles between the row spaces of W and U.
* `subspace_distance(W, U)` = mean sin^2 of those angles = 1 - ||Q_W U^T||_F^2 / k for
  orthonormal bases: 0 when the row spaces agree, 1 when they are orthogonal.
* `condition_number(W)` = s_max / s_min.

Every function is defined on rank-deficient input (a row space of dimension below k has
missing directions, which count as orthogonal; cond = inf) and returns NaN, not a plausible
number, when its input holds NaN or inf. Shape and dtype errors raise at once (also under
`jax.jit`, where shapes are static). Also:

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


def _matrix(W, name: str = "W") -> jax.Array:
    """`W` as a 2-D real floating array (integers and bools are promoted), or raises.

    Shapes and dtypes are static, so these checks also run (once, at tracing) inside `jax.jit`.
    """
    W = jnp.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix of shape (k, d); got shape {W.shape}")
    if jnp.issubdtype(W.dtype, jnp.complexfloating) or not (
            jnp.issubdtype(W.dtype, jnp.floating) or jnp.issubdtype(W.dtype, jnp.integer)
            or W.dtype == jnp.bool_):
        raise TypeError(f"{name} must hold real numbers; got dtype {W.dtype}")
    return W if jnp.issubdtype(W.dtype, jnp.floating) else W.astype(jnp.result_type(float))


def _pair(W, components) -> tuple[jax.Array, jax.Array]:
    W, components = _matrix(W), _matrix(components, "components")
    if W.shape != components.shape:
        raise ValueError(
            f"W and components must have the same shape (k, d); got {W.shape} and "
            f"{components.shape}"
        )
    k, d = W.shape
    if k > d:
        raise ValueError(f"W has k={k} rows but only d={d} columns: at most d rows span "
                         "independent directions, so there is no k-dimensional row space")
    return W, components.astype(W.dtype)


def _finite_or_zero(W: jax.Array) -> jax.Array:
    """W, or zeros when W holds NaN or inf: LAPACK's SVD can loop forever on inf, and the
    result is replaced by NaN anyway (`_nan_unless_finite`)."""
    return jnp.where(jnp.all(jnp.isfinite(W)), W, jnp.zeros_like(W))


def _nan_unless_finite(value: jax.Array, *arrays: jax.Array) -> jax.Array:
    """`value`, or NaN where any of `arrays` holds NaN or inf (so that bad input never passes
    for a finite-looking distance)."""
    finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(a)) for a in arrays]))
    return jnp.where(finite, value, jnp.nan)


def orthonormality_error(W: jax.Array) -> jax.Array:
    r"""||W W^T - I_k||_F for W of shape (k, d).

    Defined for every W: sqrt(k) for W = 0; NaN when W holds NaN or inf.

    Raises:
      ValueError: W is not 2-D (e.g. a single vector: pass it as one row, shape (1, d)).
      TypeError: W is not real.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> float(metrics.orthonormality_error(jnp.eye(2, 5)))
      0.0
    """
    W = _matrix(W)
    k = W.shape[0]
    return jnp.linalg.norm(W @ W.T - jnp.eye(k, dtype=W.dtype))


def _rank_tolerance(W: jax.Array, s: jax.Array) -> jax.Array:
    """Singular values at or below this count as zero: max(k, d) * eps * s_max, as in
    `numpy.linalg.matrix_rank`."""
    return max(W.shape) * jnp.finfo(W.dtype).eps * s[0]


def _row_basis(W: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(Q, r): Q (d, k) has an orthonormal basis of the row space of W (k, d) in its first r
    columns (r = numerical rank, from the SVD) and zeros in the others."""
    _, s, vh = jnp.linalg.svd(_finite_or_zero(W), full_matrices=False)
    keep = s > _rank_tolerance(W, s)  # all False for W = 0
    return vh.T * keep[None, :].astype(W.dtype), jnp.sum(keep)


def _cos_sin(W: jax.Array, components: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cosines and sines of the k principal angles, by ascending angle.

    Only m = min(rank W, rank U) angles exist; the other k - m directions are missing and count
    as orthogonal (cos 0, sin 1). The sines come from the singular values of (I - Q_U Q_U^T) Q_W,
    accurate near angle 0, which are [1 (rank W - m times), sin theta_m .. sin theta_1, 0 ...]
    in descending order.
    """
    k = W.shape[0]
    qw, rank_w = _row_basis(W)
    qu, rank_u = _row_basis(components)
    m = jnp.minimum(rank_w, rank_u)
    i = jnp.arange(k)
    cross = qu.T @ qw
    cos = jnp.linalg.svd(cross, compute_uv=False)  # descending: the m cosines, then zeros
    sin_desc = jnp.linalg.svd(qw - qu @ cross, compute_uv=False)
    sin = sin_desc[jnp.clip(rank_w - 1 - i, 0, k - 1)]
    cos = jnp.where(i < m, cos, 0.0)
    sin = jnp.where(i < m, sin, 1.0)
    return jnp.clip(cos, 0.0, 1.0), jnp.clip(sin, 0.0, 1.0)


def principal_angles(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""The k principal angles (radians, ascending) between the row spaces of W and `components`.

    Uses arccos of the singular values of Q_U^T Q_W for large angles and arcsin of the singular
    values of (I - Q_U Q_U^T) Q_W for small ones, which keeps full precision near 0.

    Rank-deficient input: a row space of dimension r < k has only r directions, so only
    m = min(rank W, rank components) angles exist; the other k - m are pi/2 (a missing
    direction counts as orthogonal to everything). W = 0 gives k angles of pi/2. The rank is
    numerical: singular values at most max(k, d) * eps * s_max count as zero. NaN or inf in the
    input gives NaN angles.

    Args:
      W: (k, d) encoder, k <= d.
      components: (k, d) reference rows (e.g. `pca.fit(X, k).components`).

    Raises:
      ValueError: shapes differ, are not 2-D, or k > d. TypeError: not real.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> W = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # rank 1
      >>> metrics.principal_angles(W, jnp.eye(2, 3)).round(4).tolist()
      [0.0, 1.5708]
    """
    W, components = _pair(W, components)
    cos, sin = _cos_sin(W, components)
    angles = jnp.where(cos**2 < 0.5, jnp.arccos(cos), jnp.arcsin(sin))
    return _nan_unless_finite(angles, W, components)


def subspace_distance(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""Mean of sin^2 over the k principal angles: 1 - tr(P_W P_U) / k.

    Computed as (||(I - Q_U Q_U^T) Q_W||_F^2 + k - rank W) / k, accurate near 0. It is 0 exactly
    when the row spaces of W and the components are the same k-dimensional subspace, 1 when
    they are orthogonal. A rank-deficient W (or components) has missing directions, which count
    as orthogonal (see `principal_angles`): W = 0 is at distance 1, a rank-r W inside the
    reference subspace at (k - r) / k. NaN or inf in the input gives NaN.

    Raises:
      ValueError: shapes differ, are not 2-D, or k > d. TypeError: not real.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> W = jnp.array([[3.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
      >>> float(metrics.subspace_distance(W, jnp.eye(2, 3)))
      0.0
      >>> float(metrics.subspace_distance(W[:1] * jnp.ones((2, 1)), jnp.eye(2, 3)))  # rank 1
      0.5
    """
    W, components = _pair(W, components)
    k = W.shape[0]
    qw, rank_w = _row_basis(W)
    qu, _ = _row_basis(components)
    outside = qw - qu @ (qu.T @ qw)  # the part of W's basis outside the reference subspace
    dist = (jnp.sum(outside**2) + (k - rank_w).astype(W.dtype)) / k
    return _nan_unless_finite(jnp.clip(dist, 0.0, 1.0), W, components)


def condition_number(W: jax.Array) -> jax.Array:
    """s_max / s_min of W over its min(k, d) singular values.

    inf when W is rank-deficient (s_min = 0), W = 0 included; NaN when W holds NaN or inf.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import metrics
      >>> float(metrics.condition_number(jnp.array([[3.0, 0.0], [0.0, 1.0]])))
      3.0
      >>> float(metrics.condition_number(jnp.zeros((2, 3))))
      inf
    """
    W = _matrix(W)
    s = jnp.linalg.svd(_finite_or_zero(W), compute_uv=False)
    cond = jnp.where(s[-1] > 0, s[0] / jnp.where(s[-1] > 0, s[-1], 1.0), jnp.inf)
    return _nan_unless_finite(cond, W)


def axis_alignment(W: jax.Array, components: jax.Array) -> jax.Array:
    r"""Mean over i of `|<w_i, u_i>| / (||w_i|| ||u_i||)`: 1 when row i of W points along
    component i.

    A subspace measure is blind to rotations inside the subspace; this one is not, so it tells
    whether training recovered the ordered principal directions (Bao et al. 2020). For an
    encoder whose decoder is V, pass the decoder's columns as rows (V^T). A zero row (of W or
    of the components) has no direction and contributes 0.

    Raises:
      ValueError: shapes differ or are not 2-D. TypeError: not real.
    """
    W, components = _matrix(W), _matrix(components, "components")
    if W.shape != components.shape:
        raise ValueError(f"W and components must have the same shape (k, d); got {W.shape} "
                         f"and {components.shape}")
    components = components.astype(W.dtype)
    norms = jnp.linalg.norm(W, axis=1) * jnp.linalg.norm(components, axis=1)
    dots = jnp.abs(jnp.sum(W * components, axis=1))
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
