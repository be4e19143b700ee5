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

__all__ = ["fig_checkerboard"]

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
