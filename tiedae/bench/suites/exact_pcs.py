r"""Suite `exact-pcs`: recovering the ordered eigenvectors, not just their span.

A plain linear autoencoder only finds the principal subspace: any invertible mixing of the
code leaves the loss unchanged. Bao et al. (2020) break the symmetry with a non-uniform L2
penalty sum_i r_i^2 (||W_i||^2 + ||V_:,i||^2) (r_i increasing), which makes the ordered,
axis-aligned solution the unique optimum but converges slowly, and with the
rotation-augmented gradient (RAG), which adds a skew-symmetric rotation of the code towards a
diagonal code covariance.

Their released configuration (configs/synth.py, mains/train_synth.py), used here as it is:
d = 1000, n = 5000, full batch, x = Q diag(sqrt(e)) z with e linearly spaced from d/10 down to
1, W and V entries N(0, 1e-4^2), float32, and their step sizes: SGD with Nesterov momentum 0.9
at 1e-3 (plain, non-uniform L2) and 1e-4 (RAG), Adam at 3e-3 and 3e-4. Their data are not
centred: the loss, RAG's Gamma (from y y^T / n, y = W x) and the eigenvectors of their metrics
(an SVD of X^T) all use the second moment M = X^T X / n, and so do these runs (`fit(...,
center=False)` on the covariance source, which then trains on M; tiedae's default centring
would use C = M - mu mu^T instead, a change of ||mu||^2 ~ tr(C) / n recorded as
`extra.mean_sq_over_e1`). The quick runs use d = 200 with the steps scaled by 1000 / d, so that
eta * e_1 is theirs.

Every (k, method, optimizer) is run from 10 random starts (5 in the quick run) on one data set
(the data seed is fixed; the seed draws the initial W and V). Runs stop when the distance to
axis alignment reaches the target (0.3, their Figure 4's criterion) or at the step budget
(4000 iterations at k = 2, 6000 at k = 10; 2000 for plain training, the control).

Metrics (their definitions, from their released code): distance to axis alignment
(1/k) sum_i (1 - max_j cos^2(u_i, v_j)) over eigenvectors u_i and decoder columns v_j (0 =
aligned), and subspace distance 1 - ||U_k^T Q_V||_F^2 / k. Also `tiedae.metrics.axis_alignment`
(mean |cos| of matched pairs, 1 = aligned).

`BAO_FIGURE4` holds the values of their Figure 4 (imgs/fig4_0.3.png in their repository:
epochs to axis distance 0.3 against the hidden dimension, log-log) as documented constants,
not measurements: read off the image (140 pixels per decade; markers hidden behind others
were located by extrapolating their line segments), approximate to about 10 %. The figure has
two line styles per method and no legend for them: one is Adam, the other SGD with Nesterov
momentum. `analyze` compares each optimizer's iterations with both and says which assignment
our medians fit better. None marks a point drawn as a cross (not converged).

`analyze(records)` groups the runs once by (d, k, optimizer, method) (`settings`) and derives
from them the table and figure `exact_pcs` (iterations to the target: median [IQR] over
starts, next to Bao et al.'s values; axis distance during training), the findings (paired
comparisons of RAG with non-uniform L2 and of Adam with SGD) and the paper's numbers.

Example:
  >>> bao_value("rag", "solid", 2, 1000), bao_value("rag", "dashed", 5, 1000)
  (850.0, inf)
  >>> paired_iterations([10.0, 12.0, 11.0], [20.0, 21.0, 23.0])[:16]
  'fewer iterations'
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import optax

import tiedae
from tiedae import pca
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, seeds
from tiedae.linear.algorithms import (
    BaoMetrics,
    bao_model,
    bao_penalty_weights,
    rotation_augmented_gradient,
)
from tiedae.report import format as F
from tiedae.report import plots, query, stats
from tiedae.report.analysis import Analysis, Cell, Figure, Table, cell
from tiedae.report.format import fmt

METHODS = ("plain", "nonuniform_l2", "rag")
OPTIMIZERS = ("sgd_nesterov", "adam")
TARGET = 0.3  # distance to axis alignment, their Figure 4's criterion
LR = {  # their step sizes (configs/synth.py; plain as their uniform-L2 runs)
    "sgd_nesterov": {"plain": 1e-3, "nonuniform_l2": 1e-3, "rag": 1e-4},
    "adam": {"plain": 3e-3, "nonuniform_l2": 3e-3, "rag": 3e-4},
}
THEIR_D = 1000
# Plain training is the control: once it has found the subspace nothing in its loss turns the
# axes (its axis distance stays flat, see the figure), so it gets a shorter budget.
PLAIN_BUDGET = 2000
# Bao et al. (2020), Figure 4: epochs (= iterations, full batch) to axis distance 0.3 at
# d = 1000, by method, line style (unlabelled: Adam or SGD + Nesterov) and k; None: drawn as a
# cross (did not converge). Read off the published image (see the module docstring).
BAO_FIGURE4 = {
    ("rag", "solid"): {2: 850, 5: 3400, 10: 3400, 20: 3700, 50: 4100},
    ("rag", "dashed"): {2: 2350, 5: None},
    ("nonuniform_l2", "solid"): {2: 125, 5: 800, 10: 3000, 20: 11000, 50: None},
    ("nonuniform_l2", "dashed"): {2: 280, 5: 900, 10: 2400, 20: 3700, 50: 6100},
}
STYLES = ("solid", "dashed")
METHOD_NAMES = {"plain": Cell("plain", "plain"),
                "nonuniform_l2": Cell("non-uniform L2", r"non-uniform $L_2$"),
                "rag": Cell("RAG", "RAG")}
METHOD_COLORS = {"plain": plots.COLORS["plain"], "nonuniform_l2": plots.COLORS["nonuniform"],
                 "rag": plots.COLORS["rag"]}
OPT_NAMES = {"sgd_nesterov": "SGD + Nesterov", "adam": "Adam",
             "sgd_nesterov_0.9": "SGD + Nesterov"}  # the last: records before the rename
OPT_STYLES = {"adam": "-", "sgd_nesterov": "--", "sgd_nesterov_0.9": "--"}


def configs(options: Options) -> list[dict]:
    if options.quick:
        d, n, plan, opts = 200, 1000, {2: 3000}, ("sgd_nesterov",)
        seed_list = seeds(options, quick=5)
    else:
        d, n, plan, opts = THEIR_D, 5000, {2: 4000, 10: 6000}, OPTIMIZERS
        seed_list = seeds(options, full=10)
    tag = "quick" if options.quick else "full"
    return [{"run_id": f"{tag}-d{d}-k{k}-{m}-{opt}-s{seed}", "d": d, "n": n, "k": k,
             "method": m, "optimizer": opt, "seed": seed, "data_seed": options.seed,
             "steps": min(budget, PLAIN_BUDGET) if m == "plain" else budget, "every": 10,
             "init_scale": 1e-4, "target": TARGET, "lr": LR[opt][m] * THEIR_D / d,
             "centered": False}
            for k, budget in plan.items() for opt in opts for m in METHODS for seed in seed_list]


@functools.lru_cache(maxsize=2)
def moments(n: int, d: int, data_seed: int, centered: bool):
    """(source, eigenvalues, eigenvectors (d, d) as rows, ||mu||^2 / e_1) of the training
    matrix: the covariance C when centred, else the second moment M = C + mu mu^T (theirs)."""
    X = datasets.load("linear", n=n, d=d, seed=data_seed)
    mom = pca.moments(X)
    matrix = mom.covariance if centered else mom.covariance + np.outer(mom.mean, mom.mean)
    evals, evecs = np.linalg.eigh(matrix)
    evals, evecs = evals[::-1], evecs[:, ::-1].T
    source = tiedae.training.Covariance.from_moments(mom.mean, mom.covariance, mom.n_samples)
    return source, matrix, evals, evecs, float(mom.mean @ mom.mean / evals[0])


@functools.lru_cache(maxsize=16)
def optimizer(name: str, lr: float, method: str, n: int, d: int, data_seed: int,
              centered: bool) -> optax.GradientTransformation:
    """One optimizer object per setting, so runs that differ only in their seed share one
    compiled program. RAG chains Bao et al.'s rotation before the step (on the training
    matrix: Gamma from W M W^T = y y^T / n)."""
    base = (optax.sgd(lr, momentum=0.9, nesterov=True) if name == "sgd_nesterov" else
            optax.adam(lr))
    if method != "rag":
        return base
    matrix = moments(n, d, data_seed, centered)[1]
    return optax.chain(rotation_augmented_gradient(matrix.astype(np.float32)), base)


def train_untied(source, components, *, method: str, optimizer, steps: int, every: int,
                 init_scale: float, seed: int, callback=None, center=None):
    """Bao et al.'s untied training on a covariance source: plain, non-uniform L2 or RAG (the
    rotation must be chained into `optimizer` already for "rag").

    Returns fit's (model, history); the history logs `BaoMetrics(components)` every `every`
    steps."""
    k, d = components.shape
    regularizer = None
    if method == "nonuniform_l2":
        regularizer = tiedae.training.NonuniformL2(bao_penalty_weights(k, d))
    elif method not in ("plain", "rag"):
        raise ValueError(f"unknown method {method!r}")
    return tiedae.fit(bao_model(d, k, init_scale, seed), source, optimizer=optimizer,
                      steps=steps, regularizer=regularizer, metrics=BaoMetrics(components),
                      log_every=every, callback=callback, center=center)


def run(config: dict) -> dict:
    n, d, k = config["n"], config["d"], config["k"]
    key = (n, d, config["data_seed"], config["centered"])
    source, _, evals, evecs, mean_sq = moments(*key)
    stop = tiedae.training.StopWhen("axis_distance", config["target"])
    _, hist = train_untied(source, evecs[:k].astype(np.float32), method=config["method"],
                           optimizer=optimizer(config["optimizer"], config["lr"],
                                               config["method"], *key),
                           steps=config["steps"], every=config["every"],
                           init_scale=config["init_scale"], seed=config["seed"],
                           callback=stop, center=config["centered"])
    sub = np.flatnonzero(hist["subspace_distance"] <= 1e-3)
    return {
        "final": {
            f"iterations_to_axis_{config['target']}": stop.step,
            "seconds_to_axis_target": None if stop.step is None else hist["wall_time"][-1],
            "iterations_to_subspace_1e-3": hist["step"][sub[0]] if sub.size else None,
            "iterations_run": hist["step"][-1],
            "axis_distance": hist["axis_distance"][-1],
            "axis_alignment": hist["axis_alignment"][-1],
            "subspace_distance": hist["subspace_distance"][-1],
            "lr": config["lr"],
        },
        "trajectory": {key: hist[key] for key in ("step", "wall_time", "loss", "axis_distance",
                                                  "axis_alignment", "subspace_distance")},
        "extra": {"top_eigenvalues": evals[: k + 1], "mean_sq_over_e1": mean_sq},
    }


class Setting(NamedTuple):
    """The runs of one (d, k, optimizer, method), ordered by seed, and their statistics."""

    records: list[dict]
    iterations: list[float]  # to the axis-distance target; inf: not reached in the budget
    median: float
    q25: float
    q75: float
    reached: int


def iterations(records: list[dict], target=TARGET) -> list[float]:
    """Iterations to the axis-distance target per record (inf: not reached in the budget)."""
    key = f"iterations_to_axis_{target}"
    return [math.inf if r["final"].get(key) is None else float(r["final"][key])
            for r in records]


def settings(records: list[dict], target=TARGET) -> dict[tuple, Setting]:
    """The records grouped by (d, k, optimizer, method) in first-seen order, each with its
    iterations to the target, their median and IQR and how many starts reached it."""
    out = {}
    for key, recs in query.group(records, "d", "k", "optimizer", "method").items():
        recs = query.by_seed(recs)
        its = iterations(recs, target)
        out[key] = Setting(recs, its, *stats.median_iqr(its), sum(map(math.isfinite, its)))
    return out


def on_common_seeds(a: Setting, b: Setting) -> tuple[list[float], list[float]]:
    """Two settings' iterations on the seeds (random starts) both ran, in seed order: a run
    that failed or is missing leaves its seed out of the pairing instead of shifting it."""
    x, y = ({r["config"]["seed"]: it for r, it in zip(s.records, s.iterations, strict=True)}
            for s in (a, b))
    seeds = sorted(x.keys() & y.keys())
    return [x[seed] for seed in seeds], [y[seed] for seed in seeds]


def iterations_cell(setting: Setting) -> Cell:
    """'median [q25, q75]' of a setting's iterations ('never' for not reached)."""
    def text(x):
        return "never" if math.isinf(x) else fmt(x)

    vals = (setting.median, setting.q25, setting.q75)
    return Cell("{} [{}, {}]".format(*map(text, vals)), F.med_iqr(setting.iterations))


