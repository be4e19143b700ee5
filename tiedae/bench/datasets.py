"""The data sets the suites train on, loaded once per process: all offline.

Row data (`load`):

* ``spiked``: `tiedae.data.spiked_covariance` (known population spectrum).
* ``linear``: Bao et al. (2020)'s synthetic set, eigenvalues linearly spaced from d/10 down to 1.
* ``digits``: scikit-learn's bundled 8x8 digits (1797 x 64), values in [0, 1].
* ``user``: the training images of a user's MNIST / Fashion-MNIST data (a folder of IDX files
  or a .npz) via `tiedae.data.mnist.load`, flattened to rows and scaled to [0, 1] (a folder
  with only the test files is split by `mnist.load`: 80 % train, seed 0).

Labelled image splits (`image_split`): the digits, or a user's MNIST-format data, as flattened
train/test rows with labels.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tiedae import data
from tiedae.data import mnist

__all__ = ["DIGITS_TEST_FRACTION", "image_config", "image_split", "load", "load_images"]

DIGITS_TEST_FRACTION = 0.2  # of the 1797 digits: 1437 train / 360 test


@functools.lru_cache(maxsize=16)
def _load(name: str, n: int, d: int, k: int, gap: float, seed: int, path: str | None):
    if name == "spiked":
        return data.spiked_covariance(n, d, k=k, gap=gap, seed=seed).X
    if name == "linear":
        return data.spiked_covariance(n, d, eigenvalues=data.linear_spectrum(d), seed=seed).X
    if name == "digits":
        return data.digits().astype(np.float64)
    if name == "user":
        if path is None:
            raise ValueError("data set 'user' needs --data PATH")
        X = mnist.load(path).x_train  # the training images; labels are not used here
        if len(X) <= max(k, 1):
            raise ValueError(f"--data {path}: {len(X)} training image(s); this run needs more "
                             f"than k={k} (use the whole data set)")
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)  # in [0, 1] already
    raise ValueError(f"unknown data set {name!r}")


def load(name: str, *, n: int = 0, d: int = 0, k: int = 0, gap: float = 0.0, seed: int = 0,
         path: str | None = None) -> np.ndarray:
    """Returns the float64 (n, d) data set `name` (see the module docstring); cached."""
    X = _load(name, int(n), int(d), int(k), float(gap), int(seed), path)
    X.setflags(write=False)
    return X


@functools.lru_cache(maxsize=8)
def image_split(path: str | None, n_train: int, n_test: int) -> tuple:
    """(X_train, y_train, X_test, y_test, image_shape), flattened float32 rows in [0, 1]: the
    digits (path None; `DIGITS_TEST_FRACTION` held out) or the first n_train / n_test
    images of a user's MNIST-format data after a fixed shuffle (seed 0)."""
    rng = np.random.default_rng(0)
    if path:
        ds = mnist.load(path)
        shape = (*ds.x_train.shape[1:], 1)
        tr = rng.permutation(len(ds.x_train))[:n_train]
        te = rng.permutation(len(ds.x_test))[:n_test]
        parts = (ds.x_train[tr].reshape(len(tr), -1), ds.y_train[tr],
                 ds.x_test[te].reshape(len(te), -1), ds.y_test[te])
    else:
        X, y = data.digits(return_labels=True)
        perm = rng.permutation(len(X))
        n_test_digits = math.ceil(DIGITS_TEST_FRACTION * len(X))  # as scikit-learn rounds
        tr, te = perm[: len(X) - n_test_digits], perm[len(X) - n_test_digits:]
        parts = (X[tr], y[tr], X[te], y[te])
        shape = (8, 8, 1)
    out = tuple(np.ascontiguousarray(a) for a in parts)
    for a in out:
        a.setflags(write=False)
    return (*out, shape)


def image_config(options) -> dict:
    """The image data of a run, for its config: a user's data (`--data`) or the digits."""
    if options.data:
        return {"data": options.data, "n_train": 5000 if options.quick else 20000,
                "n_test": 2000 if options.quick else 5000}
    n = len(data.digits())
    n_test = math.ceil(DIGITS_TEST_FRACTION * n)
    return {"data": None, "n_train": n - n_test, "n_test": n_test}


def load_images(config: dict) -> tuple:
    """`image_split` of a run's config."""
    return image_split(config.get("data"), config.get("n_train"), config.get("n_test"))
