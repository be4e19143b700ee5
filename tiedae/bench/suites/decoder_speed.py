r"""Suite `decoder-speed`: which tie reaches the principal subspace in fewer steps, each at its
own best step size (post 004's speed question).

The `decoders` suite trains the four decoders of a `LinearAE` (transpose W^T, pseudo-inverse W^+,
right inverse W^T (W W^T)^{-1}, untied V) from the same start with one step size for all. That
favours whichever decoder the step size suits: the pseudo-inverse tie's gradient scales like
1 / ||W|| (its loss depends on W's row space only), so from a start whose singular values are
below 1 its effective step is larger, and from one above 1 smaller. This suite removes that
confound for the two ties that differ as functions: W^T and W^+ (for W of full row rank the
right inverse W^T (W W^T)^{-1} is W^+, so its iterates are the pseudo-inverse's; what it costs
per step is the `step-cost` suite's question):

* two starts, W0 with N(0, s^2 / d) entries for s = 0.5 and s = 2 (singular values of W0 about
  s: below and above 1);
* three optimisers: gradient descent, heavy-ball momentum (0.9) and Adam, each with a
  log-spaced grid of step sizes (gradient descent and momentum: c / lambda_1 for the grid of c,
  lambda_1 the top eigenvalue of the data's covariance; Adam: the step itself);
* every (data, start, optimiser, tie, step size) trained from the same W0 per seed, until
  the subspace distance to the top-k principal subspace is <= 1e-3 (checked every `log_every`
  steps) or `max_steps` steps; a run that diverges (`tiedae.training.TrainingDiverged`) is
  recorded as never reaching it.

The analysis picks each tie's step size on the *tuning* seeds (the first `TUNING_SEEDS`): the
grid value with the fewest median steps (never reached counts as infinite); a choice at the
grid's end is flagged. The other seeds, not used for the choice, compare the pseudo-inverse tie
at its chosen step with the transpose tie at its own, paired by seed (the same W0): the paired
t-test on log2(steps), a run that never reached the target counted at the step cap (which
favours it), the mean reported as the ratio 2^mean (a geometric mean of the per-seed ratios)
with its 95% interval, and Holm's correction over every comparison of the table.

Data: the spiked covariance (n = 2000, d = 64, k = 4) and scikit-learn's digits (1797 x 64,
k = 16); with `--data`, also the user's MNIST-format images (d = 784, k = 16, through their
covariance). The quick run (only with ``--suite decoder-speed``) trains one data set, one start
and gradient descent on two step sizes and four seeds (two for tuning), only to exercise the
code.

Example:
  >>> from tiedae.bench.suite import Options
  >>> from tiedae.bench.suites import decoder_speed
  >>> configs = decoder_speed.configs(Options(quick=False))
  >>> len(configs), sorted({c["optimizer"] for c in configs})
  (1120, ['adam', 'gd', 'momentum'])
  >>> decoder_speed.choose_step({0.1: [40.0, 50.0, 45.0], 0.3: [20.0, None, 25.0]})
  0.3
  >>> decoder_speed.choose_step({0.1: [40.0, 50.0, 45.0], 0.3: [20.0, None, None]})
  0.1
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite
from tiedae.report import Analysis, Cell, Figure, Table, difference_cells, plots, query, stats
from tiedae.report import format as F

DECODERS = ("transpose", "pinv")
TARGET = 1e-3  # subspace distance
TUNING_SEEDS = 3  # of the full runs' 10 seeds (the quick runs': 2 of 4)
INIT_SCALES = (0.5, 2.0)
# Step-size grids: c with eta = c / lambda_1 (gd, momentum), or eta itself (adam).
GRIDS = {"gd": (0.03, 0.1, 0.3, 1.0, 3.0), "momentum": (0.003, 0.01, 0.03, 0.1, 0.3),
         "adam": (3e-3, 1e-2, 3e-2, 0.1)}
MOMENTUM = 0.9
# One optimizer object per kind with the step size injected per run: one compiled program
# per (decoder, optimizer, shape), whatever the step size and seed.
OPTIMIZERS = {
    "gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
    "momentum": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0, momentum=MOMENTUM),
    "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0),
}
OPTIMIZER_NAMES = {"gd": "gradient descent", "momentum": "momentum 0.9", "adam": "Adam"}
DATA_NAMES = {"spiked": "spiked", "digits": "digits", "user": "MNIST"}


def configs(options: Options) -> list[dict]:
    quick = options.quick
    # (data set, n, d, gap, k, source, step cap)
    sets = ([("spiked", 2000, 64, 4.0, 4, "rows", 600)] if quick else
            [("spiked", 2000, 64, 4.0, 4, "rows", 2000),
             ("digits", 1797, 64, 0.0, 16, "rows", 2000)])
    if options.mnist and not quick:
        sets.append(("user", 0, 0, 0.0, 16, "covariance", 2000))
    n_seeds, n_tuning = (4, 2) if quick else (10, TUNING_SEEDS)
    out = []
    for name, n, d, gap, k, source, cap in sets:
        for scale in INIT_SCALES[:1] if quick else INIT_SCALES:
            for opt in ("gd",) if quick else tuple(GRIDS):
                for step in GRIDS[opt][:2] if quick else GRIDS[opt]:
                    for seed in range(options.seed, options.seed + n_seeds):
                        for dec in DECODERS:
                            out.append({
                                "run_id": f"{'quick' if quick else 'full'}-{name}-k{k}-s{scale:g}"
                                          f"-{opt}-{step:g}-{dec}-seed{seed}",
                                "dataset": name, "n": n, "d": d, "gap": gap, "k": k,
                                "source": source, "data": options.mnist if name == "user"
                                else None, "data_seed": options.seed, "init_scale": scale,
                                "optimizer": opt, "step": step, "decoder": dec, "seed": seed,
                                "tuning": seed < options.seed + n_tuning,
                                "max_steps": cap, "log_every": 5,
                            })
    return out


def run(config: dict) -> dict:
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"], path=config["data"])
    ref = tiedae.pca.fit(X, config["k"])
    lam1 = float(ref.eigenvalues[0])
    lr = config["step"] if config["optimizer"] == "adam" else config["step"] / lam1
    model = tiedae.LinearAE(X.shape[1], config["k"], decoder=config["decoder"],
                            init_scale=config["init_scale"], rngs=nnx.Rngs(config["seed"]))
    sv_start = np.linalg.svd(np.asarray(model.encoder_matrix(), np.float64), compute_uv=False)
    data = X.astype(np.float32)
    if config["source"] == "covariance":
        data = tiedae.training.Covariance(data)
    stop = tiedae.training.StopWhen("subspace_distance", TARGET)
    diverged = False
    try:
        model, hist = tiedae.fit(model, data, optimizer=OPTIMIZERS[config["optimizer"]],
                                 hyperparams={"learning_rate": lr}, steps=config["max_steps"],
                                 reference=ref, log_every=config["log_every"], callback=stop)
        last = {key: float(hist[key][-1]) for key in ("subspace_distance", "orthonormality")}
        trajectory = {key: hist[key] for key in ("step", "subspace_distance")}
    except tiedae.training.TrainingDiverged:
        diverged = True
        last = {"subspace_distance": math.nan, "orthonormality": math.nan}
        trajectory = {}
    return {
        "final": {"steps_to_target": None if diverged else stop.step,
                  "seconds_to_target": None if diverged else stop.wall_time,
                  "diverged": diverged, "learning_rate": lr, "lambda_1": lam1,
                  "sv_min_start": float(sv_start.min()), "sv_max_start": float(sv_start.max()),
                  **last},
        "trajectory": trajectory,
        "extra": {},
    }


# ---- analysis ----------------------------------------------------------------------------------

def _steps(records) -> list[float | None]:
    return [r["final"].get("steps_to_target") for r in query.by_seed(records)]


def choose_step(tuning: Mapping[float, list]) -> float:
    """The step size whose tuning runs reached the target in the fewest steps (median; None,
    never reached, counts as infinite); ties go to the smaller step."""
    def key(step):
        return (stats.median_iqr(tuning[step])[0], step)
    return min(tuning, key=key)


class _Setting:
    """The runs of one (data set, k, start, optimiser): each tie's step chosen on the tuning
    seeds, its evaluation runs at that step and the comparison of the two ties."""

    def __init__(self, key: tuple, records: list[dict]):
        self.dataset, self.k, self.scale, self.optimizer = key
        self.records = records
        self.cap = float(records[0]["config"]["max_steps"])
        self.chosen: dict[str, float] = {}
        self.edge: dict[str, bool] = {}
        self.tuning: dict[str, dict[float, list]] = {}
        self.evaluation: dict[str, dict[int, dict]] = {}
        for (dec,), recs in query.group(records, "decoder").items():
            by_step = query.group(recs, "step")
            grid = sorted(step for (step,) in by_step)
            self.tuning[dec] = {step: _steps(query.select(by_step[(step,)], tuning=True))
                                for step in grid}
            self.chosen[dec] = choose_step(self.tuning[dec])
            self.edge[dec] = len(grid) > 1 and self.chosen[dec] in (grid[0], grid[-1])
            self.evaluation[dec] = {r["config"]["seed"]: r for r in query.select(
                by_step[(self.chosen[dec],)], tuning=False)}

    @property
    def title(self) -> str:
        return (f"{DATA_NAMES.get(self.dataset, self.dataset)}, k={self.k}, start scale "
                f"{self.scale:g}, {OPTIMIZER_NAMES.get(self.optimizer, self.optimizer)}")

    def steps(self, dec: str) -> list:
        return [r["final"].get("steps_to_target") for _, r in sorted(
            self.evaluation.get(dec, {}).items())]

    def versus(self) -> stats.Paired:
        """log2 of the pseudo-inverse tie's steps minus the transpose tie's, paired by seed
        over the evaluation seeds, never reached counted at the cap."""
        a, b = self.evaluation.get("pinv", {}), self.evaluation.get("transpose", {})
        seeds = sorted(set(a) & set(b))

        def log2(runs):
            return [math.log2(self.cap if runs[s]["final"].get("steps_to_target") is None
                              else runs[s]["final"]["steps_to_target"]) for s in seeds]
        return stats.paired(log2(a), log2(b))


def settings(records: list[dict]) -> list[_Setting]:
    groups = query.group(records, "dataset", "k", "init_scale", "optimizer")
    return [_Setting(key, recs) for key, recs in groups.items()]


def _comparisons(groups: list[_Setting]) -> dict[int, stats.Paired]:
    """The pseudo-inverse against the transpose tie in every setting, Holm-corrected together."""
    return stats.holm({i: g.versus() for i, g in enumerate(groups)
                       if {"pinv", "transpose"} <= set(g.evaluation)})


def _ratio_cells(p: stats.Paired) -> list[Cell]:
    """`difference_cells` of a log2 comparison, with the mean and interval as ratios 2^x."""
    cells = difference_cells(p)
    if p.n < 2:
        return cells
    ratio = [2.0 ** x for x in (p.mean, p.lo, p.hi)]
    text = [F.fmt(x, 2) for x in ratio]
    return [Cell(f"{text[0]}x", rf"{F.num(ratio[0], 2)}$\times$"),
            Cell(f"[{text[1]}, {text[2]}]", rf"[{F.num(ratio[1], 2)}, {F.num(ratio[2], 2)}]"),
            cells[2]]


def _verdict(p: stats.Paired) -> str:
    return {"lower": "pinv fewer steps", "higher": "pinv more steps"}.get(p.verdict, p.verdict)


def _step_cell(g: _Setting, dec: str) -> Cell:
    mark = " (grid end)" if g.edge[dec] else ""
    return Cell(f"{g.chosen[dec]:g}{mark}", F.num(g.chosen[dec]) + mark)


def _table(groups, compared) -> Table:
    rows = []
    for i, g in enumerate(groups):
        steps = {dec: g.steps(dec) for dec in DECODERS}
        comparison = ([*_ratio_cells(compared[i]), _verdict(compared[i])] if i in compared
                      else [Cell("-", "--")] * 4)
        rows.append([Cell(g.title, F.tex_escape(g.title)),
                     *[_step_cell(g, dec) if dec in g.chosen else "-" for dec in DECODERS],
                     *[Cell(F.fmt(stats.median_iqr(steps[dec])[0]) if steps[dec] else "-",
                            F.med_iqr(steps[dec], 3)) for dec in DECODERS],
                     *comparison])
    return Table(
        "decoder-speed: steps to subspace distance 1e-3 with each tie at its own step size "
        "(chosen on the tuning seeds; median [IQR] over the other seeds, never reached counted "
        "at the cap) and the pseudo-inverse tie's steps over the transpose tie's, paired by "
        "seed (geometric mean ratio, 95% interval, paired t-test on log2 steps, Holm-corrected "
        "over the table)",
        ["setting", Cell("step W^T", r"step $W^\top$"), Cell("step W^+", r"step $W^+$"),
         Cell("steps W^T", r"steps $W^\top$"), Cell("steps W^+", r"steps $W^+$"),
         Cell("W^+ / W^T", r"$W^+ / W^\top$"), "95% interval", "Holm p", "verdict"],
        rows, name="decoder_speed", align="lrrrrrrrl")


def _findings(groups, compared) -> list[str]:
    out = []
    for i, g in enumerate(groups):
        chosen = ", ".join(f"{dec} {g.chosen[dec]:g}" + (" (grid end)" if g.edge[dec] else "")
                           for dec in DECODERS if dec in g.chosen)
        p = compared.get(i)
        what = ("not compared" if p is None or p.n < 2 else
                f"pinv needed {2 ** p.mean:.2g}x the transpose tie's steps [{2 ** p.lo:.2g}, "
                f"{2 ** p.hi:.2g}] over {p.n} seeds, Holm-adjusted {F.p_equals(p.p_adjusted)}: "
                f"{_verdict(p)}")
        reached = ", ".join(f"{dec} reached in {sum(s is not None for s in g.steps(dec))}/"
                            f"{len(g.steps(dec))}" for dec in DECODERS if dec in g.evaluation)
        out.append(f"{g.title} (step sizes chosen on the tuning seeds: {chosen}; {reached}): "
                   f"{what}.")
    return out


def _answer(groups, compared) -> str:
    if not compared:
        return "The two ties were not compared."
    by_scale: dict[float, dict[str, int]] = {}
    for i, p in compared.items():
        counts = by_scale.setdefault(groups[i].scale, {"lower": 0, "higher": 0, "none": 0})
        counts[p.verdict if p.verdict in ("lower", "higher") else "none"] += 1
    parts = [rf"from starts of scale {F.num(scale)} the pseudo-inverse tie needed fewer steps "
             rf"than $W^\top$ in {c['lower']}, more in {c['higher']} and showed no measurable "
             rf"difference in {c['none']} of {sum(c.values())} settings"
             for scale, c in sorted(by_scale.items())]
    return (r"With each tie at its own best step size (chosen on separate seeds), "
            + "; ".join(parts) + r" (Table~\ref{tab:decoder-speed}; Holm-corrected).")


def _figure(groups):
    def draw():
        """Median steps to the target on the tuning seeds against the step size, one line per
        tie, one panel per setting."""
        cols = 3
        rows = max(1, math.ceil(len(groups) / cols))
        fig, axes = plots.new_figure(cols, rows, height=1.7)
        for ax in axes.flat[len(groups):]:
            ax.axis("off")
        for ax, g in zip(axes.flat, groups, strict=False):
            for dec, tuning in g.tuning.items():
                grid = sorted(tuning)
                med = [min(stats.median_iqr(tuning[s])[0], g.cap) for s in grid]
                ax.plot(grid, med, marker="o", markersize=2.5, color=plots.COLORS[dec],
                        label=plots.LABELS[dec], linewidth=0.9)
            ax.axhline(g.cap, color="0.6", linewidth=0.6, linestyle=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"$c$ ($\eta = c/\lambda_1$)" if g.optimizer != "adam"
                          else r"$\eta$", fontsize=6)
            ax.set_ylabel("steps to $10^{-3}$", fontsize=6)
            ax.set_title(g.title, fontsize=6)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), frameon=False)
        return fig
    return draw


def analyze(records: list[dict]) -> Analysis:
    """The table `decoder_speed`, a finding per setting, the paper's numbers
    (``\\RDecSpeedSeeds``, ``\\RDecSpeedTuningSeeds``, ``\\RDecSpeedCap``,
    ``\\RAnswerDecoderSpeed``) and the figure `decoder_speed` (the step-size tuning curves)."""
    groups = settings(records)
    compared = _comparisons(groups)
    seeds = {r["config"]["seed"] for r in records}
    tuning = {r["config"]["seed"] for r in records if r["config"]["tuning"]}
    numbers = {
        "RDecSpeedSeeds": F.num(len(seeds - tuning)),
        "RDecSpeedTuningSeeds": F.num(len(tuning)),
        "RDecSpeedCap": F.num(records[0]["config"]["max_steps"]),
        "RAnswerDecoderSpeed": _answer(groups, compared),
    }
    return Analysis(tables=[_table(groups, compared)], findings=_findings(groups, compared),
                    numbers=numbers,
                    figures=[Figure("decoder_speed", "Median steps to subspace distance 1e-3 "
                                    "on the tuning seeds against the step size, per tie and "
                                    "setting (dotted: the step cap).", _figure(groups))])


SUITE = Suite(
    name="decoder-speed",
    description="steps to the principal subspace, W^T vs W^+ each at its own tuned step size, "
                "from starts below and above 1, with gd, momentum and Adam",
    configs=configs, run=run, analyze=analyze, in_quick=False,
)