def _reached(setting: Setting) -> str:
    """'' when every start reached the target, else ' (r/n reached)'."""
    n = len(setting.iterations)
    return "" if setting.reached == n else f" ({setting.reached}/{n} reached)"


def bao_value(method: str, style: str, k: int, d: int):
    """Bao et al.'s Figure 4 value for this method, line style and k: a number, inf (drawn as
    not converged), or None when their figure has no such point (or d is not theirs)."""
    table = BAO_FIGURE4.get((method, style), {})
    if d != THEIR_D or k not in table:
        return None
    return math.inf if table[k] is None else float(table[k])


def _bao_cell(value) -> Cell:
    """A value of Bao et al.'s figure ('~850', 'not converged', '-' for no point)."""
    if value is None:
        return Cell("-", "--")
    if math.isinf(value):
        return Cell("not converged", "not conv.")
    return Cell(f"~{fmt(value)}", F.num(value))


def style_fit(groups: dict[tuple, Setting]) -> dict[str, tuple[float, int]]:
    """How well our medians (`settings(records)`) match Bao et al.'s Figure 4 under each reading
    of its line styles: {"solid = adam": (mean |log10(ours / theirs)|, points), "solid =
    sgd_nesterov": ...} over the (method, k) points at their d where both are finite."""
    out = {}
    for solid in OPTIMIZERS:
        style = {solid: "solid", next(o for o in OPTIMIZERS if o != solid): "dashed"}
        errors = []
        for (d, k, o, m), s in groups.items():
            theirs = bao_value(m, style[o], k, d) if o in style else None
            if theirs is not None and math.isfinite(theirs) and math.isfinite(s.median):
                errors.append(abs(math.log10(s.median / theirs)))
        out[f"solid = {solid}"] = (float(np.mean(errors)) if errors else math.nan, len(errors))
    return out


