"""PCA reference, optimal decoder and subspace metrics against closed forms (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.decomposition import PCA

from tiedae import data, decoders, metrics, pca


def test_optimal_loss_matches_sklearn_on_digits():
    X = data.digits().astype(np.float64)
    for k in (2, 10, 30):
        res = pca.fit(X, k)
        skl = PCA(n_components=k, svd_solver="full").fit(X)
        recon = skl.inverse_transform(skl.transform(X))
        sk_loss = np.mean(np.sum((X - recon) ** 2, axis=1))
        assert abs(res.optimal_loss - sk_loss) <= 1e-10 * sk_loss
        np.testing.assert_allclose(res.components @ res.components.T, np.eye(k), atol=1e-12)
        np.testing.assert_allclose(np.abs(res.components @ skl.components_.T), np.eye(k),
                                   atol=1e-8)


def test_thin_svd_branch_when_n_smaller_than_d(rng):
    X = rng.standard_normal((15, 40))
    res = pca.fit(X, 5)
    Xc = X - X.mean(0)
    ev = np.sort(np.linalg.eigvalsh(Xc.T @ Xc / 15))[::-1]
    np.testing.assert_allclose(res.eigenvalues, np.clip(ev, 0, None), atol=1e-10)
    assert res.optimal_loss == pytest.approx(ev[5:].sum(), abs=1e-10)


def test_covariance_in_chunks_of_a_memmap(tmp_path, rng):
    X = rng.standard_normal((1003, 7)) + 3.0
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mean, C = pca.covariance(mm, chunk_size=100)
    X32 = X.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mean, X32.mean(0), atol=1e-12)
    np.testing.assert_allclose(C, np.cov(X32, rowvar=False, bias=True), atol=1e-10)


def test_reconstruction_loss_from_covariance_equals_direct_loss(rng):
    X = rng.standard_normal((200, 9))
    Xc = X - X.mean(0)
    C = Xc.T @ Xc / 200
    W, V = rng.standard_normal((3, 9)), rng.standard_normal((9, 3))
    direct = np.mean(np.sum((Xc - Xc @ W.T @ V.T) ** 2, axis=1))
    assert float(jax.jit(pca.reconstruction_loss)(W, V, C)) == pytest.approx(direct, rel=1e-12)


def test_optimal_decoder_beats_pinv_and_coincides_at_the_pca_optimum():
    ds = data.spiked_covariance(4000, 12, k=3, gap=3.0, seed=1)
    res = pca.fit(ds.X, 3)
    Xc = ds.X - res.mean
    C = jnp.asarray(Xc.T @ Xc / Xc.shape[0])
    W = jnp.asarray(np.random.default_rng(2).standard_normal((3, 12)))
    best = jax.jit(pca.optimal_decoder)(W, C)
    loss = jax.jit(pca.reconstruction_loss)
    assert float(loss(W, best, C)) < float(loss(W, decoders.pinv(W), C)) - 1e-3
    grad_v = jax.grad(loss, argnums=1)(W, best, C)  # the least-squares decoder is stationary
    assert float(jnp.abs(grad_v).max()) < 1e-10
    # At the optimum (any invertible mixing of the top components) they agree.
    Wopt = jnp.asarray(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
                       @ res.components)
    np.testing.assert_allclose(pca.optimal_decoder(Wopt, C), decoders.pinv(Wopt), atol=1e-10)
    assert float(loss(Wopt, decoders.pinv(Wopt), C)) == pytest.approx(res.optimal_loss,
                                                                       rel=1e-10)


def test_subspace_metrics_closed_forms():
    theta = np.array([1e-6, 0.3, 1.2])
    d = 8
    U = np.eye(3, d)
    W = np.zeros((3, d))
    for i, t in enumerate(theta):  # rotate axis i towards axis 3 + i by theta_i
        W[i, i], W[i, 3 + i] = np.cos(t), np.sin(t)
    W = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]]) @ W  # same row space
    angles = jax.jit(metrics.principal_angles)(jnp.asarray(W), jnp.asarray(U))
    np.testing.assert_allclose(angles, theta, rtol=1e-8, atol=1e-15)
    dist = jax.jit(metrics.subspace_distance)(jnp.asarray(W), jnp.asarray(U))
    assert float(dist) == pytest.approx(np.mean(np.sin(theta) ** 2), rel=1e-10)
    assert float(metrics.subspace_distance(jnp.eye(2, d), jnp.eye(2, d)[::-1])) == 0.0
    orth = jnp.eye(2, d)[:, ::-1]
    assert float(metrics.subspace_distance(jnp.eye(2, d), orth)) == pytest.approx(1.0)


def test_orthonormality_condition_and_alignment():
    W = jnp.asarray([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert float(metrics.orthonormality_error(W)) == pytest.approx(8.0)
    assert float(metrics.condition_number(W)) == pytest.approx(3.0)
    U = jnp.eye(2, 3)
    assert float(metrics.axis_alignment(W, U)) == pytest.approx(1.0)
    assert float(metrics.axis_alignment(W[::-1], U)) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("X", "k", "error", "match"),
    [
        (np.full((5, 3), np.nan), 1, ValueError, "non-finite"),
        (np.ones(5), 1, ValueError, "2-D"),
        (np.ones((1, 3)), 1, ValueError, "at least 2 samples"),
        (np.ones((5, 3)), 0, ValueError, "k must be >= 1"),
        (np.ones((5, 3)), 4, ValueError, "k must be <= d"),
        (np.array([["a", "b"], ["c", "d"]]), 1, TypeError, "real numbers"),
        (np.ones((5, 3)), 1.5, TypeError, "k must be a positive integer"),
    ],
)
def test_pca_fit_rejects_bad_input(X, k, error, match):
    with pytest.raises(error, match=match):
        pca.fit(X, k)


def test_covariance_keeps_its_digits_under_a_large_mean(rng):
    X = rng.standard_normal((1000, 3)) * [0.9, 2.0, 0.1]
    mean, C = pca.covariance(X + 1e8, chunk_size=128)
    np.testing.assert_allclose(C, np.cov(X, rowvar=False, bias=True), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mean, X.mean(0) + 1e8, rtol=1e-15)


def test_more_bad_input_is_named():
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        pca.covariance(np.ones((5, 2)), chunk_size=-1)
    with pytest.raises(ValueError, match="k must be <= n"):
        pca.fit(np.random.default_rng(0).random((5, 10)), 8)
    with pytest.raises(ValueError, match="W C W\\^T is singular"):
        pca.optimal_decoder(jnp.ones((2, 4)), jnp.eye(4))
    with pytest.raises(ValueError, match="gap must be finite"):
        data.spiked_covariance(10, 4, k=1, gap=np.inf)
    with pytest.raises(ValueError, match="same shape"):
        metrics.subspace_distance(jnp.ones((3, 4)), jnp.eye(2, 4))


def test_metrics_define_rank_deficient_encoders():
    d, k = 7, 3
    U = jnp.eye(k, d)
    rng = np.random.default_rng(3)
    for r in range(k + 1):  # a rank-r W inside span(U): r directions found, k - r missing
        W = jnp.asarray(rng.standard_normal((k, r)) @ np.eye(r, d))
        for fn in (metrics.subspace_distance, jax.jit(metrics.subspace_distance)):
            assert float(fn(W, U)) == pytest.approx((k - r) / k, abs=1e-15)
        angles = jax.jit(metrics.principal_angles)(W, U)
        np.testing.assert_allclose(angles, [0.0] * r + [np.pi / 2] * (k - r), atol=1e-7)
    # the other way round: a full W against rank-deficient components
    assert float(metrics.subspace_distance(U, U.at[2].set(0.0))) == pytest.approx(1 / 3)
    # NaN or inf never passes for a finite-looking value
    bad = jnp.full((k, d), jnp.nan)
    for fn in (metrics.subspace_distance, metrics.condition_number):
        args = (bad, U) if fn is metrics.subspace_distance else (bad,)
        assert np.isnan(float(jax.jit(fn)(*args)))
    assert np.isnan(metrics.principal_angles(U.at[0, 0].set(jnp.inf), U)).all()
    assert float(metrics.orthonormality_error(jnp.zeros((k, d)))) == pytest.approx(np.sqrt(k))
    assert float(metrics.axis_alignment(jnp.zeros((k, d)), U)) == 0.0


def test_near_zero_accuracy_holds_for_ill_conditioned_full_rank_w():
    theta = 1e-7
    W = np.zeros((2, 5))
    W[0, 0] = 1.0
    W[1, 1], W[1, 2] = np.cos(theta), np.sin(theta)
    W = np.array([[1.0, 0.0], [1.0, 1e-6]]) @ W  # cond ~ 2e6, same row space
    dist = float(jax.jit(metrics.subspace_distance)(jnp.asarray(W), jnp.eye(2, 5)))
    assert dist == pytest.approx(np.sin(theta) ** 2 / 2, rel=1e-4)
