r"""The reconstruction error of a linear autoencoder with its exact gradient in closed form.

A linear autoencoder reconstructs x_hat = mu + c + V W (x - mu): encoder W (k, d), decoder V
(d, k), data mean mu (d,), and c = b_d + V b_e (d,), the constant its biases add (c = 0 without
biases). Over a batch X (n, d), with Xc = X - mu (n, d) and 1 the vector of n ones, the loss is

    L(W, V, c) = (1/n) ||Xc - Xc W^T V^T - 1 c^T||_F^2.

With S = Xc^T Xc (d, d; never formed), Z = Xc W^T (n, k), A = Z^T Xc = W S (k, d),
G = Z^T Z = A W^T (k, k), s = Xc^T 1 (d,) and u = Z^T 1 = W s (k,), expanding the square gives

    n L = ||Xc||_F^2 - 2 tr(A V) + tr(G V^T V) + n c^T c - 2 s^T c + 2 u^T V^T c,

and, for W, V and c taken as independent,

    n dL/dW = 2 V^T V A - 2 B + 2 (V^T c) s^T,      B = V^T S = (Xc V)^T Xc,
    n dL/dV = 2 V G - 2 A^T + 2 c u^T,
    n dL/dc = 2 n c - 2 s + 2 V u.

Everything except B comes from the two (n, d) x (d, k)-sized products Z and A: 4 n d k FLOPs,
where automatic differentiation through x_hat takes five (two forward, three backward:
10 n d k). The rest is O(n d) (||Xc||^2, s) and O(d k^2).

**Tied decoders.** `transpose`, `pinv` and `right_inverse` all have their columns in W's row
space, V^T = N W with a k x k matrix N, so B = N A costs O(d k^2) and the whole step stays at
4 n d k: N = I for V = W^T, N = (W W^T + eps I)^{-1} for the right inverse, and N = V^T V =
(W W^T)^+ for V = W^+ (from W^+ = W^T (W W^T)^+). The gradient of W as a tied parameter is
dL/dW + J_f(W)^T [dL/dV] for V = f(W); `LinearAE.reconstruction_error` leaves that chain rule to
JAX's autodiff of f, at O(d k^2). For the transpose decoder without biases (V = W^T, c = 0):

    L = (1/n) (||Xc||^2 - 2 tr G + tr(G W W^T)),
    dL/dW = (2/n) [G W - 2 A + W W^T A].

For `pinv` (W of full row rank, no biases) V W = P = W^T K^{-1} W, K = W W^T, is the orthogonal
projector on W's row space, and the same formulas reduce to the projector form

    L = (1/n) (||Xc||^2 - tr(K^{-1} G)),    dL/dW = -(2/n) K^{-1} (A - G K^{-1} W),

whose rows are orthogonal to W's (dL/dW W^T = 0): the loss depends on the row space only.

**Free decoder.** B needs its own pass over the data: [A; B] = (Xc M^T)^T Xc with M = [W; V^T]
(2k, d), 8 n d k FLOPs instead of 10 n d k.

The gradients with respect to mu and X are exact too (they are O(n d k) and computed only when
asked for): dL/dmu = -(2/n) (rho - W^T V^T rho) with rho = s - V u - n c = R^T 1, and
dL/dX = (2/n) (R - R V W) with R = Xc - Z V^T - 1 c^T the residual.

Precision: the value is a difference of terms of size ||Xc||^2, so its absolute round-off is
about eps ||Xc||^2 (eps: the dtype's machine epsilon) where the residual form has
eps ||Xc|| ||R||; in float32 a loss below about 1e-6 ||Xc||^2 / n is round-off. The gradient's
round-off is of the same order as autodiff's.

References:
  Baldi & Hornik, "Neural networks and principal component analysis: learning from examples
  without local minima", Neural Networks 2 (1989) (the loss as a trace of the covariance).
  Golub & Pereyra, "The differentiation of pseudo-inverses and nonlinear least squares
  problems whose variables separate", SIAM J. Numer. Anal. 10 (1973) (the projector's
  derivative).
  Petersen & Pedersen, "The Matrix Cookbook" (2012), sections 2.4-2.5 (trace derivatives).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

__all__ = ["reconstruction_error", "row_space_coefficients", "step_flops"]


class _Statistics(NamedTuple):
    Z: jax.Array  # Xc W^T (n, k)
    A: jax.Array  # Z^T Xc = W S (k, d)
    G: jax.Array  # Z^T Z (k, k)
    s: jax.Array  # Xc^T 1 (d,)
    u: jax.Array  # W s (k,)
    sq: jax.Array  # ||Xc||_F^2


def _products(M: jax.Array, mean: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(Xc M^T, (Xc M^T)^T Xc) without forming Xc = x - mean: the mean enters as rank-one
    corrections (O(n m + m d)), as `LinearAE.encode` does."""
    Z = x @ M.T - (mean @ M.T)[None, :]
    return Z, Z.T @ x - jnp.outer(jnp.sum(Z, axis=0), mean)


