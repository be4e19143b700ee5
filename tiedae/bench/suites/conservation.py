r"""Suite `conservation`: the invariants that separate the decoders.

1. pinv / right_inverse: their loss depends on the row space of W only, so the gradient G
   satisfies G W^T = 0 and gradient flow conserves W W^T. One gradient-descent step changes it
   by exactly eta^2 G G^T (positive semi-definite: W W^T only grows), so after a fixed number
   of small steps the drift ||W_T W_T^T - W_0 W_0^T||_F grows like eta^2. With momentum
   (heavy ball, beta = 0.9) the step is a sum of past gradients, each orthogonal to the rows
   of W as they were, so the step's first-order term is itself O(eta): still second order.
   Adam rescales each coordinate, its step is no longer orthogonal to W's rows, and the drift
   is first order: Adam breaks the conservation.
   The exponent is the limiting log-log slope at small eta (a fit over the three smallest step
   sizes); a fit over the whole range mixes in the higher-order terms of the larger steps. Two
   initialisations: singular values of W below 1 (init_scale 0.5) and above 1 (init_scale 2),
   so that "conserved" is not mistaken for "drifts towards W W^T = I from below": under
   gradient descent W W^T grows from either side, towards I from below and away from it from
   above. Each run also trains to the optimum (2000 steps) and records ||W W^T - I||_F before
   and after.
2. untied with loss mean ||x - V W x||^2 + lam (||W||^2 + ||V||^2): D = W W^T - V^T V obeys
   dD/dt = -4 lam D under gradient flow (the data terms cancel exactly), so D is conserved
   without L2 and decays like exp(-4 lam eta t) under gradient descent with step eta (exactly
   D_{t+1} = (1 - 2 lam eta)^2 D_t + eta^2 (G_W G_W^T - G_V^T G_V)).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, loglog_slope
from tiedae.bench.suite import seeds as seed_list
from tiedae.report import Analysis, Cell, Figure, Table, cell, plots, query, stats
from tiedae.report import format as F
from tiedae.report.analysis import ci_cell

SPIKED = {"dataset": "spiked", "n": 2000, "d": 32, "k": 4, "gap": 4.0}
INITS = {"below": 0.5, "above": 2.0}  # init_scale: singular values of W0 below / above 1
MOMENTUM = 0.9
SMALL = 3  # the limiting slope is fitted over this many of the smallest step sizes
# One optimizer object per kind: the step size is injected per run (fit's hyperparams), so a
# sweep over step sizes runs one compiled program.
OPTIMIZERS = {"gd": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0),
              "momentum": optax.inject_hyperparams(optax.sgd)(learning_rate=1.0,
                                                              momentum=MOMENTUM),
              "adam": optax.inject_hyperparams(optax.adam)(learning_rate=1.0)}
THEORY = {"gd": 2, "momentum": 2, "adam": 1}
# the step sizes of the trained runs: eta * e1 = 0.1 for gradient descent (0.1 / (1 - beta)
# for momentum's effective step), and Adam's usual 1e-2
TRAINED_LR = {"gd": 0.1, "momentum": 0.1 * (1 - MOMENTUM), "adam": 1e-2}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    out = []
    for seed in seed_list(options, quick=5, full=10):
        # right_inverse is the same function of W as pinv (full row rank): full runs only
        for dec in ("pinv",) if options.quick else ("pinv", "right_inverse"):
            for opt in OPTIMIZERS:
                for init, scale in INITS.items():
                    out.append({"run_id": f"{tag}-drift-{dec}-{opt}-{init}-s{seed}",
                                "kind": "drift", "decoder": dec, "optimizer": opt,
                                "init": init, "init_scale": scale, "seed": seed,
                                "data_seed": options.seed, "steps": 50,
                                "eta_min": 1e-5, "eta_max": 1e-2,
                                "n_etas": 7 if options.quick else 10,
                                "trained_steps": 500 if options.quick else 2000,
                                "dtype": "float64", **SPIKED})
        for lam_rel in (0.0, 0.05, 0.1, 0.2):
            out.append({"run_id": f"{tag}-decay-l{lam_rel}-s{seed}", "kind": "decay",
                        "decoder": "untied", "lambda_over_lambda1": lam_rel,
                        "lr_times_lambda1": 0.05, "seed": seed, "data_seed": options.seed,
                        "steps": 200 if options.quick else 1500, "init_scale": INITS["below"],
                        "dtype": "float64", **SPIKED})
    return out


def _data(config):
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"])
    return tiedae.training.Covariance(X), tiedae.pca.fit(X, config["k"])


def _model(config, decoder):
    return tiedae.LinearAE(config["d"], config["k"], decoder=decoder,
                           init_scale=config["init_scale"], param_dtype=config["dtype"],
                           rngs=nnx.Rngs(config["seed"]))


def _gram_change(W, W0) -> dict:
    G, G0 = W @ W.T, W0 @ W0.T
    eye = np.eye(W.shape[0])
    return {"drift": float(np.linalg.norm(G - G0)), "trace_change": float(np.trace(G - G0)),
            "orthonormality_change": float(np.linalg.norm(G - eye) - np.linalg.norm(G0 - eye))}


def _train(config, source, lr, steps):
    """The encoder after `steps` steps of size lr, and the trained model's loss."""
    model, hist = tiedae.fit(_model(config, config["decoder"]), source,
                             optimizer=OPTIMIZERS[config["optimizer"]], steps=steps,
                             hyperparams={"learning_rate": lr}, log_every=steps)
    return np.asarray(model.encoder_matrix()), float(hist["loss"][-1])