def paired_iterations(a: list[float], b: list[float]) -> str:
    """Paired comparison of iterations a - b over the same starts; 'a never reached' style
    answers where a run did not reach the target."""
    if all(math.isinf(x) for x in a) and all(math.isinf(x) for x in b):
        return "neither reached the target"
    if any(math.isinf(x) for x in a + b):
        na, nb = sum(map(math.isfinite, a)), sum(map(math.isfinite, b))
        return f"reached in {na} vs {nb} of {len(a)} starts"
    r = stats.paired(a, b)
    if r.verdict == "no measurable difference":
        return (f"no measurable difference (paired difference {fmt(r.mean)}, 95% CI "
                f"[{fmt(r.lo)}, {fmt(r.hi)}])")
    return (f"{'fewer' if r.verdict == 'lower' else 'more'} iterations (paired difference "
            f"{fmt(r.mean)}, 95% CI [{fmt(r.lo)}, {fmt(r.hi)}], p={fmt(r.p_value, 2)})")


def _plain_verdict(setting: Setting) -> str:
    missed = [r for r, it in zip(setting.records, setting.iterations, strict=True)
              if math.isinf(it)]
    if not missed:
        return ("reached the target too in every start: from a tiny initialisation the "
                "top directions grow first, although nothing in the loss favours the axes")
    axis = stats.median_iqr(query.final(missed, "axis_distance"))[0]
    sub = stats.median_iqr(query.final(missed, "subspace_distance"))[0]
    return (f"reached it in {setting.reached} of {len(setting.iterations)} starts; the others "
            f"ended at median subspace distance {fmt(sub, 2)} but axis distance {fmt(axis, 2)}"
            + (": it finds the subspace, not the eigenvectors" if sub < 1e-3 else ""))