def _statistics(W, mean, x, Z, A) -> _Statistics:
    centred = x - mean[None, :]  # fused into the reductions below, not stored
    s = jnp.sum(centred, axis=0)
    sq = jnp.sum(centred * centred)
    if x.shape[0] <= x.shape[1]:
        G = Z.T @ Z  # O(n k^2)
    else:
        AWt = A @ W.T  # O(d k^2), = Z^T Z
        G = 0.5 * (AWt + AWt.T)
    return _Statistics(Z, A, G, s, W @ s, sq)


def _times_n_loss(st: _Statistics, V: jax.Array, c: jax.Array | None, n: int) -> jax.Array:
    out = st.sq - 2.0 * jnp.vdot(st.A, V.T) + jnp.vdot(st.G, V.T @ V)
    if c is not None:
        out = out + n * jnp.vdot(c, c) - 2.0 * jnp.vdot(st.s, c) + 2.0 * jnp.vdot(st.u, V.T @ c)
    return out


@jax.custom_vjp
def _loss(W, V, c, mean, x, N):
    Z, A = _products(W, mean, x)
    return _times_n_loss(_statistics(W, mean, x, Z, A), V, c, x.shape[0]) / x.shape[0]


def _loss_fwd(W, V, c, mean, x, N):
    k = W.shape[0]
    if N is None:  # free decoder: B = V^T S from the data, jointly with A
        ZY, AB = _products(jnp.concatenate([W, V.T], axis=0), mean, x)
        Z, A, B = ZY[:, :k], AB[:k], AB[k:]
    else:  # V^T = N W
        Z, A = _products(W, mean, x)
        B = N @ A
    st = _statistics(W, mean, x, Z, A)
    loss = _times_n_loss(st, V, c, x.shape[0]) / x.shape[0]
    return loss, (W, V, c, mean, x, st, B)


def _loss_bwd(res, g):
    W, V, c, mean, x, st, B = res
    n = x.shape[0]
    scale = 2.0 * g / n
    grad_W = (V.T @ V) @ st.A - B  # O(d k^2)
    grad_V = V @ st.G - st.A.T
    rho = st.s - V @ st.u  # R^T 1
    grad_c = None
    if c is not None:
        grad_W = grad_W + jnp.outer(V.T @ c, st.s)
        grad_V = grad_V + jnp.outer(c, st.u)
        grad_c = scale * (n * c - rho)
        rho = rho - n * c
    grad_mean = -scale * (rho - W.T @ (V.T @ rho))
    R = x - mean[None, :] - st.Z @ V.T  # only evaluated when dL/dX is used
    if c is not None:
        R = R - c[None, :]
    grad_x = scale * (R - (R @ V) @ W)
    return scale * grad_W, scale * grad_V, grad_c, grad_mean, grad_x, None


_loss.defvjp(_loss_fwd, _loss_bwd)


def _check_shape(a, shape, name):
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {a.shape}")


