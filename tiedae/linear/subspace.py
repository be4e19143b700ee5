r"""Top-k PCA past the d x d wall: block subspace iteration over passes through the rows.

When d is so large that the float64 covariance C = X_c^T X_c / n does not fit (d = 50 000 needs
20 GB), C is never formed: each pass reads the rows chunk by chunk and applies C to a (d, b)
block, b = k + p (p oversampling columns), in O(d b + chunk d) memory, whatever n is:

    C B = (1/n) sum_i y_i (y_i^T B) - ybar (ybar^T B),   y_i = x_i - s,  ybar = (1/n) sum_i y_i,

with s the first chunk's mean (a shift, so a large mean does not cancel the digits of the
products; the exact mean s + ybar comes out of the first pass, which already applies the
centred C). Block subspace iteration with Rayleigh--Ritz (Rutishauser; Halko, Martinsson &
Tropp): Q_0 = orth(Omega), Omega a seeded Gaussian (d, b); pass j returns Z = C Q_{j-1}; the
Ritz pairs of span Q_{j-1} are the eigenpairs (theta_i, u_i) of H = Q^T Z, with Ritz vectors
v_i = Q u_i and residuals r_i = C v_i - theta_i v_i = Z u_i - theta_i v_i, all known from that
pass alone; then Q_j = orth(Z). The answer after P passes is the top k Ritz vectors of
Q_{P-1}: the subspace whose residual the last pass measured (one more pass than the P - 1
products with C that made it). Each pass costs 4 n d b flops.

The answer check needs no exact reference. With V = (v_1 ... v_k), Theta = V^T C V =
diag(theta_i) and R = C V - V Theta (for orthonormal rows W = V^T this is the eigen-residual
C W^T - W^T (W C W^T)), in exact arithmetic and for eigenvalues
lambda_1 >= lambda_2 >= ... of C:

* Ritz values (Cauchy interlacing; the residual bound of symmetric matrices): theta_i <=
  lambda_i, and some eigenvalue of C lies within ||r_i||_2 of theta_i. So ||r_i|| / theta_i
  small means theta_i is an eigenvalue to that relative accuracy.
* Subspace (Davis--Kahan sin Theta theorem): if lambda_{k+1} <= theta_k - delta with delta > 0,
  then ||sin Theta(span V, U_k)||_F <= ||R||_F / delta, U_k the top-k eigenvectors; the mean
  sin^2 (`tiedae.metrics.subspace_distance`) is then <= (||R||_F / delta)^2 / k. delta is not
  observable, so two values are reported:

  - `trace_gap` = theta_k - (tr C - sum_{i<=k} theta_i): a proven gap, since C is positive
    semi-definite and sum_{i<=k} lambda_i >= sum_{i<=k} theta_i (Ky Fan) give lambda_{k+1}
    <= tr C - sum_{i<=k} theta_i. Positive only when the variance outside the top k is below
    theta_k (small d, or strongly spiked data); otherwise its bound is infinite.
  - `gap` = theta_k - theta_{k+1} - ||r_{k+1}||, from the first oversampling column: valid
    under the assumption that lambda_{k+1} <= theta_{k+1} + ||r_{k+1}||, i.e. that the block
    has not missed an eigenvalue above theta_{k+1} (its (k+1)-th Ritz pair approximates the
    (k+1)-th eigenpair, as once the top k + 1 Ritz pairs have converged; a Gaussian start
    misses an eigenvector with probability 0). Needs oversample >= 1.

  These hold for the operator the passes applied: in float32 (float32 rows) C is applied up to
  float32 rounding of the products (float32's epsilon, 1.2e-7, times a modest factor),
  which the certificate cannot see.

`fit_subspace_iteration` stops when ||R||_F / theta_1 <= tol (the certificate of that pass),
or after `max_passes`. By default each new block is a Chebyshev filter of the last ones
(Zhou & Saad) on [0, hi], hi the block's smallest Ritz value: it damps the eigenvalues in that
interval (none lies below 0: C is positive semi-definite) and grows those above it, faster
per pass than plain power steps (`filter="power"`: Q_j = orth(C Q_{j-1})).
`covariance_times` is one pass for any block (e.g. to check another method's answer:
`certify`).

`benchmarks/large_d.py` times this against scikit-learn's IncrementalPCA and randomized SVD on
a `.npy` file past the d x d wall, all answers checked by one common pass, and counts the
passes that plain and Chebyshev-filtered subspace iteration and the tied linear autoencoder
trained on the streamed chunks (`tiedae.fit` on `training.RowChunks`, Adam) need to reach a
relative residual; what it measured is in `benchmarks/results/large_d.json` and the README's
benchmark section.

References:
  Davis & Kahan, "The rotation of eigenvectors by a perturbation. III", SIAM J. Numer. Anal.
  7 (1970).
  Parlett, "The Symmetric Eigenvalue Problem", SIAM (1998), ch. 11 (Rayleigh--Ritz bounds).
  Halko, Martinsson & Tropp, "Finding structure with randomness", SIAM Review 53 (2011).
  Rutishauser, "Simultaneous iteration method for symmetric matrices", Numer. Math. 16 (1970).
  Zhou & Saad, "A Chebyshev-Davidson algorithm for large symmetric eigenproblems", SIAM J.
  Matrix Anal. Appl. 29 (2007) (Chebyshev-filtered subspace iteration).

Example:
  >>> import numpy as np
  >>> rng = np.random.default_rng(0)
  >>> X = rng.normal(size=(2000, 40)) * np.r_[10.0, 8.0, 6.0, np.ones(37)] + 5.0
  >>> res = fit_subspace_iteration(X, k=3, tol=1e-10, seed=0)
  >>> from tiedae import pca
  >>> exact = pca.fit(X, 3)
  >>> bool(np.allclose(res.explained_variance, exact.eigenvalues[:3], rtol=1e-9))
  True
  >>> res.certificate.sin_theta_bound < 1e-8, res.passes <= 12
  (True, True)
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg

from tiedae._validation import check_positive_int, check_rank
from tiedae.data import chunks

__all__ = ["CHUNK_BYTES", "Certificate", "Product", "SubspacePCA", "certify",
           "covariance_times", "fit_subspace_iteration"]

CHUNK_BYTES = 2**26  # bytes of rows per chunk when chunk_size is not given (64 MiB)
# The shift s is subtracted from each chunk (a copy) when ||s|| > this many times the first
# chunk's spread sqrt(tr Var); below it, sum (x - s)(x - s)^T B is formed as X^T P - s (1^T P)
# with P = X B - 1 s^T B, which loses at most about log10 of it in digits and saves the copy.
_EXPLICIT_SHIFT = 8.0


class Product(NamedTuple):
    """One pass: `CB` = C B (d, m) in float64, the rows' `mean` (d,), `n_samples` and
    `total_variance` tr C."""

    CB: np.ndarray
    mean: np.ndarray
    n_samples: int
    total_variance: float


@dataclasses.dataclass(frozen=True)
class Certificate:
    """What one pass says about a k-dimensional answer (see the module docstring).

    Attributes:
      ritz_values: (b,) theta_1 >= ... >= theta_b of C on the block (b >= k).
      residual_norms: (b,) ||C v_i - theta_i v_i||_2.
      residual: ||R||_F over the top k: the eigen-residual ||C W^T - W^T (W C W^T)||_F.
      relative_residual: residual / theta_1.
      gap: theta_k - theta_{k+1} - ||r_{k+1}|| (NaN when b = k): the gap under the
        assumption that no eigenvalue above theta_{k+1} was missed.
      sin_theta_bound: residual / gap (inf when gap <= 0): bounds ||sin Theta||_F under it.
      trace_gap: theta_k - (tr C - sum_{i<=k} theta_i): a proven gap.
      proven_sin_theta_bound: residual / trace_gap (inf when trace_gap <= 0).
    """

    ritz_values: np.ndarray
    residual_norms: np.ndarray
    residual: float
    relative_residual: float
    gap: float
    sin_theta_bound: float
    trace_gap: float
    proven_sin_theta_bound: float


@dataclasses.dataclass(frozen=True)
class SubspacePCA:
    """The top-k PCA found by subspace iteration, in float64.

    Attributes:
      mean: (d,) the rows' mean.
      components: (k, d) orthonormal rows (Ritz vectors), by decreasing Ritz value; each
        row's largest-magnitude entry is positive.
      explained_variance: (k,) the Ritz values theta_i <= lambda_i.
      total_variance: tr C.
      n_samples: n.
      passes: passes read over the rows.
      converged: whether relative_residual <= tol was reached.
      history: (passes - 1,) the relative residual measured by each pass from the second on.
      seconds: (passes,) wall-clock seconds from the start to the end of each pass.
      certificate: the last pass's `Certificate` of `components`.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    total_variance: float
    n_samples: int
    passes: int
    converged: bool
    history: np.ndarray
    seconds: np.ndarray
    certificate: Certificate

    @property
    def k(self) -> int:
        return self.components.shape[0]

    @property
    def loss(self) -> float:
        """The mean squared reconstruction error of projecting onto the components, tr C -
        sum theta_i, >= the optimum sum_{i>k} lambda_i (Ky Fan)."""
        return max(self.total_variance - float(np.sum(self.explained_variance)), 0.0)


