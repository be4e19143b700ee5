r"""Streaming statistics of rows: mean and covariance in one pass over chunks, flat in memory.

This is the one pass every streaming path takes: `tiedae.pca.fit_chunks`, the `Covariance`
and `RowChunks` training sources and `tiedae.LinearAutoencoder` all read their rows through
`moments` / `CovarianceAccumulator`, with chunks read and checked by `tiedae.data.chunks`.

The sums are taken around a shift s (an early mean estimate: the first chunk's mean), so a
large mean does not cancel the variance's digits. With y = x - s,

    mean = s + o,   C = G / n - o o^T,   o = sum(y) / n,   G = sum(y y^T),

and G is accumulated across chunks in float64, one product Y^T Y per block of at most
`BLOCK_ROWS` rows.

Precision of the product. Float64 rows (and integer rows, converted exactly to float64) are
multiplied in float64. Float32 rows are shifted and multiplied in float32 (numpy's `Y.T @ Y`,
the fastest BLAS call for it here: `python benchmarks/streaming.py` times it against scipy's
`ssyrk` and a plain gemm), and only the block's d x d product is added in float64. The
difference x - s of two float32 numbers is rounded to `u |y|` (u = 2^-24), and a float32 dot
product of r terms is within gamma_r = r u / (1 - r u) of its exact value in units of
`sum |y_ti y_tj|` (Higham, Thm 3.5), so with r <= BLOCK_ROWS and float64 accumulation across
blocks::

    |C_ij - C64_ij| <= (gamma_r + 2u) |Y_i|^T |Y_j| / n + O(u^2)
                    <= (gamma_r + 2u) sqrt(M_ii M_jj),

M = G / n the second moment around s (about C, since s is close to the mean); C64 is the same
pass in float64 on the same float32 rows. That worst case is r u ~ 5e-4 for r = 8192; blocked
BLAS sums in short runs, so the error seen is about sqrt(r) u (tests/test_streaming.py checks
`|C - C64| <= 1e-6 |C64|` (spectral norm) and the top-k subspace to 1e-6 on data with a mean 1e4
times the spread and eigenvalues over 6 decades). A block whose float32 product leaves
float32's comfortable range (its largest diagonal entry above 1e30 or below 1e-20, e.g. data
scaled by 1e30 or 1e-30) is redone in float64, so float32 rows of any finite scale are exact
to the bound above. In float64, deviations beyond about 1e154 (their squares overflow) or
below about 1e-150 (they underflow) raise a ValueError saying so, rather than a wrong C.
Pass `dtype=np.float64` for float64 products of float32 rows.

Finiteness is checked on the product: a NaN or inf in a block makes a diagonal entry of
Y^T Y non-finite, and only then is the block searched for the value (the message names the
chunk, the row and the column, as `tiedae.data.chunks.check_chunk` does); a chunk that fails
leaves the accumulator as it was.

References:
  Chan, Golub & LeVeque, "Algorithms for computing the sample variance: analysis and
  recommendations", The American Statistician 37 (1983) (the shifted sums).
  Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., SIAM (2002), ch. 3.

Example:
  >>> import numpy as np
  >>> X = np.random.default_rng(0).normal(size=(500, 4))
  >>> m = moments(X[i:i + 64] for i in range(0, 500, 64))
  >>> m.n_samples, bool(np.allclose(m.covariance, np.cov(X.T, bias=True), rtol=1e-12))
  (500, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae._validation import check_positive_int
from tiedae.data import chunks

__all__ = ["BLOCK_ROWS", "DEFAULT_CHUNK_ROWS", "CovarianceAccumulator", "Moments",
           "OVERFLOW", "UNDERFLOW", "gather_processes", "moments", "row_mean", "row_statistics"]

DEFAULT_CHUNK_ROWS = 8192  # rows per chunk read from an array or file (two held: read-ahead)
BLOCK_ROWS = 8192  # rows per product Y^T Y
OVERFLOW = ("the covariance of X overflows float64 although X is finite (its values are too "
            "large to square and sum, beyond about 1e154): rescale X, e.g. divide it by its "
            "largest |value|")
UNDERFLOW = ("the covariance of X underflows float64 although X varies (its deviations from the "
             "mean are too small to square, below about 1e-150): rescale X, e.g. divide it by "
             "its largest |deviation|")
_FLOAT64_SMALLEST = 1e-300  # a block product's largest diagonal entry below: its digits are lost
_FLOAT32_RANGE = (1e-20, 1e30)  # a float32 block product's largest diagonal entry, else float64


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
        known).

        Example:
          >>> Moments.checked([0.0, 1.0], [[2.0, 0.0], [0.0, 1.0]], 5).n_samples
          5
        """
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


