"""The figure of suite `features`: frozen-code accuracy per decoder and code size.

Example:
  >>> from tiedae.report.analysis import Cell
  >>> final = {"probe_accuracy": 0.8, "knn_accuracy": 0.9}
  >>> groups = {(2, "mirror"): [{"final": final}, {"final": final}]}
  >>> scores = (("probe_accuracy", Cell("probe", "probe")), ("knn_accuracy", Cell("5-NN", "5-NN")))
  >>> len(draw_features(groups, [2], ("mirror",), scores).axes)
  2
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.symmetry_runs import COLORS, LABELS
from tiedae.report import plots, query, stats

__all__ = ["draw_features"]


def draw_features(groups, sizes, decoders, scores):
    """Probe (left) and 5-NN (right) accuracy per decoder against the code size: mean and 95%
    t-interval over seeds; PCA's code of the same size as grey squares, pixels dashed.

    Args:
      groups: {(code size, decoder): records}, with (k, "pca") and (0, "pixels") references.
      sizes: the code sizes, in axis order.
      decoders: the decoders drawn, in legend order.
      scores: ((final key, `Cell` name), ...) for the two panels.
    """
    fig, axes = plots.new_figure(2, 1, width=6.4, height=2.0)
    for ax, (key, name) in zip(axes[0], scores, strict=True):
        for i, d in enumerate(decoders):
            pts = [(k, stats.interval(query.final(groups[(k, d)], key))) for k in sizes
                   if (k, d) in groups]
            if not pts:
                continue
            x = np.arange(len(pts)) + 0.12 * (i - 1)
            mean = np.array([iv.mean for _, iv in pts])
            half = np.nan_to_num(np.array([iv.hi - iv.mean for _, iv in pts]))
            ax.errorbar(x, mean, yerr=half, fmt="o", color=COLORS[d], label=LABELS[d].tex,
                        markersize=3, capsize=2)
        pca = [(j, groups[(k, "pca")][0]["final"].get(key)) for j, k in enumerate(sizes)
               if (k, "pca") in groups]
        if pca:
            ax.plot([j for j, _ in pca], [v for _, v in pca], "s", color="#7f7f7f",
                    label="PCA", markersize=4)
        pixels = [r["final"].get(key) for (k, d), rs in groups.items() if d == "pixels"
                  for r in rs]
        if pixels:
            ax.axhline(float(np.mean(pixels)), color="#7f7f7f", linestyle="--", linewidth=0.8,
                       label="pixels")
        ax.set_xticks(range(len(sizes)), [f"k={k}" for k in sizes])
        ax.set(ylabel=f"{name.text} accuracy", ylim=(0, 1))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, frameon=False, fontsize=6, loc="lower right")
    return fig
