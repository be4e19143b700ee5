r"""The `decoders` suite's figures: training curves and the singular values of W.

`draw_curves` plots the relative loss gap, ||WW^T - I||_F and the subspace distance against
the step, one line per decoder (median and range over seeds), for the settings
`decoder_panels` picks; `draw_sv` the singular values of W under the transpose and
pseudo-inverse ties (first seed) on the widest real-image setting.

Example:
  >>> from tiedae.bench.suites import decoders_figures
  >>> recs = [{"config": {"dataset": ds, "optimizer": opt, "k": k}}
  ...         for ds, opt, k in (("spiked", "gd", 4), ("spiked", "adam", 4), ("digits", "gd", 16))]
  >>> decoders_figures.decoder_panels(recs)
  [('spiked', 'gd', 4), ('spiked', 'adam', 4), ('digits', 'gd', 16)]
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.decoders_runs import DECODERS
from tiedae.bench.suites.decoders_settings import data_name, wide_setting
from tiedae.report import plots, query

__all__ = ["decoder_panels", "draw_curves", "draw_sv"]


def decoder_panels(records: list[dict]) -> list[tuple[str, str, int]]:
    """The (dataset, optimizer, k) rows of the decoders figure: the headline data set (spiked,
    else the first) at its smallest k with each optimizer, then the wide real-image setting
    (`wide_setting`) with gradient descent."""
    settings_ = list(query.group(records, "dataset", "optimizer", "k"))
    if not settings_:
        return []
    datasets = [ds for ds, _, _ in settings_]
    head = "spiked" if "spiked" in datasets else datasets[0]
    k_min = min(k for ds, _, k in settings_ if ds == head)
    rows = sorted({(ds, opt, k) for ds, opt, k in settings_ if ds == head and k == k_min},
                  key=lambda s: (s[1] != "gd", s[1]))[:2]
    wide = wide_setting(records)
    if wide is not None:
        opts = [opt for ds, opt, k in settings_ if (ds, k) == wide]
        row = (wide[0], "gd" if "gd" in opts else opts[0], wide[1])
        if row not in rows:
            rows.append(row)
    return rows


def draw_curves(records: list[dict]):
    """Loss gap, ||WW^T - I||_F and subspace distance against steps, one line per decoder."""
    panels = decoder_panels(records)
    fig, axes = plots.new_figure(3, max(len(panels), 1), height=1.65)
    metrics = (("loss_gap", r"relative loss gap $(L-L^\star)/L^\star$"),
               ("orthonormality", r"$\|WW^\top-I\|_F$"),
               ("subspace_distance", r"subspace distance $\delta(W)$"))
    for row, (dataset, opt, k) in enumerate(panels):
        recs = query.select(records, dataset=dataset, optimizer=opt, k=k)
        for col, (metric, label) in enumerate(metrics):
            ax = axes[row, col]
            for dec in DECODERS:
                sub = query.select(recs, decoder=dec)
                if not sub:
                    continue
                scale = (lambda r: r["extra"]["optimal_loss"]) if metric == "loss_gap" else None
                x, ys = plots.curves(sub, metric, scale)
                plots.band(ax, x, [plots.positive(y) for y in ys], plots.COLORS[dec],
                           plots.LABELS[dec])
            ax.set_yscale("log")
            ax.set_xlabel("step")
            d = recs[0].get("extra", {}).get("d") or recs[0]["config"]["d"]
            ax.set_title(f"{label}\n{data_name(dataset)} ($d={d}$), $k={k}$, {opt}", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), frameon=False)
    return fig


def _first_seed(records: list[dict]) -> dict | None:
    recs = [r for r in records if r.get("extra", {}).get("singular_values") is not None]
    return min(recs, key=lambda r: r["config"]["seed"]) if recs else None


def draw_sv(records: list[dict]):
    """Singular values of W against steps for the transpose and pinv ties (one seed, every
    singular value a line), on the wide real-image setting, one panel per optimizer."""
    wide = wide_setting(records)
    opts = [] if wide is None else sorted(
        {r["config"]["optimizer"] for r in query.select(records, dataset=wide[0], k=wide[1])},
        key=lambda o: o != "gd")
    fig, axes = plots.new_figure(max(len(opts), 1), 1, width=6.6, height=2.1)
    for col, opt in enumerate(opts):
        ax = axes[0, col]
        for dec, style in (("transpose", "-"), ("pinv", "--")):
            rec = _first_seed(query.select(records, dataset=wide[0], k=wide[1], optimizer=opt,
                                           decoder=dec))
            if rec is None:
                continue
            steps = np.asarray(rec["extra"]["sv_step"], dtype=float)
            sv = np.asarray(rec["extra"]["singular_values"], dtype=float)
            for i in range(sv.shape[1]):
                ax.plot(steps, sv[:, i], color=plots.COLORS[dec], linestyle=style,
                        linewidth=0.7, label=plots.LABELS[dec] if i == 0 else None)
        ax.axhline(1.0, color="0.6", linewidth=0.6)
        ax.set_xlabel("step")
        ax.set_ylabel("singular values of $W$")
        ax.set_title(f"{data_name(wide[0])}, $k={wide[1]}$, {opt}", fontsize=7)
        ax.legend(frameon=False, fontsize=6)
    if not opts:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no digits or MNIST runs", ha="center", va="center")
    fig.tight_layout()
    return fig
