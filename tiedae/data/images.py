"""Image data bundled with scikit-learn (offline): the 8x8 digits."""

from __future__ import annotations

import numpy as np

__all__ = ["digits"]


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