def _table(groups: dict[tuple, Setting], target) -> Table:
    rows = []
    for (d, k, opt, method), s in groups.items():
        axis = stats.median_iqr(query.final(s.records, "axis_distance"))[0]
        rows.append([_int(d), _int(k), _opt_cell(opt), _method_cell(method),
                     _int(len(s.records)), iterations_cell(s), f"{s.reached}/{len(s.iterations)}",
                     cell(axis, 2), _int(s.records[0]["config"]["steps"]),
                     *(_bao_cell(bao_value(method, style, k, d)) for style in STYLES)])
    return Table(
        title=f"exact-pcs: iterations to axis distance {target}, Bao et al. 2020 setup "
              "(median [IQR] over random starts)",
        columns=[Cell("d", "$d$"), Cell("k", "$k$"), "optimiser", "method", "starts",
                 f"iterations to {target:g}: median [IQR]", "reached", "axis dist.", "budget",
                 "Bao solid", "Bao dashed"],
        rows=rows, name="exact_pcs", align="rrllrrrrrrr")


def _int(n: int) -> Cell:
    return Cell(str(n), F.num(n))


def _opt_cell(opt: str) -> Cell:
    return cell(OPT_NAMES.get(opt, opt))


def _method_cell(method: str) -> Cell:
    return METHOD_NAMES.get(method) or cell(method)