def _run_drift(config):
    source, ref = _data(config)
    lam1 = float(ref.eigenvalues[0])
    opt = config["optimizer"]
    # Small steps: 50 steps at eta * e1 <= 0.01 barely move the loss, so the per-step drift
    # eta^2 G G^T is summed over nearly the same G.
    grid = np.geomspace(config["eta_min"], config["eta_max"], config["n_etas"])
    etas = grid / lam1 if opt in ("gd", "momentum") else grid
    W0 = np.asarray(_model(config, config["decoder"]).encoder_matrix())
    changes = [_gram_change(_train(config, source, eta, config["steps"])[0], W0)
               for eta in etas]  # the same initial W for every step size
    drift = np.array([c["drift"] for c in changes])
    local = np.diff(np.log(drift)) / np.diff(np.log(etas))
    sv0 = np.linalg.svd(W0, compute_uv=False)
    trained_lr = TRAINED_LR[opt] / lam1 if opt in ("gd", "momentum") else TRAINED_LR[opt]
    W, loss = _train(config, source, trained_lr, config["trained_steps"])
    trained = _gram_change(W, W0)
    eye = np.eye(W.shape[0])
    return {
        "final": {"drift_slope_small_eta": loglog_slope(etas[:SMALL], drift[:SMALL]),
                  "drift_slope_all": loglog_slope(etas, drift),
                  "drift_at_smallest_eta": drift[0], "drift_at_largest_eta": drift[-1],
                  "trace_change_at_largest_eta": changes[-1]["trace_change"],
                  "orthonormality_change_at_largest_eta":
                      changes[-1]["orthonormality_change"],
                  "sv_min_start": float(sv0.min()), "sv_max_start": float(sv0.max()),
                  "trained_orthonormality_start": float(np.linalg.norm(W0 @ W0.T - eye)),
                  "trained_orthonormality": float(np.linalg.norm(W @ W.T - eye)),
                  "trained_trace_change": trained["trace_change"],
                  "trained_relative_loss_gap": (loss - ref.optimal_loss) / ref.optimal_loss},
        "trajectory": {},
        "extra": {"eta": etas, "drift": drift, "local_slopes": local, "lambda1": lam1,
                  "trace_change": [c["trace_change"] for c in changes]},
    }


