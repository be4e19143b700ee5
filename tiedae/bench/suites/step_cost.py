r"""Suite `step-cost`: time per training step of each decoder against k and d.

One jitted full-batch gradient step (`tiedae.training.make_train_step`, float32, SGD) per
decoder, timed in several interleaved rounds (every decoder and the numpy baseline once per
round, so a burst of load from other processes hits all alike), and reported (a) as a ratio to
the transpose step: the median of the per-round ratios, with a paired comparison over the
rounds (`tiedae.report.stats.paired`) that says whether the difference is measurable, (b) as
GFLOP/s of the step's nominal FLOPs against numpy's float32 matmul rate on the same
(n, d) x (d, k) product measured in the same run (the faster of numpy's default BLAS pool and
one BLAS thread), and (c) as the speedup of the closed-form step over
autodiff through the reconstruction, per decoder. The steps timed are those `fit` runs: the
closed-form gradient (`tiedae.linear.closed_form`), nominally 4 n d k FLOPs for the tied
decoders and 8 n d k untied; the autodiff step (`autodiff_reconstruction_error`) does 10 n d k
(two products forward, three backward). Absolute times vary between runs on a shared
machine: compare ratios. pinv adds an O(d k^2) SVD and right_inverse an O(d k^2 + k^3)
Cholesky, negligible while k << n.

`analyze(records)` reads each decoder's ratios to the transpose step once (`costs`) and
derives from them the terminal table (one row per (n, d, k)), the findings, the paper's
numbers and the figure `step_cost`.

Example:
  >>> nominal_flops("transpose", 100, 10, 2), nominal_flops("untied", 100, 10, 2)
  (8000.0, 16000.0)
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench.suite import Options, Suite
from tiedae.blas import blas_threads, limit_blas_threads
from tiedae.linear import LINEAR_DECODERS as DECODERS
from tiedae.linear.closed_form import step_flops
from tiedae.report import format as F
from tiedae.report import plots, query, stats
from tiedae.report.analysis import Analysis, Cell, Figure, Table
from tiedae.report.format import fmt, mean_std
from tiedae.training import (
    TrainState,
    autodiff_reconstruction_error,
    covariance_loss,
    make_train_step,
    reconstruction_error,
)

AUTODIFF_FLOPS_PER_NDK = 10.0  # two (n, d) x (d, k)-sized products forward, three backward
LOSSES = {"full": reconstruction_error, "autodiff": autodiff_reconstruction_error,
          "covariance": covariance_loss}


def configs(options: Options) -> list[dict]:
    if options.quick:
        n, grid = 1024, [(256, 64)]
    else:
        n = 4096
        grid = [(d, k) for d in (256, 784) for k in (8, 16, 32, 64, 128, 256, 512) if k <= d]
    tag = "quick" if options.quick else "full"
    return [{"run_id": f"{tag}-n{n}-d{d}-k{k}", "n": n, "d": d, "k": k, "seed": options.seed,
             "repeats": 5 if options.quick else 9} for d, k in grid]


def round_times(fns: dict, repeats: int, min_time: float = 0.05) -> dict[str, list[float]]:
    """Seconds per call of each function in each of `repeats` rounds.

    Rounds visit the functions in turn (interleaved), so a burst of load from other processes
    on a shared machine hits all of them alike: the times of one round are paired. Each timing
    runs enough calls to last about `min_time`.
    """
    calls = {}
    for name, fn in fns.items():
        for _ in range(3):
            fn()
        t0 = time.perf_counter()
        fn()
        calls[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            rounds[name].append((time.perf_counter() - t0) / calls[name])
    return rounds


def best_times(fns: dict, repeats: int, min_time: float = 0.05) -> dict[str, float]:
    """Seconds per call of each function: the best (least disturbed) of `round_times`."""
    return {name: min(t) for name, t in round_times(fns, repeats, min_time).items()}


def versus_transpose(times: list[float], transpose: list[float]) -> dict:
    """A decoder's step against the transpose step over paired rounds: the median per-round
    ratio and the paired comparison of the times (verdict "lower": measurably faster)."""
    ratio = float(np.median(np.asarray(times) / np.asarray(transpose)))
    r = stats.paired(times, transpose)
    return {"ratio_median": ratio, "verdict": r.verdict, "diff_ms": 1e3 * r.mean,
            "diff_ms_lo": 1e3 * r.lo, "diff_ms_hi": 1e3 * r.hi}


def step_function(decoder: str, X: jax.Array, k: int, seed: int = 0, mode: str = "full",
                  blas_limit: int | None = 1):
    """A no-argument function running one jitted full-batch SGD step of a float32 LinearAE
    (`tiedae.training.make_train_step`) and waiting for its result. mode: "full" (the step
    `fit` runs: closed-form gradient), "autodiff" (autodiff through the reconstruction) or
    "covariance" (X is then the (d, d) covariance). The step runs with the BLAS pools limited
    to `blas_limit` threads, as `tiedae.fit` runs it (None: the pools as they are)."""
    if mode not in LOSSES:
        raise ValueError(f"mode must be one of {sorted(LOSSES)}; got {mode!r}")
    model = tiedae.LinearAE(X.shape[1], k, decoder=decoder, rngs=nnx.Rngs(seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.sgd(1e-4)
    step = make_train_step(graphdef, rest, opt, loss_fn=LOSSES[mode])
    box = [TrainState.create(params, opt)]

    def one():
        with blas_threads(blas_limit):
            box[0], _ = step(box[0], X)
            jax.block_until_ready(box[0].params)

    return one


def matmul_function(n: int, d: int, k: int, seed: int = 0):
    """A no-argument function computing numpy's float32 (n, d) @ (d, k) (2 n d k FLOPs)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)).astype(np.float32)
    B = rng.standard_normal((d, k)).astype(np.float32)
    return lambda: A @ B


