"""Pieces the nonlinear models share: activations, width checks, initialisers, parameter counts.

Example:
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.nonlinear import layers
  >>> layers.check_widths([100, 25, 2], "encoder_widths")
  (100, 25, 2)
  >>> tied = tiedae.MLPAE(8, (4, 2), decoder="tied", rngs=nnx.Rngs(0))
  >>> layers.count_params(tied)  # W_1 (8x4), W_2 (4x2) once, biases 4 + 2 + 4 + 8
  58
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tiedae._validation import check_positive_int

__all__ = ["ACTIVATIONS", "activation", "check_widths", "count_params", "lecun_normal", "normal"]

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "identity": lambda x: x,
}


def activation(name, what: str = "activation"):
    """The function named `name` in `ACTIVATIONS`, `name` itself if callable, identity for None."""
    if name is None:
        return ACTIVATIONS["identity"]
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown {what} {name!r}; choose one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def check_widths(widths, name: str) -> tuple[int, ...]:
    """`widths` as a tuple of positive ints, or a TypeError/ValueError naming `name`."""
    if isinstance(widths, str) or not hasattr(widths, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive ints; got {widths!r}")
    try:
        return tuple(check_positive_int(w, f"each of {name}") for w in widths)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must hold positive ints; got {widths!r}") from err


def normal(key, shape, std, dtype) -> jax.Array:
    """N(0, std^2) array drawn by numpy from a generator seeded with the JAX key's bits.

    Deterministic in `key` like `jax.random.normal`, but needs no XLA compilation per shape
    (which dominates the cost of building many small models on CPU).
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    rng = np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())
    return jnp.asarray(rng.standard_normal(shape) * float(std), dtype)


def lecun_normal(key, shape, dtype) -> jax.Array:
    """LeCun-normal (fan-in) weights: N(0, 1 / shape[0]); the scale is a Python float."""
    return normal(key, shape, 1.0 / float(shape[0]) ** 0.5, dtype)


def count_params(model: nnx.Module) -> int:
    """Number of scalar parameters; a tied `nnx.Param` used twice counts once."""
    state = nnx.state(model, nnx.Param)
    return int(sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(state)))