def _untied_gap(model, loss):
    """||W W^T - V^T V||_F, logged at every step."""
    W, V = model.W[...], model.V[...]
    return {"D_norm": jnp.linalg.norm(W @ W.T - V.T @ V)}


def _run_decay(config):
    source, ref = _data(config)
    lam1 = float(ref.eigenvalues[0])
    lam = config["lambda_over_lambda1"] * lam1
    eta = config["lr_times_lambda1"] / lam1
    _, hist = tiedae.fit(_model(config, "untied"), source, optimizer=OPTIMIZERS["gd"],
                         steps=config["steps"], hyperparams={"learning_rate": eta}, l2=lam,
                         metrics=_untied_gap, log_every=1)
    steps, norms = hist["step"], hist["D_norm"]
    final = {"D_start": norms[0], "D_end": norms[-1]}
    if lam > 0:
        window = norms > max(1e-9 * norms[0], 1e-12)
        rate = -np.polyfit(steps[window], np.log(norms[window]), 1)[0] / eta
        final.update(rate_per_time=rate, theory_rate=4 * lam,
                     discrete_theory_rate=-2 * np.log1p(-2 * lam * eta) / eta,
                     rate_ratio=rate / (4 * lam))
    else:
        final.update(max_relative_change=float(np.max(np.abs(norms - norms[0])) / norms[0]))
    return {"final": final, "trajectory": {"step": steps, "D_norm": norms},
            "extra": {"lambda": lam, "eta": eta, "lambda1": lam1}}


def run(config: dict) -> dict:
    return _run_drift(config) if config["kind"] == "drift" else _run_decay(config)


def slope_key(records: list[dict]) -> str:
    """The recorded drift exponent: the small-eta limit (records from before it was recorded
    have only the whole-range fit, `drift_slope`)."""
    return ("drift_slope_small_eta" if all("drift_slope_small_eta" in r["final"]
                                           for r in records) else "drift_slope")


# ---- analysis ----------------------------------------------------------------------------------

OPT_NAMES = {"gd": "gradient descent", "momentum": "momentum 0.9", "adam": "Adam"}
OPT_COLORS = {"gd": "#1f77b4", "momentum": "#9467bd", "adam": "#d62728"}
TIE_NAMES = {"pinv": "pinv", "right_inverse": "right inverse"}


def _init(record) -> str:
    return record["config"].get("init") or "below"  # records from before "init" was recorded


def _trained(records: list[dict]) -> dict | None:
    """||WW^T - I|| before and after training to the optimum (runs ordered by seed), its paired
    change, how often tr(WW^T) grew, the range of W0's singular values; None if not recorded."""
    recs = query.by_seed(records)
    if not recs or "trained_orthonormality" not in recs[0]["final"]:
        return None
    start = query.final(recs, "trained_orthonormality_start")
    end = query.final(recs, "trained_orthonormality")
    return {"start": start, "end": end, "change": stats.paired(end, start), "n": len(recs),
            "grew": int(np.sum(query.final(recs, "trained_trace_change") > 0)),
            "sv_lo": min(query.final(recs, "sv_min_start")),
            "sv_hi": max(query.final(recs, "sv_max_start"))}


