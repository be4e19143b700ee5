r"""The objective `fit` minimises, in parts: a loss of (model, batch) plus a regularizer.

Losses:

* `reconstruction_error(model, x)` = (1/b) sum_i ||x_i - model(x_i)||^2, the squared error summed
  over features and averaged over the rows (the default; on the Eckart--Young scale), by the
  model's own `reconstruction_error` when it has one (a `LinearAE`: closed-form gradient);
  `autodiff_reconstruction_error` always differentiates through `model(x)`.
* `covariance_loss(model, C)`: the same loss of a linear model x_hat = V W x from the covariance
  C alone, tr C - 2 tr(V W C) + tr(V^T V W C W^T), at O(d^2 k) per step (used by the
  `Covariance` data source).

Regularizers (functions of the model; they are pytrees, so their coefficients are arguments of
the compiled step, not constants baked into it):

* `L2(coefficient)`: coefficient * sum_M ||M||_F^2 over the model's weight matrices.
* `NonuniformL2(weights)`: sum_i w_i (||W_i,:||^2 + ||V_:,i||^2), Bao et al. (2020)'s penalty
  that makes the ordered principal directions the unique optimum of a linear autoencoder.

References:
  Kunin, Bloom, Goeva & Seed, "Loss landscapes of regularized linear autoencoders", ICML 2019.
  Bao, Lucas, Sachdeva & Grosse, "Regularized linear autoencoders recover the principal
  components, eventually", NeurIPS 2020.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from tiedae.linear import pca
from tiedae.training.hooks import model_hooks

__all__ = ["L2", "NonuniformL2", "autodiff_reconstruction_error", "binary_cross_entropy",
           "covariance_loss", "reconstruction_error", "weight_matrices"]


def reconstruction_error(model, x: jax.Array) -> jax.Array:
    """Mean over the rows of x of the squared reconstruction error summed over features.

    A model that has its own `model.reconstruction_error(x)` computes it (for x with rows,
    x.ndim >= 2): the same number, by a faster route. A `tiedae.LinearAE` does so with its
    closed-form gradient (`tiedae.linear.closed_form`: two (n, d) x (d, k)-sized products per
    step instead of autodiff's five), so `fit` and `make_train_step` use it by default.
    `autodiff_reconstruction_error` is the plain version.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import tiedae
      >>> model = tiedae.LinearAE(4, 4, rngs=nnx.Rngs(0))
      >>> model.W[...] = jnp.eye(4, dtype=jnp.float32)  # the identity reconstructs exactly
      >>> float(reconstruction_error(model, jnp.ones((3, 4))))
      0.0
    """
    if getattr(x, "ndim", 0) >= 2:
        return model_hooks(model).reconstruction_error(x)
    return autodiff_reconstruction_error(model, x)


def autodiff_reconstruction_error(model, x: jax.Array) -> jax.Array:
    """`reconstruction_error` computed as written, from `model(x)`, whatever the model: its
    gradient is JAX's autodiff through the model (for comparisons and benchmarks).

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import tiedae
      >>> model = tiedae.LinearAE(4, 2, rngs=nnx.Rngs(0))
      >>> x = jnp.arange(12.0, dtype=jnp.float32).reshape(3, 4)
      >>> direct = autodiff_reconstruction_error(model, x)
      >>> bool(jnp.allclose(direct, reconstruction_error(model, x), rtol=1e-5))
      True
    """
    err = model(x).reshape(x.shape) - x
    return jnp.mean(jnp.sum(err.reshape(x.shape[0], -1) ** 2, axis=1))


def binary_cross_entropy(model, x: jax.Array, eps: float = 1e-7) -> jax.Array:
    r"""Mean over the rows of x of the binary cross-entropy summed over features,

    .. math:: -\frac{1}{n}\sum_i \sum_j x_{ij}\log p_{ij} + (1 - x_{ij})\log(1 - p_{ij}),
              \quad p = \mathrm{clip}(\mathrm{model}(x), \epsilon, 1 - \epsilon),

    for targets in [0, 1] and a model whose outputs are probabilities (a sigmoid output
    layer). The clip is Keras's `binary_crossentropy` on probabilities (epsilon 1e-7); Keras
    averages over the features where this sums, which scales the loss by 1/d.

    Example:
      >>> import jax.numpy as jnp
      >>> model = lambda x: jnp.full(x.shape, 0.5)
      >>> round(float(binary_cross_entropy(model, jnp.ones((2, 3)))), 4)  # 3 log 2
      2.0794
    """
    p = jnp.clip(model(x).reshape(x.shape), eps, 1 - eps)
    bce = -(x * jnp.log(p) + (1 - x) * jnp.log1p(-p))
    return jnp.mean(jnp.sum(bce.reshape(x.shape[0], -1), axis=1))


def covariance_loss(model, C: jax.Array) -> jax.Array:
    r"""`reconstruction_error` of a linear model over centred data with covariance C.

    Needs `model.encoder_matrix()` (k, d) and `model.decoder_matrix()` (d, k), as
    `tiedae.LinearAE` has.
    """
    return pca.reconstruction_loss(model.encoder_matrix(), model.decoder_matrix(), C)


def weight_matrices(model) -> list[jax.Array]:
    """The matrices an L2 penalty acts on: `model.weight_matrices()` when the model defines it
    (a tied matrix appears once), else every parameter with two or more dimensions
    (`tiedae.training.ModelHooks`)."""
    return list(model_hooks(model).weight_matrices())


def _concrete(value) -> bool:
    """True for values given by a user (validated), False for what JAX passes when it rebuilds
    the pytree inside a transformation (tracers, placeholders)."""
    return isinstance(value, int | float | list | tuple | np.ndarray | np.generic)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class L2:
    r"""coefficient * sum_M ||M||_F^2 over `weight_matrices(model)`.

    Example:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import tiedae
      >>> model = tiedae.LinearAE(3, 2, rngs=nnx.Rngs(0))
      >>> model.W[...] = jnp.ones((2, 3), jnp.float32)
      >>> float(L2(0.5)(model))
      3.0
    """

    coefficient: jax.Array

    def __post_init__(self):
        if _concrete(self.coefficient):
            c = np.asarray(self.coefficient, np.float64)
            if c.shape != () or not (np.isfinite(c) and c >= 0):
                raise ValueError(f"the L2 coefficient must be a finite number >= 0; got "
                                 f"{self.coefficient!r}")
            object.__setattr__(self, "coefficient", c)

    def __call__(self, model) -> jax.Array:
        total = sum(jnp.sum(w**2) for w in weight_matrices(model))
        return self.coefficient.astype(total.dtype) * total


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class NonuniformL2:
    r"""sum_i w_i (||W_i,:||^2 + ||V_:,i||^2): a separate L2 weight per code unit i.

    With increasing weights w_1 < ... < w_k the only minima of the regularised linear
    autoencoder have V = W^T with the ordered principal directions as rows of W (Bao et al.
    2020). Bao et al.'s weights are r_i^2 with r = linspace(0.1, min(0.1 (d - k - 1), 0.01 d), k)
    (`tiedae.linear.algorithms.bao_penalty_weights`).

    Needs `model.encoder_matrix()` (k, d) and `model.decoder_matrix()` (d, k).
    """

    weights: jax.Array

    def __post_init__(self):
        if _concrete(self.weights):
            w = np.asarray(self.weights, np.float64)
            if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
                raise ValueError("NonuniformL2 weights must be a 1-D array (k,) of finite "
                                 f"non-negative numbers; got {self.weights!r}")
            object.__setattr__(self, "weights", w)

    def __call__(self, model) -> jax.Array:
        W, V = model.encoder_matrix(), model.decoder_matrix()
        if W.shape[0] != self.weights.shape[0]:
            raise ValueError(f"NonuniformL2 has {self.weights.shape[0]} weights for a code of "
                             f"size k={W.shape[0]}")
        per_unit = jnp.sum(W**2, axis=1) + jnp.sum(V**2, axis=0)
        return jnp.sum(self.weights.astype(W.dtype) * per_unit)
