r"""The `exact-pcs` suite's names and figure: iterations to the target against k, and the
distance to axis alignment during training.

`draw(groups, target)` takes the runs grouped by (d, k, optimizer, method) (any mapping whose
values have `records`, `median`, `q25` and `q75`, as `exact_pcs_analysis.settings` returns)
and draws, first, the iterations to the target against the code size k (median and IQR over
starts, log-log) next to Bao et al.'s Figure 4 in their line styles, then one panel per k of
the distance to axis alignment against iterations (median and IQR band; a run that reached
the target stopped there and is held at its last value, `held`). Methods are told apart by
colour (`METHOD_COLORS`), optimizers by line style (`OPT_STYLES`: solid Adam, dashed SGD).

Example:
  >>> import numpy as np
  >>> record = {"trajectory": {"step": [0, 10, 20], "axis_distance": [1.0, 0.6, 0.25]}}
  >>> held(record, "axis_distance", np.array([0.0, 15.0, 40.0])).tolist()
  [1.0, 0.425, 0.25]
  >>> OPT_NAMES["sgd_nesterov"], METHOD_NAMES["nonuniform_l2"].tex
  ('SGD + Nesterov', 'non-uniform $L_2$')
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.exact_pcs_reference import BAO_FIGURE4, THEIR_D
from tiedae.report import plots, query
from tiedae.report.analysis import Cell, cell

METHOD_NAMES = {"plain": Cell("plain", "plain"),
                "nonuniform_l2": Cell("non-uniform L2", r"non-uniform $L_2$"),
                "rag": Cell("RAG", "RAG")}
METHOD_COLORS = {"plain": plots.COLORS["plain"], "nonuniform_l2": plots.COLORS["nonuniform"],
                 "rag": plots.COLORS["rag"]}
OPT_NAMES = {"sgd_nesterov": "SGD + Nesterov", "adam": "Adam",
             "sgd_nesterov_0.9": "SGD + Nesterov"}  # the last: records before the rename
OPT_STYLES = {"adam": "-", "sgd_nesterov": "--", "sgd_nesterov_0.9": "--"}


def method_cell(method: str) -> Cell:
    """A method's name as a cell (text and LaTeX)."""
    return METHOD_NAMES.get(method) or cell(method)


def opt_cell(opt: str) -> Cell:
    """An optimizer's name as a cell."""
    return cell(OPT_NAMES.get(opt, opt))


def held(record: dict, metric: str, grid: np.ndarray) -> np.ndarray:
    """A run's trajectory on `grid`, held at its last value after it stopped (at the target)."""
    x, y = query.trajectory(record, metric)
    out = np.interp(grid, x, y)
    out[grid > x[-1]] = y[-1]
    return out


def _iterations_panel(ax, groups, d: int, ks: list, target) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    curves: dict[tuple, list] = {}
    for (d_, k, opt, method), s in groups.items():
        if d_ == d:
            curves.setdefault((method, opt), []).append((k, s.median, s.q25, s.q75))
    for (method, opt), pts in curves.items():
        k_, med, lo, hi = (np.array(v, dtype=float) for v in zip(*sorted(pts), strict=True))
        shown = np.isfinite(med)
        if not shown.any():
            continue
        ax.errorbar(k_[shown], med[shown],
                    yerr=[med[shown] - lo[shown],
                          np.where(np.isfinite(hi[shown]), hi[shown], med[shown]) - med[shown]],
                    color=METHOD_COLORS.get(method, "k"), linestyle=OPT_STYLES.get(opt, ":"),
                    marker="o", markersize=3, capsize=2,
                    label=f"{method_cell(method).tex}, {OPT_NAMES.get(opt, opt)}")
    if d == THEIR_D:
        for (method, style), table in BAO_FIGURE4.items():
            k_ = np.array([k for k, v in table.items() if v is not None], dtype=float)
            v_ = np.array([v for v in table.values() if v is not None], dtype=float)
            ax.plot(k_, v_, color=METHOD_COLORS.get(method, "k"), alpha=0.45,
                    linestyle="-" if style == "solid" else "--", marker="s", markersize=3,
                    fillstyle="none", linewidth=0.8)
        ax.plot([], [], color="0.5", marker="s", fillstyle="none", linewidth=0.8,
                label="Bao et al. Fig. 4 (their line styles)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    shown_k = sorted({int(k) for k in ks} | ({int(k) for table in BAO_FIGURE4.values()
                                              for k in table} if d == THEIR_D else set()))
    ax.xaxis.set_major_locator(FixedLocator(shown_k))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("code size $k$")
    ax.set_ylabel(f"iterations to axis distance {target:g}")
    ax.set_title(f"$d={d}$; bars: IQR over starts", fontsize=7)


def _trajectory_panel(ax, groups, d: int, k: int, target) -> None:
    for (d_, k_, opt, method), s in groups.items():
        if (d_, k_) != (d, k):
            continue
        end = max(query.trajectory(r, "axis_distance")[0][-1] for r in s.records)
        grid = np.linspace(0, end, 200)
        stack = np.vstack([held(r, "axis_distance", grid) for r in s.records])
        q25, med, q75 = np.percentile(stack, [25, 50, 75], axis=0)
        color = METHOD_COLORS.get(method, "k")
        ax.plot(grid, med, color=color, linestyle=OPT_STYLES.get(opt, ":"), linewidth=1.0)
        ax.fill_between(grid, q25, q75, color=color, alpha=0.15, linewidth=0)
    ax.axhline(target, color="0.5", linewidth=0.6, linestyle=":")
    ax.set_xlabel("iteration")
    ax.set_ylabel("distance to axis alignment")
    ax.set_title(f"$k={k}$ (solid: Adam, dashed: SGD)", fontsize=7)


def draw(groups: dict, target):
    """The figure `exact_pcs` (see the module docstring): one row of 1 + (number of k) panels
    for up to two k, else rows of three."""
    d = max(key[0] for key in groups)
    ks = sorted({key[1] for key in groups})
    panels = 1 + len(ks)
    ncols = panels if panels <= 3 else 3
    nrows = -(-panels // ncols)
    fig, axes = plots.new_figure(ncols, nrows, width=7.0, height=2.3)
    flat = axes.ravel()
    _iterations_panel(flat[0], groups, d, ks, target)
    handles, labels = flat[0].get_legend_handles_labels()
    for ax, k in zip(flat[1:], ks, strict=False):
        _trajectory_panel(ax, groups, d, k, target)
    for ax in flat[panels:]:
        ax.axis("off")
    bottom = 0.13 / nrows
    fig.tight_layout(rect=(0, bottom, 1, 1))  # the legend below the panels, over no marker
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=5.5)
    return fig
