r"""The `conv-decoders` figures: checkerboard shares per model, and decoded images.

* `checkerboard`: left, the period-2 share c_2 of the decoded test images at initialisation
  (hatched) and after training; right, the period-4 share c_4 of the input gradients; per model
  the mean over its compared runs and the 95 % t-interval; dashed: the test images' own share,
  dotted: the white-noise level (p^2 - 1)/(HW - 1).
* `decoded_images`: one test image decoded by each model at initialisation (top: the pattern
  the architecture paints before training) and after training (bottom), first seed.

Both take the analysis's {model: {seed: record}} and the records, and return a matplotlib
figure (`tiedae.report.plots.new_figure`).

Example:
  >>> from tiedae.bench.suites import conv_figures
  >>> conv_figures.log_scale([1e-4, 2e-4, 0.05])
  True
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.conv_records import COLORS, SHORT, label, noise, values
from tiedae.report import query, stats

__all__ = ["checkerboard", "decoded_images", "log_scale"]


def log_scale(levels) -> bool:
    """Whether bars of these positive heights need a log axis (they span more than 20x)."""
    vals = [v for v in levels if v > 0]
    return bool(vals) and max(vals) / min(vals) > 20


def checkerboard(by: dict, records):
    """c_2 of the decoded images (init, trained) and c_4 of the input gradients per model."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from tiedae.report.plots import new_figure

    names = list(by)
    fig, axes = new_figure(2, 1, width=6.8, height=2.6)
    x = np.arange(len(names))
    panels = ((("checker_out_init_p2", "at init"), ("checker_out_p2", "trained")),
              (("checker_grad_p4", "input gradient"),))
    for ax, bars, p in zip(axes[0], panels, (2, 4), strict=True):
        width = 0.8 / len(bars)
        handles, tops = [], []
        for j, (key, what) in enumerate(bars):
            cis = [stats.interval(values(by[m], key)) for m in names]
            heights = np.array([c.mean for c in cis])
            err = np.array([max(c.hi - c.mean, 0.0) if c.n > 1 else 0.0 for c in cis])
            colors = [COLORS.get(m.partition("-k")[0], "0.5") for m in names]
            hatch = "////" if len(bars) > 1 and j == 0 else None
            ax.bar(x + (j - (len(bars) - 1) / 2) * width, heights, width * 0.95, yerr=err,
                   color=colors, edgecolor="k", linewidth=0.3, error_kw={"linewidth": 0.6},
                   hatch=hatch)
            handles.append(Patch(facecolor="white" if hatch else "0.6", edgecolor="k",
                                 linewidth=0.3, hatch=hatch, label=what))
            tops += [*(heights + err), *heights]
        levels = (noise(records, p), float(np.mean(query.final(records,
                                                               f"checker_input_p{p}"))))
        for level, style, what in zip(levels, (":", "--"), ("white noise", "test images"),
                                      strict=True):
            ax.axhline(level, color="k", linestyle=style, linewidth=0.9)
            handles.append(Line2D([], [], color="k", linestyle=style, linewidth=0.9, label=what))
        shown = [v for v in (*tops, *levels) if np.isfinite(v)]
        if log_scale(shown):
            ax.set_yscale("log")
            ax.set_ylabel(f"share $c_{p}$ (log scale)")
        else:
            ax.set_ylim(0, 1.15 * max(shown, default=1.0))
            ax.set_ylabel(f"share $c_{p}$")
        ax.set_xticks(x)
        ax.set_xticklabels([label(m) for m in names], rotation=60, ha="right", fontsize=6)
        ax.set_title("decoded images: $c_2$" if p == 2 else "input gradients: $c_4$",
                     fontsize=7)
        ax.legend(handles=handles, frameon=False, fontsize=5, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def decoded_images(by: dict, records):
    """One test image decoded by each model at initialisation (top row) and after training
    (bottom), first seed, beside the input."""
    from tiedae.report.plots import new_figure

    shown = {}
    for r in records:
        extra = r.get("extra") or {}
        if "images_init" in extra:
            shown.setdefault(r["config"]["model"], extra)
    names = [m for m in by if m in shown]
    width = 6.8
    fig, axes = new_figure(len(names) + 1, 2, width=width,
                           height=width / (len(names) + 1) + 0.3)  # per row
    if names:
        first = np.asarray(shown[names[0]]["images_input"][0])
        axes[0, 0].imshow(first, cmap="gray")
        axes[1, 0].imshow(first, cmap="gray")
        axes[0, 0].set_title("input", fontsize=6)
    for col, m in enumerate(names, start=1):
        for row, key in ((0, "images_init"), (1, "images_trained")):
            axes[row, col].imshow(np.asarray(shown[m][key][0]), cmap="gray")
        base, _, k = m.partition("-k")
        axes[0, col].set_title(SHORT.get(base, base) + (f"\nk={k}" if k else ""), fontsize=5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("at init", fontsize=6)
    axes[1, 0].set_ylabel("trained", fontsize=6)
    return fig
