"""Top-k PCA past the d x d wall (`tiedae.linear.subspace`): the theory in float64 against an
exact eigh, the certificate's bounds, memory that never holds d x d, and bad input."""

import tracemalloc

import numpy as np
import pytest
import scipy.linalg

from tiedae.linear import subspace


def _data(n=1500, d=60, k=4, mean=0.0, seed=0, bulk=1.0):
    """Rows with a gapped spectrum: k spikes 40..25 over a bulk of variance `bulk`, rotated."""
    rng = np.random.default_rng(seed)
    scales = np.sqrt(np.r_[np.linspace(40.0, 25.0, k), bulk * np.linspace(1.0, 0.2, d - k)])
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return (rng.normal(size=(n, d)) * scales) @ rotation.T + mean


def _exact(X):
    Xc = X - X.mean(axis=0)
    C = Xc.T @ Xc / len(X)
    lam, U = scipy.linalg.eigh(C)
    return C, lam[::-1], U[:, ::-1]


def _sin_theta(components, U, k):
    """||sin Theta||_F between the rows of `components` and U's first k columns: the norm of
    the rows' part outside them (accurate for tiny angles, unlike sqrt(1 - cos^2))."""
    return float(np.linalg.norm(U[:, k:].T @ components.T))


@pytest.mark.parametrize("mean", [0.0, 1e3])  # algebraic shift / explicit subtraction
@pytest.mark.parametrize("method", ["chebyshev", "power"])
def test_converges_to_the_eigh_subspace_in_float64(mean, method):
    X = _data(mean=mean)
    C, lam, U = _exact(X)
    res = subspace.fit_subspace_iteration(X, 4, tol=1e-13, max_passes=40, filter=method,
                                          chunk_size=256, seed=1)
    assert res.converged and res.n_samples == 1500
    assert _sin_theta(res.components, U, 4) <= 1e-10
    np.testing.assert_allclose(res.explained_variance, lam[:4], rtol=1e-12)
    np.testing.assert_allclose(res.mean, X.mean(axis=0), rtol=1e-12, atol=1e-12 * abs(mean))
    assert res.total_variance == pytest.approx(np.trace(C), rel=1e-12)
    assert res.loss == pytest.approx(np.trace(C) - lam[:4].sum(), rel=1e-9)


@pytest.mark.parametrize("passes", [3, 4, 6])
def test_the_certificate_bounds_the_error_and_is_not_vacuous(passes):
    X = _data(d=80, bulk=4.0, seed=2)
    C, lam, U = _exact(X)
    with pytest.warns(RuntimeWarning, match="did not reach"):
        res = subspace.fit_subspace_iteration(X, 4, tol=0.0, max_passes=passes,
                                              filter="power", oversample=3, seed=0)
    cert, W = res.certificate, res.components
    # the residual is the eigen-residual ||C W^T - W^T (W C W^T)||_F of the answer
    R = C @ W.T - W.T @ (W @ C @ W.T)
    assert cert.residual == pytest.approx(np.linalg.norm(R), rel=1e-9)
    # Ritz values: below the eigenvalues (interlacing), each within ||r_i|| of one of them
    theta = cert.ritz_values
    assert np.all(theta <= lam[: theta.size] + 1e-12 * lam[0])
    for t, r in zip(theta, cert.residual_norms, strict=True):
        assert np.min(np.abs(lam - t)) <= r + 1e-12 * lam[0]
    # the assumption behind `gap` holds here: lambda_{k+1} <= theta_{k+1} + ||r_{k+1}||
    assert lam[4] <= theta[4] + cert.residual_norms[4]
    # Davis-Kahan: the true sin Theta is below the bound, and not far below it
    err = _sin_theta(W, U, 4)
    assert 1e-12 < err <= cert.sin_theta_bound <= 3.0 * err
    assert err <= cert.proven_sin_theta_bound  # inf when the trace gap is not positive


def test_the_proven_gap_bounds_the_error_when_the_tail_is_small():
    X = _data(d=30, bulk=0.05, seed=3)  # tail variance below theta_k: trace_gap > 0
    C, lam, U = _exact(X)
    with pytest.warns(RuntimeWarning):
        res = subspace.fit_subspace_iteration(X, 4, tol=0.0, max_passes=2, oversample=0)
    cert = res.certificate
    assert cert.trace_gap > 0 and np.isnan(cert.gap) and cert.sin_theta_bound == np.inf
    assert cert.trace_gap <= lam[3] - lam[4]
    err = _sin_theta(res.components, U, 4)
    assert 0 < err <= cert.proven_sin_theta_bound < 1.0


