"""The data sets the suites train on, loaded once per process: all offline.

* ``spiked``: `tiedae.data.spiked_covariance` (known population spectrum).
* ``linear``: Bao et al. (2020)'s synthetic set, eigenvalues linearly spaced from d/10 down to 1.
* ``digits``: scikit-learn's bundled 8x8 digits (1797 x 64), values in [0, 1].
* ``user``: the training images of a user's MNIST / Fashion-MNIST data (a folder of IDX files
  or a .npz) via `tiedae.mnist.load`, flattened to rows and scaled to [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np

from tiedae import data

__all__ = ["load", "linear_spectrum"]


def linear_spectrum(d: int) -> np.ndarray:
    """Eigenvalues linearly spaced from max(d / 10, 2) down to 1 (Bao et al. 2020 use d=1000)."""
    return np.linspace(max(d / 10.0, 2.0), 1.0, d)


@functools.lru_cache(maxsize=16)
def _load(name: str, n: int, d: int, k: int, gap: float, seed: int, path: str | None):
    if name == "spiked":
        return data.spiked_covariance(n, d, k=k, gap=gap, seed=seed).X
    if name == "linear":
        return data.spiked_covariance(n, d, eigenvalues=linear_spectrum(d), seed=seed).X
    if name == "digits":
        return data.digits().astype(np.float64)
    if name == "user":
        if path is None:
            raise ValueError("data set 'user' needs --data PATH")
        from tiedae import mnist  # optional module, imported only when asked for

        X = mnist.load(path).x_train  # the training images; labels are not used here
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)  # in [0, 1] already
    raise ValueError(f"unknown data set {name!r}")


def load(name: str, *, n: int = 0, d: int = 0, k: int = 0, gap: float = 0.0, seed: int = 0,
         path: str | None = None) -> np.ndarray:
    """Returns the float64 (n, d) data set `name` (see the module docstring); cached."""
    X = _load(name, int(n), int(d), int(k), float(gap), int(seed), path)
    X.setflags(write=False)
    return X
