r"""The `conservation` suite's figure: the drift of W W^T and the untied imbalance.

`draw(records)`: left, the drift ||W_T W_T^T - W_0 W_0^T||_F of the pseudo-inverse tie against
the step size per optimizer (solid: W0 below I, dashed: above); middle, the local log-log slope
between neighbouring step sizes (the exponent p); right, the untied imbalance
||WW^T - V^TV||_F against the step for several L2 weights, with exp(-4 lam eta t) dashed.

Example:
  >>> from tiedae.bench.suites import conservation_figure
  >>> recs = [{"extra": {"eta": [1e-3, 1e-2], "drift": [1.0, 4.0]}},
  ...         {"extra": {"eta": [1e-3, 1e-2], "drift": [3.0, 2.0]}}]
  >>> conservation_figure.median_over_seeds(recs, "drift")[1].tolist()
  [2.0, 3.0]
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suites.conservation_analysis import OPT_COLORS, OPT_NAMES, init_of
from tiedae.report import plots, query

__all__ = ["draw", "median_over_seeds"]


def median_over_seeds(records, key):
    x = np.asarray(records[0]["extra"]["eta"], dtype=float)
    ys = np.vstack([np.asarray(r["extra"][key], dtype=float) for r in records])
    return x, np.median(ys, axis=0)


def draw(records: list[dict]):
    """Left: drift of WW^T vs step size (pinv; solid: W0 below I, dashed: above). Middle: the
    local log-log slope between neighbouring step sizes. Right: untied imbalance against steps
    for several L2 weights, with exp(-4 lam eta t)."""
    fig, axes = plots.new_figure(3, 1, width=7.0, height=2.2)
    drift = query.select(records, kind="drift")
    drift = query.select(drift, decoder="pinv") or drift
    for (opt,), recs in query.group(drift, "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if init_of(r) == init]
            if not sub:
                continue
            eta, y = median_over_seeds(sub, "drift")
            # eta * e1 for the SGD optimizers (their grid is in units of 1/e1), eta for Adam
            x = eta if opt == "adam" else eta * float(sub[0]["extra"]["lambda1"])
            style = "-" if init == "below" else "--"
            color = OPT_COLORS.get(opt, "k")
            axes[0, 0].loglog(x, y, marker="o", markersize=2.5, color=color, linestyle=style,
                              label=f"{OPT_NAMES.get(opt, opt)}, $W_0$ {init} $I$")
            if "local_slopes" in sub[0]["extra"]:
                _, slopes = median_over_seeds(sub, "local_slopes")
                mid = np.sqrt(x[1:] * x[:-1])
                axes[0, 1].semilogx(mid, slopes, marker="o", markersize=2.5, color=color,
                                    linestyle=style)
    for p in (1, 2):
        axes[0, 1].axhline(p, color="0.6", linewidth=0.7, linestyle=":")
    for ax in axes[0, :2]:
        ax.set_xlabel(r"step size ($\eta e_1$; $\eta$ for Adam)")
    axes[0, 0].set_ylabel(r"$\|W_TW_T^\top - W_0W_0^\top\|_F$")
    axes[0, 0].set_title(r"pinv: drift of $WW^\top$ after $T$ steps", fontsize=7)
    axes[0, 0].legend(frameon=False, fontsize=5)
    axes[0, 1].set_ylabel("local log-log slope")
    axes[0, 1].set_title(r"exponent $p$ in drift $\propto\eta^p$", fontsize=7)
    ax = axes[0, 2]
    groups = query.group(query.select(records, kind="decay"), "lambda_over_lambda1")
    cmap = plots.colormap(len(groups))
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        rec = query.by_seed(recs)[0]
        steps, dn = query.trajectory(rec, "D_norm")
        ax.semilogy(steps, dn / dn[0], color=cmap[i], label=rf"$\lambda={lam_rel:g}\,e_1$")
        lam, eta = float(rec["extra"]["lambda"]), float(rec["extra"]["eta"])
        if lam > 0:
            ax.semilogy(steps, np.exp(-4 * lam * eta * steps), color=cmap[i], linestyle="--",
                        linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\|WW^\top - V^\top V\|_F$ / initial")
    ax.set_title(r"untied: imbalance; dashed $e^{-4\lambda\eta t}$", fontsize=7)
    ax.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return fig
