r"""Suite `decoders`: the four decoders trained side by side from the same initial W.

For each data set and code size k, a `LinearAE` with decoder transpose (W^T), pinv (W^+),
right_inverse (W^T (W W^T)^{-1}) or untied (free V) starts from the same W (same seed) and is
trained with the same optimizer by `tiedae.fit`. Recorded against steps and wall time: the
loss gap to the Eckart--Young optimum, ||W W^T - I||_F, the subspace distance to the top-k
principal subspace, cond(W), and (every fifth log point) the singular values of W. The
practical question "which tie should I use" is answered by the steps and seconds each decoder
needs to reach subspace distance 1e-3, compared with the transpose decoder's over the same
seeds (paired: same data, same initial W).

Data: the spiked covariance (n = 2000, d = 64; k = 4) and scikit-learn's digits (1797 x 64;
k = 4 and 16), trained on the rows (full batch), 10 seeds; with `--data`, the user's
MNIST-format training images (8000 of MNIST's test images, d = 784, k = 16, 5 seeds),
trained through their covariance (the same iterates as the full batch, at O(d^2 k) per step
instead of O(n d k)).

Initialisation: W0 has N(0, init_scale^2 / d) entries (rows of norm about init_scale); the
untied decoder's V0 has N(0, init_scale^2 / k) entries, so its spectral norm grows like
init_scale sqrt(d / k), and with it the curvature 2 lambda_1 ||V0||_2^2 of the loss in W.
Where that would make the gradient-descent step eta = lr_gd_times_lambda1 / lambda_1 unstable,
V0 is scaled down so that eta lambda_1 ||V0||_2^2 <= `untied_v0_cap` (0.8, i.e. eta times the
curvature <= 1.6 < 2), for both optimizers (the same init). At d = 64 the cap never binds
(||V0||_2^2 <= 6.6 for the seeds used); on 784-pixel MNIST images ||V0||_2^2 is about 56 and
gradient descent at 0.1 / lambda_1 diverged within six steps without it. The factor applied
is recorded (`extra.v0_scale`).

Theory: all four reach the optimal loss. Only the transpose decoder needs W W^T = I to be
optimal, and its gradient drives W there; pinv and right_inverse give a loss that depends on
W's row space only, so their gradient G satisfies G W^T = 0 and W W^T is conserved by
gradient flow (gradient descent changes it only by eta^2 G G^T per step: see `conservation`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, mean_of, seeds
from tiedae.report import Analysis, Cell, Figure, Table, cell, plots, query, stats
from tiedae.report import format as F

DECODERS = ("transpose", "pinv", "right_inverse", "untied")
UNTIED_V0_CAP = 0.8  # eta_gd * lambda_1 * ||V0||_2^2 at most (see the module docstring)
SUBSPACE_TARGET = 1e-3
SV_EVERY = 5  # singular values of W at every fifth log point
# One optimizer object per kind, the step size injected per run: runs that differ only in
# their seed or data share one compiled program.
OPTIMIZERS = {"gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}


def cap_untied_decoder(model, cap: float, lr_gd_times_lambda1: float) -> float:
    """Scales an untied model's V0 down (in place) so that eta lambda_1 ||V0||_2^2 <= cap with
    eta lambda_1 = lr_gd_times_lambda1; returns the factor applied (1 when it already holds)."""
    V = np.asarray(model.V[...], np.float64)
    norm2 = float(np.linalg.norm(V, 2)) ** 2
    scale = min(1.0, float(np.sqrt(cap / (lr_gd_times_lambda1 * norm2))))
    if scale < 1.0:
        model.V[...] = model.V[...] * np.asarray(scale, model.V[...].dtype)
    return scale


def configs(options: Options) -> list[dict]:
    quick = options.quick
    # (name, n, d, gap, k, source, steps)
    sets = ([("digits", 1797, 64, 0.0, 4, "rows", 600)] if quick else
            [("spiked", 2000, 64, 4.0, 4, "rows", 1000),
             ("digits", 1797, 64, 0.0, 4, "rows", 1000),
             ("digits", 1797, 64, 0.0, 16, "rows", 1500)])
    if options.mnist:
        sets.append(("user", 0, 0, 0.0, 16, "covariance", 600 if quick else 1000))
    opts = ("gd",) if quick else ("gd", "adam")
    out = []
    for name, n, d, gap, k, source, steps in sets:
        for opt in opts:
            for seed in seeds(options, quick=5, full=5 if name == "user" else 10):
                for dec in DECODERS:
                    out.append({
                        "run_id": f"{'quick' if quick else 'full'}-{name}-k{k}-{opt}-{dec}"
                                  f"-s{seed}",
                        "dataset": name, "n": n, "d": d, "gap": gap, "k": k, "decoder": dec,
                        "optimizer": opt, "seed": seed, "data_seed": options.seed,
                        "source": source, "steps": steps, "init_scale": 0.5,
                        "lr_gd_times_lambda1": 0.1, "lr_adam": 1e-2,
                        "data": options.mnist if name == "user" else None,
                        "untied_v0_cap": UNTIED_V0_CAP,
                    })
    return out


def run(config: dict) -> dict:
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"], path=config["data"])
    k = config["k"]
    ref = tiedae.pca.fit(X, k)
    lam1 = float(ref.eigenvalues[0])
    lr = config["lr_gd_times_lambda1"] / lam1 if config["optimizer"] == "gd" else \
        config["lr_adam"]
    model = tiedae.LinearAE(X.shape[1], k, decoder=config["decoder"],
                            init_scale=config["init_scale"], rngs=nnx.Rngs(config["seed"]))
    v0_scale = 1.0
    if config["decoder"] == "untied" and config.get("untied_v0_cap") is not None:
        v0_scale = cap_untied_decoder(model, config["untied_v0_cap"],
                                      config["lr_gd_times_lambda1"])
    steps = config["steps"]
    log_every = max(1, steps // 100)
    singular = tiedae.training.Observe(
        lambda m: np.linalg.svd(np.asarray(m.encoder_matrix(), np.float64), compute_uv=False))

    def every_fifth(step, metrics, m):
        if (step // log_every) % SV_EVERY == 0 or step == steps:
            singular(step, metrics, m)

    data = X.astype(np.float32)
    if config.get("source") == "covariance":
        data = tiedae.training.Covariance(data)
    model, hist = tiedae.fit(model, data, optimizer=OPTIMIZERS[config["optimizer"]],
                             hyperparams={"learning_rate": lr}, steps=steps, reference=ref,
                             log_every=log_every, callback=every_fifth)
    sub = hist["subspace_distance"]
    reached = np.flatnonzero(sub <= SUBSPACE_TARGET)
    keys = ("step", "wall_time", "loss_gap", "orthonormality", "subspace_distance",
            "condition_number")
    sv = np.asarray(singular.values)
    return {
        "final": {
            "orthonormality_start": hist["orthonormality"][0],
            "orthonormality": hist["orthonormality"][-1],
            "loss_gap": hist["loss_gap"][-1],
            "relative_loss_gap": hist["loss_gap"][-1] / ref.optimal_loss,
            "subspace_distance": sub[-1],
            "condition_number": hist["condition_number"][-1],
            "steps_to_subspace_1e-3": hist["step"][reached[0]] if reached.size else None,
            "seconds_to_subspace_1e-3": hist["wall_time"][reached[0]] if reached.size else None,
            "ms_per_step": 1e3 * hist["wall_time"][-1] / max(steps, 1),
            "sv_min_start": sv[0].min(), "sv_max_start": sv[0].max(),
            "sv_min": sv[-1].min(), "sv_max": sv[-1].max(),
        },
        "trajectory": {key: hist[key] for key in keys},
        "extra": {"eigenvalues_top": ref.eigenvalues[: k + 1], "optimal_loss": ref.optimal_loss,
                  "v0_scale": v0_scale, "n": X.shape[0], "d": X.shape[1],
                  "sv_step": singular.steps, "singular_values": sv},
    }


def to_target(records: list[dict], unit: str = "steps") -> list[float]:
    """Steps (or seconds) to subspace distance 1e-3 per record: inf when not reached, nan
    when the record does not have the figure (records from before it was recorded)."""
    key = f"{unit}_to_subspace_1e-3"
    return [math.nan if key not in r["final"] else
            math.inf if r["final"][key] is None else float(r["final"][key]) for r in records]


def median_iqr_text(values: list[float]) -> str:
    """'median [q25, q75]', 'never' for inf, with the count reached when not all did."""
    if any(math.isnan(v) for v in values):
        return "not recorded"
    med, lo, hi = stats.median_iqr(values)
    reached = sum(map(math.isfinite, values))

    def one(x):
        return "never" if math.isinf(x) else F.fmt(x)

    text = f"{one(med)} [{one(lo)}, {one(hi)}]"
    return text if reached == len(values) else f"{text} ({reached}/{len(values)})"


def paired_to_target(a: list[float], b: list[float]) -> tuple[str, stats.Paired | None]:
    """Verdict of a vs b (per seed; a - b < 0: a is faster) with the paired comparison when
    every run of both reached the target."""
    if any(math.isnan(v) for v in a + b):
        return "not recorded", None
    if len(a) != len(b):
        return f"runs of {len(a)} vs {len(b)} seeds: not paired", None
    na, nb = sum(map(math.isfinite, a)), sum(map(math.isfinite, b))
    if na < len(a) or nb < len(b):
        return f"reached in {na} vs {nb} of {len(a)} seeds", None
    r = stats.paired(a, b)
    words = {"lower": "faster", "higher": "slower"}.get(r.verdict, r.verdict)
    return words, r


# ---- analysis ----------------------------------------------------------------------------------

DATA_NAMES = {"user": "MNIST", "spiked": "spiked", "digits": "digits"}
UNITS = ("steps", "seconds")


def _name(dataset: str) -> str:
    """The data set's name as LaTeX."""
    return DATA_NAMES.get(dataset, F.tex_escape(dataset))


