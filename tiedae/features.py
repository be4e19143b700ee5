r"""Feature quality of frozen codes: linear-probe and k-NN accuracy, and how linear a code is.

All three fit on the codes of a training split and score on a held-out split. The first two
measure how well the frozen representation z = encode(x) transfers to a task the autoencoder
never saw; the third, how simple (how nearly affine) a code is as a function of other features.

* linear probe: multinomial logistic regression on standardised codes
  (z - mu) / sigma (mu, sigma from the training codes), L2 penalty C = 1;
* k-NN: majority vote of the k nearest training codes in Euclidean distance on the same
  standardised codes.

References:
  Alain, G. & Bengio, Y. (2016). Understanding intermediate layers using linear classifier
  probes. arXiv:1610.01644.
  Cover, T. & Hart, P. (1967). Nearest neighbor pattern classification. IEEE Trans. Inf.
  Theory 13(1), 21-27.

Example:
  >>> import numpy as np
  >>> from tiedae import features
  >>> z = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + 0.01 * np.arange(40)[:, None]
  >>> y = np.r_[np.zeros(20, int), np.ones(20, int)]
  >>> features.knn_accuracy(z[::2], y[::2], z[1::2], y[1::2])
  1.0
  >>> x = np.random.default_rng(0).normal(size=(200, 3))
  >>> round(features.affine_r2(x[:100], x[:100] @ [[1.0], [2.0], [0.0]] + 5.0,
  ...                          x[100:], x[100:] @ [[1.0], [2.0], [0.0]] + 5.0), 12)
  1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["AffineFit", "affine_r2", "knn_accuracy", "linear_probe_accuracy"]


def _check(z_train, y_train, z_test, y_test):
    arrays = []
    for name, z, y in (("train", z_train, y_train), ("test", z_test, y_test)):
        z, y = np.asarray(z, np.float64), np.asarray(y)
        if z.ndim != 2 or y.ndim != 1 or len(z) != len(y) or len(z) == 0:
            raise ValueError(
                f"{name} codes must be (n, k) with n labels; got {z.shape} and {y.shape}"
            )
        if not np.isfinite(z).all():
            raise ValueError(f"{name} codes contain NaN or inf")
        arrays += [z, y]
    if arrays[0].shape[1] != arrays[2].shape[1]:
        raise ValueError("train and test codes have different dimensions")
    mu, sigma = arrays[0].mean(0), arrays[0].std(0)
    sigma = np.where(sigma > 1e-12, sigma, 1.0)
    arrays[0] = (arrays[0] - mu) / sigma
    arrays[2] = (arrays[2] - mu) / sigma
    return arrays


def linear_probe_accuracy(z_train, y_train, z_test, y_test, *, C: float = 1.0) -> float:
    """Test accuracy of logistic regression fitted on standardised training codes."""
    from sklearn.linear_model import LogisticRegression

    z_train, y_train, z_test, y_test = _check(z_train, y_train, z_test, y_test)
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(z_train, y_train)
    return float(clf.score(z_test, y_test))


def knn_accuracy(z_train, y_train, z_test, y_test, *, k: int = 5) -> float:
    """Test accuracy of the k-nearest-neighbour vote over standardised training codes."""
    from sklearn.neighbors import KNeighborsClassifier

    z_train, y_train, z_test, y_test = _check(z_train, y_train, z_test, y_test)
    clf = KNeighborsClassifier(n_neighbors=min(int(k), len(z_train)))
    clf.fit(z_train, y_train)
    return float(clf.score(z_test, y_test))


def _rows(a, name: str) -> np.ndarray:
    a = np.asarray(a, np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (n, m) array; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


class AffineFit:
    r"""Least-squares affine maps from fixed features x to codes, for `affine_r2`.

    The pseudo-inverse of the training design [x, 1] is computed once, so that many codes can
    be scored against the same features (e.g. the pixels of one data split) at the cost of a
    matrix product each.

    Args:
      x_train, x_test: (n, p) features of the training and test rows; 1-D means p = 1.

    Raises:
      ValueError: arrays that are not 2-D (or 1-D), NaN/inf, widths that differ between train
        and test, or fewer than 2 training rows.
    """

    def __init__(self, x_train, x_test):
        x_train, x_test = _rows(x_train, "x_train"), _rows(x_test, "x_test")
        if x_train.shape[1] != x_test.shape[1]:
            raise ValueError(f"train and test widths differ: features {x_train.shape[1]} vs "
                             f"{x_test.shape[1]}")
        if len(x_train) < 2:
            raise ValueError(f"affine_r2 needs at least 2 training rows; got {len(x_train)}")
        self.pinv = np.linalg.pinv(np.hstack([x_train, np.ones((len(x_train), 1))]))
        self.design_test = np.hstack([x_test, np.ones((len(x_test), 1))])

    def r2(self, z_train, z_test, *, rtol: float = 1e-10) -> float:
        """`affine_r2` of the codes against this object's features."""
        z_train, z_test = _rows(z_train, "z_train"), _rows(z_test, "z_test")
        for name, n, z in (("train", self.pinv.shape[1], z_train),
                           ("test", len(self.design_test), z_test)):
            if n != len(z):
                raise ValueError(f"{name}: {n} rows of features but {len(z)} codes")
        if z_train.shape[1] != z_test.shape[1]:
            raise ValueError(f"train and test widths differ: codes {z_train.shape[1]} vs "
                             f"{z_test.shape[1]}")
        mu = z_train.mean(axis=0)
        m = z_train.shape[1]
        evals, evecs = np.linalg.eigh(np.cov(z_train, rowvar=False).reshape(m, m))
        keep = evals > rtol * max(float(evals.max()), 0.0)
        if not keep.any():
            raise ValueError("the training codes have no variance: nothing to predict")
        whiten = evecs[:, keep] / np.sqrt(evals[keep])
        u_train, u_test = (z_train - mu) @ whiten, (z_test - mu) @ whiten
        residual = u_test - self.design_test @ (self.pinv @ u_train)
        spread = float(np.sum((u_test - u_test.mean(axis=0)) ** 2))
        if spread == 0.0:
            raise ValueError("the test codes have no variance: R^2 is undefined")
        return float(1.0 - np.sum(residual**2) / spread)