def test_float32_rows_give_the_float64_answer_to_float32_accuracy(tmp_path):
    X = _data(n=3000, d=100, mean=5.0).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, X)
    _, lam, U = _exact(X.astype(np.float64))
    res = subspace.fit_subspace_iteration(path, 4, tol=1e-5, seed=0)
    assert res.converged and res.certificate.relative_residual <= 1e-5
    assert _sin_theta(res.components, U, 4) <= 1e-5
    np.testing.assert_allclose(res.explained_variance, lam[:4], rtol=1e-5)


def test_a_function_of_chunks_gives_the_array_answer():
    X = _data()
    res = subspace.fit_subspace_iteration(X, 3, tol=1e-12, seed=0)
    again = subspace.fit_subspace_iteration(lambda: iter(np.array_split(X, 7)), 3, tol=1e-12,
                                            seed=0)
    np.testing.assert_allclose(again.components, res.components, atol=1e-10)
    assert again.n_samples == res.n_samples


def test_memory_stays_d_times_block_never_d_by_d(tmp_path):
    n, d, k = 64, 3000, 2  # a float64 d x d would take 72 MB
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    path = tmp_path / "wide.npy"
    np.save(path, X)
    tracemalloc.start()
    try:
        with pytest.warns(RuntimeWarning):
            res = subspace.fit_subspace_iteration(path, k, tol=0.0, max_passes=3,
                                                  chunk_size=16, oversample=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.components.shape == (k, d)
    block = d * (k + 2) * 8
    assert peak < 30 * block < d * d * 8 / 10  # a few (d, b) blocks and chunks: 2.9 MB here


def test_covariance_times_is_one_exact_pass():
    X = _data(mean=7.0)
    C, _, _ = _exact(X)
    B = np.random.default_rng(1).normal(size=(60, 5))
    prod = subspace.covariance_times(X, B, chunk_size=100)
    np.testing.assert_allclose(prod.CB, C @ B, rtol=1e-11, atol=1e-11 * np.abs(C @ B).max())
    assert prod.n_samples == 1500 and prod.total_variance == pytest.approx(np.trace(C))


def _changing():
    calls = []

    def rows():
        calls.append(1)
        return iter([_data(n=200, seed=len(calls))])

    return rows


@pytest.mark.parametrize(("rows", "kwargs", "error", "match"), [
    (iter([np.ones((5, 3))]), {}, TypeError, "iterator can be read once"),
    (np.ones((10, 3)), {"k": 4}, ValueError, "k must be"),
    (np.ones((3, 6)), {"k": 4}, ValueError, "k must be <= n"),
    (np.ones((1, 6)), {}, ValueError, "at least 2 rows"),
    (np.vstack([np.ones((4, 3)), [[1.0, np.nan, 0.0]]]), {}, ValueError, "row 4"),
    (lambda: iter([np.ones((4, 3)), np.ones((4, 2))]), {}, ValueError, "columns"),
    (np.ones((10, 3)), {"max_passes": 1}, ValueError, "max_passes must be >= 2"),
    (np.ones((10, 3)), {"tol": -1.0}, ValueError, "tol"),
    (np.ones((10, 3)), {"oversample": -1}, ValueError, "oversample"),
    (np.ones((10, 3)), {"filter": "lanczos"}, ValueError, "filter"),
    (np.ones((10, 3)), {"seed": "0"}, TypeError, "seed"),
    (np.ones((10, 3)), {"dtype": np.float16}, ValueError, "dtype"),
    (_changing(), {"k": 2}, ValueError, "changed between passes"),
])
def test_bad_input_gets_a_clear_error(rows, kwargs, error, match):
    kwargs = {"k": 1, **kwargs}
    with pytest.raises(error, match=match):
        subspace.fit_subspace_iteration(rows, **kwargs)


def test_a_bad_file_is_named(tmp_path):
    path = tmp_path / "nan.npy"
    X = np.ones((6, 3))
    X[5, 1] = np.inf
    np.save(path, X)
    with pytest.raises(ValueError, match="nan.npy.*row 5"):
        subspace.fit_subspace_iteration(path, 1)
    with pytest.raises(ValueError, match="B has 4 rows; the data have d=3"):
        subspace.covariance_times(np.ones((5, 3)), np.ones((4, 2)))
