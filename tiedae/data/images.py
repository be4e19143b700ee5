"""Image data bundled with scikit-learn (offline): the 8x8 digits, and colour crops of the two
sample photographs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae._validation import check_positive_int

__all__ = ["ImageCrops", "digits", "sample_image_crops"]


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


class ImageCrops(NamedTuple):
    """Colour crops, float32 NHWC in [0, 1]: train and test come from disjoint image regions."""

    train: np.ndarray  # (n_train, size, size, 3)
    test: np.ndarray  # (n_test, size, size, 3)


def sample_image_crops(size: int = 48, n_train: int = 4000, n_test: int = 1000, *,
                       seed: int = 0, test_fraction: float = 0.25) -> ImageCrops:
    """Random size x size x 3 crops of scikit-learn's two sample photographs (offline).

    Each photograph (427 x 640 x 3: a temple in China, a flower) is split by columns: crops for
    the training set come from its left `1 - test_fraction` of the columns, test crops from the
    rest, so no test pixel was seen in training. Crops are drawn uniformly at random (numpy's
    generator seeded with `seed`), half from each photograph, and scaled to [0, 1].

    Args:
      size: crop side in pixels.
      n_train, n_test: numbers of crops.
      seed: seed of the crop positions.
      test_fraction: share of each photograph's columns reserved for test crops.

    Returns:
      `ImageCrops`.

    Example:
      >>> from tiedae.data import images
      >>> crops = images.sample_image_crops(48, n_train=10, n_test=4)
      >>> crops.train.shape, crops.test.shape, float(crops.train.max()) <= 1.0
      ((10, 48, 48, 3), (4, 48, 48, 3), True)
    """
    size = check_positive_int(size, "size")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("sample_image_crops needs scikit-learn: pip install "
                          "'tiedae[bench]'") from err
    photos = [np.asarray(im, np.float32) / 255.0 for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    split = [int(round(p.shape[1] * (1 - test_fraction))) for p in photos]
    for p, cut in zip(photos, split, strict=True):
        if min(p.shape[0], cut, p.shape[1] - cut) < size:
            raise ValueError(f"crops of {size} pixels do not fit the {p.shape[:2]} photographs "
                             f"split at column {cut}")

    def draw(count: int, test: bool) -> np.ndarray:
        out = np.empty((count, size, size, 3), np.float32)
        for i in range(count):
            photo, cut = photos[i % 2], split[i % 2]
            lo, hi = (cut, photo.shape[1] - size) if test else (0, cut - size)
            r = rng.integers(0, photo.shape[0] - size + 1)
            c = rng.integers(lo, hi + 1)
            out[i] = photo[r: r + size, c: c + size]
        return out

    return ImageCrops(draw(n_train, test=False), draw(n_test, test=True))