@dataclasses.dataclass(frozen=True)
class Setting:
    """The runs of one (data set, k, optimizer), and what every output reads from them.

    Attributes:
      records: the runs, in the order saved.
      runs: decoder -> its runs ordered by seed (paired with the transpose decoder's).
      to_target: (decoder, unit) -> steps or seconds to the subspace target per seed.
      versus: (decoder, unit) -> (`paired_to_target`'s words, its comparison or None) against
        the transpose decoder.
    """

    dataset: str
    k: int
    optimizer: str
    records: list
    runs: dict
    to_target: dict
    versus: dict

    @property
    def d(self):
        rec = self.records[0]
        return rec.get("extra", {}).get("d") or rec["config"]["d"]

    def mean(self, decoder: str, key: str) -> float:
        return mean_of([r["final"].get(key) for r in self.runs.get(decoder, [])])

    def values(self, decoder: str, key: str):
        return query.final(self.runs.get(decoder, []), key)


def settings(records: list[dict]) -> dict[tuple, Setting]:
    """The records grouped by (dataset, k, optimizer), first-seen order, with the times to the
    subspace target and their paired comparisons computed once."""
    out = {}
    for (ds, k, opt), recs in query.group(records, "dataset", "k", "optimizer").items():
        runs = {dec: query.by_seed(rs) for (dec,), rs in query.group(recs, "decoder").items()}
        times = {(dec, unit): to_target(runs.get(dec, []), unit)
                 for dec in DECODERS for unit in UNITS}
        versus = {(dec, unit): paired_to_target(times[dec, unit], times["transpose", unit])
                  for dec in DECODERS if dec != "transpose" for unit in UNITS}
        out[ds, k, opt] = Setting(ds, k, opt, recs, runs, times, versus)
    return out


