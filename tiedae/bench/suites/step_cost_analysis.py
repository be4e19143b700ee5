r"""The `step-cost` suite's analysis: each decoder's step against the transpose step, tested.

For every record (one (n, d, k)) and every decoder other than the transpose, the per-round
times of `extra.rounds_ms` give a paired comparison over the interleaved rounds: the paired
t-test on log2(t_decoder / t_transpose) (`tiedae.report.stats.paired` on the logs), whose mean
is reported as the ratio 2^mean (the geometric mean of the per-round ratios) with its 95%
interval. Holm's correction (`tiedae.report.stats.holm`) runs over every comparison of the
table (all configurations and decoders together), and a decoder's step is called measurably
faster or slower only when its adjusted p-value is below 0.05; otherwise "no measurable
difference", with its interval. Records without the rounds (saved before they were kept) fall
back to the ratios and verdicts they stored, unadjusted.

`analyze(records)` derives from these comparisons the terminal tables (one row per (n, d, k);
one row per comparison), the findings, the paper's numbers and the figure `step_cost`.

Example:
  >>> from tiedae.bench.suites import step_cost_analysis as sca
  >>> rounds = {"transpose": [1.0, 1.1, 0.9, 1.0, 1.05], "pinv": [2.0, 2.2, 1.8, 2.0, 2.1],
  ...           "right_inverse": [1.0, 1.2, 0.9, 1.1, 1.0], "untied": [1.9, 2.3, 1.7, 2.1, 2.0]}
  >>> record = {"config": {"n": 64, "d": 8, "k": 2, "repeats": 5}, "final": {},
  ...           "extra": {"rounds_ms": rounds}}
  >>> v = sca.versus_transpose_table([record])[0]
  >>> round(v["pinv"].ratio, 2), v["pinv"].verdict, v["right_inverse"].verdict
  (2.0, 'higher', 'no measurable difference')
  >>> v["pinv"].p.family  # three comparisons, Holm-adjusted together
  3
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tiedae.linear import LINEAR_DECODERS as DECODERS
from tiedae.report import format as F
from tiedae.report import plots, query, stats
from tiedae.report.analysis import Analysis, Cell, Figure, Table, difference_cells
from tiedae.report.format import fmt, mean_std

__all__ = ["Cost", "Versus", "analyze", "comparisons", "costs", "versus_table_rows",
           "versus_transpose_table"]

VERDICT_WORDS = {"lower": "faster", "higher": "slower"}
NAMES = {"pinv": "pseudo-inverse", "right_inverse": "right-inverse", "untied": "untied"}
SAME = stats.NO_DIFFERENCE


class Versus(NamedTuple):
    """One decoder's step against the transpose step in one configuration."""

    ratio: float  # geometric mean of the per-round ratios (stored ratio in older records)
    verdict: str  # "lower" (faster), "higher" (slower) or "no measurable difference"
    p: stats.Paired | None  # the Holm-adjusted comparison of log2 times (None: older records)


def _has_rounds(record: dict) -> bool:
    rounds = (record.get("extra") or {}).get("rounds_ms") or {}
    return all(rounds.get(dec) for dec in DECODERS)


def comparisons(records: list[dict]) -> dict[tuple[int, str], stats.Paired] | None:
    """{(record index, decoder): log2 of the decoder's per-round times minus the transpose
    step's, paired over the record's rounds}, Holm-adjusted over all of them; None when a
    record has no rounds (saved before they were kept)."""
    if not all(_has_rounds(r) for r in records):
        return None

    def log2(r, name):
        return np.log2(np.asarray(r["extra"]["rounds_ms"][name], float))

    return stats.holm({(i, dec): stats.paired(log2(r, dec), log2(r, "transpose"))
                       for i, r in enumerate(records) for dec in DECODERS[1:]})


def versus_transpose_table(records: list[dict]) -> list[dict[str, Versus]]:
    """Per record, {decoder: `Versus`} for every decoder but the transpose: from `comparisons`
    where the rounds were kept, else the record's median per-round ratio (best-of-rounds in
    the oldest records) and its stored verdict ("lower" when the ratio is below 1 if none)."""
    compared = comparisons(records)
    out = []
    for i, r in enumerate(records):
        f, row = r["final"], {}
        for dec in DECODERS[1:]:
            if compared is not None:
                p = compared[i, dec]
                row[dec] = Versus(2.0 ** p.mean, p.verdict, p)
            else:
                ratio = f.get(f"{dec}_ratio_median", f[f"{dec}_ratio"])
                verdict = f.get(f"{dec}_verdict") or ("lower" if f[f"{dec}_ratio"] < 1
                                                      else "higher")
                row[dec] = Versus(float(ratio), verdict, None)
        out.append(row)
    return out


