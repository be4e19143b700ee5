"""Figures of the deep / conv / graph suites, drawn only from saved bench records (no training).

Each `fig_<name>(records, out_dir)` writes one PDF into `out_dir` and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tiedae.paper import results as R
from tiedae.paper.style import new_figure, save

__all__ = ["fig_checkerboard", "fig_codes2d"]

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


LABELS = {"transposed_conv": "transp.", "upsample_conv": "upsample\n+ conv", "tied": "tied"}
COLORS = {"transposed_conv": "#d62728", "upsample_conv": "#2ca02c", "tied": "#1f77b4"}


def fig_checkerboard(records: list[dict], out_dir: Path) -> Path:
    """Period-2 spectral share of decoded images (at init and trained) and period-4 share of
    input gradients, per decoder and kernel size; dashed: the input images' own share."""
    groups = R.group(records, "decoder", "kernel_size")
    keys = sorted(groups, key=lambda key: (list(LABELS).index(key[0]) if key[0] in LABELS
                                           else 9, key[1]))
    fig, axes = new_figure(2, 1, width=6.8, height=2.0)
    x = np.arange(len(keys))
    width = 0.38
    panels = ((("checker_out_init_p2", "at init"), ("checker_out_p2", "trained")),
              (("checker_grad_p4", "input gradient"),))
    refs = ("checker_input_p2", "checker_input_p4")
    titles = ("decoded images: period-2 share $c_2$", "input gradients: period-4 share $c_4$")
    handles: dict = {}
    for ax, bars, ref, title in zip(axes[0], panels, refs, titles, strict=True):
        top = 0.0
        for j, (metric, label) in enumerate(bars):
            offset = (j - (len(bars) - 1) / 2) * width
            heights = [R.mean_std(R.final(groups[key], metric))[0] for key in keys]
            colors = [COLORS.get(key[0], "0.5") for key in keys]
            first = len(bars) > 1 and j == 0
            ax.bar(x + offset, heights, width * 0.95, color=colors, alpha=0.9,
                   hatch="////" if first else None, edgecolor="k", linewidth=0.3)
            handles.setdefault(ax, []).append(
                Patch(facecolor="white" if first else "0.6", edgecolor="k", linewidth=0.3,
                      hatch="////" if first else None, label=label))
            top = max(top, max(heights))
        level = R.mean_std(R.final(records, ref))[0]
        ax.axhline(level, color="k", linestyle="--", linewidth=0.8)
        handles[ax].append(Line2D([], [], color="k", linestyle="--", linewidth=0.8,
                                  label="input images"))
        bottom = min([level, *[R.mean_std(R.final(groups[key], m))[0] for key in keys
                               for m, _ in bars]])
        if bottom > 0 and top / bottom > 20:
            ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{LABELS.get(d, d)}\nk={k}" for d, k in keys], fontsize=6)
        ax.set_title(title, fontsize=7)
        ax.legend(handles=handles[ax], frameon=False, fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "checkerboard")