def wide_setting(records: list[dict]) -> tuple[str, int] | None:
    """(dataset, k) of the largest code on real images: MNIST (the user's data) when run, else
    the digits, at their largest k; None when neither was run."""
    for ds in ("user", "digits"):
        ks = [r["config"]["k"] for r in query.select(records, dataset=ds)]
        if ks:
            return ds, max(ks)
    return None


def headline(groups: dict[tuple, Setting], optimizer: str) -> Setting | None:
    """The headline setting of an optimizer: spiked data (else the first data set), smallest k."""
    keys = [key for key in groups if key[2] == optimizer]
    if not keys:
        return None
    datasets = [ds for ds, _, _ in keys]
    ds = "spiked" if "spiked" in datasets else datasets[0]
    return groups[ds, min(k for d, k, _ in keys if d == ds), optimizer]


def _reached(values: list[float], digits: int = 3) -> Cell:
    return Cell(median_iqr_text(values), F.med_iqr(values, digits))


def _versus_cell(words: str, r: stats.Paired | None) -> Cell:
    if r is None:
        return cell(words)
    return Cell(*F.paired_short(r, lower="faster", higher="slower"))


def _time_table(groups: dict[tuple, Setting]) -> Table:
    rows = []
    for g in groups.values():
        n = len(g.runs.get("transpose", []))
        rows.append([Cell(f"{DATA_NAMES.get(g.dataset, g.dataset)}, d={g.d}, k={g.k}, "
                          f"{g.optimizer}, {n} seeds",
                          rf"\emph{{{_name(g.dataset)}, $d={g.d}$, $k={g.k}$, "
                          rf"{F.tex_escape(g.optimizer)}, {n} seeds}}")])
        for dec in DECODERS:
            cells = [Cell(dec, plots.LABELS[dec]), _reached(g.to_target[dec, "steps"]),
                     _reached(g.to_target[dec, "seconds"], 2)]
            cells.append(Cell("-", "--") if dec == "transpose" else
                         _versus_cell(*g.versus[dec, "steps"]))
            rows.append(cells)
    return Table(
        "decoders: steps and seconds to subspace distance 1e-3 (median [IQR] over seeds; "
        "'never' when not reached) and each decoder's steps against the transpose decoder's, "
        "paired over seeds (the verdict, then the mean difference and its 95% CI; the findings "
        "also pair the seconds)",
        ["decoder", Cell("steps to 1e-3", "steps to $10^{-3}$"),
         Cell("seconds to 1e-3", "seconds to $10^{-3}$"),
         Cell("steps vs transpose (paired)", r"steps vs $W^\top$ (paired)")],
        rows, name="decoders_time", align="lrrl")


