r"""The images of post 000's MLP autoencoder runs, and PCA's references on them.

A run's images (`load`): the user's MNIST-format data (`--data`; `data_config` says how many
training and test images) or scikit-learn's digits, float32 rows in [0, 1], restricted to the
run's `train_classes` when it names some; `probe_data` the images its frozen codes are probed
on (its `probe_classes`: classes the encoder never saw). `split_rows` carves the validation
split off the end of the training split. PCA of the training split, or of its fit rows, is
computed once per process (`pca_reference`), with its codes and per-row errors
(`pca_codes`, `pca_errors`) and the affine regressions the code scores use (`affine_fit`).

Example:
  >>> from tiedae.bench.suites import mlp_data
  >>> mlp_data.split_rows(1437, 0.1)  # fit rows, validation rows
  (1293, 144)
  >>> mlp_data.image_indices([3, 3, 1, 2, 1], 4)  # one image per class first
  [2, 3, 0, 1]
"""

from __future__ import annotations

import functools

import numpy as np

from tiedae import pca
from tiedae.bench.datasets import image_split, user_images
from tiedae.features import AffineFit

__all__ = ["QUICK_USER_ROWS", "affine_fit", "data_config", "data_key", "image_indices", "load",
           "n_fit_rows", "pca_codes", "pca_errors", "pca_of", "pca_reference", "probe_data",
           "split_images", "split_rows"]

QUICK_USER_ROWS = (2000, 500)  # train / test images of a user's data in the quick runs


def data_config(options) -> dict:
    """The images a run uses, as they are: the user's data (`--data`; all of it in the full
    runs, at most `QUICK_USER_ROWS` in the quick ones) or the digits."""
    if options.mnist:
        ds = user_images(options.mnist)
        n_train, n_test = len(ds.x_train), len(ds.x_test)
        if options.quick:
            n_train, n_test = min(n_train, QUICK_USER_ROWS[0]), min(n_test, QUICK_USER_ROWS[1])
        return {"data": options.mnist, "n_train": n_train, "n_test": n_test}
    X, _, X_test, _, _ = image_split(None, None, None)
    return {"data": None, "n_train": len(X), "n_test": len(X_test)}


@functools.lru_cache(maxsize=8)
def split_images(path, n_train: int, n_test: int, classes: tuple = ()) -> tuple:
    """`image_split`, restricted to the images of `classes` in both splits (all: empty)."""
    X, y, X_test, y_test, shape = image_split(path, n_train, n_test)
    if not classes:
        return X, y, X_test, y_test, shape
    keep, keep_test = np.isin(y, classes), np.isin(y_test, classes)
    if not keep.any() or not keep_test.any():
        raise ValueError(f"no images of classes {list(classes)} in the data")
    return X[keep], y[keep], X_test[keep_test], y_test[keep_test], shape


def data_key(config: dict, classes: str = "train_classes") -> tuple:
    return (config.get("data"), config["n_train"], config["n_test"],
            tuple(int(c) for c in config.get(classes) or ()))


def load(config: dict) -> tuple:
    """(X, y, X_test, y_test, image_shape) of a run, float32 rows in [0, 1]: the images of its
    `train_classes` (all when not given)."""
    return split_images(*data_key(config))


def probe_data(config: dict) -> tuple:
    """(X, y, X_test, y_test, image_shape) on which a run's frozen codes are probed: the images
    of its `probe_classes` (transfer: classes the encoder never saw), else `load`'s."""
    if config.get("probe_classes"):
        return split_images(*data_key(config, "probe_classes"))
    return load(config)


def split_rows(n_train: int, validation_fraction: float) -> tuple[int, int]:
    """(fit rows, validation rows) of a training split of n_train rows: the validation split is
    its last round(validation_fraction * n_train) rows (at least 1 when the fraction is > 0)."""
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1); got {validation_fraction}")
    n_val = max(1, round(validation_fraction * n_train)) if validation_fraction else 0
    if n_val >= n_train:
        raise ValueError(f"a training split of {n_train} rows leaves no rows to fit on")
    return n_train - n_val, n_val


def n_fit_rows(config: dict) -> int:
    return split_rows(len(load(config)[0]), config.get("validation_fraction", 0.0))[0]


@functools.lru_cache(maxsize=16)
def pca_of(key: tuple, k: int, n_fit: int | None = None) -> pca.PCAResult:
    X = split_images(*key)[0][:n_fit]
    return pca.fit(X.astype(np.float64), k)


def pca_reference(config: dict, k: int, fit_rows: bool = False) -> pca.PCAResult:
    """PCA with k components of the run's training split (its `train_classes`), or (fit_rows)
    of its fit rows only (cached)."""
    return pca_of(data_key(config), int(k), n_fit_rows(config) if fit_rows else None)


def pca_codes(ref: pca.PCAResult, X) -> np.ndarray:
    return (np.asarray(X, np.float64) - ref.mean) @ ref.components.T


def pca_errors(ref: pca.PCAResult, X) -> np.ndarray:
    """Per-row squared reconstruction error of PCA (float64)."""
    Xc = np.asarray(X, np.float64) - ref.mean
    return np.sum((Xc - Xc @ ref.components.T @ ref.components) ** 2, axis=1)


@functools.lru_cache(maxsize=8)
def affine_fit(key: tuple, k: int) -> AffineFit:
    """Affine regression from the pixels (k = 0) or from PCA's k-dim code, fitted once."""
    X, _, X_test, _, _ = split_images(*key)
    if k == 0:
        return AffineFit(X, X_test)
    ref = pca_of(key, k)
    return AffineFit(pca_codes(ref, X), pca_codes(ref, X_test))


def image_indices(labels, n: int) -> list[int]:
    """The first test image of each class, then the next ones, up to n indices."""
    labels = np.asarray(labels)
    first = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    taken = set(first)
    rest = [i for i in range(len(labels)) if i not in taken]
    return (first + rest)[:n]