class CovarianceAccumulator:
    r"""Mean and covariance of rows seen chunk by chunk, in one pass (any n, flat memory).

    See the module docstring for the shifted sums and the precision of float32 products.

    Args:
      dtype: the products' dtype: None (default) multiplies float32 chunks in float32 and
        anything else in float64; np.float64 multiplies every chunk in float64.

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

    BLOCK_ROWS = BLOCK_ROWS

    def __init__(self, dtype=None):
        if dtype is not None and np.dtype(dtype) != np.float64:
            raise ValueError(f"dtype must be None or float64; got {dtype}")
        self.dtype = None if dtype is None else np.dtype(np.float64)
        self.n = 0
        self.n_chunks = 0
        self.shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._gram: np.ndarray | None = None
        self._buffers: dict = {}

    @property
    def n_features(self) -> int | None:
        return None if self.shift is None else self.shift.shape[0]

    def __getstate__(self) -> dict:  # copies and pickles leave the scratch buffers out
        state = dict(self.__dict__)
        state["_buffers"] = {}
        return state

    def update(self, chunk, name: str | None = None) -> None:
        """Adds the rows of `chunk` (r, d); a ValueError/TypeError naming `name` (default
        "chunk <i>") and the row for a chunk that is not finite, real and of the same width d.
        A chunk that fails its check leaves the sums as they were."""
        block = chunks.check_chunk(chunk, index=self.n_chunks, first_row=self.n,
                                   width=self.n_features, name=name, finite=False,
                                   dtype=self.dtype)
        self.add_checked(block, name=name)

    def add_checked(self, block: np.ndarray, *, name: str | None = None,
                    first_row: int | None = None) -> None:
        """`update` for a chunk that `tiedae.data.chunks.check_chunk` has checked (finite or
        not: a non-finite value is found here and raises, naming `name` and the row)."""
        r = block.shape[0]
        if r == 0:
            self.n_chunks += 1
            return
        if self.n_features is not None and block.shape[1] != self.n_features:
            label = f"chunk {self.n_chunks}" if name is None else name
            raise ValueError(f"{label} has {block.shape[1]} columns; the chunks before it have "
                             f"{self.n_features}")
        first = self.shift is None
        shift = self.shift
        if first:  # a float32 chunk is shifted by float32 numbers: the shift is one of them
            shift = block.mean(axis=0, dtype=np.float64)
            if block.dtype == np.float32:
                shift = shift.astype(np.float32).astype(np.float64)
        d = shift.shape[0]
        total, gram = np.zeros(d), np.zeros((d, d))
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for start in range(0, r, self.BLOCK_ROWS):
                part = block[start: start + self.BLOCK_ROWS]
                y, g = self._product(part, shift)
                top = np.max(np.diagonal(g))
                if not np.isfinite(top):
                    self._raise_non_finite(part, name, (self.n if first_row is None
                                                        else first_row) + start, start)
                if top < _FLOAT64_SMALLEST and y.any():
                    raise ValueError(UNDERFLOW)
                total += y.sum(axis=0, dtype=np.float64) if y.dtype != np.float64 \
                    else y.sum(axis=0)
                gram += g
        if first:
            self.shift = shift
            self._sum, self._gram = total, gram
        else:
            self._sum += total
            self._gram += gram
        self.n += r
        self.n_chunks += 1

    def _buffer(self, dtype, rows: int, d: int) -> np.ndarray:
        buf = self._buffers.get(dtype)
        if buf is None or buf.shape[0] < rows or buf.shape[1] != d:
            buf = self._buffers[dtype] = np.empty((rows, d), dtype)
        return buf[:rows]

    def _product(self, part: np.ndarray, shift: np.ndarray):
        """(y, Y^T Y) of one block: float32 for float32 rows in range, else float64."""
        rows, d = part.shape
        shift32 = shift.astype(np.float32)
        if part.dtype == np.float32 and np.array_equal(shift32, shift):  # a float32 shift
            y = np.subtract(part, shift32, out=self._buffer(np.float32, rows, d))
            g = y.T @ y  # numpy calls syrk for a product with its own transpose
            top = float(np.max(np.diagonal(g)))
            if _FLOAT32_RANGE[0] <= top <= _FLOAT32_RANGE[1] or (top == 0.0 and not y.any()):
                return y, g.astype(np.float64)
        y = np.subtract(part, shift, out=self._buffer(np.float64, rows, d))
        return y, y.T @ y

    def _raise_non_finite(self, part: np.ndarray, name, first_row: int, offset: int) -> None:
        """Raises the chunk check's message for a non-finite value in `part`; for finite rows
        whose product overflows, the overflow message."""
        label = f"chunk {self.n_chunks}" if name is None else name
        chunks.check_finite(part, name=label, first_row=first_row, offset=offset)
        raise ValueError(OVERFLOW)

    def merge(self, other: CovarianceAccumulator) -> None:
        """Adds the rows another accumulator has seen (exact: its sums are moved to this
        shift, y' = y + delta with delta = other.shift - self.shift); `other` is unchanged.

        Example:
          >>> import numpy as np
          >>> X = np.random.default_rng(0).normal(size=(50, 3)) + 10
          >>> a, b = CovarianceAccumulator(), CovarianceAccumulator()
          >>> a.update(X[:20]); b.update(X[20:])
          >>> a.merge(b)
          >>> bool(np.allclose(a.result()[1], np.cov(X.T, bias=True), rtol=1e-12))
          True
        """
        if other.n == 0:
            return
        if self.shift is None:
            self.shift, self._sum, self._gram = (other.shift.copy(), other._sum.copy(),
                                                 other._gram.copy())
        else:
            if other.n_features != self.n_features:
                raise ValueError(f"cannot merge moments of {other.n_features} features into "
                                 f"moments of {self.n_features}")
            delta = other.shift - self.shift
            moved = other._sum + other.n * delta
            self._gram += (other._gram + np.outer(other._sum, delta) + np.outer(delta, moved))
            self._sum += moved
        self.n += other.n
        self.n_chunks += other.n_chunks

    def result(self, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """(mean (d,), C (d, d)) of all rows so far; a ValueError below `min_samples` rows."""
        if self.n < min_samples:
            raise ValueError(f"the covariance needs at least {min_samples} rows; got {self.n}")
        offset = self._sum / self.n
        with np.errstate(over="ignore", invalid="ignore"):
            C = self._gram / self.n - np.outer(offset, offset)
        if not np.isfinite(C).all():
            raise ValueError(OVERFLOW)
        return self.shift + offset, C


def moments(rows, *, chunk_size: int = DEFAULT_CHUNK_ROWS, dtype=None,
            across_processes: bool | None = None) -> Moments:
    """Mean and covariance of rows streamed chunk by chunk, in one pass.

    Only one chunk is in memory at a time (two for a file, read ahead by a thread): an array,
    `numpy.memmap` or `.npy` file is read `chunk_size` rows at a time without keeping the
    file's pages mapped (`tiedae.data.chunks.RowReader`), so memory stays flat in n.

    Args:
      rows: an (n, d) array, memmap or path to a `.npy` file; an iterator of (r, d) chunks; or
        a function returning one (see `tiedae.data.chunks.iter_chunks`). Integer rows are
        converted to float64 (exact up to 2^53).
      chunk_size: rows read at a time from an array or file.
      dtype: None: float32 rows are multiplied in float32, with float64 accumulation (see the
        module docstring for the error bound), other rows in float64; np.float64: all in
        float64.
      across_processes: in a multi-process JAX run (`jax.process_count() > 1`, e.g. started
        by `python -m tiedae.launch`), `rows` are this process's rows and the result is the
        moments of all processes' rows (`gather_processes`; every process must call it). None
        (default): whenever there are several processes; False: this process's rows only.

    Returns:
      `Moments(mean, covariance, n_samples)`.

    Raises:
      ValueError, TypeError: a bad chunk (named with its row: NaN/inf, 1-D, another width,
        not real), no rows, or fewer than 2.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32) + 100
      >>> m32, m64 = moments(X), moments(X, dtype=np.float64)
      >>> bool(np.abs(m32.covariance - m64.covariance).max() < 1e-5)
      True
    """
    acc = CovarianceAccumulator(dtype)
    error = None
    try:
        for index, block in enumerate(chunks.iter_chunks(rows, chunk_size, reuse_buffer=True,
                                                         dtype=acc.dtype, finite=False)):
            acc.add_checked(block, name=f"chunk {index}")
    except (ValueError, TypeError) as err:
        if not _several_processes(across_processes):
            raise
        error = err
    if _several_processes(across_processes):
        acc = gather_processes(acc, error)
    mean, C = acc.result()
    return Moments(mean, C, acc.n)


def _several_processes(across_processes: bool | None) -> bool:
    if across_processes is False:
        return False
    import jax

    return jax.process_count() > 1


def _to_words(values: np.ndarray) -> np.ndarray:
    """float64 values as uint32 pairs: a collective carries them bit for bit, whether JAX runs
    with float64 enabled or not."""
    return np.ascontiguousarray(values, np.float64).view(np.uint32)


def gather_processes(acc: CovarianceAccumulator,
                     error: Exception | None = None) -> CovarianceAccumulator:
    """The moments of every process's rows: each process's sums (n, shift, sum, Gram) gathered
    with one collective (`jax.experimental.multihost_utils.process_allgather`, after a small
    one for the shapes and errors) and merged in process order, so every process gets the same
    float64 result. A process whose pass failed (`error`) makes every process raise, naming
    it, instead of leaving the others waiting. Every process must call it.

    Example (one process: the accumulator as it is):
      >>> import numpy as np
      >>> acc = CovarianceAccumulator()
      >>> acc.update(np.eye(3))
      >>> gather_processes(acc).n
      3
    """
    import jax

    if jax.process_count() == 1:
        if error is not None:
            raise error
        return acc
    from jax.experimental import multihost_utils

    d = acc.n_features or 0
    header = np.array([error is not None, d, acc.n], np.int64)
    headers = np.asarray(multihost_utils.process_allgather(header.view(np.uint32)))
    headers = headers.reshape(jax.process_count(), -1).view(np.int64)
    failed = [p for p, h in enumerate(headers) if h[0]]
    if failed:
        if error is not None:
            raise type(error)(f"process {jax.process_index()}: {error}") from error
        raise ValueError(f"the rows of process(es) {failed} are bad (their own error says why); "
                         f"this process ({jax.process_index()}) has no error")
    widths = {int(h[1]) for h in headers if h[2] > 0}
    if len(widths) > 1:
        raise ValueError(f"the processes' rows have different widths: "
                         f"{[int(h[1]) for h in headers]} features by process")
    d = widths.pop() if widths else 0
    own = np.zeros(2 * d + d * d)
    if acc.n:
        own[:] = np.concatenate([acc.shift, acc._sum, acc._gram.ravel()])
    gathered = np.asarray(multihost_utils.process_allgather(_to_words(own)))
    gathered = gathered.reshape(jax.process_count(), -1).view(np.float64)
    total = CovarianceAccumulator(acc.dtype)
    for p, h in enumerate(headers):
        part = CovarianceAccumulator(acc.dtype)
        part.n = int(h[2])
        if part.n:
            row = gathered[p]
            part.shift, part._sum = row[:d].copy(), row[d:2 * d].copy()
            part._gram = row[2 * d:].reshape(d, d).copy()
        total.merge(part)
    return total


def row_mean(rows, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, int]:
    """(mean (d,) in float64, n) of rows, in one pass over checked chunks (an array, memmap,
    `.npy` path, iterator of chunks or a function returning one).

    Example:
      >>> import numpy as np
      >>> mean, n = row_mean(iter([np.ones((2, 2)), np.zeros((2, 2))]))
      >>> mean.tolist(), n
      ([0.5, 0.5], 4)
    """
    total, n = None, 0
    for block in chunks.iter_chunks(rows, chunk_size, dtype=np.float64, reuse_buffer=True):
        total = block.sum(axis=0) if total is None else total + block.sum(axis=0)
        n += len(block)
    return total / n, n


def row_statistics(rows, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> tuple[np.ndarray, int,
                                                                              float]:
    """(mean (d,), n, total variance tr C) of rows in float64, in two passes over checked
    chunks (an array, memmap or `.npy` path; no float64 copy of the rows).

    Example:
      >>> import numpy as np
      >>> mean, n, variance = row_statistics(np.array([[0.0, 1.0], [2.0, 3.0]]))
      >>> mean.tolist(), n, variance
      ([1.0, 2.0], 2, 2.0)
    """
    mean, n = row_mean(rows, chunk_size=chunk_size)
    variance = 0.0
    for block in chunks.iter_chunks(rows, chunk_size, dtype=np.float64, reuse_buffer=True):
        variance += float(np.sum((block - mean) ** 2))
    return mean, n, variance / n
