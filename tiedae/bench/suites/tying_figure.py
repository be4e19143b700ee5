r"""The figure of the `nonlinear-tying` suite: how W's orthonormality and the training error
evolve, per activation, tie and bias.

For the first (data, k) of the records: per activation, the orthonormality error
||W^T W - I||_F / sqrt(k) of the encoder (top) and the training error over PCA's (bottom, dashed:
the identity check's 1.02) against steps, the median over the runs that passed their checks;
colour = tie, line and marker = biases.

Example:
  >>> from tiedae.bench.suites import tying_figure
  >>> tying_figure.STYLE[("tied", False)]
  ('#1f77b4', ':', 'x')
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tiedae.report import plots

# (tie, biases) -> (colour, line style, marker)
STYLE = {("tied", True): ("#1f77b4", "-", "o"), ("tied", False): ("#1f77b4", ":", "x"),
         ("untied", True): ("#2ca02c", "-", "s"), ("untied", False): ("#2ca02c", ":", "+")}


def drawer(groups: dict[tuple, list[dict]], optimum: float) -> Callable:
    """A `tiedae.report.Figure` draw function for the passing records grouped by (data, k,
    activation, bias, tie); `optimum` is the dashed level of the bottom row."""
    def draw():
        keys = [k for k, recs in groups.items() if recs] or list(groups)
        first = keys[0][:2]
        acts = list(dict.fromkeys(k[2] for k in groups))
        fig, axes = plots.new_figure(len(acts), 2, height=1.8)
        for col, act in enumerate(acts):
            for (tie, bias), (color, ls, marker) in STYLE.items():
                recs = groups.get((*first, act, bias, tie)) or []
                if not recs or "orthonormality" not in (recs[0].get("trajectory") or {}):
                    continue
                name = f"{tie}, {'biases' if bias else 'no biases'}"
                for row, (metric, scale) in enumerate((
                        ("orthonormality", None),
                        ("train_loss", lambda r: r["final"]["pca_train_error"]))):
                    x, ys = plots.curves(recs, metric, scale)
                    ax = axes[row, col]
                    ax.plot(x, plots.positive(np.nanmedian(np.vstack(ys), axis=0)),
                            color=color, linestyle=ls, marker=marker, markevery=0.2,
                            markersize=3, linewidth=0.9, label=name)
            axes[0, col].set_title(f"{act}, k={first[1]}", fontsize=7)
            axes[0, col].set_yscale("log")
            axes[1, col].set_yscale("log")
            axes[1, col].axhline(optimum, color="0.5", linewidth=0.6, linestyle="--")
            axes[1, col].set_xlabel("step")
        axes[0, 0].set_ylabel(r"$\|W^\top W - I\|_F/\sqrt{k}$")
        axes[1, 0].set_ylabel(r"$E_\mathrm{train}/E_\mathrm{PCA}$")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.tight_layout(rect=(0, 0, 1, 0.92))
        fig.legend(handles, labels, loc="upper center", ncol=4, frameon=False)
        return fig
    return draw