def _metrics_table(groups: dict[tuple, Setting]) -> Table:
    rows = []
    for g in groups.values():
        for dec, runs in g.runs.items():
            rows.append([g.dataset, g.k, g.optimizer, dec, len(runs)]
                        + [F.ci(g.values(dec, key), 2) for key in (
                            "orthonormality_start", "orthonormality", "relative_loss_gap",
                            "ms_per_step")])
    return Table(
        "decoders: same init, same optimizer (mean ± 95% CI half-width over seeds)",
        ["data", "k", "opt", "decoder", "seeds", "||WW^T-I|| start", "||WW^T-I|| end",
         "rel. loss gap", "ms/step (with logging)"], rows)


def _sv_means(g: Setting, decoder: str) -> tuple[float, ...] | None:
    """Means over seeds of the smallest and largest singular value of W at the start and the
    end; None when not recorded."""
    means = tuple(g.mean(decoder, key) for key in ("sv_min_start", "sv_max_start", "sv_min",
                                                    "sv_max"))
    return None if math.isnan(means[0]) else means


def _findings(g: Setting) -> list[str]:
    name, k, opt = g.dataset, g.k, g.optimizer
    start = g.mean("transpose", "orthonormality_start")
    end = {dec: g.mean(dec, "orthonormality") for dec in DECODERS}
    verdict = "rows became orthonormal" if end["transpose"] < 1e-3 * start else \
        "NOT yet orthonormal"
    change = max(abs(end[dec] - start) for dec in ("pinv", "right_inverse")) / start
    why = ("gradient descent conserves WW^T for them up to an O(eta^2) drift per step"
           if opt == "gd" else
           "Adam's rescaled steps are not orthogonal to W's rows, so WW^T is not conserved; "
           "nothing pulls it to I either")
    sv = {}
    for dec in ("transpose", "pinv"):
        m = _sv_means(g, dec)
        sv[dec] = "not recorded" if m is None else \
            f"[{F.fmt(m[0], 2)}, {F.fmt(m[1], 2)}] -> [{F.fmt(m[2], 2)}, {F.fmt(m[3], 2)}]"
    gaps = {dec: g.mean(dec, "relative_loss_gap") for dec in DECODERS}
    times = []
    for dec in DECODERS:
        text = (f"{dec} {median_iqr_text(g.to_target[dec, 'steps'])} steps / "
                f"{median_iqr_text(g.to_target[dec, 'seconds'])} s")
        if dec != "transpose":
            text += (f" ({g.versus[dec, 'steps'][0]} in steps, {g.versus[dec, 'seconds'][0]} "
                     "in seconds than transpose)")
        times.append(text)
    return [
        f"{name}, k={k}, {opt}: transpose ||WW^T-I|| {F.fmt(start)} -> {F.fmt(end['transpose'])}"
        f" ({verdict}); pinv -> {F.fmt(end['pinv'])}, right_inverse -> "
        f"{F.fmt(end['right_inverse'])} (changed by {100 * change:.0f}%: {why}); untied -> "
        f"{F.fmt(end['untied'])} (only the product V W is determined); singular values of "
        f"W: transpose {sv['transpose']}, pinv {sv['pinv']}.",
        f"{name}, k={k}, {opt}: relative loss gap to the PCA optimum (mean over "
        f"{len(g.runs['transpose'])} seeds) "
        + ", ".join(f"{dec} {F.fmt(gap, 2)}" for dec, gap in gaps.items())
        + (" - every decoder reached the optimum (as theory says)." if max(gaps.values())
           < 1e-3 else " - not all reached the optimum within the step budget."),
        f"{name}, k={k}, {opt}: to subspace distance {SUBSPACE_TARGET:g} (median [IQR]; "
        "paired over seeds) - " + "; ".join(times) + ".",
    ]