def affine_r2(x_train, z_train, x_test, z_test, *, rtol: float = 1e-10) -> float:
    r"""How well an affine map of the features x predicts the code z on held-out rows.

    With mu, S the mean and covariance of the training codes, the codes are whitened,
    u = (z - mu) S^{-1/2} (over the eigen-directions of S above `rtol` times its largest
    eigenvalue; m of them), an affine map u ~ x B + c is fitted to the training rows by least
    squares (minimum-norm solution when x is rank deficient; `AffineFit` keeps the
    pseudo-inverse for scoring many codes against the same x), and

        R^2 = 1 - sum_test ||u - x B - c||^2 / sum_test ||u - mean_test(u)||^2.

    Whitening makes R^2 invariant to invertible affine maps of the code (z -> z A + b), so the
    arbitrary scale and rotation of a learnt code do not count. R^2 = 1 when z is an affine
    function of x; with as many training rows as features or fewer, any z is fitted exactly on
    the training rows and only the held-out rows tell.

    Args:
      x_train, x_test: (n, p) features (e.g. pixels, or PCA's code); 1-D means p = 1.
      z_train, z_test: (n, m) codes; 1-D means m = 1.
      rtol: directions of the training codes with variance below rtol times the largest are
        dropped (a code with a constant coordinate).

    Returns:
      R^2 on the test rows (at most 1; negative when the map predicts worse than the test mean).

    Raises:
      ValueError: arrays that are not 2-D (or 1-D), row counts that differ between x and z,
        widths that differ between train and test, NaN/inf, fewer than 2 training rows, or
        codes without variance.
    """
    x_train, z_train = _rows(x_train, "x_train"), _rows(z_train, "z_train")
    x_test, z_test = _rows(x_test, "x_test"), _rows(z_test, "z_test")
    for name, x, z in (("train", x_train, z_train), ("test", x_test, z_test)):
        if len(x) != len(z):
            raise ValueError(f"{name}: {len(x)} rows of features but {len(z)} codes")
    return AffineFit(x_train, x_test).r2(z_train, z_test, rtol=rtol)
