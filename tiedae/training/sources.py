r"""Data sources: how `fit` feeds the data to the compiled training steps.

A source is bound once per run (`bind`) to the model's dtype and device mesh. It returns what
every step reads from device memory (`resident`: X, or the covariance C), a pure function
`select(resident, step_input) -> batch` that runs inside the compiled step, and a host-side
`next_inputs(capacity, m)` that hands the compiled loop the per-step inputs of its next m steps
(row indices of the minibatches, or the streamed rows themselves), stacked along a leading axis
of fixed length `capacity` so the loop compiles once.

* `FullBatch(X)`: every step sees all of X (or any pytree of arrays, e.g. a graph).
* `Minibatches(X, batch_size)`: b rows per step, from a fresh permutation each epoch; the last
  partial batch of an epoch is dropped.
* `Covariance(X)`: linear models only. C = X_c^T X_c / n is computed once in float64, in one
  pass over row chunks (X may be a memory map, a `.npy` file or an iterator of chunks, larger
  than memory), and each step costs O(d^2 k) whatever n is, with the same iterates as the full
  batch.
* `RowChunks(rows, batch_size)`: rows streamed from the host in chunks of b rows (an array,
  memory map or `.npy` file read block by block, an iterator, or a function returning a fresh
  iterator per epoch); X is never held whole in memory or on the device.

`fit(model, X, batch_size=...)` picks the first three from `batch_size` (None, an int, or the
string "covariance"); pass a source as `fit`'s data argument for the others or to set options.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from tiedae._validation import check_data, check_positive_int
from tiedae.data import chunks
from tiedae.data import moments as moments_lib
from tiedae.training import distributed
from tiedae.training.objectives import covariance_loss, reconstruction_error

__all__ = ["Bound", "Covariance", "FullBatch", "Minibatches", "RowChunks", "Source", "as_source"]

DEFAULT_CHUNK_ROWS = moments_lib.DEFAULT_CHUNK_ROWS
_MAX_STREAMED_BYTES = 64 * 2**20  # streamed rows held by one compiled call at most


class Bound(NamedTuple):
    """A source bound to a run. `select` is a hashable function (part of the compiled step's
    identity); everything else is data."""

    resident: Any
    select: Callable[[Any, Any], Any]
    next_inputs: Callable[[int, int], Any]
    n_features: int | None
    max_fused_steps: int | None
    max_abs: float | None  # largest |value| of the data, when known (for divergence messages)
    # The state of the data order (get() -> dict of JSON values and arrays, set(dict)), for
    # checkpoints; None when the order is the rows read so far (a checkpoint reads them again).
    position: Any = None


def _select_resident(resident, step_input):
    return resident


def _select_input(resident, step_input):
    return step_input


@dataclasses.dataclass(frozen=True)
class _SelectRows:
    """X[indices], laid out over the mesh's batch axis when there is one."""

    sharding: NamedSharding | None

    def __call__(self, resident, indices):
        batch = resident[indices]
        if self.sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, self.sharding)
        return batch


def _no_inputs(capacity: int, m: int):
    return None


def _rows_sharding(mesh, ndim: int, leading: int = 0):
    """Rows (axis `leading`) over the mesh's batch axis, the rest replicated."""
    if mesh is None:
        return None
    spec = [None] * ndim
    spec[leading] = "batch"
    return NamedSharding(mesh, P(*spec))


def _check_divisible(n: int, mesh, what: str) -> None:
    if mesh is not None and n % mesh.size:
        raise ValueError(f"{what}: n={n} rows cannot be split evenly over {mesh.size} devices")


def _put_rows(X: np.ndarray, mesh, what: str) -> jax.Array:
    """X's rows sharded over the mesh's batch axis (X as it is without a mesh). On a mesh over
    several processes X holds this process's rows, and the result is the global array of all
    the processes' rows, in process order (`distributed.global_rows`)."""
    if distributed.spans_processes(mesh):
        return distributed.global_rows(X, mesh)
    _check_divisible(len(X), mesh, what)
    return jax.device_put(jnp.asarray(X), _rows_sharding(mesh, X.ndim))


