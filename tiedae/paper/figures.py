"""Helpers shared by the figure makers: trajectories of several records on one x grid, values
for a log axis, and a colour ramp. The figures themselves are in `tiedae.paper.suites`
(linear suites); each module of `tiedae.paper.suites` draws its own suite's.

Example:
  >>> import numpy as np
  >>> from tiedae.paper.figures import positive
  >>> positive(np.array([1.0, 0.0, -1e-9])).tolist()
  [1.0, nan, nan]
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R

__all__ = ["colormap", "curves", "positive"]


def curves(records: list[dict], metric: str, scale=None, x: str = "step"):
    """Common x grid and one y array per record (interpolated onto the first record's x).

    `scale(record)` divides each record's values when given."""
    x0 = None
    ys = []
    for rec in records:
        xs, y = R.trajectory(rec, metric, x)
        if scale is not None:
            y = y / scale(rec)
        if x0 is None:
            x0 = xs
        elif len(xs) != len(x0) or not np.allclose(xs, x0):
            y = np.interp(x0, xs, y)
        ys.append(y)
    return x0, ys


def positive(y: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive entries (rounding below the optimum) become nan."""
    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan
    return y


def colormap(n: int) -> list:
    """n distinguishable colours from viridis."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))]
