"""Shared matplotlib settings for the paper's figures (Agg backend, no display needed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["COLORS", "LABELS", "band", "new_figure", "plt", "save", "stub"]

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


def save(fig, out_dir: Path, name: str) -> Path:
    """Writes `name`.pdf (no creation date, so reruns give identical files) and closes it."""
    path = Path(out_dir) / f"{name}.pdf"
    fig.savefig(path, metadata={"CreationDate": None, "ModDate": None})
    plt.close(fig)
    return path


def stub(out_dir: Path, name: str, message: str) -> Path:
    """A figure that only says why it is empty (a suite missing from the results)."""
    fig, axes = new_figure(1, 1, width=4.0, height=1.2)
    ax = axes[0, 0]
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return save(fig, out_dir, name)
