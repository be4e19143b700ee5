"""Offline data: synthetic data with a known spectrum, and scikit-learn's bundled digits.

Files a user already has (MNIST / Fashion-MNIST IDX or .npz) are read by `tiedae.mnist`.
Nothing here downloads.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae._validation import check_rank

__all__ = ["SpikedData", "digits", "spiked_covariance"]


class SpikedData(NamedTuple):
    """Samples with a known population covariance Q diag(eigenvalues) Q^T.

    Attributes:
      X: (n, d) samples, zero population mean.
      eigenvalues: (d,) population eigenvalues, descending.
      eigenvectors: (d, d) orthogonal; column i belongs to eigenvalues[i].
    """

    X: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray


def spiked_covariance(
    n: int,
    d: int,
    *,
    eigenvalues=None,
    k: int | None = None,
    gap: float | None = None,
    seed: int = 0,
    dtype=np.float64,
) -> SpikedData:
    r"""Gaussian samples x = Q diag(sqrt(lambda)) g, g ~ N(0, I_d), Q a random rotation.

    Give either the full spectrum `eigenvalues` (d non-negative values) or a spiked one
    `(k, gap)`: k spikes 1 + gap * (1 + (k - 1 - i) / k), i = 0..k-1, over a flat bulk of ones, so
    the eigen-gap lambda_k - lambda_{k+1} is exactly `gap` and the top k eigenvalues are
    distinct (their eigenvectors, not only their span, are identifiable).

    Args:
      n: number of samples.
      d: dimension.
      eigenvalues: (d,) population eigenvalues (sorted descending inside).
      k: number of spikes (with `gap`).
      gap: eigen-gap between the k-th and (k+1)-th eigenvalue (with `k`).
      seed: seed of numpy's default generator.
      dtype: floating dtype of X.

    Returns:
      `SpikedData`.

    Example:
      >>> from tiedae import data
      >>> ds = data.spiked_covariance(1000, 20, k=3, gap=4.0)
      >>> ds.X.shape, ds.eigenvalues[:4].round(2).tolist()
      ((1000, 20), [7.67, 6.33, 5.0, 1.0])
    """
    n = check_rank(n, 2**62, "n")
    d = check_rank(d, 2**62, "d")
    if eigenvalues is None:
        if k is None or gap is None:
            raise ValueError("give either eigenvalues or both k and gap")
        k = check_rank(k, d)
        if not (np.isfinite(gap) and gap > 0):
            raise ValueError(f"gap must be finite and > 0; got {gap}")
        spikes = 1.0 + gap * (1.0 + np.arange(k - 1, -1, -1) / k)
        lam = np.concatenate([spikes, np.ones(d - k)])
    else:
        if k is not None or gap is not None:
            raise ValueError("give either eigenvalues or (k, gap), not both")
        lam = np.asarray(eigenvalues, dtype=np.float64)
        if lam.shape != (d,):
            raise ValueError(f"eigenvalues must have shape (d,) = ({d},); got {lam.shape}")
        if not np.isfinite(lam).all() or (lam < 0).any():
            raise ValueError("eigenvalues must be finite and non-negative")
        lam = np.sort(lam)[::-1]
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q *= np.sign(np.diag(r))[None, :]
    X = (rng.standard_normal((n, d)) * np.sqrt(lam)[None, :]) @ q.T
    return SpikedData(X.astype(dtype), lam, q)


def digits(return_labels: bool = False):
    """scikit-learn's bundled 8x8 digits (offline): X float32 (1797, 64) in [0, 1].

    Args:
      return_labels: also return the int64 labels (1797,).

    Returns:
      X, or (X, y).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "tiedae.data.digits needs scikit-learn: pip install 'tiedae[bench]'"
        ) from err
    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    return (X, bunch.target.astype(np.int64)) if return_labels else X