def _by_method(groups: dict[tuple, Setting]) -> dict[tuple, dict[str, Setting]]:
    """{(d, k, optimizer): {method: setting}} in first-seen order."""
    out: dict[tuple, dict[str, Setting]] = {}
    for (d, k, opt, method), s in groups.items():
        out.setdefault((d, k, opt), {})[method] = s
    return out


def _findings(groups: dict[tuple, Setting], target, fit: list) -> list[str]:
    findings = []
    for (d, k, opt), by in _by_method(groups).items():
        if set(METHODS) - set(by):
            continue
        parts = []
        for m in METHODS:
            text = f"{m} {iterations_cell(by[m]).text}{_reached(by[m])}"
            bao = [bao_value(m, style, k, d) for style in STYLES]
            if any(v is not None for v in bao):
                text += (f" (Bao et al.'s Figure 4: solid {_bao_cell(bao[0]).text}, dashed "
                         f"{_bao_cell(bao[1]).text})")
            parts.append(text)
        budget = by["rag"].records[0]["config"]["steps"]
        plain_budget = by["plain"].records[0]["config"]["steps"]
        budgets = f"budget {budget}" + (
            f", {plain_budget} for plain" if plain_budget != budget else "")
        findings.append(
            f"d={d}, k={k}, {opt}: iterations to axis distance {target} (median [IQR] over "
            f"{len(by['rag'].records)} starts, {budgets}) - " + "; ".join(parts) + ".")
        findings.append(
            f"d={d}, k={k}, {opt}: RAG vs non-uniform L2 - "
            + paired_iterations(*on_common_seeds(by["rag"], by["nonuniform_l2"]))
            + f"; plain training: {_plain_verdict(by['plain'])}.")
    by_opt: dict[tuple, dict[str, Setting]] = {}
    for (d, k, opt, method), s in groups.items():
        by_opt.setdefault((d, k, method), {})[opt] = s
    for (d, k, method), by in by_opt.items():
        if len(by) == 2 and method != "plain":
            findings.append(
                f"d={d}, k={k}, {method}: Adam vs SGD with Nesterov momentum (their step sizes) "
                "- " + paired_iterations(*on_common_seeds(by["adam"], by["sgd_nesterov"]))
                + ".")
    if fit:
        (best, (err, n)), (other, (err2, _)) = fit
        findings.append(
            f"Bao et al.'s Figure 4 does not label its line styles; over the {n} points both "
            f"have, our medians fit the reading {best} (mean |log10(ours/theirs)| {fmt(err, 2)})"
            f" better than {other} ({fmt(err2, 2)}).")
    return findings


def _numbers(groups: dict[tuple, Setting], target, fit: list) -> dict[str, str]:
    """The paper's macros: the setting, each method's iterations and the section's sentence."""
    d = max(key[0] for key in groups)
    macros = {"RExactAxisTarget": F.num(float(target)), "RExactD": F.num(d),
              "RExactStarts": F.num(max(len(s.records) for s in groups.values()))}
    sentences = []
    for (d_, k, opt), by in _by_method(groups).items():
        if d_ != d:
            continue
        parts = []
        for method in METHODS:
            if method in by:
                its = iterations_cell(by[method]).tex
                parts.append(f"{METHOD_NAMES[method].tex} {its}{_reached(by[method])}")
                macros[f"RExact{F.camel(method)}{F.camel(opt)}KIters" + F.camel(str(k))] = its
        budget = max(r["config"]["steps"] for s in by.values() for r in s.records)
        sentence = rf"$k={k}$, {_opt_cell(opt).tex} (budget {F.num(budget)}): " + ", ".join(parts)
        if "rag" in by and "nonuniform_l2" in by:
            answer = paired_iterations(*on_common_seeds(by["rag"], by["nonuniform_l2"]))
            sentence += rf"; RAG against non-uniform $L_2$: {F.tex_escape(answer)}"
        sentences.append(sentence)
    style = ""
    if fit:
        (best, (err, n)), (other, (err2, _)) = fit
        style = (rf" Their figure does not say which line style is which optimiser; over the "
                 rf"{F.num(n)} points both have, our medians fit the reading "
                 rf"``{F.tex_escape(best)}'' (mean $|\log_{{10}}(\text{{ours}}/"
                 rf"\text{{theirs}})|$ {F.num(err, 2)}) better than ``{F.tex_escape(other)}'' "
                 rf"({F.num(err2, 2)}).")
    macros["RFindExactPcs"] = (
        rf"Iterations until the distance to axis alignment falls below "
        rf"{macros['RExactAxisTarget']} at $d={macros['RExactD']}$ (median [interquartile "
        rf"range] over {macros['RExactStarts']} random starts; ``never'' beyond the budget): "
        + "; ".join(sentences) + "." + style
    )
    return macros


