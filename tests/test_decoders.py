"""Tied decoders: algebraic identities, Penrose conditions and gradients, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from tiedae import decoders


def _random(rng, k, d):
    return jnp.asarray(rng.standard_normal((k, d)))


def _orthonormal_rows(rng, k, d):
    q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return jnp.asarray(q.T)


@pytest.mark.parametrize("shape", [(1, 5), (3, 10), (8, 8)])
def test_pinv_equals_right_inverse_for_full_row_rank(rng, shape):
    W = _random(rng, *shape)
    pinv, right = jax.jit(decoders.pinv)(W), jax.jit(decoders.right_inverse)(W)
    np.testing.assert_allclose(pinv, right, atol=1e-10, rtol=0)
    np.testing.assert_allclose(pinv, np.linalg.pinv(np.asarray(W)), atol=1e-10, rtol=0)
    np.testing.assert_allclose(W @ right, np.eye(shape[0]), atol=1e-10)


def test_transpose_is_the_inverse_exactly_for_orthonormal_rows(rng):
    W = _orthonormal_rows(rng, 4, 12)
    np.testing.assert_allclose(decoders.transpose(W), decoders.pinv(W), atol=1e-12)
    np.testing.assert_allclose(decoders.transpose(W), decoders.right_inverse(W), atol=1e-12)
    W2 = 2.0 * W  # same row space, rows no longer unit norm
    assert np.abs(decoders.transpose(W2) - decoders.pinv(W2)).max() > 1.0
    Wr = _random(rng, 4, 12)
    assert np.abs(decoders.transpose(Wr) - decoders.pinv(Wr)).max() > 0.1


def test_pinv_of_rank_deficient_matrix_satisfies_penrose_conditions(rng):
    A = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 9))  # rank 2, k=5
    W = jnp.asarray(A)
    Wp = jax.jit(decoders.pinv)(W)
    assert np.isfinite(Wp).all()
    np.testing.assert_allclose(W @ Wp @ W, W, atol=1e-10)
    np.testing.assert_allclose(Wp @ W @ Wp, Wp, atol=1e-10)
    np.testing.assert_allclose((W @ Wp).T, W @ Wp, atol=1e-10)
    np.testing.assert_allclose((Wp @ W).T, Wp @ W, atol=1e-10)
    np.testing.assert_allclose(Wp, np.linalg.pinv(A), atol=1e-10)


@pytest.mark.parametrize("name", ["transpose", "pinv", "right_inverse"])
def test_check_grads_on_well_conditioned_w(rng, name):
    W = jnp.eye(3, 7) * 2.0 + 0.3 * _random(rng, 3, 7)
    fn = decoders.tied(name)
    check_grads(lambda w: jnp.sum(jnp.sin(fn(w))), (W,), order=1, modes=["fwd", "rev"])
    check_grads(fn, (W,), order=1, modes=["fwd", "rev"], atol=1e-6, rtol=1e-6)


def test_pinv_gradient_finite_and_correct_with_repeated_singular_values(rng):
    W = _orthonormal_rows(rng, 4, 9)  # all singular values equal 1
    loss = lambda w: jnp.sum(decoders.pinv(w) ** 3)  # noqa: E731
    g = jax.jit(jax.grad(loss))(W)
    assert np.isfinite(g).all()
    check_grads(loss, (W,), order=1, modes=["fwd", "rev"])
    # Agrees with JAX's own pseudo-inverse rule, which is also written in closed form.
    np.testing.assert_allclose(g, jax.grad(lambda w: jnp.sum(jnp.linalg.pinv(w) ** 3))(W),
                               atol=1e-8)


def test_registry_and_errors():
    assert set(decoders.TIED_DECODERS) == {"transpose", "pinv", "right_inverse"}
    with pytest.raises(ValueError, match="unknown tied decoder 'inverse'"):
        decoders.tied("inverse")
    with pytest.raises(ValueError, match="2-D"):
        decoders.pinv(jnp.ones(3))
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        decoders.right_inverse(jnp.eye(2, 3), eps=-1.0)


def test_ridge_right_inverse_stays_finite_and_tends_to_pinv(rng):
    W = jnp.asarray(rng.standard_normal((2, 1)) @ rng.standard_normal((1, 6)))  # rank 1
    for eps in (1e-2, 1e-4, 1e-6):
        V = decoders.right_inverse(W, eps=eps)
        assert np.isfinite(V).all()
        assert np.linalg.norm(V, 2) <= 1.0 / (2.0 * eps**0.5) + 1e-9
    np.testing.assert_allclose(decoders.right_inverse(W, eps=1e-10), decoders.pinv(W), atol=1e-4)


def test_right_inverse_of_a_rank_deficient_w_raises_outside_jit_and_is_nan_inside():
    for W in (jnp.zeros((2, 5)), jnp.ones((2, 1)) @ jnp.arange(1.0, 6.0)[None, :]):
        with pytest.raises(ValueError, match="rank-deficient"):
            decoders.right_inverse(W)
        assert np.isnan(jax.jit(decoders.right_inverse)(W)).all()  # Cholesky breaks down
        V = jax.jit(decoders.pinv)(W)  # the pseudo-inverse is defined for every W
        np.testing.assert_allclose(V, np.linalg.pinv(np.asarray(W)), atol=1e-12)
    assert not np.asarray(decoders.pinv(jnp.zeros((2, 5)))).any()  # 0^+ = 0
    inf = jnp.eye(2, 5).at[0, 0].set(jnp.inf)  # LAPACK's SVD alone would never return on it
    assert np.isnan(jax.jit(decoders.pinv)(inf)).all()
    with pytest.raises(ValueError, match="NaN or inf"):
        decoders.pinv(inf)
    # nearly rank-deficient: float32 with cond(W)^2 eps >= 1 has no accurate right inverse
    W = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1e-4, 0.0]], jnp.float32)
    with pytest.raises(ValueError, match="rank-deficient"):
        decoders.right_inverse(W)
    np.testing.assert_allclose(decoders.right_inverse(W.astype(jnp.float64)),
                               np.linalg.pinv(np.asarray(W, np.float64)), rtol=1e-10)