def _shape(rows) -> tuple[int, int] | None:
    kind = chunks.rows_kind(rows)
    if kind == "iterator":
        raise TypeError("subspace iteration reads the rows several times (passes), and an "
                        "iterator can be read once: pass an (n, d) array, a memmap, a .npy path "
                        "or a function returning a fresh iterator of chunks")
    if kind == "factory":
        return None
    with chunks.RowReader(rows) as reader:
        return reader.shape


def _compute_dtype(rows, dtype):
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {dtype}")
        return dtype
    if chunks.rows_kind(rows) == "array":
        with chunks.RowReader(rows) as reader:
            return np.dtype(np.float32 if reader.dtype == np.float32 else np.float64)
    return None  # a stream: float32 if its first chunk is float32


def _blocks(rows, chunk_size: int, checked: bool):
    """The chunks of `rows`: checked by `iter_chunks`, or read as they are from an array."""
    if checked or chunks.rows_kind(rows) != "array":
        yield from chunks.iter_chunks(rows, chunk_size, reuse_buffer=True)
        return
    with chunks.RowReader(rows) as reader:
        n, d = reader.shape
        buf = np.empty((min(chunk_size, n), d), reader.dtype) if reader.reads_file else None
        for start in range(0, n, chunk_size):
            block = reader.read(start, start + chunk_size, buf)
            yield block if block.dtype.kind == "f" else block.astype(np.float64)