def _check_rows(X, name: str, dtype, *, min_samples: int = 2) -> np.ndarray:
    """X (n, ...) as a finite array of `dtype`; images (n, H, W, C) are checked row-flattened."""
    arr = X if isinstance(X, np.ndarray) else np.asarray(X)
    if arr.ndim > 2:
        flat = check_data(arr.reshape(arr.shape[0], -1), name, min_samples=min_samples,
                          dtype=dtype)
        return flat.reshape(arr.shape)
    return check_data(arr, name, min_samples=min_samples, dtype=dtype)


def _max_abs(X: np.ndarray) -> float:
    return float(np.max(np.abs(X))) if X.size else 0.0


class Source:
    """Base class. Subclasses implement `bind`, and `mean` when they can centre the data."""

    name = "data"

    def bind(self, *, dtype, mesh, seed: int, offset: np.ndarray | None) -> Bound:
        """Prepares the run. `offset` is the vector the model subtracts from each row (its
        `DataMean`), or None; only the covariance source needs it."""
        raise NotImplementedError

    def mean(self) -> np.ndarray:
        """The float64 mean of the rows (d,), for centring."""
        raise ValueError(f"{type(self).__name__} cannot compute the mean of its rows: pass "
                         "center=False to fit, or give the mean")

    @property
    def default_loss(self):
        return reconstruction_error


class FullBatch(Source):
    """Every step sees all the data: an (n, ...) array, or any pytree of arrays (e.g. a graph's
    normalised adjacency and target), which is handed to the loss as it is.

    Example:
      >>> import numpy as np
      >>> src = FullBatch(np.ones((4, 3)))
      >>> src.mean().tolist()
      [1.0, 1.0, 1.0]
    """

    def __init__(self, data):
        self.data = data
        self._rows = not isinstance(data, dict | tuple | list)

    def mean(self) -> np.ndarray:
        if not self._rows:
            return super().mean()
        return check_data(self.data, "X", dtype=np.float64).mean(axis=0)

    def bind(self, *, dtype, mesh, seed, offset) -> Bound:
        if self._rows:
            X = _check_rows(self.data, "X", dtype)
            resident = _put_rows(X, mesh, "devices")
            n_features, max_abs = (X.shape[1] if X.ndim == 2 else None), _max_abs(X)
        else:
            def cast(leaf):
                leaf = np.asarray(leaf)
                if not np.isfinite(leaf).all():
                    raise ValueError("the data contain NaN or inf")
                return leaf.astype(dtype) if np.issubdtype(leaf.dtype, np.floating) else leaf

            resident = jax.device_put(jax.tree.map(cast, self.data))
            n_features, max_abs = None, None
        return Bound(resident, _select_resident, _no_inputs, n_features, None, max_abs)


class Minibatches(Source):
    """`batch_size` rows per step, drawn without replacement from a fresh permutation each epoch
    (numpy's generator seeded with `seed`, or fit's seed); the last partial batch is dropped.
    Over several processes `data` is this process's rows and `batch_size` the global batch;
    every process draws the same order over the global rows (`tiedae.training.distributed`).

    Example:
      >>> import numpy as np
      >>> src = Minibatches(np.zeros((10, 2)), 4)
      >>> bound = src.bind(dtype=np.float32, mesh=None, seed=0, offset=None)
      >>> bound.next_inputs(3, 2).shape  # indices of the next 2 steps, padded to 3
      (3, 4)
    """

    def __init__(self, data, batch_size: int, *, seed: int | None = None):
        self.data = data
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = seed

    def mean(self) -> np.ndarray:
        return check_data(self.data, "X", dtype=np.float64).mean(axis=0)

    def bind(self, *, dtype, mesh, seed, offset) -> Bound:
        X = _check_rows(self.data, "X", dtype)
        resident = _put_rows(X, mesh, "devices")  # all processes' rows
        n, b = resident.shape[0], self.batch_size
        if b > n:
            raise ValueError(f"batch_size must be in [1, n={n}]; got {b}")
        _check_divisible(b, mesh, "devices (batch_size)")
        order = _Order(np.random.default_rng(seed if self.seed is None else self.seed), n, b)
        select = _SelectRows(_rows_sharding(mesh, X.ndim))
        n_features = X.shape[1] if X.ndim == 2 else None
        return Bound(resident, select, order.next_inputs, n_features, None, _max_abs(X), order)


