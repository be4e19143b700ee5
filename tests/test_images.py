"""Offline image data: the digits and crops of scikit-learn's sample photographs."""

import numpy as np
import pytest

from tiedae.data import images


def test_sample_image_crops_are_seeded_disjoint_colour_crops():
    a = images.sample_image_crops(16, n_train=30, n_test=10, seed=1)
    b = images.sample_image_crops(16, n_train=30, n_test=10, seed=1)
    np.testing.assert_array_equal(a.train, b.train)
    assert a.train.shape == (30, 16, 16, 3) and a.test.dtype == np.float32
    assert 0.0 <= a.train.min() and a.train.max() <= 1.0
    # every crop is a block of one photograph, from the side of its columns it belongs to
    from sklearn.datasets import load_sample_images

    photos = [np.asarray(p, np.float32) / 255.0 for p in load_sample_images().images]
    cut = int(round(640 * 0.75))
    for crops, test in ((a.train, False), (a.test, True)):
        for i, crop in enumerate(crops):
            photo = photos[i % 2]
            cols = range(cut, 640 - 16 + 1) if test else range(0, cut - 16 + 1)
            found = any(np.array_equal(photo[r: r + 16, c: c + 16], crop)
                        for r in range(0, 427 - 16 + 1) for c in cols
                        if photo[r, c, 0] == crop[0, 0, 0] and photo[r, c, 1] == crop[0, 0, 1])
            assert found


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"size": 0}, "size must be >= 1"),
    ({"size": 500}, "do not fit"),
    ({"test_fraction": 1.5}, "test_fraction"),
    ({"n_train": 2.5}, "n_train must be a positive integer"),
])
def test_sample_image_crops_reject_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        images.sample_image_crops(**kwargs)