def reconstruction_error(
    W: jax.Array,
    V: jax.Array,
    mean: jax.Array,
    x: jax.Array,
    *,
    offset: jax.Array | None = None,
    coefficients: jax.Array | None = None,
) -> jax.Array:
    r"""(1/n) sum_i ||x_i - mu - c - V W (x_i - mu)||^2 over the rows of x, and its exact
    gradient (a `jax.custom_vjp`) from two (n, d) x (d, k)-sized products.

    See the module docstring for the formulas. The gradients with respect to W, V, offset,
    mean and x are all exact; with respect to `coefficients` it is zero (the value does not
    depend on it).

    Args:
      W: encoder (k, d).
      V: decoder (d, k); for a tied decoder, pass it as a function of W (e.g. `W.T`) so that
        autodiff adds the decoder's path to W's gradient.
      mean: mu (d,), subtracted from the rows before encoding and added back after decoding.
      x: a batch of rows (n, d).
      offset: c = b_d + V b_e (d,), the constant the biases add to the reconstruction, or None.
      coefficients: N (k, k) with V^T = N W when V lies in W's row space (every tied decoder:
        see `row_space_coefficients`), or None for a free decoder. The backward pass then
        needs no further pass over x. A wrong N gives a wrong gradient: it is not checked.

    Returns:
      The scalar loss, in the common dtype of the inputs.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> x = jax.random.normal(jax.random.key(0), (50, 5))
      >>> W = jax.random.normal(jax.random.key(1), (2, 5))
      >>> mean, xc = x.mean(0), x - x.mean(0, keepdims=True)
      >>> loss = lambda W: reconstruction_error(W, W.T, mean, x, coefficients=jnp.eye(2))
      >>> direct = lambda W: jnp.mean(jnp.sum((xc @ W.T @ W - xc) ** 2, axis=1))
      >>> bool(jnp.allclose(jax.grad(loss)(W), jax.grad(direct)(W), rtol=1e-4))
      True
    """
    W, V, mean, x = (jnp.asarray(a) for a in (W, V, mean, x))
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D matrix (k, d); got shape {W.shape}")
    k, d = W.shape
    _check_shape(V, (d, k), "V")
    _check_shape(mean, (d,), "mean")
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (n, {d}); got {x.shape}")
    parts = [W, V, mean, x]
    if offset is not None:
        offset = jnp.asarray(offset)
        _check_shape(offset, (d,), "offset")
        parts.append(offset)
    if coefficients is not None:
        coefficients = jnp.asarray(coefficients)
        _check_shape(coefficients, (k, k), "coefficients")
    dtype = jnp.result_type(*parts)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"W, V, mean and x must be floating point; got {dtype}")
    cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    return _loss(*(cast(a) for a in (W, V, offset, mean, x, coefficients)))


def row_space_coefficients(decoder: str, W: jax.Array, V: jax.Array,
                           eps: float = 0.0) -> jax.Array:
    r"""N (k, k) with V^T = N W for the tied decoder V = f(W) called `decoder`.

    N = I for "transpose", (W W^T)^+ = V^T V for "pinv" (V = W^+ = W^T (W W^T)^+), and
    (W W^T + eps I)^{-1} for "right_inverse". It is a constant of the gradient (stop_gradient).

    Example:
      >>> import jax.numpy as jnp
      >>> from tiedae.linear import decoders
      >>> W = jnp.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
      >>> V = decoders.pinv(W)
      >>> bool(jnp.allclose(V.T, row_space_coefficients("pinv", W, V) @ W, atol=1e-6))
      True
    """
    k = W.shape[0]
    if decoder == "transpose":
        return jnp.eye(k, dtype=W.dtype)
    if decoder == "pinv":
        return jax.lax.stop_gradient(V.T @ V)
    if decoder == "right_inverse":
        gram = W @ W.T + eps * jnp.eye(k, dtype=W.dtype)
        factor = jsl.cho_factor(jax.lax.stop_gradient(gram), lower=True)
        return jsl.cho_solve(factor, jnp.eye(k, dtype=W.dtype))
    raise ValueError(f"{decoder!r} is not a tied decoder in W's row space; choose transpose, "
                     "pinv or right_inverse")


def step_flops(n: int, d: int, k: int, *, free_decoder: bool = False) -> float:
    """Nominal FLOPs of one closed-form gradient step: the n-sized products only, 4 n d k
    (8 n d k for a free decoder); the O(n d) and O(d k^2) terms are not counted. Autodiff
    through the reconstruction takes 10 n d k.

    Example:
      >>> step_flops(4096, 784, 64) / (10 * 4096 * 784 * 64)
      0.4
    """
    return (8.0 if free_decoder else 4.0) * n * d * k
