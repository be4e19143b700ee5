r"""PCA, the analytic optimum of the linear autoencoder, computed in float64 with scipy.

For centred data X (n x d) with covariance C = X^T X / n, every linear autoencoder
x_hat = V W x with a k-dimensional code has loss

    L(W, V) = (1/n) sum_i ||x_i - V W x_i||^2 = tr C - 2 tr(V W C) + tr(V^T V W C W^T)
            >= sum_{i > k} lambda_i(C),

with equality iff V W is the orthogonal projector onto the top-k eigenvectors (Eckart--Young;
Baldi & Hornik). `fit` returns that minimum as `optimal_loss`, so training curves can be
reported as a gap to it.

References:
  Eckart & Young, "The approximation of one matrix by another of lower rank",
  Psychometrika 1 (1936).
  Baldi & Hornik, "Neural networks and principal component analysis: learning from examples
  without local minima", Neural Networks 2 (1989).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from tiedae._validation import check_data, check_matrix, check_positive_int, check_rank
from tiedae.data import chunks
from tiedae.data.moments import (  # re-exported: the streaming pass lives on the data floor
    DEFAULT_CHUNK_ROWS,
    OVERFLOW,
    CovarianceAccumulator,
    Moments,
    moments,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "CovarianceAccumulator",
    "Moments",
    "PCAResult",
    "covariance",
    "fit",
    "fit_chunks",
    "fit_covariance",
    "moments",
    "optimal_decoder",
    "reconstruction_loss",
]

_OVERFLOW = OVERFLOW


@dataclasses.dataclass(frozen=True)
class PCAResult:
    """The PCA of a data set, all in float64.

    Attributes:
      mean: (d,) the sample mean that was subtracted.
      components: (k, d) top-k eigenvectors of the covariance as orthonormal rows, by
        decreasing eigenvalue; each row's largest-magnitude entry is positive.
      eigenvalues: (d,) all eigenvalues of C = X_c^T X_c / n, descending (zeros padded when
        n < d).
      optimal_loss: sum of the trailing d - k eigenvalues: the smallest mean squared
        reconstruction error (summed over features) any rank-k linear autoencoder reaches.
      n_samples: n.
    """

    mean: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray
    optimal_loss: float
    n_samples: int

    @property
    def k(self) -> int:
        return self.components.shape[0]

    def check_data(self, mean, *, n_samples: int | None = None,
                   total_variance: float | None = None, name: str = "X") -> None:
        """Raises ValueError unless data with these statistics can be the data this PCA was
        fit on (a reference for `tiedae.fit` must come from the training data).

        Compares the mean (to 1e-5 of the rows' root-mean-square norm
        r = sqrt(total variance + ||mean||^2), which leaves room for float32 rounding of the
        same data), the number of rows (exactly) and the total variance tr C = sum of the
        eigenvalues (to 1e-3 of it, plus 1e-6 r^2); a statistic given as None is not checked.

        Args:
          mean: (d,) the data's mean.
          n_samples: the data's number of rows.
          total_variance: tr C = mean squared distance of the rows to their mean.
          name: the data's name in the message.

        Example:
          >>> import numpy as np
          >>> X = np.random.default_rng(0).normal(size=(100, 3))
          >>> ref = fit(X, 2)
          >>> ref.check_data(X.mean(axis=0), n_samples=100)  # the same data: no error
          >>> try:
          ...     ref.check_data(X[:50].mean(axis=0), n_samples=50)
          ... except ValueError as err:
          ...     print(str(err)[:78])
          the reference PCA was fit on other data than X: X has n=50 rows, the reference
        """
        mean = np.asarray(mean, np.float64)
        if mean.shape != self.mean.shape:
            raise ValueError(f"{name} has d={mean.size} features; the reference PCA was fit on "
                             f"d={self.mean.size}")
        ref_variance = float(np.sum(self.eigenvalues))
        rms = float(np.sqrt(ref_variance + np.sum(self.mean**2)))
        problems = []
        if n_samples is not None and int(n_samples) != self.n_samples:
            problems.append(f"{name} has n={int(n_samples)} rows, the reference n="
                            f"{self.n_samples}")
        shift = float(np.linalg.norm(mean - self.mean))
        if not shift <= 1e-5 * rms:
            problems.append(f"their means differ by {shift:.3g} (norm; the rows' RMS norm is "
                            f"{rms:.3g})")
        if total_variance is not None:
            diff = abs(float(total_variance) - ref_variance)
            if not diff <= 1e-3 * ref_variance + 1e-6 * rms**2:
                problems.append(f"{name}'s total variance tr C is {float(total_variance):.6g}, "
                                f"the reference's {ref_variance:.6g}")
        if problems:
            raise ValueError(
                f"the reference PCA was fit on other data than {name}: {'; '.join(problems)}. "
                f"Its loss gap and subspace distance would be wrong: call pca.fit({name}, "
                f"k={self.k}) on the training data itself")


def covariance(X, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance C = (X - mean)^T (X - mean) / n in float64, read in row chunks.

    Works on a `numpy.memmap` larger than memory: only `chunk_size` rows are in memory at once,
    read without keeping the file's pages mapped (`moments`). Non-finite values raise
    ValueError naming the chunk and the row. The products are float64 whatever X's dtype
    (`moments` and `fit_chunks` multiply float32 rows in float32, faster).

    Returns:
      (mean (d,), C (d, d)).
    """
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D with shape (n_samples, n_features); got shape {X.shape}")
    n, _ = X.shape
    if n < 2:
        raise ValueError(f"X needs at least 2 samples (rows); got n={n}")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    result = moments(X, chunk_size=chunk_size, dtype=np.float64)
    return result.mean, result.covariance