def _drift_table(drift: list[dict]) -> Table:
    rows = []
    for (dec, opt), recs in query.group(drift, "decoder", "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if _init(r) == init]
            if not sub:
                continue
            key = slope_key(sub)
            whole = ci_cell(query.final(sub, "drift_slope_all")) if key != "drift_slope" else \
                Cell("-", "--")
            trained = _trained(sub)
            if trained is None:
                trained_cell = Cell("-", "--")
            else:
                a, b = ci_cell(trained["start"]), ci_cell(trained["end"])
                trained_cell = Cell(f"{a.text} -> {b.text}", rf"{a.tex} $\to$ {b.tex}")
            name = OPT_NAMES.get(opt, opt)
            rows.append([Cell(dec.replace("_", " "), F.tex_escape(dec.replace("_", " "))),
                         Cell(name, name), Cell(f"{init} I", f"{init} $I$"), len(sub),
                         ci_cell(query.final(sub, key)), whole, cell(THEORY.get(opt)),
                         trained_cell])
    return Table(
        "conservation: exponent p of the drift ||W_T W_T^T - W_0 W_0^T|| ~ eta^p of the "
        "pseudo- and right-inverse ties (limiting slope at small eta and a fit over all eta), "
        "and ||WW^T - I||_F before -> after training to the optimum (mean ± 95% CI half-width "
        "over seeds)",
        ["tie", "optimiser", Cell("W0", "$W_0$"), "seeds", Cell("p (small eta)",
                                                               r"$p$ (small $\eta$)"),
         Cell("p (all eta)", r"$p$ (all $\eta$)"), "theory",
         Cell("||WW^T-I|| trained", r"$\|WW^\top-I\|_F$ trained")],
        rows, name="conservation", align="lllrrrrr")


def _decay_table(groups: dict[tuple, list[dict]]) -> Table:
    rows = []
    for (lam_rel,), recs in groups.items():
        free = not lam_rel
        rows.append([f"{lam_rel:g} e1", len(recs),
                     F.ci(query.final(recs, "max_relative_change"), 2) if free else "-",
                     "-" if free else F.ci(query.final(recs, "rate_ratio")),
                     F.ci(query.final(recs, "D_end"), 2)])
    return Table(
        "conservation: untied imbalance D = WW^T - V^TV under gradient descent with L2 weight "
        "lam (theory: conserved without L2, decays like exp(-4 lam eta t) with it; mean ± 95% "
        "CI half-width over seeds)",
        ["lam", "seeds", "max relative change of D", "decay rate / (4 lam)", "||D|| at end"],
        rows)


def _drift_findings(dec: str, opt: str, recs: list[dict], small: stats.Interval,
                    key: str) -> list[str]:
    text = (f"{dec}, {opt}: ||WW^T - W0W0^T|| grows like eta^p with p = {F.fmt(small.mean)} "
            f"(95% CI [{F.fmt(small.lo)}, {F.fmt(small.hi)}], {small.n} runs; "
            + ("limiting slope over the 3 smallest step sizes" if key != "drift_slope" else
               "fit over the whole step-size range")
            + f"; theory {THEORY.get(opt, '?')}")
    if key != "drift_slope":
        whole = stats.interval(query.final(recs, "drift_slope_all"))
        text += (f"; a fit over the whole range gives {F.fmt(whole.mean)}, mixing in larger "
                 "steps")
    out = [text + ")."]
    for (init,), rs in query.group(recs, "init").items():
        t = _trained(rs)
        if t is None:
            continue
        change = t["change"]
        moved = {"lower": "closer to I", "higher": "further from I"}.get(
            change.verdict, "no measurable change")
        out.append(
            f"{dec}, {opt}, singular values of W0 {init} 1 ([{F.fmt(t['sv_lo'], 2)}, "
            f"{F.fmt(t['sv_hi'], 2)}]): trained to the optimum, ||WW^T-I|| "
            f"{F.fmt(stats.interval(t['start']).mean)} -> {F.fmt(stats.interval(t['end']).mean)}"
            f" ({moved}: paired change {F.fmt(change.mean, 2)}, 95% CI [{F.fmt(change.lo, 2)}, "
            f"{F.fmt(change.hi, 2)}]); tr(WW^T) grew in {t['grew']} of {t['n']} runs.")
    return out


def _direction_sentence(drift: list[dict]) -> str:
    parts = []
    for init in ("below", "above"):
        t = _trained([r for r in drift if r["config"]["decoder"] == "pinv" and _init(r) == init
                      and r["config"]["optimizer"] == "gd"])
        if t is None:
            continue
        parts.append(
            rf"from singular values {init} one ({F.num(t['sv_lo'], 2)} "
            rf"to {F.num(t['sv_hi'], 2)}) $\fro{{WW\T-I}}$ goes from "
            rf"{F.pm_ci(t['start'], 3)} to {F.pm_ci(t['end'], 3)}, "
            + F.paired_tex(t["change"], lower="closer to $I$", higher="further from $I$")
            + rf", and $\operatorname{{tr}}WW\T$ grew in {t['grew']} of {t['n']} runs")
    if not parts:
        return r"\textit{(not recorded)}"
    return ("Trained to the optimum with the pseudo-inverse tie and gradient descent, "
            + "; ".join(parts) + r": $WW\T$ only grows, towards $I$ from below and away from it "
            "from above, so the small change is conservation, not attraction to $I$.")


def _decay_numbers(decay: list[dict]) -> tuple[dict[str, str], list[str]]:
    """The untied imbalance: the paper's macros and the findings."""
    free = [r for r in decay if not r["config"].get("lambda_over_lambda1")]
    max_change = float(np.nanmax(query.final(free, "max_relative_change"))) if free else None
    ratios = query.final([r for r in decay if r["config"].get("lambda_over_lambda1")],
                         "rate_ratio")
    finite = ratios[np.isfinite(ratios)]
    macros = {"RConsUntiedMaxChange": F.num(max_change, 2),
              "RConsRateRatio": F.pm_ci(ratios, 3),
              "RConsRateRatioMin": F.num(finite.min() if finite.size else None, 3),
              "RConsRateRatioMax": F.num(finite.max() if finite.size else None, 3)}
    findings = []
    if free:
        findings.append(
            "untied without L2: D = WW^T - V^TV changed by at most "
            f"{F.fmt(max_change, 2)} of its size over training "
            f"({len(free)} runs; conserved, as gradient flow predicts).")
    if finite.size:
        iv = stats.interval(finite)
        findings.append(
            f"untied with L2 lam: D decays like exp(-rate * eta * t) with rate / (4 lam) = "
            f"{F.fmt(iv.mean)} (95% CI [{F.fmt(iv.lo)}, {F.fmt(iv.hi)}]; range "
            f"{F.fmt(finite.min())} .. {F.fmt(finite.max())} over {finite.size} runs and lam; "
            "theory: 1, gradient flow dD/dt = -4 lam D).")
    return macros, findings


def _numbers(drift, slopes, decay_macros) -> dict[str, str]:
    macros: dict[str, str] = {}
    for dec in ("pinv", "right_inverse"):
        for opt in OPTIMIZERS:
            sub = query.select(drift, decoder=dec, optimizer=opt)
            name = f"RCons{F.camel(dec)}{F.camel(opt)}"
            macros[name + "Slope"] = F.pm_ci(slopes[dec, opt], 3) if sub else F.NA
            macros[name + "SlopeAll"] = (F.pm_ci(query.final(sub, "drift_slope_all"), 3)
                                         if sub and "drift_slope_all" in sub[0]["final"]
                                         else F.NA)
    macros.update(decay_macros)
    cfg = drift[0]["config"] if drift else {}
    macros["RConsSteps"] = F.num(cfg.get("steps"))
    macros["RConsSmall"] = F.num(SMALL)
    present = [dec for dec in ("pinv", "right_inverse") if query.select(drift, decoder=dec)]

    def slopes_of(opt):
        return " and ".join(f"{macros[f'RCons{F.camel(dec)}{F.camel(opt)}Slope']} "
                            f"({TIE_NAMES[dec]})" for dec in present
                            if query.select(drift, decoder=dec, optimizer=opt)) or F.NA

    momentum = (rf", $p =$ {slopes_of('momentum')} with heavy-ball momentum (still second "
                r"order: each step is a sum of gradients orthogonal to the rows of $W$ as they "
                r"were)" if query.select(drift, optimizer="momentum") else "")
    macros["RFindConservation"] = (
        rf"after {macros['RConsSteps']} steps the drift of $WW^\top$ grows like $\eta^p$; the "
        rf"limiting slope over the {macros['RConsSmall']} smallest step sizes (mean $\pm$ "
        rf"95\,\% confidence half-width over seeds and both initialisations) is $p =$ "
        rf"{slopes_of('gd')} under gradient descent, as Theorem~\ref{{thm:conservation}}(d) "
        rf"predicts ($p=2$){momentum}, and $p =$ {slopes_of('adam')} under Adam (first order, "
        rf"part (e)). Without regularisation the untied imbalance $WW^\top - V^\top V$ changes "
        rf"by at most {macros['RConsUntiedMaxChange']} of its size; with $L_2$ weight "
        rf"$\lambda$ it decays at a fitted rate of {macros['RConsRateRatio']} times the "
        rf"predicted $4\lambda$."
    )
    macros["RFindConservationInit"] = _direction_sentence(drift)
    return macros


def _median_over_seeds(records, key):
    x = np.asarray(records[0]["extra"]["eta"], dtype=float)
    ys = np.vstack([np.asarray(r["extra"][key], dtype=float) for r in records])
    return x, np.median(ys, axis=0)


def _draw(records: list[dict]):
    """Left: drift of WW^T vs step size (pinv; solid: W0 below I, dashed: above). Middle: the
    local log-log slope between neighbouring step sizes. Right: untied imbalance against steps
    for several L2 weights, with exp(-4 lam eta t)."""
    fig, axes = plots.new_figure(3, 1, width=7.0, height=2.2)
    drift = query.select(records, kind="drift")
    drift = query.select(drift, decoder="pinv") or drift
    for (opt,), recs in query.group(drift, "optimizer").items():
        for init in ("below", "above"):
            sub = [r for r in recs if _init(r) == init]
            if not sub:
                continue
            eta, y = _median_over_seeds(sub, "drift")
            # eta * e1 for the SGD optimizers (their grid is in units of 1/e1), eta for Adam
            x = eta if opt == "adam" else eta * float(sub[0]["extra"]["lambda1"])
            style = "-" if init == "below" else "--"
            color = OPT_COLORS.get(opt, "k")
            axes[0, 0].loglog(x, y, marker="o", markersize=2.5, color=color, linestyle=style,
                              label=f"{OPT_NAMES.get(opt, opt)}, $W_0$ {init} $I$")
            if "local_slopes" in sub[0]["extra"]:
                _, slopes = _median_over_seeds(sub, "local_slopes")
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


def analyze(records: list[dict]) -> Analysis:
    """Drift exponents per tie, optimizer and initialisation (table `conservation`), the
    untied imbalance's decay, the findings, the paper's numbers and the figure."""
    drift, decay = query.select(records, kind="drift"), query.select(records, kind="decay")
    findings, slopes = [], {}
    for (dec, opt), recs in query.group(drift, "decoder", "optimizer").items():
        key = slope_key(recs)
        slopes[dec, opt] = query.final(recs, key)
        findings += _drift_findings(dec, opt, recs, stats.interval(slopes[dec, opt]), key)
    decay_macros, decay_findings = _decay_numbers(decay)
    return Analysis(
        tables=[_drift_table(drift),
                _decay_table(query.group(decay, "lambda_over_lambda1"))],
        findings=findings + decay_findings,
        numbers=_numbers(drift, slopes, decay_macros),
        figures=[Figure("conservation", "Drift of WW^T against the step size (pseudo-inverse "
                        "tie), its local log-log slope, and the untied imbalance against steps.",
                        lambda: _draw(records))],
    )


SUITE = Suite(
    name="conservation",
    description="invariants: pinv/right_inverse keep WW^T (drift ~ eta^2 with GD and momentum, "
                "~ eta with Adam; from below and above I); untied WW^T - V^TV conserved, decays "
                "like exp(-4 lam eta t) with L2",
    configs=configs, run=run, analyze=analyze,
)