def one_blas_thread(fn):
    """`fn` run with numpy's BLAS pool limited to one thread."""

    def limited():
        with limit_blas_threads(1):
            return fn()

    return limited


def nominal_flops(decoder: str, n: int, d: int, k: int, mode: str = "full") -> float:
    """Nominal FLOPs of one step: the n-sized products only (see the module docstring)."""
    if mode == "autodiff":
        return AUTODIFF_FLOPS_PER_NDK * n * d * k
    return step_flops(n, d, k, free_decoder=decoder == "untied")


def run(config: dict) -> dict:
    n, d, k = config["n"], config["d"], config["k"]
    rng = np.random.default_rng(config["seed"])
    X = jnp.asarray(rng.standard_normal((n, d)).astype(np.float32))
    matmul = matmul_function(n, d, k, config["seed"])
    fns = {dec: step_function(dec, X, k, config["seed"]) for dec in DECODERS}
    for dec in DECODERS:
        fns[f"{dec}_autodiff"] = step_function(dec, X, k, config["seed"], mode="autodiff")
    for dec in DECODERS[1:3]:  # the decoders that call LAPACK, with the BLAS pools as they are
        fns[f"{dec}_default_pool"] = step_function(dec, X, k, config["seed"], blas_limit=None)
    fns["numpy"] = matmul
    fns["numpy_one_thread"] = one_blas_thread(matmul)
    rounds = round_times(fns, config["repeats"])
    times = {name: min(t) for name, t in rounds.items()}
    numpy_s = min(times["numpy"], times["numpy_one_thread"])  # the faster pool setting
    final = {"numpy_gflops": 2.0 * n * d * k / numpy_s / 1e9,
             "numpy_one_blas_thread_faster": times["numpy_one_thread"] < times["numpy"]}
    for dec in DECODERS:
        t, t_auto = times[dec], times[f"{dec}_autodiff"]
        final[f"{dec}_ms"] = 1e3 * t
        final[f"{dec}_ratio"] = t / times["transpose"]
        final[f"{dec}_gflops"] = nominal_flops(dec, n, d, k) / t / 1e9
        final[f"{dec}_vs_numpy"] = final[f"{dec}_gflops"] / final["numpy_gflops"]
        final[f"{dec}_autodiff_ms"] = 1e3 * t_auto
        final[f"{dec}_autodiff_vs_numpy"] = (nominal_flops(dec, n, d, k, "autodiff") / t_auto
                                             / 1e9 / final["numpy_gflops"])
        final[f"{dec}_closed_form_speedup"] = t_auto / t
        if dec != "transpose":
            cmp = versus_transpose(rounds[dec], rounds["transpose"])
            final.update({f"{dec}_{key}": val for key, val in cmp.items()})
    for dec in DECODERS[1:3]:
        final[f"{dec}_default_pool_ratio"] = times[f"{dec}_default_pool"] / times["transpose"]
    return {"final": final, "trajectory": {},
            "extra": {"rounds_ms": {name: [1e3 * t for t in ts] for name, ts in rounds.items()},
                      "flops_per_step": {dec: nominal_flops(dec, n, d, k) for dec in DECODERS},
                      "autodiff_flops_per_step": nominal_flops("transpose", n, d, k,
                                                               "autodiff")}}


