"""The figures' matplotlib style (Agg backend, no display needed) and plotting helpers.

Every figure of every suite uses `new_figure` (the paper's fonts and sizes) and the colours in
`COLORS`; `save` writes a figure as PDF (the paper) or SVG / PNG (the HTML report) without
dates, so that a rerun writes the same file. `curves`, `positive` and `colormap` help draw
several runs on one axis.

Example:
  >>> import numpy as np
  >>> from tiedae.report.plots import positive
  >>> positive(np.array([1.0, 0.0, -1e-9])).tolist()
  [1.0, nan, nan]
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tiedae.report import query  # noqa: E402

__all__ = ["COLORS", "LABELS", "band", "colormap", "curves", "new_figure", "plt", "positive",
           "save", "stub"]

# One colour per decoder / variant, used in every figure.
COLORS = {
    "transpose": "#1f77b4",
    "pinv": "#d62728",
    "right_inverse": "#ff7f0e",
    "untied": "#2ca02c",
    "oja": "#9467bd",
    "plain": "#7f7f7f",
    "nonuniform": "#17becf",
    "rag": "#e377c2",
}
LABELS = {
    "transpose": r"transpose $W^\top$",
    "pinv": r"pinv $W^+$",
    "right_inverse": r"right inverse $W^\top(WW^\top)^{-1}$",
    "untied": r"untied $V$",
}

_RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.handlelength": 3.0,  # long enough to tell a dashed line from a solid one
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
    "savefig.bbox": "tight",
}


def new_figure(ncols: int = 3, nrows: int = 1, width: float = 7.0, height: float = 2.1):
    """A figure with a grid of axes (always a 2-D array) in the paper's style."""
    plt.rcParams.update(_RC)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False)
    return fig, axes


def band(ax, x, curves, color, label):
    """Median line and min-max band of several curves sampled at the same x."""
    stack = np.vstack(curves)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan columns (values below zero)
        ax.plot(x, np.nanmedian(stack, axis=0), color=color, label=label)
        if stack.shape[0] > 1:
            ax.fill_between(x, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0),
                            color=color, alpha=0.2, linewidth=0)


def save(fig, path) -> Path:
    """Writes `fig` to `path` (format from the suffix: .pdf, .svg or .png) without a creation
    date, so reruns give identical files, and closes it."""
    path = Path(path)
    metadata = {"pdf": {"CreationDate": None, "ModDate": None}, "svg": {"Date": None}}
    fig.savefig(path, metadata=metadata.get(path.suffix[1:]))
    plt.close(fig)
    return path


def stub(message: str):
    """A figure that only says why it is empty (a suite missing from the results)."""
    fig, axes = new_figure(1, 1, width=4.0, height=1.2)
    ax = axes[0, 0]
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def curves(records: list[dict], metric: str, scale=None, x: str = "step"):
    """Common x grid and one y array per record (interpolated onto the first record's x).

    `scale(record)` divides each record's values when given."""
    x0 = None
    ys = []
    for rec in records:
        xs, y = query.trajectory(rec, metric, x)
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
