r"""Paper material of the `step-cost` suite: time per training step of each decoder relative to
the transpose step (median over interleaved rounds, with a paired verdict per configuration),
and the transpose step's share of numpy's matmul rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiedae.bench.suites import step_cost as suite
from tiedae.paper import results as R
from tiedae.paper.style import COLORS, new_figure, save
from tiedae.paper.suites._linear import pm_ci
from tiedae.paper.tables import camel

__all__ = ["fig_step_cost", "step_cost"]

DECODERS = ("transpose", "pinv", "right_inverse", "untied")


def _ratio_key(records: list[dict], dec: str) -> str:
    """The median per-round ratio where recorded, else the best-of-rounds ratio."""
    return (f"{dec}_ratio_median" if all(f"{dec}_ratio_median" in r["final"] for r in records)
            else f"{dec}_ratio")


def fig_step_cost(records: list[dict], out_dir: Path) -> Path:
    """Time per step relative to the transpose step against k (one line per decoder and d;
    hollow markers: no measurable difference over the rounds), and the transpose step's
    GFLOP/s as a fraction of numpy's matmul rate."""
    fig, axes = new_figure(2, 1, width=6.6, height=2.1)
    styles = ["-", "--", ":", "-."]
    for j, ((d,), recs) in enumerate(R.group(records, "d").items()):
        recs = sorted(recs, key=lambda r: r["config"]["k"])
        ks = np.array([r["config"]["k"] for r in recs], dtype=float)
        for dec in DECODERS[1:]:
            ratio = R.final(recs, _ratio_key(recs, dec))
            axes[0, 0].plot(ks, ratio, color=COLORS[dec], linestyle=styles[j % 4],
                            label=f"{dec.replace('_', ' ')}, $d={d}$")
            same = np.array([r["final"].get(f"{dec}_verdict") == "no measurable difference"
                             for r in recs])
            axes[0, 0].plot(ks[~same], ratio[~same], "o", color=COLORS[dec], markersize=3)
            axes[0, 0].plot(ks[same], ratio[same], "o", color=COLORS[dec], markersize=3,
                            fillstyle="none")
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


def step_cost(records: list[dict]) -> tuple[dict, dict]:
    """Per-step time ratios to the transpose step, how often each decoder's step was measurably
    faster or slower, and the step's share of numpy's matmul rate."""
    macros: dict[str, str] = {}
    n_configs = len(records)
    parts = []
    names = {"pinv": "pseudo-inverse", "right_inverse": "right-inverse", "untied": "untied"}
    for dec in DECODERS[1:]:
        ratios = R.final(records, _ratio_key(records, dec))
        worst = records[int(np.nanargmax(ratios))]["config"]
        count = suite.verdicts(records, dec)
        name = f"RStep{camel(dec)}"
        macros[name + "RatioMin"] = R.num(np.nanmin(ratios), 3)
        macros[name + "RatioMax"] = R.num(np.nanmax(ratios), 3)
        macros[name + "WorstK"] = R.num(worst["k"])
        macros[name + "WorstD"] = R.num(worst["d"])
        for word in ("faster", "slower"):
            macros[name + camel(word)] = R.num(count[word])
        macros[name + "Same"] = R.num(count["no measurable difference"])
        parts.append(
            rf"the {names[dec]} step costs {macros[name + 'RatioMin']} to "
            rf"{macros[name + 'RatioMax']} times the transpose step (largest at "
            rf"$d={macros[name + 'WorstD']}$, $k={macros[name + 'WorstK']}$) and is measurably "
            rf"slower in {macros[name + 'Slower']}, faster in {macros[name + 'Faster']} and "
            rf"indistinguishable in {macros[name + 'Same']} of the {n_configs} configurations")
    paired = all("pinv_verdict" in r["final"] for r in records)
    cheapest = sum(not any((r["final"].get(f"{dec}_verdict") == "lower") if paired else
                           r["final"][f"{dec}_ratio"] < 1 for dec in DECODERS[1:])
                   for r in records)
    macros["RStepConfigs"] = R.num(n_configs)
    macros["RStepCheapest"] = R.num(cheapest)
    macros["RStepRounds"] = R.num(records[0]["config"].get("repeats"))
    macros["RStepVsNumpy"] = pm_ci(R.final(records, "transpose_vs_numpy"), 2)
    macros["RStepN"] = R.num(records[0]["config"]["n"])
    how = (rf"median of {macros['RStepRounds']} interleaved rounds, verdicts from paired "
           r"differences over the rounds" if paired else "best of the rounds")
    macros["RFindStepCost"] = (
        rf"With $n={macros['RStepN']}$ samples per step ({how}), " + "; ".join(parts)
        + rf". No other decoder's step was measurably faster than the transpose step in "
        rf"{macros['RStepCheapest']} of the {n_configs} configurations. The transpose step "
        rf"runs at {macros['RStepVsNumpy']} of the matrix-multiply rate of numpy on the same "
        r"shapes (mean $\pm$ 95\,\% confidence half-width over the configurations)."
    )
    if cheapest == n_configs:
        answer = ("The transpose is also the cheapest tie to train: no other decoder's step was "
                  "measurably faster in any configuration we timed (Section~\\ref{sec:cost}).")
    else:
        low = min(float(np.nanmin(R.final(records, _ratio_key(records, dec))))
                  for dec in DECODERS[1:])
        answer = (rf"Per step the transpose tie is not always the cheapest: another decoder's "
                  rf"step was measurably faster in {R.num(n_configs - cheapest)} of "
                  rf"{n_configs} configurations we timed (down to {R.num(low, 3)} times its "
                  r"time; Section~\ref{sec:cost}).")
    macros["RAnswerStepCost"] = answer
    return macros, {}