class Cost(NamedTuple):
    """One decoder's step against the transpose step over the configurations."""

    ratios: np.ndarray  # `Versus.ratio` per record
    worst: dict  # the config where the ratio is largest
    count: dict[str, int]  # configurations measurably faster / slower / no measurable difference
    same: tuple[float, float] | None  # the span of the 95% intervals of the undecided ones


def costs(records: list[dict], versus: list[dict[str, Versus]]) -> dict[str, Cost]:
    """{decoder: Cost} for every decoder but the transpose."""
    out = {}
    for dec in DECODERS[1:]:
        ratios = np.array([v[dec].ratio for v in versus], float)
        count = {"faster": 0, "slower": 0, SAME: 0}
        for v in versus:
            count[VERDICT_WORDS.get(v[dec].verdict, SAME)] += 1
        undecided = [v[dec].p for v in versus
                     if v[dec].verdict == SAME and v[dec].p is not None and v[dec].p.n >= 2]
        same = ((2.0 ** min(p.lo for p in undecided), 2.0 ** max(p.hi for p in undecided))
                if undecided else None)
        out[dec] = Cost(ratios, records[int(np.nanargmax(ratios))]["config"], count, same)
    return out


def _cheapest(versus: list[dict[str, Versus]]) -> int:
    """In how many configurations no other decoder's step was measurably faster."""
    return sum(not any(v[dec].verdict == "lower" for dec in DECODERS[1:]) for v in versus)


def _ratio_cell(v: Versus) -> str:
    mark = {"lower": " (faster)", "higher": " (slower)", SAME: " (=)"}
    return fmt(v.ratio) + mark.get(v.verdict, "")


def _table(records: list[dict], versus, closed: bool, paired: bool) -> Table:
    rows = []
    for r, v in zip(records, versus, strict=True):
        f, c = r["final"], r["config"]
        rows.append([*(Cell(str(c[x]), F.num(c[x])) for x in ("n", "d", "k")),
                     f["transpose_ms"], *[_ratio_cell(v[dec]) for dec in DECODERS[1:]],
                     f["transpose_gflops"], f["numpy_gflops"], f["transpose_vs_numpy"],
                     f["transpose_closed_form_speedup"] if closed else "-"])
    how = ("geometric mean of the per-round ratios to the transpose step; (faster) / (slower): "
           "Holm-adjusted paired t-test over the rounds, p < 0.05; (=): no measurable "
           "difference" if paired else
           "ratios to the transpose step; (=): no measurable difference over the rounds")
    return Table(title=f"step-cost: full-batch step time ({how})",
                 columns=["n", "d", "k", "transpose ms", "pinv ×", "right_inv ×", "untied ×",
                          "transpose GFLOP/s", "numpy GFLOP/s", "step/numpy", "autodiff/closed"],
                 rows=rows)


def versus_table_rows(records: list[dict], versus) -> list[list]:
    """The paired table's rows: per configuration and decoder, the ratio to the transpose step
    (geometric mean over the rounds), its 95% interval, the Holm-adjusted p-value, the
    verdict."""
    rows = []
    for r, v in zip(records, versus, strict=True):
        c = r["config"]
        for dec in DECODERS[1:]:
            p = v[dec].p
            if p is None or p.n < 2:
                cells = [Cell("-", "--")] * 3
            else:
                lo, hi = 2.0 ** p.lo, 2.0 ** p.hi
                cells = [Cell(fmt(v[dec].ratio), F.num(v[dec].ratio)),
                         Cell(f"[{fmt(lo)}, {fmt(hi)}]", rf"[{F.num(lo)}, {F.num(hi)}]"),
                         difference_cells(p)[2]]
            word = VERDICT_WORDS.get(v[dec].verdict, v[dec].verdict)
            rows.append([*(Cell(str(c[x]), F.num(c[x])) for x in ("n", "d", "k")),
                         Cell(dec, F.tex_escape(dec)), *cells, Cell(word, word)])
    return rows


def _paired_table(records, versus, family: int) -> Table:
    return Table(title="step-cost: each decoder's step / the transpose step, paired over the "
                       "interleaved rounds (geometric mean ratio, 95% interval, paired t-test on "
                       f"log2 times, Holm-adjusted over the table's {family} comparisons)",
                 columns=["n", "d", "k", "decoder", "ratio", "95% interval", "Holm p",
                          "verdict"],
                 rows=versus_table_rows(records, versus), align="rrrlrrrl")