VERDICT_WORDS = {"lower": "faster", "higher": "slower"}
NAMES = {"pinv": "pseudo-inverse", "right_inverse": "right-inverse", "untied": "untied"}


def verdicts(records: list[dict], dec: str) -> dict[str, int]:
    """How many configurations had `dec`'s step measurably faster / slower than the transpose
    step, or no measurable difference (paired over rounds). Records from before the rounds
    were kept compare the best-of-rounds times instead ("faster" when the ratio is below 1)."""
    out = {"faster": 0, "slower": 0, "no measurable difference": 0}
    for r in records:
        f = r["final"]
        if f"{dec}_verdict" in f:
            out[VERDICT_WORDS.get(f[f"{dec}_verdict"], f[f"{dec}_verdict"])] += 1
        else:
            out["faster" if f[f"{dec}_ratio"] < 1 else "slower"] += 1
    return out


def _ratio_key(records: list[dict], dec: str) -> str:
    """The median per-round ratio where recorded, else the best-of-rounds ratio."""
    return (f"{dec}_ratio_median" if all(f"{dec}_ratio_median" in r["final"] for r in records)
            else f"{dec}_ratio")


class Cost(NamedTuple):
    """One decoder's step against the transpose step over the configurations."""

    ratios: np.ndarray  # median per-round ratio (best-of-rounds in old records), per record
    worst: dict  # the config where the ratio is largest
    count: dict[str, int]  # `verdicts`


def costs(records: list[dict]) -> dict[str, Cost]:
    """{decoder: Cost} for every decoder but the transpose."""
    out = {}
    for dec in DECODERS[1:]:
        ratios = query.final(records, _ratio_key(records, dec))
        out[dec] = Cost(ratios, records[int(np.nanargmax(ratios))]["config"],
                        verdicts(records, dec))
    return out


def _cheapest(records: list[dict], paired: bool) -> int:
    """In how many configurations no other decoder's step was measurably faster (best-of-rounds
    ratio below 1 in old records)."""
    return sum(not any((r["final"].get(f"{dec}_verdict") == "lower") if paired else
                       r["final"][f"{dec}_ratio"] < 1 for dec in DECODERS[1:])
               for r in records)


def _ratio_cell(f: dict, dec: str) -> str:
    ratio = f.get(f"{dec}_ratio_median", f[f"{dec}_ratio"])
    mark = {"lower": " (faster)", "higher": " (slower)", "no measurable difference": " (=)"}
    return fmt(ratio) + mark.get(f.get(f"{dec}_verdict"), "")


def _table(records: list[dict], closed: bool) -> Table:
    rows = []
    for (n, d, k), recs in query.group(records, "n", "d", "k").items():
        f = recs[0]["final"]
        rows.append([*(Cell(str(x), F.num(x)) for x in (n, d, k)), f["transpose_ms"],
                     *[_ratio_cell(f, dec) for dec in DECODERS[1:]], f["transpose_gflops"],
                     f["numpy_gflops"], f["transpose_vs_numpy"],
                     f["transpose_closed_form_speedup"] if closed else "-"])
    return Table(title="step-cost: full-batch step time (ratios to the transpose step; "
                       "(=): no measurable difference over the rounds)",
                 columns=["n", "d", "k", "transpose ms", "pinv ×", "right_inv ×", "untied ×",
                          "transpose GFLOP/s", "numpy GFLOP/s", "step/numpy", "autodiff/closed"],
                 rows=rows)


