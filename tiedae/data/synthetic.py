"""Synthetic data with a known population spectrum (nothing is downloaded)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae._validation import check_positive_int, check_rank

__all__ = ["SpikedData", "linear_spectrum", "spiked_covariance"]


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
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
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


def linear_spectrum(d: int) -> np.ndarray:
    """Eigenvalues linearly spaced from max(d / 10, 2) down to 1.

    Bao et al. (2020)'s synthetic set (their d = 1000: from 100 down to 1).
    """
    d = check_positive_int(d, "d")
    return np.linspace(max(d / 10.0, 2.0), 1.0, d)