class _Order:
    """The minibatch order: a fresh permutation of the n rows each epoch, b rows per step.
    `get`/`set` save and restore where it is (for checkpoints)."""

    def __init__(self, rng: np.random.Generator, n: int, b: int):
        self.rng, self.n, self.b = rng, n, b
        self.perm: np.ndarray | None = None
        self.offset = 0

    def next_inputs(self, capacity: int, m: int) -> np.ndarray:
        n, b = self.n, self.b
        out = np.zeros((capacity, b), np.int32)
        for i in range(m):
            if self.perm is None or self.offset + b > n:
                self.perm, self.offset = self.rng.permutation(n).astype(np.int32), 0
            out[i] = self.perm[self.offset: self.offset + b]
            self.offset += b
        return out

    def get(self) -> dict:
        out = {"rng": self.rng.bit_generator.state, "offset": self.offset}
        if self.perm is not None:
            out["perm"] = self.perm.copy()
        return out

    def set(self, position: dict) -> None:
        self.rng.bit_generator.state = position["rng"]
        self.offset = int(position["offset"])
        perm = position.get("perm")
        self.perm = None if perm is None else np.asarray(perm, np.int32)
        if self.perm is not None and self.perm.shape != (self.n,):
            raise ValueError(f"the checkpoint's minibatch order is over {self.perm.size} rows; "
                             f"the data have n={self.n}")