def _findings(records: list[dict], cost: dict[str, Cost], closed: bool, paired: bool,
              cheapest: int, family: int) -> list[str]:
    findings = []
    rounds = records[0]["config"].get("repeats", 0)
    how = (f"geometric mean of the per-round ratios; verdicts from paired t-tests on the log "
           f"ratios over {rounds} interleaved rounds, Holm-adjusted over the table's {family} "
           "comparisons" if paired else "ratios and verdicts as recorded, unadjusted")
    for dec, c in cost.items():
        if dec == "untied" and closed:
            why = (" Its closed-form step does 8ndk FLOPs to the tied decoders' 4ndk "
                   "(V^T X^T X needs its own pass over X).")
        elif dec != "untied" and c.worst["k"] == max(r["config"]["k"] for r in records) \
                and np.nanmax(c.ratios) > 1.1:
            why = " The extra O(dk^2) SVD / Cholesky work shows where k is large next to n."
        else:
            why = ""
        same = (f" (their 95% intervals of the ratio lie within [{fmt(c.same[0])}, "
                f"{fmt(c.same[1])}])" if c.same else "")
        findings.append(
            f"{dec} step / transpose step ({how}): {fmt(np.nanmin(c.ratios))} .. "
            f"{fmt(np.nanmax(c.ratios))} (largest at d={c.worst['d']}, k={c.worst['k']}); "
            f"measurably faster in {c.count['faster']}, slower in {c.count['slower']}, no "
            f"measurable difference in {c.count[SAME]}{same} of {len(records)} "
            f"configurations.{why}")
    findings.append(
        f"the transpose step was the cheapest (no other decoder's step measurably faster) in "
        f"{cheapest} of {len(records)} configurations.")
    for dec in DECODERS[1:3]:
        pooled = query.final(records, f"{dec}_default_pool_ratio")
        findings.append(
            f"{dec} with the BLAS pools left at their default size: {fmt(np.nanmin(pooled))} .. "
            f"{fmt(np.nanmax(pooled))} x transpose (best of rounds; OpenBLAS's idle threads spin "
            "after each LAPACK call and take cores from XLA's matmuls; tiedae.fit limits them "
            "to one thread).")
    vs = query.final(records, "transpose_vs_numpy")
    if closed:
        findings.append(
            f"transpose step (closed form) runs at {mean_std(vs)} of numpy's matmul rate (4ndk "
            "nominal FLOPs; 1 = as fast as two back-to-back numpy matmuls of the same shape).")
        for dec in DECODERS:
            speedups = query.final(records, f"{dec}_closed_form_speedup")
            findings.append(
                f"{dec}: autodiff step / closed-form step (the one fit runs) = "
                f"{fmt(np.nanmin(speedups))} .. {fmt(np.nanmax(speedups))} (nominal FLOPs 10ndk "
                f"vs {'8' if dec == 'untied' else '4'}ndk).")
    else:
        findings.append(
            f"transpose step runs at {mean_std(vs)} of numpy's matmul rate (10ndk nominal FLOPs; "
            "1 = as fast as five back-to-back numpy matmuls of the same shape).")
    return findings


