r"""Paper material of the `exact-pcs` suite: iterations to axis distance 0.3 per method and
optimizer (median and interquartile range over random starts; Adam and SGD with Nesterov
momentum never pooled) next to the values of Bao et al.'s Figure 4, and the axis-distance
trajectories."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tiedae.bench.suites import exact_pcs as suite
from tiedae.paper import results as R
from tiedae.paper.style import COLORS, new_figure, save
from tiedae.paper.suites._linear import med_iqr
from tiedae.paper.tables import camel, tabular
from tiedae.report import stats

__all__ = ["exact_pcs", "fig_exact_pcs"]

METHODS = {"plain": "plain", "nonuniform_l2": r"non-uniform $L_2$", "rag": "RAG"}
METHOD_LABELS = {"plain": "plain", "nonuniform_l2": "non-uniform $L_2$", "rag": "RAG"}
METHOD_COLORS = {"plain": COLORS["plain"], "nonuniform_l2": COLORS["nonuniform"],
                 "rag": COLORS["rag"]}
OPT_NAMES = {"sgd_nesterov": "SGD + Nesterov", "adam": "Adam",
             "sgd_nesterov_0.9": "SGD + Nesterov"}  # the last: records before the rename
OPT_STYLES = {"adam": "-", "sgd_nesterov": "--", "sgd_nesterov_0.9": "--"}


def _by_seed(records):
    return sorted(records, key=lambda r: r["config"]["seed"])


def _held(record, metric: str, grid: np.ndarray) -> np.ndarray:
    """A run's trajectory on `grid`, held at its last value after it stopped (at the target)."""
    x, y = R.trajectory(record, metric)
    out = np.interp(grid, x, y)
    out[grid > x[-1]] = y[-1]
    return out


