r"""Feature quality of frozen codes: linear-probe and k-nearest-neighbour accuracy.

Both fit on the codes of a training split and score on a held-out split, so they measure how
well the frozen representation z = encode(x) transfers to a task the autoencoder never saw.

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
"""

from __future__ import annotations

import numpy as np

__all__ = ["knn_accuracy", "linear_probe_accuracy"]


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
