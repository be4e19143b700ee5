r"""The `symmetry` suite's figures: 2-D codes, training curves and reconstructions.

Each function takes the variant groups (`symmetry_verdicts.variant_groups`, with their
targets) and returns a matplotlib figure: `draw_codes2d` (the first seed's 2-D test codes per
decoder and PCA's, coloured by class), `draw_curves` (monitored training and test error against
the step, median and min-max band over seeds) and `draw_reconstructions` (test images and their
reconstructions by each decoder and by PCA).

Example:
  >>> import matplotlib.pyplot as plt
  >>> from tiedae.bench.suites import symmetry_figures
  >>> fig = symmetry_figures.draw_reconstructions({})  # no runs: a figure that says so
  >>> fig.axes[0].texts[0].get_text()
  'no reconstructions in the records'
  >>> plt.close(fig)
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.symmetry_runs import COLORS, DECODERS, LABELS
from tiedae.bench.suites.symmetry_verdicts import ordered_variants, variant_label
from tiedae.report import plots

__all__ = ["draw_codes2d", "draw_curves", "draw_reconstructions"]


def draw_codes2d(groups):
    """2-D test codes coloured by class, the first seed per decoder, and PCA's 2-D code."""
    panels = [(v, groups[v][0]) for v in (*DECODERS, "pca")
              if v in groups and groups[v][0]["extra"].get("codes_2d")]
    fig, axes = plots.new_figure(max(len(panels), 1), 1, width=7.0, height=1.7)
    scatter = None
    for ax, (name, rec) in zip(axes[0], panels, strict=False):
        z = np.asarray(rec["extra"]["codes_2d"], dtype=float)
        y = np.asarray(rec["extra"]["labels"])
        scatter = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=1.5, vmin=-0.5, vmax=9.5,
                             linewidths=0, rasterized=True)
        f = rec["final"]
        title = LABELS[name].tex.replace("--", "-")
        if f.get("knn_accuracy") is not None:
            title += f"\n5-NN {f['knn_accuracy']:.2f}"
        if f.get("code_r2_pca") is not None:
            title += f", $R^2$ {f['code_r2_pca']:.2f}"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if scatter is not None:
        cbar = fig.colorbar(scatter, ax=list(axes[0]), ticks=range(10), fraction=0.02, pad=0.01)
        cbar.ax.tick_params(labelsize=6)
    return fig


def draw_curves(groups, records):
    """Monitored training (left) and test (right) error against the step, per decoder and
    encoder variant: median over seeds and min-max band; dashed: PCA with k and 2k
    components."""
    fig, axes = plots.new_figure(2, 1, width=7.0, height=2.2)
    fig.subplots_adjust(wspace=0.35)
    for v in ordered_variants(groups):
        curves = [r for r in groups[v] if (r.get("trajectory") or {}).get("train_loss")]
        if not curves:
            continue
        for ax, key in zip(axes[0], ("train_loss", "test_loss"), strict=True):
            x = np.asarray(curves[0]["trajectory"]["step"], float)
            same = [np.asarray(r["trajectory"][key], float) for r in curves
                    if len(r["trajectory"][key]) == len(x)]
            plots.band(ax, x, same, COLORS.get(v, "#000000"),
                       variant_label(v, groups[v]).tex.replace("--", "-"))
    thresholds = next((r["extra"].get("thresholds") for r in records
                       if r["extra"].get("thresholds")), None)
    for name, value in (thresholds or {}).items():
        axes[0, 0].axhline(value, color="#7f7f7f", linestyle="--" if name == "pca_k" else ":",
                           linewidth=0.8)
    axes[0, 0].set(xlabel="step", ylabel="training error (monitor rows)", yscale="log")
    axes[0, 1].set(xlabel="step", ylabel="test error (monitor rows)", yscale="log")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 1].legend(handles, labels, frameon=False, fontsize=6)
    return fig


def draw_reconstructions(groups):
    """Test images (top row) and their reconstructions by each decoder and by PCA (first
    seed)."""
    rows = [(v, groups[v][0]) for v in (*DECODERS, "pca")
            if v in groups and groups[v][0]["extra"].get("reconstructions")]
    if not rows:
        return plots.stub("no reconstructions in the records")
    first = rows[0][1]["extra"]
    shape = tuple(first["image_shape"])
    n = len(first["images"])
    fig, axes = plots.new_figure(n, len(rows) + 1, width=0.55 * n, height=0.6)
    grid = [("test", first["images"])] + [
        (LABELS[v].tex.replace("--", "-"), rec["extra"]["reconstructions"]) for v, rec in rows]
    for row, (name, images) in zip(axes, grid, strict=True):
        for j, ax in enumerate(row):
            ax.imshow(np.clip(np.asarray(images[j], float).reshape(shape), 0, 1), cmap="gray_r",
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
    return fig