def _numbers(records: list[dict], versus, cost: dict[str, Cost], paired: bool, cheapest: int,
             family: int) -> dict[str, str]:
    """The paper's macros: each decoder's ratio range and verdict counts, the share of numpy's
    rate, the section's sentence and the introduction's answer."""
    macros: dict[str, str] = {}
    n_configs = len(records)
    parts = []
    for dec, c in cost.items():
        name = f"RStep{F.camel(dec)}"
        macros[name + "RatioMin"] = F.num(np.nanmin(c.ratios), 3)
        macros[name + "RatioMax"] = F.num(np.nanmax(c.ratios), 3)
        macros[name + "WorstK"] = F.num(c.worst["k"])
        macros[name + "WorstD"] = F.num(c.worst["d"])
        for word in ("faster", "slower"):
            macros[name + F.camel(word)] = F.num(c.count[word])
        macros[name + "Same"] = F.num(c.count[SAME])
        same = ""
        if c.same:
            macros[name + "SameLo"], macros[name + "SameHi"] = (F.num(x, 3) for x in c.same)
            same = (rf" (95\,\% intervals of the ratio within [{macros[name + 'SameLo']}, "
                    rf"{macros[name + 'SameHi']}])")
        parts.append(
            rf"the {NAMES[dec]} step costs {macros[name + 'RatioMin']} to "
            rf"{macros[name + 'RatioMax']} times the transpose step (largest at "
            rf"$d={macros[name + 'WorstD']}$, $k={macros[name + 'WorstK']}$) and is measurably "
            rf"slower in {macros[name + 'Slower']}, faster in {macros[name + 'Faster']} and "
            rf"indistinguishable{same} in {macros[name + 'Same']} of the {n_configs} "
            "configurations")
    macros["RStepConfigs"] = F.num(n_configs)
    macros["RStepComparisons"] = F.num(family)
    macros["RStepCheapest"] = F.num(cheapest)
    macros["RStepRounds"] = F.num(records[0]["config"].get("repeats"))
    macros["RStepVsNumpy"] = F.pm_ci(query.final(records, "transpose_vs_numpy"), 2)
    macros["RStepN"] = F.num(records[0]["config"]["n"])
    how = (rf"geometric mean of {macros['RStepRounds']} interleaved rounds, verdicts from paired "
           rf"$t$-tests on the log ratios over the rounds, Holm-corrected over the "
           rf"{macros['RStepComparisons']} comparisons" if paired else
           "ratios and verdicts as recorded")
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
        low = min(v[dec].ratio for v in versus for dec in DECODERS[1:]
                  if v[dec].verdict == "lower")  # the measurably faster steps only
        answer = (rf"Per step the transpose tie is not always the cheapest: another decoder's "
                  rf"step was measurably faster in {F.num(n_configs - cheapest)} of "
                  rf"{n_configs} configurations we timed (down to {F.num(low, 3)} times its "
                  r"time; Section~\ref{sec:cost}).")
    macros["RAnswerStepCost"] = answer
    return macros


def _draw(records: list[dict], versus):
    """Time per step relative to the transpose step against k (one line per decoder and d;
    hollow markers: no measurable difference), and the transpose step's GFLOP/s as a fraction
    of numpy's matmul rate."""
    fig, axes = plots.new_figure(2, 1, width=6.6, height=2.1)
    styles = ["-", "--", ":", "-."]
    by_d: dict = {}
    for r, v in zip(records, versus, strict=True):
        by_d.setdefault(r["config"]["d"], []).append((r, v))
    for j, (d, rows) in enumerate(by_d.items()):
        rows = sorted(rows, key=lambda rv: rv[0]["config"]["k"])
        ks = np.array([r["config"]["k"] for r, _ in rows], dtype=float)
        for dec in DECODERS[1:]:
            ratio = np.array([v[dec].ratio for _, v in rows], dtype=float)
            color = plots.COLORS[dec]
            axes[0, 0].plot(ks, ratio, color=color, linestyle=styles[j % 4],
                            label=f"{dec.replace('_', ' ')}, $d={d}$")
            same = np.array([v[dec].verdict == SAME for _, v in rows])
            axes[0, 0].plot(ks[~same], ratio[~same], "o", color=color, markersize=3)
            axes[0, 0].plot(ks[same], ratio[same], "o", color=color, markersize=3,
                            fillstyle="none")
        axes[0, 1].plot(ks, query.final([r for r, _ in rows], "transpose_vs_numpy"), marker="o",
                        markersize=3, color=plots.COLORS["transpose"],
                        linestyle=styles[j % 4], label=f"$d={d}$")
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
    return fig


def analyze(records: list[dict]) -> Analysis:
    """Per-step time ratios to the transpose step, how often each decoder's step was measurably
    faster or slower (Holm-adjusted over the table), and the step's share of numpy's matmul
    rate."""
    # Records from before the closed-form step timed autodiff steps (10ndk) only.
    closed = all("transpose_closed_form_speedup" in r["final"] for r in records)
    versus = versus_transpose_table(records)
    paired = all(v[dec].p is not None for v in versus for dec in DECODERS[1:])
    family = max((v[dec].p.family for v in versus for dec in DECODERS[1:]), default=0) \
        if paired else 0
    cost = costs(records, versus)
    cheapest = _cheapest(versus)
    tables = [_table(records, versus, closed, paired)]
    if paired:
        tables.append(_paired_table(records, versus, family))
    return Analysis(
        tables=tables,
        findings=_findings(records, cost, closed, paired, cheapest, family),
        numbers=_numbers(records, versus, cost, paired, cheapest, family),
        figures=[Figure("step_cost", "Time per step of each decoder relative to the transpose "
                        "step against k (geometric mean over the rounds; hollow: no measurable "
                        "difference, Holm-adjusted), and the transpose step's share of numpy's "
                        "matmul rate.", lambda: _draw(records, versus))])