class Covariance(Source):
    r"""The full batch of a linear model through C = X_c^T X_c / n (float64, read in row chunks).

    Each step evaluates tr M - 2 tr(V W M) + tr(V^T V W M W^T) with M the second moment of the
    rows around the model's `DataMean` (C itself when that is the data mean): O(d^2 k) per step
    instead of O(n d k), with the same iterates. The model needs `encoder_matrix()` and
    `decoder_matrix()` and no biases.

    The mean and C are computed once, in one pass over the rows when first needed
    (`tiedae.data.moments.moments`): only one chunk is in memory at a time, and a memory map or
    `.npy` file is read without keeping its pages mapped, so X may be larger than memory. Give
    precomputed moments with `Covariance.from_moments`. In a multi-process run each process
    passes its own rows (any number) and every process gets the moments of all of them (one
    collective; `tiedae.training.distributed`); train without `devices`.

    Args:
      data: the rows: an (n, d) array or `np.memmap`, a path to a `.npy` file, an iterator of
        (r, d) chunks, a function returning one, or a `RowChunks` (its rows).
      chunk_size: rows read at a time from an array or file.

    Example:
      >>> import numpy as np
      >>> X = np.random.default_rng(0).normal(size=(100, 3))
      >>> src = Covariance(iter([X[:40], X[40:]]))
      >>> bool(np.allclose(src.mean_and_covariance()[1], np.cov(X.T, bias=True)))
      True
      >>> src.n_samples
      100
    """

    name = "covariance"

    def __init__(self, data, *, chunk_size: int = DEFAULT_CHUNK_ROWS):
        if isinstance(data, RowChunks):
            data = data.rows
        chunks.rows_kind(data)  # a TypeError now for what cannot be rows
        self.data = data
        self.chunk_size = check_positive_int(chunk_size, "chunk_size")
        self._moments: moments_lib.Moments | None = None

    @classmethod
    def from_moments(cls, mean, covariance, n_samples: int | None = None) -> Covariance:
        """The source of data known by its float64 mean (d,), covariance (d, d) and row count
        (None if unknown), with no pass over rows: e.g. from `tiedae.pca.moments` or a
        `tiedae.pca.CovarianceAccumulator` fed chunk by chunk (both in `tiedae.data.moments`).

        Example:
          >>> import numpy as np
          >>> src = Covariance.from_moments(np.zeros(2), np.diag([2.0, 1.0]), 10)
          >>> src.mean_and_covariance()[1].tolist(), src.n_samples
          ([[2.0, 0.0], [0.0, 1.0]], 10)
        """
        source = cls.__new__(cls)
        source.data, source.chunk_size = None, DEFAULT_CHUNK_ROWS
        source._moments = moments_lib.Moments.checked(mean, covariance, n_samples)
        return source

    def moments(self) -> moments_lib.Moments:
        """`tiedae.data.moments.Moments` (mean, covariance, n_samples), computed once."""
        if self._moments is None:
            self._moments = moments_lib.moments(self.data, chunk_size=self.chunk_size)
            self.data = None  # an iterator is spent; an array is not needed any more
        return self._moments

    def mean_and_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (d,), C (d, d)) in float64, computed once."""
        moments = self.moments()
        return moments.mean, moments.covariance

    @property
    def n_samples(self) -> int:
        return self.moments().n_samples

    def mean(self) -> np.ndarray:
        return self.mean_and_covariance()[0]

    @property
    def default_loss(self):
        return covariance_loss

    def bind(self, *, dtype, mesh, seed, offset) -> Bound:
        if mesh is not None:
            raise ValueError("the covariance source works on the d x d covariance; drop devices=")
        mu, C = self.mean_and_covariance()
        if offset is not None:
            shift = mu - np.asarray(offset, np.float64)
            C = C + np.outer(shift, shift)
        return Bound(jnp.asarray(C, dtype), _select_resident, _no_inputs, C.shape[0], None,
                     None)


class RowChunks(Source):
    """Rows streamed from the host, `batch_size` rows per step; X is never held whole.

    An array, memory map or `.npy` file is read in contiguous blocks of `batch_size` rows with
    `tiedae.data.chunks.RowReader` (explicit reads: the file's pages do not pile up in the
    process's memory), in a shuffled block order each epoch when `shuffle`. Every chunk is
    checked as it arrives (`tiedae.data.chunks.check_chunk`: 2-D, one width, real, finite;
    integers are converted to the model's dtype); a bad one stops `fit` with an error naming
    the chunk and the row.

    Args:
      rows: an (n, d) array or `np.memmap`, a path to a `.npy` file, an iterator of (r, d)
        chunks (one pass), or a function returning a fresh iterator (one call per epoch).
        Chunks of any row count are regrouped into batches of exactly `batch_size` rows.
      batch_size: rows per step.
      shuffle: shuffle the block order of an array each epoch.
      seed: seed of that shuffle (default: fit's seed).
      mean: the rows' mean, if known; otherwise `mean()` makes one pass over the rows (arrays,
        files and functions only).

    Example:
      >>> import numpy as np
      >>> src = RowChunks(iter([np.ones((3, 2)), np.zeros((5, 2))]), 4)
      >>> batches = src.bind(dtype=np.float32, mesh=None, seed=0, offset=None).next_inputs(2, 2)
      >>> batches.shape, batches.sum(axis=(1, 2)).tolist()
      ((2, 4, 2), [6.0, 0.0])
    """

    name = "row chunks"

    def __init__(self, rows, batch_size: int, *, shuffle: bool = True, seed: int | None = None,
                 mean=None):
        self._kind = chunks.rows_kind(rows)
        if self._kind == "array":
            with chunks.RowReader(rows) as reader:  # a ValueError now for a bad shape
                if reader.shape[0] == 0:
                    raise ValueError(f"the rows are empty: shape {reader.shape}")
        self.rows = rows
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle, self.seed = bool(shuffle), seed
        self._mean = None if mean is None else np.asarray(mean, np.float64)
        self._calls = 0  # calls of a rows function so far
        self._first_batch_checked = False

    def _chunks(self, seed: int, dtype) -> Iterator[np.ndarray]:
        """Checked chunks, epoch after epoch (one epoch for a plain iterator)."""
        if self._kind == "iterator":
            yield from chunks.iter_chunks(self.rows, dtype=dtype)
            return
        while self._kind == "factory":
            yield from self._call_rows(dtype)
        rng = np.random.default_rng(seed if self.seed is None else self.seed)
        with chunks.RowReader(self.rows) as reader:
            n = reader.shape[0]
        while True:
            starts = np.arange(0, n, self.batch_size)
            if self.shuffle:
                rng.shuffle(starts)
            yield from chunks.iter_chunks(self.rows, self.batch_size, dtype=dtype, starts=starts)

    def _call_rows(self, dtype) -> Iterator[np.ndarray]:
        """The checked chunks of one call of the rows function (one epoch)."""
        self._calls += 1
        try:
            yield from chunks.iter_chunks(self.rows, dtype=dtype)
        except chunks.EmptyRows:
            if self._calls == 1:
                raise
            raise ValueError(f"the rows function returned no rows on its call {self._calls}: it "
                             "must return a fresh iterator over the rows on every call (one "
                             "call per epoch; a generator, once read, stays empty)") from None

    def _check_first_batch(self) -> int:
        """Reads and checks a one-pass iterator's chunks up to the first batch (kept, for
        training to read again): an empty iterator, a bad chunk or too few rows for one batch
        raise their own error here. Returns the rows read."""
        it = chunks.stream(self.rows)
        held, count = [], 0
        for block in chunks.iter_chunks(_Counted(it, held)):
            count += len(block)
            if count >= self.batch_size:
                break
        self.rows = itertools.chain(held, it)
        self._first_batch_checked = True
        if count < self.batch_size:
            raise ValueError(f"the rows ran out: the iterator holds {count} rows, fewer than one "
                             f"batch (batch_size={self.batch_size})")
        return count

    def mean(self) -> np.ndarray:
        if self._mean is not None:
            return self._mean
        if self._kind == "iterator":
            count = self._check_first_batch()
            raise ValueError(f"RowChunks cannot compute the mean of a one-pass iterator before "
                             f"training (its first {count} rows are fine): pass center=False to "
                             "fit, give the mean (RowChunks(..., mean=...)), or pass a function "
                             "returning a fresh iterator (a first pass computes the mean)")
        if self._kind == "factory":
            self._calls += 1
        self._mean = moments_lib.row_mean(self.rows)[0]
        return self._mean

    def bind(self, *, dtype, mesh, seed, offset) -> Bound:
        b = self.batch_size
        _check_divisible(b, mesh, "devices (batch_size)")
        if self._kind == "iterator" and not self._first_batch_checked:
            self._check_first_batch()
        batches = chunks.regroup(self._chunks(seed, dtype), b)

        def take_batch() -> np.ndarray:
            try:
                return next(batches)
            except StopIteration:
                raise ValueError(
                    "the rows ran out: a plain iterator is read once; pass a function that "
                    "returns a fresh iterator to train for several epochs") from None

        first = take_batch()
        d = first.shape[1]
        queue = [first]
        sharding = _rows_sharding(mesh, 3, leading=1)

        def next_inputs(capacity: int, m: int) -> jax.Array:
            out = np.zeros((capacity, b, d), dtype)
            for i in range(m):
                out[i] = queue.pop() if queue else take_batch()
            return jax.device_put(out, sharding)

        max_fused = max(1, _MAX_STREAMED_BYTES // (b * d * np.dtype(dtype).itemsize))
        return Bound(None, _select_input, next_inputs, d, max_fused, None)


class _Counted:
    """An iterator that keeps what it hands out in `held` (to hand it out again)."""

    def __init__(self, it: Iterator, held: list):
        self.it, self.held = it, held

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self.it)
        self.held.append(item)
        return item


def as_source(data, batch_size=None, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Source:
    """A `Source` for fit's `data` argument: a source is returned as it is; an array becomes
    `FullBatch` (batch_size None), `Minibatches` (an int) or `Covariance` ("covariance")."""
    if isinstance(data, Source):
        if batch_size is not None:
            raise ValueError("batch_size is set by the data source itself; drop batch_size=")
        return data
    if batch_size is None:
        return FullBatch(data)
    if isinstance(batch_size, str):
        if batch_size != "covariance":
            raise ValueError(f'batch_size must be None, an int or "covariance"; got '
                             f"{batch_size!r}")
        return Covariance(data, chunk_size=chunk_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ValueError(f'batch_size must be None, an int or "covariance"; got {batch_size!r}')
    if batch_size < 1:
        n = getattr(data, "shape", (None,))[0]
        raise ValueError(f"batch_size must be in [1, n={n}]; got {batch_size}")
    return Minibatches(data, int(batch_size))