def _held(record, metric: str, grid: np.ndarray) -> np.ndarray:
    """A run's trajectory on `grid`, held at its last value after it stopped (at the target)."""
    x, y = query.trajectory(record, metric)
    out = np.interp(grid, x, y)
    out[grid > x[-1]] = y[-1]
    return out


def _draw(groups: dict[tuple, Setting], target):
    """Left: iterations to the target against k (median and IQR over starts, per method and
    optimizer), with Bao et al.'s Figure 4 values (their line styles). Then one panel per k:
    distance to axis alignment against iterations (median and IQR band; a run that reached the
    target is held there)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    d = max(key[0] for key in groups)
    ks = sorted({key[1] for key in groups})
    fig, axes = plots.new_figure(1 + len(ks), 1, width=7.0, height=2.3)
    ax = axes[0, 0]
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
                    label=f"{_method_cell(method).tex}, {OPT_NAMES.get(opt, opt)}")
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
    handles, labels = ax.get_legend_handles_labels()
    for col, k in enumerate(ks, start=1):
        ax = axes[0, col]
        for (d_, k_, opt, method), s in groups.items():
            if (d_, k_) != (d, k):
                continue
            end = max(query.trajectory(r, "axis_distance")[0][-1] for r in s.records)
            grid = np.linspace(0, end, 200)
            stack = np.vstack([_held(r, "axis_distance", grid) for r in s.records])
            q25, med, q75 = np.percentile(stack, [25, 50, 75], axis=0)
            color = METHOD_COLORS.get(method, "k")
            ax.plot(grid, med, color=color, linestyle=OPT_STYLES.get(opt, ":"), linewidth=1.0)
            ax.fill_between(grid, q25, q75, color=color, alpha=0.15, linewidth=0)
        ax.axhline(target, color="0.5", linewidth=0.6, linestyle=":")
        ax.set_xlabel("iteration")
        ax.set_ylabel("distance to axis alignment")
        ax.set_title(f"$k={k}$ (solid: Adam, dashed: SGD)", fontsize=7)
    fig.tight_layout(rect=(0, 0.13, 1, 1))  # the legend below the panels, over no marker
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=5.5)
    return fig


def analyze(records: list[dict]) -> Analysis:
    """Iterations to the axis-alignment target per (d, k, optimizer, method) next to Bao et
    al.'s Figure 4 (table `exact_pcs`), paired comparisons of the methods and the optimizers,
    which reading of their line styles our medians fit, and the trajectories (`exact_pcs`)."""
    target = records[0]["config"].get("target", TARGET)
    groups = settings(records, target)
    fit = style_fit(groups)  # the readings, best first, when both have points
    fit = sorted(fit.items(), key=lambda kv: kv[1][0]) if all(n for _, n in fit.values()) else []
    return Analysis(
        tables=[_table(groups, target)], findings=_findings(groups, target, fit),
        numbers=_numbers(groups, target, fit),
        figures=[Figure("exact_pcs", "Iterations to axis distance 0.3 against k next to Bao et "
                        "al.'s Figure 4, and the distance to axis alignment during training.",
                        lambda: _draw(groups, target))])


SUITE = Suite(
    name="exact-pcs",
    description="plain vs non-uniform L2 vs rotation-augmented gradient (Bao et al. 2020), SGD "
                "+ Nesterov and Adam: iterations to axis distance 0.3 over random starts",
    configs=configs, run=run, analyze=analyze,
)