def fit(X, k: int) -> PCAResult:
    """Fits PCA with k components in float64.

    Uses `scipy.linalg.eigh(C, driver="evd")` on the d x d covariance when n >= d, and a thin
    SVD of the centred data otherwise.

    Args:
      X: data, shape (n, d), samples as rows; any real dtype.
      k: number of components, 1 <= k <= min(n, d).

    Returns:
      A `PCAResult`.

    Example:
      >>> import numpy as np
      >>> from tiedae import pca
      >>> X = np.random.default_rng(0).normal(size=(500, 5)) * [3.0, 2.0, 1.0, 0.5, 0.1]
      >>> res = pca.fit(X, k=2)
      >>> bool(abs(res.optimal_loss - res.eigenvalues[2:].sum()) < 1e-12)
      True
    """
    X = check_data(X, dtype=np.float64)
    n, d = X.shape
    k = check_rank(k, d)
    if k > n:
        raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n}")
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        Xc = X - mean
        gram = Xc.T @ Xc / n if n >= d else None
    if not np.isfinite(Xc).all() or (gram is not None and not np.isfinite(gram).all()):
        raise ValueError(_OVERFLOW)
    if n >= d:
        evals, evecs = scipy.linalg.eigh(gram, driver="evd")
        evals, evecs = evals[::-1], evecs[:, ::-1]
    else:
        _, s, vh = scipy.linalg.svd(Xc, full_matrices=False, lapack_driver="gesdd")
        evals = np.zeros(d)
        with np.errstate(over="ignore"):
            evals[: s.size] = s**2 / n
        evecs = vh.T
    if not np.isfinite(evals).all():
        raise ValueError(_OVERFLOW)
    evals = np.clip(evals, 0.0, None)
    components = np.ascontiguousarray(evecs[:, :k].T)
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    return PCAResult(
        mean=mean,
        components=components,
        eigenvalues=evals,
        optimal_loss=float(evals[k:].sum()),
        n_samples=n,
    )


def fit_covariance(mean, C, n_samples: int, k: int) -> PCAResult:
    """PCA from the moments alone: the top k eigenvectors of C (`scipy.linalg.eigh`, driver
    "evd"), in float64, with the same conventions as `fit` (descending order, each component's
    largest-magnitude entry positive, eigenvalues clipped at 0).

    With `moments` it fits PCA to data that never sits in memory (`fit_chunks`).

    Args:
      mean: (d,) mean of the rows.
      C: (d, d) symmetric positive semi-definite covariance of the rows (divided by n).
      n_samples: n, the number of rows; k <= n is required, as in `fit`.
      k: number of components, 1 <= k <= min(n, d).

    Returns:
      A `PCAResult`.

    Raises:
      ValueError: C not square, not symmetric, not finite or with a clearly negative eigenvalue;
        a mean of another length; k > d or k > n.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(400, 5)) * [3.0, 2.0, 1.0, 0.5, 0.1]
      >>> m = moments(X)
      >>> res = fit_covariance(m.mean, m.covariance, m.n_samples, k=2)
      >>> bool(np.allclose(res.components, fit(X, 2).components, atol=1e-10))
      True
    """
    mean, C, n_samples = Moments.checked(mean, C, n_samples)
    d = C.shape[0]
    scale = float(np.abs(C).max())
    k = check_rank(k, d)
    if k > n_samples:
        raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n_samples}")
    evals, evecs = scipy.linalg.eigh(C, driver="evd")
    if evals[0] < -1e-8 * max(scale * d, np.finfo(float).tiny):
        raise ValueError(f"C must be positive semi-definite (a covariance); its smallest "
                         f"eigenvalue is {evals[0]:.3g}")
    evals, evecs = np.clip(evals[::-1], 0.0, None), evecs[:, ::-1]
    components = np.ascontiguousarray(evecs[:, :k].T)
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    return PCAResult(mean=mean, components=components, eigenvalues=evals,
                     optimal_loss=float(evals[k:].sum()), n_samples=n_samples)


