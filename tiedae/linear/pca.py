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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from tiedae._validation import check_data, check_matrix, check_positive_int, check_rank
from tiedae.data import chunks

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

DEFAULT_CHUNK_ROWS = 65536  # rows held in memory at once by a pass over X on the host
_OVERFLOW = ("the covariance of X overflows float64 although X is finite (its values are too "
             "large to square and sum, beyond about 1e154): rescale X, e.g. divide it by its "
             "largest |value|")


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


class CovarianceAccumulator:
    r"""Mean and covariance of rows seen chunk by chunk, exact in float64 (one pass, any n).

    The sums are taken around a shift (the first chunk's mean), so a large mean does not cancel
    the variance's digits: with y = x - shift, mean = shift + sum(y) / n and
    C = sum(y y^T) / n - (sum(y) / n)(sum(y) / n)^T. Each chunk is converted to float64 and
    shifted in blocks of at most `BLOCK_ROWS` rows (into one reused buffer), and sum(y y^T) is
    accumulated with a symmetric rank-r product (BLAS syrk: numpy's `Y.T @ Y` picks it), half
    the work of a general product. Memory is O(d^2 + BLOCK_ROWS d) whatever n is.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(100, 3)) + 1e6
      >>> acc = CovarianceAccumulator()
      >>> for i in range(0, 100, 30):
      ...     acc.update(X[i:i + 30])
      >>> mean, C = acc.result()
      >>> bool(np.allclose(C, np.cov(X.T, bias=True), atol=1e-9))
      True
    """

    BLOCK_ROWS = 8192

    def __init__(self):
        self.n = 0
        self.n_chunks = 0
        self.shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._gram: np.ndarray | None = None
        self._buffer: np.ndarray | None = None

    @property
    def n_features(self) -> int | None:
        return None if self.shift is None else self.shift.shape[0]

    def update(self, chunk, name: str | None = None) -> None:
        """Adds the rows of `chunk` (r, d); a ValueError/TypeError naming `name` (default
        "chunk <i>") and the row for a chunk that is not finite, real and of the same width d.
        A chunk that fails its check leaves the sums as they were."""
        block = chunks.check_chunk(chunk, index=self.n_chunks, first_row=self.n,
                                   width=self.n_features, name=name)
        self.add_checked(block)

    def add_checked(self, block: np.ndarray) -> None:
        """`update` for a chunk that `tiedae.data.chunks.check_chunk` has already checked."""
        r = block.shape[0]
        if r == 0:
            self.n_chunks += 1
            return
        if self.shift is None:
            self.shift = block.mean(axis=0, dtype=np.float64)
            d = block.shape[1]
            self._sum, self._gram = np.zeros(d), np.zeros((d, d))
        d = self.shift.shape[0]
        rows = min(r, self.BLOCK_ROWS)
        if self._buffer is None or self._buffer.shape[0] < rows:
            self._buffer = np.empty((rows, d))
        with np.errstate(over="ignore", invalid="ignore"):  # result() names an overflow
            for start in range(0, r, self.BLOCK_ROWS):
                part = block[start: start + self.BLOCK_ROWS]
                y = np.subtract(part, self.shift, out=self._buffer[: part.shape[0]])
                self._sum += y.sum(axis=0)
                self._gram += y.T @ y  # numpy calls syrk for a product with its own transpose
        self.n += r
        self.n_chunks += 1

    def result(self, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """(mean (d,), C (d, d)) of all rows so far; a ValueError below `min_samples` rows."""
        if self.n < min_samples:
            raise ValueError(f"the covariance needs at least {min_samples} rows; got {self.n}")
        offset = self._sum / self.n
        with np.errstate(over="ignore", invalid="ignore"):
            C = self._gram / self.n - np.outer(offset, offset)
        if not np.isfinite(C).all():
            raise ValueError(_OVERFLOW)
        return self.shift + offset, C


class Moments(NamedTuple):
    """What PCA needs of a data set: its float64 `mean` (d,), `covariance` (d, d) and
    `n_samples`."""

    mean: np.ndarray
    covariance: np.ndarray
    n_samples: int | None

    @classmethod
    def checked(cls, mean, covariance, n_samples: int | None) -> Moments:
        """The moments as float64 arrays, or a ValueError/TypeError: C not square, symmetric
        and finite, a mean of another length, n_samples not a positive integer (None: not
        known)."""
        C = np.asarray(covariance, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] != C.shape[1] or C.shape[0] < 1:
            raise ValueError(f"the covariance must be a square (d, d) matrix; got shape "
                             f"{C.shape}")
        d = C.shape[0]
        mean = np.asarray(mean, dtype=np.float64)
        if mean.shape != (d,):
            raise ValueError(f"the mean must have shape (d,) = ({d},) to match the covariance; "
                             f"got {mean.shape}")
        if not (np.isfinite(C).all() and np.isfinite(mean).all()):
            raise ValueError("the covariance and the mean must be finite (no NaN or inf)")
        scale = max(float(np.abs(C).max()), np.finfo(np.float64).tiny)
        if np.abs(C - C.T).max() > 1e-10 * scale:
            raise ValueError("the covariance must be symmetric; got C != C^T")
        n = None if n_samples is None else check_positive_int(n_samples, "n_samples")
        return cls(mean, C, n)


def moments(rows, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Moments:
    """Mean and covariance of rows streamed chunk by chunk, in one pass (float64, exact).

    Only one chunk is in memory at a time: an array, `numpy.memmap` or `.npy` file is read
    `chunk_size` rows at a time without keeping the file's pages mapped
    (`tiedae.data.chunks.RowReader`), so memory stays flat in n.

    Args:
      rows: an (n, d) array, memmap or path to a `.npy` file; an iterator of (r, d) chunks; or
        a function returning one (see `tiedae.data.chunks.iter_chunks`). Integer rows are
        converted to float64 (exact up to 2^53).
      chunk_size: rows read at a time from an array or file.

    Returns:
      `Moments(mean, covariance, n_samples)`.

    Raises:
      ValueError, TypeError: a bad chunk (named with its row: NaN/inf, 1-D, another width,
        not real), no rows, or fewer than 2.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(500, 4))
      >>> m = moments(X[i:i + 64] for i in range(0, 500, 64))
      >>> m.n_samples, bool(np.allclose(m.covariance, np.cov(X.T, bias=True), rtol=1e-12))
      (500, True)
    """
    acc = CovarianceAccumulator()
    for block in chunks.iter_chunks(rows, chunk_size, reuse_buffer=True):
        acc.add_checked(block)
    mean, C = acc.result()
    return Moments(mean, C, acc.n)


def covariance(X, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance C = (X - mean)^T (X - mean) / n in float64, read in row chunks.

    Works on a `numpy.memmap` larger than memory: only `chunk_size` rows are in memory at once,
    read without keeping the file's pages mapped (`moments`). Non-finite values raise
    ValueError naming the chunk and the row.

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
    result = moments(X, chunk_size=chunk_size)
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


def fit_chunks(rows, k: int, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> PCAResult:
    """`fit` on rows streamed chunk by chunk: one pass (`moments`), then `fit_covariance`.

    Memory is O(d^2 + chunk_size d) whatever n is, so X may be a memory map or `.npy` file
    larger than memory, or an iterator of chunks.

    Args:
      rows: as for `moments` (array, memmap, `.npy` path, iterator of chunks, or a function
        returning one).
      k: number of components, 1 <= k <= min(n, d) (checked before the pass when the shape is
        known, after it otherwise).
      chunk_size: rows read at a time from an array or file.

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
        if k > n:
            raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n}")
    result = moments(rows, chunk_size=chunk_size)
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
