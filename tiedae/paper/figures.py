"""Figures of the linear-theory suites, drawn only from saved bench records (no training).

Each `fig_<suite>(records, out_dir)` writes one PDF into `out_dir` and returns its path.
The deep / conv / graph figures are in `tiedae.paper.figures_deep`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.paper import results as R
from tiedae.paper.style import COLORS, LABELS, band, new_figure, save

__all__ = [
    "decoder_panels",
    "fig_conservation",
    "fig_decoders",
    "fig_exact_pcs",
    "fig_regularized",
    "fig_step_cost",
]

DECODERS = ("transpose", "pinv", "right_inverse", "untied")


def _curves(records: list[dict], metric: str, scale=None):
    """Common x grid and one y array per record (interpolated onto the first record's x)."""
    x0 = None
    ys = []
    for rec in records:
        x, y = R.trajectory(rec, metric)
        if scale is not None:
            y = y / scale(rec)
        if x0 is None:
            x0 = x
        elif len(x) != len(x0) or not np.allclose(x, x0):
            y = np.interp(x0, x, y)
        ys.append(y)
    return x0, ys


def _positive(y: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive entries (rounding below the optimum) become nan."""
    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan
    return y


def decoder_panels(records: list[dict]) -> list[tuple[str, str, int]]:
    """The (dataset, optimizer, k) settings the decoders figure shows: two rows at most.

    Prefers the spiked data with every optimizer run, then digits; the smallest k.
    """
    settings = list(R.group(records, "dataset", "optimizer", "k"))
    if not settings:
        return []
    k_min = min(k for _, _, k in settings)
    order = {"spiked": 0, "digits": 1}
    chosen = sorted({(ds, opt, k) for ds, opt, k in settings if k == k_min},
                    key=lambda s: (order.get(s[0], 2), s[1] != "gd", s[1]))
    return chosen[:2]


def fig_decoders(records: list[dict], out_dir: Path) -> Path:
    """Loss gap, ||WW^T - I||_F and subspace distance against steps, one line per decoder."""
    panels = decoder_panels(records)
    fig, axes = new_figure(3, max(len(panels), 1), height=1.65)
    metrics = (("loss_gap", r"relative loss gap $(L-L^\star)/L^\star$"),
               ("orthonormality", r"$\|WW^\top-I\|_F$"),
               ("subspace_distance", r"subspace distance $\delta(W)$"))
    for row, (dataset, opt, k) in enumerate(panels):
        recs = R.select(records, dataset=dataset, optimizer=opt, k=k)
        for col, (metric, label) in enumerate(metrics):
            ax = axes[row, col]
            for dec in DECODERS:
                sub = R.select(recs, decoder=dec)
                if not sub:
                    continue
                scale = (lambda r: r["extra"]["optimal_loss"]) if metric == "loss_gap" else None
                x, ys = _curves(sub, metric, scale)
                band(ax, x, [_positive(y) for y in ys], COLORS[dec], LABELS[dec])
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_title(f"{label}\n{dataset}, $k={k}$, {opt}", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    return save(fig, out_dir, "decoders_curves")



def _median_over_seeds(records, key, xkey):
    """x from the first record's extra[xkey] and the median of extra[key] over records."""
    x = np.asarray(records[0]["extra"][xkey], dtype=float)
    ys = np.vstack([np.asarray(r["extra"][key], dtype=float) for r in records])
    return x, np.median(ys, axis=0)


def fig_conservation(records: list[dict], out_dir: Path) -> Path:
    """Left: drift of WW^T vs step size (pinv / right inverse, GD and Adam). Right: untied
    imbalance ||WW^T - V^T V|| against steps for several L2 weights, with exp(-4 lam eta t)."""
    fig, axes = new_figure(2, 1, width=6.6, height=2.2)
    ax = axes[0, 0]
    drift = [r for r in records if r["config"].get("kind") == "drift"]
    markers = {"gd": "o", "adam": "s"}
    for (dec, opt), recs in R.group(drift, "decoder", "optimizer").items():
        eta, y = _median_over_seeds(recs, "drift", "eta")
        if opt == "gd":
            eta = eta * float(recs[0]["extra"]["lambda1"])
        ax.loglog(eta, y, marker=markers.get(opt, "^"), color=COLORS.get(dec, "k"),
                  linestyle="-" if opt == "gd" else "--", markersize=3,
                  label=f"{dec.replace('_', ' ')}, {'GD' if opt == 'gd' else 'Adam'}")
        if dec == "pinv":
            p = 2 if opt == "gd" else 1
            guide = y[0] * (eta / eta[0]) ** p
            ax.loglog(eta, guide, color="0.6", linewidth=0.8, linestyle=":")
            ax.annotate(rf"$\propto\eta^{p}$", (eta[-1], guide[-1]), fontsize=7, color="0.4")
    ax.set_xlabel(r"step size ($\eta e_1$ for GD, $\eta$ for Adam)")
    ax.set_ylabel(r"$\|W_TW_T^\top - W_0W_0^\top\|_F$")
    ax.set_title("pinv / right inverse: drift of $WW^\\top$ after a fixed number of steps")
    ax.legend(frameon=False, fontsize=6)
    ax = axes[0, 1]
    decay = [r for r in records if r["config"].get("kind") == "decay"]
    cmap = plt_colormap(len(R.group(decay, "lambda_over_lambda1")))
    for i, ((lam_rel,), recs) in enumerate(R.group(decay, "lambda_over_lambda1").items()):
        rec = recs[0]
        steps, dn = R.trajectory(rec, "D_norm")
        ax.semilogy(steps, dn / dn[0], color=cmap[i], label=rf"$\lambda={lam_rel:g}\,e_1$")
        lam, eta = float(rec["extra"]["lambda"]), float(rec["extra"]["eta"])
        if lam > 0:
            ax.semilogy(steps, np.exp(-4 * lam * eta * steps), color=cmap[i], linestyle="--",
                        linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\|WW^\top - V^\top V\|_F$ / initial")
    ax.set_title(r"untied: imbalance; dashed $e^{-4\lambda\eta t}$")
    ax.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "conservation")


def plt_colormap(n: int) -> list:
    """n distinguishable colours from viridis."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.85, max(n, 1))]


def fig_regularized(records: list[dict], out_dir: Path) -> Path:
    """Left: trained singular values against sqrt(1 - lam/e_i). Right: ||V - W^T|| vs lam."""
    fig, axes = new_figure(2, 1, width=6.6, height=2.1)
    l2 = [r for r in records if r["config"].get("kind") == "l2"]
    ax = axes[0, 0]
    groups = R.group(l2, "lambda_over_lambda1")
    cmap = plt_colormap(len(groups))
    for i, ((lam_rel,), recs) in enumerate(groups.items()):
        for j, rec in enumerate(recs):
            e = np.asarray(rec["extra"]["eigenvalues"], dtype=float)
            s = np.asarray(rec["extra"]["singular_values"], dtype=float)
            ratio = float(rec["extra"]["lambda"]) / e
            ax.plot(ratio, s, "o", color=cmap[i], markersize=3, fillstyle="none",
                    label=rf"$\lambda={lam_rel:g}\,e_1$" if j == 0 else None)
    x = np.linspace(0, 1.5, 300)
    ax.plot(x, np.sqrt(np.clip(1 - x, 0, None)), color="k", linewidth=0.8,
            label=r"$\sqrt{\max(0, 1-\lambda/e_i)}$")
    ax.set_xlabel(r"$\lambda / e_i$")
    ax.set_ylabel("singular value of trained $V$")
    ax.set_title("trained singular values vs closed form")
    ax.legend(frameon=False, fontsize=6)
    ax = axes[0, 1]
    lams, means, lo, hi = [], [], [], []
    for (lam_rel,), recs in groups.items():
        vals = R.final(recs, "V_minus_W_T")
        lams.append(lam_rel)
        means.append(np.nanmean(vals))
        lo.append(np.nanmin(vals))
        hi.append(np.nanmax(vals))
    means = np.asarray(means)
    ax.errorbar(lams, means, yerr=[means - np.asarray(lo), np.asarray(hi) - means], fmt="o-",
                color=COLORS["untied"], markersize=3, capsize=2)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\lambda / e_1$")
    ax.set_ylabel(r"$\|V - W^\top\|_F$ after training")
    ax.set_title("the regularised untied model is symmetric")
    fig.tight_layout()
    return save(fig, out_dir, "regularized")


METHOD_LABELS = {"plain": "plain", "nonuniform_l2": "non-uniform $L_2$", "rag": "RAG"}
METHOD_COLORS = {"plain": COLORS["plain"], "nonuniform_l2": COLORS["nonuniform"],
                 "rag": COLORS["rag"]}


def fig_exact_pcs(records: list[dict], out_dir: Path) -> Path:
    """Axis distance (Bao et al.) and subspace distance against iterations, one column per k."""
    ks = sorted({r["config"]["k"] for r in records})
    fig, axes = new_figure(max(len(ks), 1), 2, width=7.0, height=1.45)
    for col, k in enumerate(ks):
        recs = R.select(records, k=k)
        d = recs[0]["config"]["d"]
        for method, label in METHOD_LABELS.items():
            sub = R.select(recs, method=method)
            if not sub:
                continue
            for row, metric in enumerate(("axis_distance", "subspace_distance")):
                x, ys = _curves(sub, metric)
                band(axes[row, col], x, [_positive(y) for y in ys], METHOD_COLORS[method],
                     label)
        axes[0, col].set_title(f"$d={d}$, $k={k}$", fontsize=7)
        axes[0, col].set_yscale("log")
        axes[1, col].set_yscale("log")
        axes[1, col].set_xlabel("iteration")
    axes[0, 0].set_ylabel("distance to axis\nalignment")
    axes[1, 0].set_ylabel("subspace distance")
    axes[0, 0].legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "exact_pcs")


def fig_step_cost(records: list[dict], out_dir: Path) -> Path:
    """Time per step relative to the transpose step against k (one line per decoder and d), and
    the transpose step's GFLOP/s as a fraction of numpy's matmul rate."""
    fig, axes = new_figure(2, 1, width=6.6, height=2.1)
    styles = ["-", "--", ":", "-."]
    for j, ((d,), recs) in enumerate(R.group(records, "d").items()):
        recs = sorted(recs, key=lambda r: r["config"]["k"])
        ks = np.array([r["config"]["k"] for r in recs], dtype=float)
        for dec in DECODERS:
            ratio = R.final(recs, f"{dec}_ratio")
            axes[0, 0].plot(ks, ratio, marker="o", markersize=3, color=COLORS[dec],
                            linestyle=styles[j % 4],
                            label=f"{dec.replace('_', ' ')}, $d={d}$")
        axes[0, 1].plot(ks, R.final(recs, "transpose_vs_numpy"), marker="o", markersize=3,
                        color=COLORS["transpose"], linestyle=styles[j % 4], label=f"$d={d}$")
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("code size $k$")
    axes[0, 0].set_ylabel("time per step / transpose step")
    axes[0, 0].axhline(1.0, color="0.7", linewidth=0.8)
    axes[0, 0].legend(frameon=False, fontsize=5, ncol=2)
    axes[0, 1].set_ylabel("transpose step GFLOP/s / numpy matmul")
    axes[0, 1].axhline(1.0, color="0.7", linewidth=0.8)
    axes[0, 1].legend(frameon=False, fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "step_cost")