def fit_chunks(rows, k: int, *, chunk_size: int = DEFAULT_CHUNK_ROWS, dtype=None) -> PCAResult:
    """`fit` on rows streamed chunk by chunk: one pass (`moments`), then `fit_covariance`.

    Memory is O(d^2 + chunk_size d) whatever n is, so X may be a memory map or `.npy` file
    larger than memory, or an iterator of chunks. In a multi-process JAX run each process
    passes its own rows and gets the PCA of all of them (`moments`).

    Args:
      rows: as for `moments` (array, memmap, `.npy` path, iterator of chunks, or a function
        returning one).
      k: number of components, 1 <= k <= min(n, d) (checked before the pass when the shape is
        known, after it otherwise).
      chunk_size: rows read at a time from an array or file.
      dtype: the products' dtype, as for `moments`: None multiplies float32 rows in float32
        (float64 accumulation; `tiedae.data.moments` states the error bound), np.float64
        multiplies all rows in float64.

    Returns:
      A `PCAResult`, equal to `fit` on the same rows up to rounding.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(300, 6))
      >>> res = fit_chunks(iter(np.array_split(X, 7)), k=2)
      >>> bool(np.allclose(res.eigenvalues, fit(X, 2).eigenvalues, rtol=1e-12))
      True
    """
    k = check_positive_int(k, "k")
    if chunks.rows_kind(rows) == "array":  # the shape is known: check k before the pass
        with chunks.RowReader(rows) as reader:
            n, d = reader.shape
        check_rank(k, d)
        if k > n and jax.process_count() == 1:  # over processes n is this process's share
            raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n}")
    result = moments(rows, chunk_size=chunk_size, dtype=dtype)
    return fit_covariance(result.mean, result.covariance, result.n_samples, k)


def reconstruction_loss(W: jax.Array, V: jax.Array, C: jax.Array) -> jax.Array:
    r"""Mean squared reconstruction error of x_hat = V W x from the covariance alone.

    L = tr C - 2 tr(V W C) + tr(V^T V W C W^T): O(d^2 k), independent of n.

    Args:
      W: encoder (k, d). V: decoder (d, k). C: covariance of the centred data (d, d).
    """
    W, V, C = check_matrix(W, "W"), check_matrix(V, "V"), check_matrix(C, "C")
    k, d = W.shape
    if V.shape != (d, k) or C.shape != (d, d):
        raise ValueError(f"need W (k, d), V (d, k) and C (d, d); got W {W.shape}, V {V.shape}, "
                         f"C {C.shape}")
    WC = W @ C  # (k, d)
    return jnp.trace(C) - 2.0 * jnp.vdot(V.T, WC) + jnp.vdot(V.T @ V, WC @ W.T)


def optimal_decoder(W: jax.Array, C: jax.Array) -> jax.Array:
    r"""The least-squares decoder for a fixed encoder: V* = C W^T (W C W^T)^{-1}.

    It minimises `reconstruction_loss(W, V, C)` over V (set the V-gradient
    2 (V W C W^T - C W^T) to zero). It equals the pseudo-inverse W^+ = W^T (W W^T)^{-1} only
    when W's row space is invariant under C (spanned by eigenvectors of C), e.g. at the PCA
    optimum; for other encoders the right inverse is *not* the best decoder.

    Args:
      W: encoder (k, d) with W C W^T positive definite.
      C: covariance (d, d).

    Returns:
      V*, shape (d, k).

    Raises:
      ValueError: (outside `jax.jit`) when W C W^T is singular, i.e. W is rank-deficient or
        its rows reach directions of zero variance, so no unique least-squares decoder exists.
    """
    W = check_matrix(W, "W")
    C = check_matrix(C, "C")
    if C.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"C must have shape (d, d) = {(W.shape[1],) * 2}; got {C.shape}")
    CWt = C @ W.T
    V = jnp.linalg.solve(W @ CWt, CWt.T).T
    if not isinstance(V, jax.core.Tracer) and not bool(jnp.isfinite(V).all()):
        raise ValueError("W C W^T is singular (W is rank-deficient or its rows reach directions "
                         "of zero variance): the least-squares decoder is not unique")
    return V