def _findings(records: list[dict], cost: dict[str, Cost], closed: bool, paired: bool,
              cheapest: int) -> list[str]:
    findings = []
    rounds = records[0]["config"].get("repeats", 0)
    how = (f"median per-round ratio; verdicts paired over {rounds} interleaved rounds" if paired
           else "best-of-rounds ratio")
    for dec, c in cost.items():
        if dec == "untied" and closed:
            why = (" Its closed-form step does 8ndk FLOPs to the tied decoders' 4ndk "
                   "(V^T X^T X needs its own pass over X).")
        elif dec != "untied" and c.worst["k"] == max(r["config"]["k"] for r in records) \
                and np.nanmax(c.ratios) > 1.1:
            why = " The extra O(dk^2) SVD / Cholesky work shows where k is large next to n."
        else:
            why = ""
        findings.append(
            f"{dec} step / transpose step ({how}): {fmt(np.nanmin(c.ratios))} .. "
            f"{fmt(np.nanmax(c.ratios))} (largest at d={c.worst['d']}, k={c.worst['k']}); "
            f"measurably faster in {c.count['faster']}, slower in {c.count['slower']}, no "
            f"measurable difference in {c.count['no measurable difference']} of {len(records)} "
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


def _numbers(records: list[dict], cost: dict[str, Cost], paired: bool,
             cheapest: int) -> dict[str, str]:
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
        macros[name + "Same"] = F.num(c.count["no measurable difference"])
        parts.append(
            rf"the {NAMES[dec]} step costs {macros[name + 'RatioMin']} to "
            rf"{macros[name + 'RatioMax']} times the transpose step (largest at "
            rf"$d={macros[name + 'WorstD']}$, $k={macros[name + 'WorstK']}$) and is measurably "
            rf"slower in {macros[name + 'Slower']}, faster in {macros[name + 'Faster']} and "
            rf"indistinguishable in {macros[name + 'Same']} of the {n_configs} configurations")
    macros["RStepConfigs"] = F.num(n_configs)
    macros["RStepCheapest"] = F.num(cheapest)
    macros["RStepRounds"] = F.num(records[0]["config"].get("repeats"))
    macros["RStepVsNumpy"] = F.pm_ci(query.final(records, "transpose_vs_numpy"), 2)
    macros["RStepN"] = F.num(records[0]["config"]["n"])
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
        low = min(float(np.nanmin(c.ratios)) for c in cost.values())
        answer = (rf"Per step the transpose tie is not always the cheapest: another decoder's "
                  rf"step was measurably faster in {F.num(n_configs - cheapest)} of "
                  rf"{n_configs} configurations we timed (down to {F.num(low, 3)} times its "
                  r"time; Section~\ref{sec:cost}).")
    macros["RAnswerStepCost"] = answer
    return macros


def _draw(records: list[dict]):
    """Time per step relative to the transpose step against k (one line per decoder and d;
    hollow markers: no measurable difference over the rounds), and the transpose step's
    GFLOP/s as a fraction of numpy's matmul rate."""
    fig, axes = plots.new_figure(2, 1, width=6.6, height=2.1)
    styles = ["-", "--", ":", "-."]
    for j, ((d,), recs) in enumerate(query.group(records, "d").items()):
        recs = sorted(recs, key=lambda r: r["config"]["k"])
        ks = np.array([r["config"]["k"] for r in recs], dtype=float)
        for dec in DECODERS[1:]:
            ratio = query.final(recs, _ratio_key(recs, dec))
            color = plots.COLORS[dec]
            axes[0, 0].plot(ks, ratio, color=color, linestyle=styles[j % 4],
                            label=f"{dec.replace('_', ' ')}, $d={d}$")
            same = np.array([r["final"].get(f"{dec}_verdict") == "no measurable difference"
                             for r in recs])
            axes[0, 0].plot(ks[~same], ratio[~same], "o", color=color, markersize=3)
            axes[0, 0].plot(ks[same], ratio[same], "o", color=color, markersize=3,
                            fillstyle="none")
        axes[0, 1].plot(ks, query.final(recs, "transpose_vs_numpy"), marker="o", markersize=3,
                        color=plots.COLORS["transpose"], linestyle=styles[j % 4],
                        label=f"$d={d}$")
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
    faster or slower, and the step's share of numpy's matmul rate."""
    # Records from before the closed-form step timed autodiff steps (10ndk) only.
    closed = all("transpose_closed_form_speedup" in r["final"] for r in records)
    paired = all("pinv_verdict" in r["final"] for r in records)
    cost = costs(records)
    cheapest = _cheapest(records, paired)
    return Analysis(
        tables=[_table(records, closed)],
        findings=_findings(records, cost, closed, paired, cheapest),
        numbers=_numbers(records, cost, paired, cheapest),
        figures=[Figure("step_cost", "Time per step of each decoder relative to the transpose "
                        "step against k, and the transpose step's share of numpy's matmul rate.",
                        lambda: _draw(records))])


SUITE = Suite(
    name="step-cost",
    description="time per step vs k and d for each decoder: ratio to transpose, GFLOP/s vs "
                "numpy matmul",
    configs=configs, run=run, analyze=analyze,
)
