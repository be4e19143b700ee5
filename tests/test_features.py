"""tiedae.features.affine_r2 against closed forms (float64)."""

import numpy as np
import pytest

from tiedae.features import affine_r2


def test_affine_code_has_r2_one_whatever_its_scale_and_rotation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    A = np.array([[3.0, -1.0], [0.5, 2.0], [0.0, 0.0], [1.0, 1.0]])
    z = x @ A + np.array([7.0, -2.0])
    np.testing.assert_allclose(affine_r2(x[:200], z[:200], x[200:], z[200:]), 1.0, atol=1e-12)
    # an invertible affine map of the code changes nothing
    M = np.array([[100.0, 1.0], [-3.0, 0.01]])
    np.testing.assert_allclose(affine_r2(x[:200], z[:200] @ M + 5, x[200:], z[200:] @ M + 5),
                               1.0, atol=1e-12)


def test_r2_of_one_noisy_coordinate_matches_the_closed_form():
    # z = x + s e with independent unit normals: R^2 -> 1 / (1 + s^2) for many rows
    rng = np.random.default_rng(1)
    n, s = 200_000, 0.5
    x = rng.normal(size=(n, 1))
    z = x + s * rng.normal(size=(n, 1))
    r2 = affine_r2(x[: n // 2], z[: n // 2], x[n // 2:], z[n // 2:])
    assert abs(r2 - 1 / (1 + s**2)) < 5e-3


def test_independent_code_has_r2_near_zero_and_bad_input_raises():
    rng = np.random.default_rng(2)
    x, z = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 2))
    assert abs(affine_r2(x[:2000], z[:2000], x[2000:], z[2000:])) < 0.01
    with pytest.raises(ValueError, match="NaN"):
        affine_r2(x[:10], np.full((10, 2), np.nan), x[10:20], z[10:20])
    with pytest.raises(ValueError, match="rows"):
        affine_r2(x[:10], z[:9], x[10:20], z[10:20])
    with pytest.raises(ValueError, match="no variance"):
        affine_r2(x[:10], np.ones((10, 2)), x[10:20], z[10:20])
    with pytest.raises(ValueError, match="widths"):
        affine_r2(x[:10], z[:10], x[10:20, :2], z[10:20])
