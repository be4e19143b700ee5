r"""Decoders tied to an encoder matrix W: pure `jnp` functions W -> V.

An encoder W of shape (k, d) maps x in R^d to the code z = W x in R^k; a decoder V of shape
(d, k) maps it back, x_hat = V z. A *tied* decoder is a fixed function of W, so W is the only
parameter and gradients flow into it through both the encoder and the decoder.

=================  ================================  ===============================
name               V                                 cost for k << d
=================  ================================  ===============================
``transpose``      W^T                               free
``pinv``           W^+ (Moore--Penrose, via SVD)     O(d k^2) SVD
``right_inverse``  W^T (W W^T + eps I)^{-1}          O(d k^2 + k^3) Cholesky
=================  ================================  ===============================

All three coincide when W has orthonormal rows (W W^T = I_k). `pinv` and `right_inverse`
coincide whenever W has full row rank k and eps = 0.

References:
  Penrose, "A generalized inverse for matrices", Proc. Cambridge Phil. Soc. 51 (1955).
  Golub & Pereyra, "The differentiation of pseudo-inverses and nonlinear least squares
  problems whose variables separate", SIAM J. Numer. Anal. 10 (1973).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from tiedae._validation import check_matrix

__all__ = ["TIED_DECODERS", "pinv", "right_inverse", "tied", "transpose"]


def transpose(W: jax.Array) -> jax.Array:
    r"""The transpose decoder V = W^T.

    It is the least-squares decoder for W exactly when W has orthonormal rows, and training
    a `transpose`-tied linear autoencoder drives W there (see `tiedae.metrics`).

    Args:
      W: encoder matrix, shape (k, d).

    Returns:
      W^T, shape (d, k).

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import decoders
      >>> decoders.transpose(jnp.eye(2, 3)).shape
      (3, 2)
    """
    W = check_matrix(W)
    return W.T


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _pinv(W: jax.Array, rtol: float) -> jax.Array:
    U, s, Vh = jnp.linalg.svd(W, full_matrices=False)
    keep = s > rtol * s[0]
    s_inv = jnp.where(keep, 1.0 / jnp.where(keep, s, 1.0), 0.0)
    return (Vh.T * s_inv[None, :]) @ U.T


@_pinv.defjvp
def _pinv_jvp(rtol, primals, tangents):
    # Golub & Pereyra (1973), valid where the rank is locally constant. Unlike the derivative
    # of the SVD factors, it has no 1/(s_i^2 - s_j^2) terms, so it is finite when singular
    # values repeat (e.g. at W W^T = I, where all of them equal 1).
    (W,), (dW,) = primals, tangents
    P = _pinv(W, rtol)  # (d, k)
    dWt = dW.T  # (d, k)
    k = W.shape[0]
    eye_k = jnp.eye(k, dtype=W.dtype)
    term1 = -P @ (dW @ P)
    term2 = P @ ((P.T @ dWt) @ (eye_k - W @ P))
    term3 = (dWt - P @ (W @ dWt)) @ (P.T @ P)
    return P, term1 + term2 + term3


def pinv(W: jax.Array, rtol: float | None = None) -> jax.Array:
    r"""The Moore--Penrose pseudo-inverse decoder V = W^+, computed from the thin SVD.

    With W = U diag(s) Q^T, W^+ = Q diag(1/s_i if s_i > rtol * s_1 else 0) U^T. It is defined for
    every W, including rank-deficient ones, and satisfies the four Penrose conditions
    W W^+ W = W, W^+ W W^+ = W^+, (W W^+)^T = W W^+ and (W^+ W)^T = W^+ W.

    The derivative is the closed form of Golub & Pereyra (custom JVP), so gradients stay
    finite when singular values repeat; it assumes the rank does not change at W. Because
    W^+ W is the orthogonal projector onto W's row space, a `pinv`-tied autoencoder's loss
    depends on the row space only, and its gradient G satisfies G W^T = 0.

    Args:
      W: encoder matrix, shape (k, d).
      rtol: singular values at or below `rtol * max(s)` are treated as zero, in [0, 1). Default
        `max(k, d) * eps(dtype)`, as in `numpy.linalg.pinv`. W = 0 gives V = 0.

    Returns:
      W^+, shape (d, k).

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import decoders
      >>> W = jnp.array([[2.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
      >>> decoders.pinv(W)[:2].tolist()
      [[0.5, 0.0], [0.0, 0.25]]
    """
    W = check_matrix(W)
    if rtol is None:
        rtol = max(W.shape) * float(jnp.finfo(W.dtype).eps)
    if not _non_negative(rtol, "rtol") < 1.0:
        raise ValueError(f"rtol must be in [0, 1); got {rtol!r}")
    finite = jnp.all(jnp.isfinite(W))
    if _concrete(W) and not bool(finite):
        raise ValueError("W contains NaN or inf; its pseudo-inverse is undefined")
    # LAPACK's SVD can loop forever on inf: factor zeros instead and return NaN (under jit)
    V = _pinv(jnp.where(finite, W, jnp.zeros_like(W)), float(rtol))
    return jnp.where(finite, V, jnp.nan)


def right_inverse(W: jax.Array, eps: float = 0.0) -> jax.Array:
    r"""The right-inverse decoder V = W^T (W W^T + eps I_k)^{-1}, through a Cholesky solve.

    For W of full row rank and eps = 0 it equals `pinv(W)` and W V = I_k. It costs one k x k
    Gram matrix, one Cholesky factorisation and two triangular solves, never an explicit
    inverse, and is cheaper than the SVD behind `pinv`.

    Conditioning: the Gram matrix has condition number cond(W)^2, so the relative error of V
    grows like cond(W)^2 * eps_machine (about 1e-7 * cond(W)^2 in float32). With eps = 0 and a
    (nearly) rank-deficient W (W = 0 included), where cond(W)^2 * eps_machine >= 1, there is
    no accurate right inverse:

    * outside `jax.jit` the function raises ValueError (it checks the singular values of W);
    * inside `jax.jit` (e.g. a training step) it cannot raise: an exactly singular W W^T makes
      the Cholesky factorisation break down and V is NaN (W = 0 gives all NaN), so the loss
      is NaN and `tiedae.fit` stops with `TrainingDiverged`; a nearly singular one gives an
      inaccurate V.

    eps > 0 gives the ridge (Tikhonov) right inverse, which is finite for every W, has norm at
    most 1 / (2 sqrt(eps)), and tends to W^+ as eps -> 0.

    Args:
      W: encoder matrix, shape (k, d).
      eps: non-negative ridge added to the Gram matrix.

    Returns:
      V, shape (d, k).

    Raises:
      ValueError: W is not 2-D, k > d, eps < 0, or (outside jit, eps = 0) W is (nearly)
        rank-deficient or not finite.

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae import decoders
      >>> W = jnp.array([[1.0, 1.0, 0.0]])
      >>> decoders.right_inverse(W).ravel().round(6).tolist()
      [0.5, 0.5, 0.0]
    """
    W = check_matrix(W)
    eps = _non_negative(eps, "eps")
    k, d = W.shape
    if k > d:
        raise ValueError(f"W has k={k} rows but only d={d} columns: W W^T is singular, so W has "
                         "no right inverse (use pinv, or eps > 0)")
    gram = W @ W.T + eps * jnp.eye(k, dtype=W.dtype)
    factor = jsl.cho_factor(gram, lower=True)
    V = jsl.cho_solve(factor, W).T
    if _concrete(W):
        _check_right_inverse(W, V, eps)
    return V


def _non_negative(value, name: str) -> float:
    """`value` as a finite float >= 0, or a ValueError naming `name`."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if isinstance(value, bool) or not 0.0 <= out < float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return out


def _concrete(x) -> bool:
    """Whether `x` is a value (outside `jax.jit`), so data-dependent checks can raise."""
    return not isinstance(x, jax.core.Tracer)


def _check_right_inverse(W: jax.Array, V: jax.Array, eps: float) -> None:
    """Raises ValueError (outside jit) when V is not a meaningful right inverse of W."""
    if not bool(jnp.isfinite(W).all()):
        raise ValueError("W contains NaN or inf; its right inverse is undefined")
    if eps > 0:
        return
    s = jnp.linalg.svd(W, compute_uv=False)
    limit = float(s[0]) * float(jnp.finfo(W.dtype).eps) ** 0.5
    if not float(s[-1]) > limit or not bool(jnp.isfinite(V).all()):
        raise ValueError(
            f"W is (nearly) rank-deficient (singular values {float(s[0]):.3g} .. "
            f"{float(s[-1]):.3g}; cond(W)^2 * eps of {W.dtype} >= 1), so W W^T is singular to "
            "working precision and W has no accurate right inverse: use eps > 0 (ridge) or "
            "pinv (W^+ is defined for every W)")


TIED_DECODERS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "transpose": transpose,
    "pinv": pinv,
    "right_inverse": right_inverse,
}


def tied(name: str) -> Callable[[jax.Array], jax.Array]:
    """Returns the tied decoder function called `name` (a key of `TIED_DECODERS`)."""
    try:
        return TIED_DECODERS[name]
    except KeyError:
        raise ValueError(
            f"unknown tied decoder {name!r}; choose one of {sorted(TIED_DECODERS)}"
        ) from None
