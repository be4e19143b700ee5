r"""What `fit` and its parts use of a model beyond `model(x)`: one `typing.Protocol`.

A model is any `nnx.Module`; with the default loss `model(x)` reconstructs a batch x. A model may
also offer any of the members of `ModelHooks` (a `tiedae.LinearAE` offers them all); `fit` looks
them up once, with `model_hooks(model)`, which returns a `Hooks` object that has every member:
the model's own where it has one, a default where it has none. Nothing else in the training
engine asks a model what it has.

========================  =======================================  ==========================
member                    used for                                 default
========================  =======================================  ==========================
`d`                       checking the data's width                None (not checked)
`use_bias`                refusing the covariance source           False
`reconstruction_error`    the default loss, faster (closed form)   autodiff through model(x)
`weight_matrices`         the matrices `L2` penalises              every Param with ndim >= 2
`default_metrics`         what `fit` logs without `metrics=`       nothing
`divergence_hint`         a cause added to `TrainingDiverged`      none
`encoder_matrix`,         the covariance source and                absent (those refuse the
`decoder_matrix`          `NonuniformL2` (linear models only)      model)
========================  =======================================  ==========================

Example:
  >>> from flax import nnx
  >>> import tiedae
  >>> from tiedae.training import ModelHooks, model_hooks
  >>> linear = model_hooks(tiedae.LinearAE(6, 2, rngs=nnx.Rngs(0)))
  >>> isinstance(linear, ModelHooks), linear.d, linear.linear
  (True, 6, True)
  >>> mlp = model_hooks(tiedae.MLPAE(6, (4, 2), rngs=nnx.Rngs(0)))
  >>> mlp.d, mlp.linear, mlp.default_metrics(None) is None
  (6, False, True)
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np
from flax import nnx

__all__ = ["Hooks", "ModelHooks", "model_hooks"]


@runtime_checkable
class ModelHooks(Protocol):
    """The optional members of a model that `fit` uses (all of them, as `model_hooks` returns).

    A model class implements any subset, with these signatures:

    Attributes:
      d: the number of input features (the data's width is checked against it), or None.
      use_bias: whether the model has biases (the covariance source cannot train them).
    """

    d: int | None
    use_bias: bool

    def reconstruction_error(self, x: jax.Array) -> jax.Array:
        """(1/n) sum_i ||x_i - model(x_i)||^2 over the rows of x (n, ...) (the same number as
        `tiedae.training.autodiff_reconstruction_error`, by a faster route)."""

    def weight_matrices(self) -> list[jax.Array]:
        """The matrices an L2 penalty acts on (a tied matrix once)."""

    def default_metrics(self, reference) -> Callable | None:
        """`metrics(model, loss) -> {name: scalar}` that `fit` logs when given no `metrics=`;
        `reference` is `fit`'s `reference=` (a `pca.fit` result, or None)."""

    def divergence_hint(self) -> str | None:
        """Why training may have diverged, from the current parameters (or None)."""

    def encoder_matrix(self) -> jax.Array:
        """W (k, d) of a linear model x_hat = V W (x - mu)."""

    def decoder_matrix(self) -> jax.Array:
        """V (d, k) of that linear model."""


def _autodiff_error(model, x):
    from tiedae.training.objectives import autodiff_reconstruction_error

    return autodiff_reconstruction_error(model, x)


def _all_matrices(model) -> list[jax.Array]:
    return [v[...] for _, v in nnx.iter_graph(model) if isinstance(v, nnx.Param) and v.ndim >= 2]


def _no_metrics(model_name: str) -> Callable:
    def default_metrics(reference):
        if reference is not None:
            raise ValueError(f"reference metrics need a model with default_metrics() (a "
                             f"LinearAE); {model_name} has none: pass metrics= instead")
        return None

    return default_metrics


def _missing(model_name: str, name: str) -> Callable:
    def missing():
        raise TypeError(f"{model_name} has no {name}() (a linear model's; a LinearAE has it)")

    return missing


@dataclasses.dataclass(frozen=True)
class Hooks:
    """A model's `ModelHooks`, complete: its own members, defaults for the others (see the
    module docstring). `linear` tells whether the model has its own `encoder_matrix` and
    `decoder_matrix`; `own` names the members the model has."""

    model_name: str
    d: int | None
    use_bias: bool
    reconstruction_error: Callable[[jax.Array], jax.Array]
    weight_matrices: Callable[[], list]
    default_metrics: Callable[[Any], Callable | None]
    divergence_hint: Callable[[], str | None]
    encoder_matrix: Callable[[], jax.Array]
    decoder_matrix: Callable[[], jax.Array]
    linear: bool
    own: frozenset[str]


_METHODS = ("reconstruction_error", "weight_matrices", "default_metrics", "divergence_hint",
            "encoder_matrix", "decoder_matrix")


def model_hooks(model) -> Hooks:
    """The `Hooks` of `model`: one look-up of each `ModelHooks` member (see the module
    docstring for the defaults).

    Raises:
      TypeError: a member the model has is not what `ModelHooks` says (a method that is not
        callable, `d` that is not a positive int, `use_bias` that is not a bool).
    """
    name = type(model).__name__
    found = {m: getattr(model, m, None) for m in _METHODS}
    for method, value in found.items():
        if value is not None and not callable(value):
            raise TypeError(f"{name}.{method} must be a method (see "
                            f"tiedae.training.ModelHooks); got {type(value).__name__}")
    d = getattr(model, "d", None)  # numpy integers and booleans count as Python's
    if d is not None and (isinstance(d, bool | np.bool_) or not isinstance(d, numbers.Integral)
                          or d < 1):
        raise TypeError(f"{name}.d must be the number of input features (an int >= 1) or None "
                        f"(see tiedae.training.ModelHooks); got {d!r}")
    use_bias = getattr(model, "use_bias", False)
    if not isinstance(use_bias, bool | np.bool_):
        raise TypeError(f"{name}.use_bias must be a bool (see tiedae.training.ModelHooks); got "
                        f"{use_bias!r}")
    d, use_bias = None if d is None else int(d), bool(use_bias)
    own = frozenset(m for m, v in found.items() if v is not None)
    own |= {m for m in ("d", "use_bias") if hasattr(model, m)}

    def pick(method, default):
        return found[method] if found[method] is not None else default

    return Hooks(
        model_name=name, d=d, use_bias=use_bias,
        reconstruction_error=pick("reconstruction_error",
                                  lambda x: _autodiff_error(model, x)),
        weight_matrices=pick("weight_matrices", lambda: _all_matrices(model)),
        default_metrics=pick("default_metrics", _no_metrics(name)),
        divergence_hint=pick("divergence_hint", lambda: None),
        encoder_matrix=pick("encoder_matrix", _missing(name, "encoder_matrix")),
        decoder_matrix=pick("decoder_matrix", _missing(name, "decoder_matrix")),
        linear=found["encoder_matrix"] is not None and found["decoder_matrix"] is not None,
        own=own)
