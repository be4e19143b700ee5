"""Checks of `fit`'s arguments that need more than a line: callables, the seed, a list of rows,
the model a covariance source can train, and a reference PCA against the training data."""

from __future__ import annotations

import numbers

import numpy as np

from tiedae.data import moments
from tiedae.training import sources as sources_lib


def check_callable(value, name: str, form: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function {form}; got {value!r}")


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative integer; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed}")
    return int(seed)


def rows_as_array(data):
    """A list of rows (lists, tuples or numbers) as an array; anything else as it is (fit
    treats tuples, dicts and lists of arrays as pytrees for a `FullBatch`)."""
    if isinstance(data, list) and data and all(isinstance(row, list | tuple | numbers.Number)
                                               for row in data):
        try:
            return np.asarray(data)
        except ValueError as err:  # ragged
            raise TypeError("data must be an array of shape (n, d); got a list of rows of "
                            "different lengths") from err
    return data


def check_covariance_model(hooks) -> None:
    """The covariance source trains a linear model x_hat = V W (x - mu) and nothing else
    (`hooks`: the model's `tiedae.training.hooks.Hooks`)."""
    if not hooks.linear:
        raise TypeError(f"the covariance source (batch_size='covariance') trains linear models "
                        f"with encoder_matrix() and decoder_matrix() (a LinearAE); "
                        f"{hooks.model_name} has none: use batch_size=None or an int")
    if hooks.use_bias:
        raise ValueError("the covariance source sees only the covariance of the data, not the "
                         "model's biases, which it would leave untrained: use a model without "
                         "biases (use_bias=False; the DataMean centres the data) or "
                         "batch_size=None")


def row_statistics(X, chunk_size: int) -> tuple[np.ndarray, int, float] | None:
    """(mean, n, total variance) of a 2-D array's rows in float64 (`tiedae.data.moments`);
    None for anything else."""
    if getattr(X, "ndim", None) != 2:
        return None
    return moments.row_statistics(X, chunk_size=chunk_size)


def check_reference(reference, source, chunk_size: int) -> None:
    """Raises ValueError when `reference` (a `pca.PCAResult`) was not fit on the training data:
    its mean, number of rows and total variance are compared with the data's, as far as the
    source can tell them (a stream of unknown length: the mean only; a bare iterator without a
    given mean: nothing)."""
    if reference is None or not hasattr(reference, "check_data"):
        return
    mean = n = variance = None
    if isinstance(source, sources_lib.Covariance):
        mean, C = source.mean_and_covariance()
        n, variance = source.n_samples, float(np.trace(C))
    elif isinstance(source, sources_lib.FullBatch | sources_lib.Minibatches):
        stats = row_statistics(source.data, chunk_size)
        if stats is not None:
            mean, n, variance = stats
    elif isinstance(source, sources_lib.RowChunks):
        if hasattr(source.rows, "shape"):
            n = source.rows.shape[0]
        try:
            mean = source.mean()  # one pass over an array or a rows function (cached)
        except ValueError:  # a one-pass iterator without a given mean
            mean = None
    if mean is not None:
        reference.check_data(mean, n_samples=n, total_variance=variance)