def _numbers(groups: dict[tuple, Setting], records: list[dict]) -> dict[str, str]:
    """The paper's macros: the headline setting per optimizer, the time to the subspace and the
    singular values on the wide real-image setting."""
    macros: dict[str, str] = {}
    for opt, prefix in (("gd", "RDec"), ("adam", "RDecAdam")):
        g = headline(groups, opt)
        for dec in DECODERS:
            name = prefix + F.camel(dec)
            for key, macro, digits in (("orthonormality_start", "OrthoInit", 2),
                                       ("orthonormality", "OrthoFinal", 2),
                                       ("relative_loss_gap", "GapFinal", 2),
                                       ("subspace_distance", "SubspaceFinal", 2),
                                       ("condition_number", "CondFinal", 3)):
                macros[name + macro] = F.pm_ci(g.values(dec, key) if g else [], digits)
    head = headline(groups, "gd")
    cfg = head.records[0]["config"] if head else {}
    macros["RDecK"] = F.num(cfg.get("k"))
    macros["RDecSteps"] = F.num(cfg.get("steps"))
    macros["RDecData"] = F.tex_escape(cfg.get("dataset", "n/a"))
    macros["RDecSeeds"] = F.num(len({r["config"]["seed"] for r in head.records} if head else ()))
    m = macros
    sentence = (
        rf"on the {m['RDecData']} data ($k={m['RDecK']}$, gradient descent, "
        rf"{m['RDecSeeds']} seeds, {m['RDecSteps']} steps; mean $\pm$ 95\,\% "
        rf"confidence half-width) the transpose tie's "
        rf"$\|WW^\top-I\|_F$ goes from {m['RDecTransposeOrthoInit']} to "
        rf"{m['RDecTransposeOrthoFinal']}, while the pseudo-inverse and right-inverse ties "
        rf"end at {m['RDecPinvOrthoFinal']} and {m['RDecRightInverseOrthoFinal']}, "
        rf"with relative loss gaps {m['RDecTransposeGapFinal']}, "
        rf"{m['RDecPinvGapFinal']} and {m['RDecRightInverseGapFinal']} and subspace "
        rf"distances {m['RDecTransposeSubspaceFinal']}, {m['RDecPinvSubspaceFinal']} "
        rf"and {m['RDecRightInverseSubspaceFinal']}. The untied model's encoder, fixed only "
        rf"up to an invertible mixing of the code, ends at {m['RDecUntiedOrthoFinal']}."
    )
    if headline(groups, "adam"):
        sentence += (
            rf" With Adam, which breaks the conservation law, the pseudo-inverse tie's "
            rf"$\|WW^\top-I\|_F$ ends at {m['RDecAdamPinvOrthoFinal']} and the transpose "
            rf"tie's at {m['RDecAdamTransposeOrthoFinal']}."
        )
    macros["RFindDecoders"] = sentence[0].upper() + sentence[1:]
    wide = wide_setting(records)
    macros["RFindDecodersTime"] = _time_sentence(groups, records, wide)
    macros["RFindDecodersSv"] = _sv_sentence(groups, wide)
    macros["RDecTarget"] = F.num(SUBSPACE_TARGET)
    return macros