def fig_exact_pcs(records: list[dict], out_dir: Path) -> Path:
    """Left: iterations to the target against k (median and IQR over starts, per method and
    optimizer), with Bao et al.'s Figure 4 values (grey, their line styles). Then one panel per
    k: distance to axis alignment against iterations (median and IQR band; a run that reached
    the target is held there)."""
    target = float(records[0]["config"].get("target", suite.TARGET))
    ks = sorted({r["config"]["k"] for r in records})
    fig, axes = new_figure(1 + len(ks), 1, width=7.0, height=2.3)
    ax = axes[0, 0]
    d = max(r["config"]["d"] for r in records)
    for (method, opt), recs in R.group(R.select(records, d=d), "method", "optimizer").items():
        pts = []
        for (k,), rs in sorted(R.group(recs, "k").items()):
            med, lo, hi = stats.median_iqr(suite.iterations(rs, target))
            pts.append((k, med, lo, hi))
        k_, med, lo, hi = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        shown = np.isfinite(med)
        if not shown.any():
            continue
        ax.errorbar(k_[shown], med[shown],
                    yerr=[med[shown] - lo[shown],
                          np.where(np.isfinite(hi[shown]), hi[shown], med[shown]) - med[shown]],
                    color=METHOD_COLORS.get(method, "k"), linestyle=OPT_STYLES.get(opt, ":"),
                    marker="o", markersize=3, capsize=2,
                    label=f"{METHOD_LABELS.get(method, method)}, {OPT_NAMES.get(opt, opt)}")
    if d == suite.THEIR_D:
        for (method, style), table in suite.BAO_FIGURE4.items():
            k_ = np.array([k for k, v in table.items() if v is not None], dtype=float)
            v_ = np.array([v for v in table.values() if v is not None], dtype=float)
            ax.plot(k_, v_, color=METHOD_COLORS.get(method, "k"), alpha=0.45,
                    linestyle="-" if style == "solid" else "--", marker="s", markersize=3,
                    fillstyle="none", linewidth=0.8)
        ax.plot([], [], color="0.5", marker="s", fillstyle="none", linewidth=0.8,
                label="Bao et al. Fig. 4 (their line styles)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("code size $k$")
    ax.set_ylabel(f"iterations to axis distance {target:g}")
    ax.set_title(f"$d={d}$; bars: IQR over starts", fontsize=7)
    ax.legend(frameon=False, fontsize=4.5)
    for col, k in enumerate(ks, start=1):
        ax = axes[0, col]
        recs = R.select(records, k=k, d=d)
        for (method, opt), rs in R.group(recs, "method", "optimizer").items():
            end = max(R.trajectory(r, "axis_distance")[0][-1] for r in rs)
            grid = np.linspace(0, end, 200)
            stack = np.vstack([_held(r, "axis_distance", grid) for r in rs])
            q25, med, q75 = np.percentile(stack, [25, 50, 75], axis=0)
            color = METHOD_COLORS.get(method, "k")
            ax.plot(grid, med, color=color, linestyle=OPT_STYLES.get(opt, ":"), linewidth=1.0)
            ax.fill_between(grid, q25, q75, color=color, alpha=0.15, linewidth=0)
        ax.axhline(target, color="0.5", linewidth=0.6, linestyle=":")
        ax.set_xlabel("iteration")
        ax.set_ylabel("distance to axis alignment")
        ax.set_title(f"$k={k}$ (solid: Adam, dashed: SGD)", fontsize=7)
    fig.tight_layout()
    return save(fig, out_dir, "exact_pcs")


def _bao_cell(value) -> str:
    if value is None:
        return "--"
    return "not conv." if math.isinf(value) else R.num(value)


def _reached(its) -> str:
    return f"{sum(map(math.isfinite, its))}/{len(its)}"


def exact_pcs(records: list[dict]) -> tuple[dict, dict]:
    """Iterations to the axis-alignment target per (k, optimizer, method), next to Bao et al.'s
    Figure 4 (table `exact_pcs`), and the sentences of the section."""
    target = records[0]["config"].get("target", suite.TARGET)
    rows = []
    groups = R.group(records, "d", "k", "optimizer", "method")
    for (d, k, opt, method), recs in groups.items():
        its = suite.iterations(recs, target)
        bao = [suite.bao_value(method, style, k, d) for style in suite.STYLES]
        axis = stats.median_iqr(R.final(recs, "axis_distance"))[0]
        rows.append([R.num(d), R.num(k), OPT_NAMES.get(opt, R.tex_escape(opt)),
                     METHODS.get(method, R.tex_escape(method)), R.num(len(recs)),
                     med_iqr(its), _reached(its), R.num(axis, 2),
                     R.num(recs[0]["config"]["steps"]), _bao_cell(bao[0]), _bao_cell(bao[1])])
    table = tabular(["$d$", "$k$", "optimiser", "method", "starts",
                     f"iterations to {target:g}: median [IQR]", "reached", "axis dist.",
                     "budget", "Bao solid", "Bao dashed"], rows, "rrllrrrrrrr")
    macros = {"RExactAxisTarget": R.num(float(target))}
    d = max(r["config"]["d"] for r in records)
    macros["RExactD"] = R.num(d)
    macros["RExactStarts"] = R.num(max(len(rs) for rs in groups.values()))
    sentences = []
    for (k, opt), recs in R.group(R.select(records, d=d), "k", "optimizer").items():
        by = {m: _by_seed(rs) for (m,), rs in R.group(recs, "method").items()}
        parts = []
        for method in suite.METHODS:
            if method not in by:
                continue
            its = suite.iterations(by[method], target)
            text = f"{METHODS[method]} {med_iqr(its)}"
            if sum(map(math.isfinite, its)) < len(its):
                text += f" ({_reached(its)} reached)"
            parts.append(text)
            macros[f"RExact{camel(method)}{camel(opt)}KIters" + camel(str(k))] = med_iqr(its)
        budget = max(r["config"]["steps"] for r in recs)
        sentence = (rf"$k={k}$, {OPT_NAMES.get(opt, R.tex_escape(opt))} (budget "
                    rf"{R.num(budget)}): " + ", ".join(parts))
        if "rag" in by and "nonuniform_l2" in by:
            a = suite.iterations(by["rag"], target)
            b = suite.iterations(by["nonuniform_l2"], target)
            answer = suite.paired_iterations(a, b)
            sentence += rf"; RAG against non-uniform $L_2$: {R.tex_escape(answer)}"
        sentences.append(sentence)
    fit = suite.style_fit(records)
    style = ""
    if fit and all(n for _, n in fit.values()):
        (best, (err, n)), (other, (err2, _)) = sorted(fit.items(), key=lambda kv: kv[1][0])
        style = (rf" Their figure does not say which line style is which optimiser; over the "
                 rf"{R.num(n)} points both have, our medians fit the reading "
                 rf"``{R.tex_escape(best)}'' (mean $|\log_{{10}}(\text{{ours}}/"
                 rf"\text{{theirs}})|$ {R.num(err, 2)}) better than ``{R.tex_escape(other)}'' "
                 rf"({R.num(err2, 2)}).")
    macros["RFindExactPcs"] = (
        rf"Iterations until the distance to axis alignment falls below "
        rf"{macros['RExactAxisTarget']} at $d={macros['RExactD']}$ (median [interquartile "
        rf"range] over {macros['RExactStarts']} random starts; ``never'' beyond the budget): "
        + "; ".join(sentences) + "." + style
    )
    return macros, {"exact_pcs": table}
