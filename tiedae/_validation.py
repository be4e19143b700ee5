"""Input checks shared by the public functions: fail early, with a message naming the problem."""

from __future__ import annotations

import numbers

import jax.numpy as jnp
import numpy as np


def check_data(X, name: str = "X", *, min_samples: int = 2, dtype=None) -> np.ndarray:
    """Returns `X` as a finite 2-D floating numpy array of shape (n, d), or raises.

    Args:
      X: array-like of shape (n, d); samples are rows.
      name: the argument's name, used in error messages.
      min_samples: the smallest allowed n.
      dtype: floating dtype to cast to; by default float64 for float64 input, else float32.

    Raises:
      TypeError: if X is not numeric (strings, objects, complex).
      ValueError: if X is not 2-D, has fewer than `min_samples` rows, no columns, NaN/inf,
        or finite values too large for `dtype` (e.g. float64 data beyond float32's range).
    """
    try:
        arr = np.asarray(X)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of shape (n, d); got {type(X).__name__}") from err
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(
            f"{name} must hold real numbers (float or int); got dtype {arr.dtype}"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, n_features); got {arr.ndim}-D shape "
            f"{arr.shape}"
        )
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows); got n={n}")
    if d < 1:
        raise ValueError(f"{name} has no features (d=0)")
    if dtype is None:
        dtype = np.float64 if arr.dtype == np.float64 else np.float32
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype; got {dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    with np.errstate(over="ignore"):
        cast = arr.astype(dtype, copy=False)
    if not np.isfinite(cast).all():  # finite before the cast: too large for `dtype`
        too_large = ~np.isfinite(cast)
        largest = float(np.max(np.abs(arr[too_large])))
        raise ValueError(
            f"{name} has {int(too_large.sum())} value(s) (largest |value| {largest:.3g}) beyond "
            f"{dtype}'s range (|x| <= {float(np.finfo(dtype).max):.3g}): rescale the data "
            f"(e.g. divide by its largest |value|) or use float64 (a float64 model, with "
            f"jax_enable_x64)"
        )
    return cast


def check_positive_int(value, name: str) -> int:
    """Returns `value` as an int >= 1, or raises TypeError (not an integer) / ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {name}={int(value)}")
    return int(value)


def check_rank(k, d: int, name: str = "k") -> int:
    """Returns `k` as an int with 1 <= k <= d, or raises TypeError/ValueError."""
    k = check_positive_int(k, name)
    if k > d:
        raise ValueError(f"{name} must be <= d (the number of features); got {name}={k} > d={d}")
    return k


def check_matrix(W, name: str = "W") -> jnp.ndarray:
    """Returns `W` as a 2-D floating jax array, or raises."""
    W = jnp.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got shape {W.shape}")
    if not jnp.issubdtype(W.dtype, jnp.floating):
        raise TypeError(f"{name} must be floating point; got dtype {W.dtype}")
    return W