def _time_sentence(groups, records, wide) -> str:
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    parts = []
    for opt in ("gd", "adam"):
        g = groups.get((*wide, opt))
        if g is None:
            continue
        t = g.to_target
        words = {"gd": "gradient descent", "adam": "Adam"}[opt]
        text = (rf"with {words} the transpose tie reaches subspace distance $10^{{-3}}$ after "
                rf"{F.med_iqr(t['transpose', 'steps'])} steps (median [IQR]; "
                rf"{F.med_iqr(t['transpose', 'seconds'], 2)}~s), the pseudo-inverse tie "
                rf"after {F.med_iqr(t['pinv', 'steps'])} steps "
                rf"({F.med_iqr(t['pinv', 'seconds'], 2)}~s)")
        answer, r = g.versus["pinv", "steps"]
        if r is not None:
            text += (", " + F.paired_tex(r, lower="fewer steps", higher="more steps")
                     + " paired over seeds")
        else:
            text += f" ({F.tex_escape(answer)})"
        text += rf", and the untied model after {F.med_iqr(t['untied', 'steps'])} steps"
        parts.append(text)
    if not parts:
        return r"\textit{(no runs)}"
    d = query.select(records, dataset=wide[0])[0].get("extra", {}).get("d") or "n/a"
    return (rf"On {_name(wide[0])} ($d={d}$, $k={wide[1]}$), " + "; ".join(parts) + ".")


def _sv_sentence(groups, wide) -> str:
    if wide is None:
        return r"\textit{(no digits or MNIST runs)}"
    g = groups.get((*wide, "gd"))
    means = [None if g is None else _sv_means(g, dec) for dec in ("transpose", "pinv")]
    if None in means:
        return r"\textit{(singular values not recorded)}"
    ranges = [rf"[{F.num(m[0], 2)}, {F.num(m[1], 2)}] to [{F.num(m[2], 2)}, {F.num(m[3], 2)}]"
              for m in means]
    return (rf"Under gradient descent on {_name(wide[0])} ($k={wide[1]}$) the singular values of "
            rf"$W$ move from {ranges[0]} with the transpose tie and from {ranges[1]} with the "
            r"pseudo-inverse tie (means over seeds of the smallest and largest).")


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


def _draw_curves(records: list[dict]):
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
            ax.set_title(f"{label}\n{_name(dataset)} ($d={d}$), $k={k}$, {opt}", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), frameon=False)
    return fig


def _first_seed(records: list[dict]) -> dict | None:
    recs = [r for r in records if r.get("extra", {}).get("singular_values") is not None]
    return min(recs, key=lambda r: r["config"]["seed"]) if recs else None


def _draw_sv(records: list[dict]):
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
        ax.set_title(f"{_name(wide[0])}, $k={wide[1]}$, {opt}", fontsize=7)
        ax.legend(frameon=False, fontsize=6)
    if not opts:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no digits or MNIST runs", ha="center", va="center")
    fig.tight_layout()
    return fig


def analyze(records: list[dict]) -> Analysis:
    """The decoders' tables (time to the subspace, paired against the transpose decoder; the
    final metrics), findings, the paper's numbers and the two figures."""
    groups = settings(records)
    findings = [line for g in groups.values() if set(DECODERS) <= set(g.runs)
                for line in _findings(g)]
    return Analysis(
        tables=[_time_table(groups), _metrics_table(groups)],
        findings=findings,
        numbers=_numbers(groups, records),
        figures=[
            Figure("decoders_curves", "Relative loss gap, ||WW^T - I||_F and subspace distance "
                   "against steps, one line per decoder (median and range over seeds).",
                   lambda: _draw_curves(records)),
            Figure("decoders_sv", "Singular values of W against steps under the transpose and "
                   "pseudo-inverse ties (first seed), on the widest real-image setting.",
                   lambda: _draw_sv(records)),
        ],
    )


SUITE = Suite(
    name="decoders",
    description="transpose vs pinv vs right_inverse vs untied: loss gap, ||WW^T-I||, singular "
                "values of W, steps and seconds to the principal subspace",
    configs=configs, run=run, analyze=analyze,
)