def covariance_times(rows, B, *, chunk_size: int | None = None, dtype=None,
                     shift=None, trace: bool = True, explicit: bool | None = None,
                     checked: bool = True) -> Product:
    """One pass over the rows: C B for a (d, m) block B, with C the rows' covariance.

    Args:
      rows: an (n, d) array, memmap or `.npy` path, or a function returning a fresh iterator
        of (r, d) chunks (see `tiedae.data.chunks.iter_chunks`).
      B: (d, m) block.
      chunk_size: rows per chunk from an array or file (default: about `CHUNK_BYTES` bytes).
      dtype: precision of the products: float32 or float64 (default: float32 for float32
        rows, float64 otherwise); the sums over chunks are float64.
      shift: (d,) vector subtracted from the rows (default: the first chunk's mean); it is
        subtracted from each chunk (a copy) when trace is True or when it is larger than 8
        times the first chunk's spread sqrt(tr Var), and algebraically otherwise:
        sum_i (x_i - s)(x_i - s)^T B = X^T P - s (1^T P) with P = X B - 1 s^T B.
      trace: also compute tr C (an explicit shift and the rows' squared norms); NaN when
        False.
      explicit: subtract the shift from each chunk (True) or algebraically (False); default
        as described for `shift`.
      checked: check every chunk (`tiedae.data.chunks.check_chunk`: finite, one width); False
        reads an array or file without that scan, for rows a checked pass has read already
        (a non-finite value then shows as a non-finite C B, which raises).

    Returns:
      `Product(CB, mean, n_samples, total_variance)`.

    Raises:
      ValueError, TypeError: a bad chunk (named with its row: NaN/inf, another width, ...), B
        of another height than d, fewer than 2 rows.
    """
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2:
        raise ValueError(f"B must be a (d, m) block; got shape {B.shape}")
    dtype = _compute_dtype(rows, dtype)
    shape = _shape(rows)
    if chunk_size is None:
        d = shape[1] if shape else B.shape[0]
        chunk_size = max(1, CHUNK_BYTES // (max(d, 1) * (4 if dtype == np.float32 else 8)))
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    n, total, sq = 0, None, 0.0
    CB = ybuf = None
    try:
        for block in _blocks(rows, chunk_size, checked):
            r = block.shape[0]
            if not r:
                continue
            if CB is None:  # the first rows: the shift, and whether to subtract it explicitly
                if block.shape[1] != B.shape[0]:
                    raise ValueError(f"B has {B.shape[0]} rows; the data have d="
                                     f"{block.shape[1]} features")
                if dtype is None:
                    dtype = np.dtype(np.float32 if block.dtype == np.float32 else np.float64)
                s = block.mean(axis=0, dtype=np.float64) if shift is None else shift
                s = np.asarray(s, dtype).astype(np.float64)  # the shift the products use
                if trace:
                    explicit = True
                elif explicit is None:
                    explicit = float(s @ s) > _EXPLICIT_SHIFT**2 * float(
                        np.sum(block.var(axis=0, dtype=np.float64)))
                s_c, Bk = s.astype(dtype), B.astype(dtype)
                sB = s_c @ Bk
                CB, total = np.zeros(B.shape), np.zeros(B.shape[0])
                part, ones = np.empty(B.shape, dtype), np.ones(r, dtype)
            if ones.shape[0] < r:
                ones = np.ones(r, dtype)
            if (explicit or block.dtype != dtype) and (ybuf is None or ybuf.shape[0] < r):
                ybuf = np.empty((r, block.shape[1]), dtype)
            if explicit:  # y = x - s, then sum y (y^T B)
                y = np.subtract(block, s_c, out=ybuf[:r], casting="unsafe")
                P = y @ Bk
            else:  # sum (x - s)(x - s)^T B = X^T P - s (1^T P), P = X B - 1 s^T B: no copy of X
                y = block
                if block.dtype != dtype:
                    y = ybuf[:r]
                    np.copyto(y, block, casting="unsafe")
                P = y @ Bk
                P -= sB
                CB -= np.outer(s, ones[:r] @ P)
                total -= r * s
            total += ones[:r] @ y  # a BLAS gemv, faster than y.sum
            if trace:
                sq += float(np.sum(np.einsum("ij,ij->i", y, y), dtype=np.float64))
            np.matmul(y.T, P, out=part)
            CB += part
            n += r
    except ValueError as err:
        if isinstance(rows, str | os.PathLike) and os.fspath(rows) not in str(err):
            raise ValueError(f"{os.fspath(rows)}: {err}") from None
        raise
    if n < 2:
        raise ValueError(f"the covariance needs at least 2 rows; got {n}")
    ybar = total / n
    CB = CB / n - np.outer(ybar, ybar @ B)
    tv = sq / n - float(ybar @ ybar) if trace else float("nan")
    if not (np.isfinite(CB).all() and np.isfinite(tv if trace else 0.0)):
        raise ValueError("C B is not finite: the rows overflow the products (values beyond "
                         "about 1e19 in float32, 1e154 in float64: rescale them), or they "
                         "changed since a checked pass")
    return Product(CB, s + ybar, n, tv)


def certify(Q, CQ, k: int, total_variance: float) -> tuple[np.ndarray, Certificate]:
    """The Rayleigh--Ritz answer of an orthonormal block and its certificate; no pass.

    Args:
      Q: (d, b) orthonormal columns, b >= k.
      CQ: (d, b) C Q (from `covariance_times`).
      k: the answer's dimension.
      total_variance: tr C.

    Returns:
      (V (d, b) Ritz vectors by decreasing Ritz value, `Certificate` of the top k).

    Example:
      >>> import numpy as np
      >>> C = np.diag([5.0, 3.0, 1.0, 0.5])
      >>> V, cert = certify(np.eye(4)[:, :3], C[:, :3], k=2, total_variance=9.5)
      >>> cert.ritz_values.tolist(), cert.residual, cert.gap, cert.trace_gap
      ([5.0, 3.0, 1.0], 0.0, 2.0, 1.5)
    """
    Q, CQ = np.asarray(Q, np.float64), np.asarray(CQ, np.float64)
    b = Q.shape[1]
    k = check_rank(k, b)
    H = Q.T @ CQ
    theta, U = scipy.linalg.eigh((H + H.T) / 2)
    theta, U = theta[::-1], U[:, ::-1]
    V = Q @ U
    R = CQ @ U - V * theta
    norms = np.linalg.norm(R, axis=0)
    residual = float(np.linalg.norm(norms[:k]))
    gap = float(theta[k - 1] - theta[k] - norms[k]) if b > k else float("nan")
    trace_gap = float(theta[k - 1] - (total_variance - np.sum(theta[:k])))
    scale = max(float(abs(theta[0])), np.finfo(np.float64).tiny)
    return V, Certificate(
        ritz_values=theta, residual_norms=norms, residual=residual,
        relative_residual=residual / scale, gap=gap,
        sin_theta_bound=residual / gap if gap > 0 else float("inf"),
        trace_gap=trace_gap,
        proven_sin_theta_bound=residual / trace_gap if trace_gap > 0 else float("inf"))


def fit_subspace_iteration(rows, k: int, *, oversample: int | None = None, tol: float = 1e-5,
                           max_passes: int = 20, filter: str = "chebyshev",
                           chunk_size: int | None = None, dtype=None,
                           seed: int | np.random.Generator = 0) -> SubspacePCA:
    """Top-k PCA of rows on disk without the d x d covariance (see the module docstring).

    Memory: the (d, b) blocks, b = k + oversample (a few in float64), and about two chunks of
    rows; nothing d x d or n-sized.

    Args:
      rows: an (n, d) array, memmap or `.npy` path, or a function returning a fresh iterator
        of (r, d) chunks (read once per pass; a plain iterator is refused).
      k: number of components, 1 <= k <= min(n, d).
      oversample: extra columns p of the block (default min(k, 16), at most d - k); p >= 1
        gives the estimated `gap` of the certificate and faster convergence
        ((lambda_{k+p+1} / lambda_k)^j rather than (lambda_{k+1} / lambda_k)^j).
      tol: stop once the pass's relative residual ||R||_F / theta_1 <= tol (0: run
        `max_passes`).
      max_passes: the most passes over the rows (>= 2: one to start, one to measure).
      chunk_size: rows per chunk from an array or file (default: about `CHUNK_BYTES` bytes).
      dtype: precision of the products, float32 or float64 (default: float32 for float32
        rows, float64 otherwise); the sums over chunks and the small algebra are float64.
      seed: seed (or numpy Generator) of the Gaussian start block.

    Returns:
      A `SubspacePCA`; `converged` False (and a RuntimeWarning) when `max_passes` ran out first.

    Raises:
      TypeError: an iterator (one pass only), a bad seed or chunk.
      ValueError: k > d or k > n, fewer than 2 rows, a bad chunk (NaN/inf, another width: named
        with its row), tol < 0, max_passes < 2, rows that change between passes.
    """
    k = check_positive_int(k, "k")
    shape = _shape(rows)
    if shape is not None:
        n, d = shape
        if n < 2:
            raise ValueError(f"the covariance needs at least 2 rows; got n={n}")
        check_rank(k, d)
        if k > n:
            raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n}")
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"tol must be a number >= 0; got {tol!r}")
    max_passes = check_positive_int(max_passes, "max_passes")
    if filter not in ("chebyshev", "power"):
        raise ValueError(f'filter must be "chebyshev" or "power"; got {filter!r}')
    if max_passes < 2:
        raise ValueError(f"max_passes must be >= 2 (one pass starts, the next measures); got "
                         f"{max_passes}")
    if oversample is not None and (isinstance(oversample, bool) or not
                                   isinstance(oversample, int | np.integer) or oversample < 0):
        raise ValueError(f"oversample must be an integer >= 0; got {oversample!r}")
    if not isinstance(seed, int | np.integer | np.random.Generator) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int or a numpy Generator; got {type(seed).__name__}")
    rng = np.random.default_rng(seed)
    dtype = _compute_dtype(rows, dtype)
    if shape is None:  # a stream: the first pass tells d
        d = next(iter(chunks.iter_chunks(rows, 1))).shape[1]
        check_rank(k, d)
    p = min(k, 16) if oversample is None else int(oversample)
    b = min(k + p, d)
    start = time.perf_counter()
    Q = np.linalg.qr(rng.standard_normal((d, b)))[0]
    first = covariance_times(rows, Q, chunk_size=chunk_size, dtype=dtype)
    n, mean, tv = first.n_samples, first.mean, first.total_variance
    if k > n:
        raise ValueError(f"k must be <= n (the number of samples); got k={k} > n={n}")
    CQ, history, times = first.CB, [], [time.perf_counter() - start]
    rms = float(np.sqrt(max(tv, 0.0) + mean @ mean))
    explicit = float(mean @ mean) > _EXPLICIT_SHIFT**2 * max(tv, 0.0)
    Y, CY, Y_prev, hi = Q, CQ, None, 0.0
    for passes in range(2, max_passes + 1):
        if filter == "chebyshev":
            # Chebyshev filter on [0, hi], hi = the block's smallest Ritz value so far (C is
            # PSD, so no eigenvalue lies below 0): Y_{j+1} = 2 (C - c) Y_j / e - Y_{j-1},
            # c = e = hi / 2; restarted (a T_1 step) whenever hi grows by more than 10 %.
            theta = scipy.linalg.eigh(Q.T @ CQ, eigvals_only=True)
            if theta[0] > 1.1 * hi:
                hi, Y_prev = float(theta[0]), None
            if hi > 0:
                Y_next = (CY - 0.5 * hi * Y) / (0.5 * hi)
                if Y_prev is not None:
                    Y_next = 2.0 * Y_next - Y_prev
                scale = np.linalg.norm(Y_next)
                Y_prev, Y = Y / scale, Y_next / scale
            else:
                Y_prev, Y = None, CY
        else:
            Y = CQ
        Q, R = np.linalg.qr(Y)
        prod = covariance_times(rows, Q, chunk_size=chunk_size, dtype=dtype, shift=mean,
                                trace=False, explicit=explicit, checked=False)
        if prod.n_samples != n or not np.linalg.norm(prod.mean - mean) <= 1e-6 * rms:
            raise ValueError(f"the rows changed between passes: pass 1 read n={n} rows, pass "
                             f"{passes} n={prod.n_samples} (or another mean); a function of "
                             "chunks must return the same rows every time")
        CQ = prod.CB
        CY = CQ @ R
        V, cert = certify(Q, CQ, k, tv)
        history.append(cert.relative_residual)
        times.append(time.perf_counter() - start)
        if cert.relative_residual <= tol:
            break
    converged = cert.relative_residual <= tol
    if not converged:
        warnings.warn(f"subspace iteration did not reach tol={tol:g} in {max_passes} passes "
                      f"(relative residual {cert.relative_residual:.3g}); raise max_passes or "
                      "oversample", RuntimeWarning, stacklevel=2)
    components = np.ascontiguousarray(V[:, :k].T)
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    return SubspacePCA(mean=mean, components=components,
                       explained_variance=cert.ritz_values[:k].copy(), total_variance=tv,
                       n_samples=n, passes=passes, converged=bool(converged),
                       history=np.asarray(history), seconds=np.asarray(times),
                       certificate=cert)
