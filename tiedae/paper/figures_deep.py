"""Figures of the deep suites, drawn only from saved bench records (no training).

Each `fig_<name>(records, out_dir)` writes one PDF into `out_dir` and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.style import new_figure, save

__all__ = ["fig_codes2d"]

CODE_ORDER = ("mirror", "mirror x2", "tied", "linear", "pca")


def fig_codes2d(records: list[dict], out_dir: Path) -> Path:
    """2-D test codes coloured by class, one panel per decoder (the first seed of each)."""
    two = [r for r in records if r["config"].get("code_dim") == 2 and r["extra"].get("codes_2d")]
    panels = []
    for name in CODE_ORDER:
        recs = sorted(R.select(two, decoder=name), key=lambda r: r["config"]["seed"])
        if recs:
            panels.append((name, recs[0]))
    fig, axes = new_figure(max(len(panels), 1), 1, width=7.0, height=1.75)
    scatter = None
    for ax, (name, rec) in zip(axes[0], panels, strict=False):
        z = np.asarray(rec["extra"]["codes_2d"], dtype=float)
        y = np.asarray(rec["extra"]["labels"])
        scatter = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=2, vmin=-0.5, vmax=9.5,
                             linewidths=0, rasterized=True)
        probe = rec["final"].get("probe_accuracy")
        title = name if name != "pca" else "PCA"
        if probe is not None:
            title += f"\nprobe acc. {probe:.2f}"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if scatter is not None:
        cbar = fig.colorbar(scatter, ax=list(axes[0]), ticks=range(10), fraction=0.02, pad=0.01)
        cbar.ax.tick_params(labelsize=6)
    return save(fig, out_dir, "codes2d")

