r"""The `conv-decoders` findings and the paper's sentences, from the analysis's tests.

Every comparative word here comes from one test of `tiedae.bench.suites.conv_analysis`
(Holm-adjusted within its table); "no measurable difference" points to its interval. What the
runs were (step size tuned or not, convergence checked or not) is said with the result, so a
sentence about records written before those checks reads as the weaker evidence it is.

Example:
  >>> from tiedae.bench.suites import conv_text
  >>> from tiedae.report import stats
  >>> conv_text.ratio_word(stats.Paired(1.2, 0.8, 1.6, 0.001, 5, "higher"))
  'above the images'
"""

from __future__ import annotations

import dataclasses
import math

from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites.conv_records import (
    BLOG_EPOCHS,
    collapsed,
    label,
    noise,
    status,
    tuned,
    values,
)
from tiedae.report import format as F
from tiedae.report import query, stats

__all__ = ["EQUIVALENCE_MARGIN", "Facts", "findings", "numbers", "ratio_word"]

NO_DIFFERENCE = "no measurable difference"
# Two test errors are "equivalent" when their ratio lies within 1/(1 + margin)..(1 + margin)
# (two one-sided tests on the log errors); fixed before the runs.
EQUIVALENCE_MARGIN = 0.05


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the text is written from: the records, {model: {seed: record}} of every run and of
    the compared runs, the Holm-adjusted test-error pairs with their equivalence tests, and the
    Holm-adjusted c_2 ratios per model."""

    records: list
    every: dict
    used: dict
    paired: dict
    equiv: dict
    ratios: dict


def ratio_word(p: stats.Paired) -> str:
    """'above the images' / 'below the images' / 'no measurable difference' of a log ratio."""
    return {"higher": "above the images", "lower": "below the images"}.get(p.verdict,
                                                                            NO_DIFFERENCE)


def _counts(f: Facts) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for per in f.every.values():
        for r in per.values():
            out.setdefault(status(r), []).append(r)
    return out


def _run_name(r: dict) -> str:
    return f"{label(r['config']['model'])} (seed {r['config']['seed']})"


def checks_text(f: Facts) -> str:
    """How many runs converged, which did not, and what that means for the comparisons."""
    counts = _counts(f)
    n = sum(len(v) for v in counts.values())
    if len(counts.get("not checked", [])) == n:
        return (rf"These {n} runs predate the convergence check: their records hold no "
                r"validation curve, so whether they had converged was not checked, and every "
                r"model trained at one step size (not tuned).")
    bad = counts.get("not converged", []) + counts.get("diverged", [])
    text = (rf"{len(counts.get('converged', []))} of {n} runs converged (validation error "
            rf"improved by less than {mlp_checks.CONVERGENCE_TOLERANCE:.0%} over the last "
            r"fifth of the steps)").replace("%", r"\%")
    budget = counts.get("blog budget", [])
    if budget:
        names = sorted({label(r["config"]["model"]) for r in budget})
        text += (rf"; {len(budget)} more did not converge by that criterion but trained the "
                 rf"Keras blog's budget of {BLOG_EPOCHS} epochs or more ("
                 + ", ".join(names) + r") and are compared at it")
    if bad:
        text += ("; left out of every comparison: " + "; ".join(
            f"{_run_name(r)} {status(r)}" for r in bad))
    return text + "."


def _step_text(f: Facts) -> str:
    cfg = f.records[0]["config"]
    if not tuned(f.records):
        return (rf"one constant step size, {F.num(cfg.get('learning_rate'))}, for every model "
                r"(not tuned)")
    grid = ", ".join(F.num(v) for v in cfg["learning_rates"])
    frac = cfg.get("validation_fraction", 0.0)
    return (rf"a peak step size chosen per model from $\{{${grid}$\}}$ by the final "
            rf"validation error of seed {cfg.get('lr_seed', 0)} (the last "
            rf"{F.num(100 * frac)}\% of the training images held out for validation)")


def recipe(f: Facts) -> str:
    """The training recipe as the records ran it (step caps per group of models)."""
    cfg = f.records[0]["config"]
    n_fit = cfg.get("n_train") or 0
    n_fit -= round(cfg.get("validation_fraction", 0.0) * n_fit)
    caps: dict[int, list[str]] = {}
    for r in f.records:
        group = "post 003's nets" if r["config"].get("decoder") is None else "ConvAE's"
        if group not in caps.setdefault(int(r["config"]["steps"]), []):
            caps[int(r["config"]["steps"])].append(group)

    def cap(steps):
        return (rf"{steps} steps ({F.num(steps * cfg['batch_size'] / max(n_fit, 1), 2)} "
                r"epochs)")
    steps = (cap(next(iter(caps))) if len(caps) == 1 else " and ".join(
        rf"{cap(s)} for {' and '.join(g)}" for s, g in sorted(caps.items(), reverse=True)))
    schedule = (rf", rising over the first {F.num(100 * cfg['warmup'])}\% of the steps and "
                r"decaying to 0 along a cosine" if cfg.get("warmup") is not None else "")
    return (rf"Adam with {_step_text(f)}{schedule}, minibatches of {cfg['batch_size']} of the "
            rf"{n_fit} training images it fits, at most {steps}")


def _diff_tex(p: stats.Paired) -> str:
    return (rf"\ensuremath{{{p.mean:+.2g}}}, 95\% interval "
            rf"\ensuremath{{[{p.lo:+.2g}, {p.hi:+.2g}]}}")


def _relation(f: Facts, a: str, b: str) -> str:
    p = f.paired.get((a, b))
    if p is None or p.n < 2:
        return rf"the {label(a)} and the {label(b)} were not compared (fewer than two runs)"
    if p.verdict == NO_DIFFERENCE:
        return (rf"the test errors of the {label(a)} and the {label(b)} show no measurable "
                rf"difference (paired difference {_diff_tex(p)})")
    return (rf"the {label(a)}'s test error is {p.verdict} than the {label(b)}'s (paired "
            rf"difference {_diff_tex(p)})")


def _collapsed_names(f: Facts, names) -> list[str]:
    return [m for m in names if m in f.used and collapsed(values(f.used[m], "test_error"))]


def _find_posts(f: Facts) -> str:
    if "keras_cae" not in f.every or "matlab_cae" not in f.every:
        return "Post 003's two models were not both run."
    k, m = f.every["keras_cae"], f.every["matlab_cae"]
    uk, um = f.used.get("keras_cae", {}), f.used.get("matlab_cae", {})
    failed = _collapsed_names(f, ("keras_cae", "matlab_cae"))
    note = (" " + " and ".join(label(x) for x in failed) + r" ended every seed at the same "
            r"test error: training collapsed to one constant output image, so this "
            r"comparison measures that failure, not the architecture." if failed else "")
    ci = F.ci_tex
    text = (rf"Each post's recipe, trained as its post trains it (the Keras CAE on binary "
            rf"cross-entropy, {F.num(values(k, 'params')[0])} parameters; MATLAB's on the "
            rf"squared error, {F.num(values(m, 'params')[0])} parameters) and both measured on "
            rf"the squared error: test error {ci(values(uk, 'test_error'))} and "
            rf"{ci(values(um, 'test_error'))}; " + _relation(f, "keras_cae", "matlab_cae")
            + rf". Their trained outputs have $c_2$ {ci(values(uk, 'checker_out_p2'))} and "
            rf"{ci(values(um, 'checker_out_p2'))}; at initialisation "
            rf"{ci(values(uk, 'checker_out_init_p2'))} and "
            rf"{ci(values(um, 'checker_out_init_p2'))}." + note)
    if "keras_cae_squared" in f.every:
        per = f.used.get("keras_cae_squared", {})
        if _collapsed_names(f, ("keras_cae_squared",)):
            text += (r" Trained on the squared error instead, the Keras CAE ended every one of "
                     rf"its {len(per)} compared seeds at the same test error "
                     rf"{F.num(values(per, 'test_error')[0], 4)}: its sigmoid output saturated "
                     r"at one constant image, an optimisation failure of that loss and output "
                     r"layer, not an architecture result.")
        elif per:
            text += (r" Trained on the squared error instead, the Keras CAE reaches test error "
                     rf"{ci(values(per, 'test_error'))}.")
    return text


def _error_pairs(f: Facts) -> str:
    verdicts = [(a, b, p) for (a, b), p in f.paired.items() if "-k" in a]
    if not verdicts:
        return ""
    lower = [rf"{label(a)} below {label(b)}" if p.verdict == "lower" else
             rf"{label(b)} below {label(a)}" for a, b, p in verdicts
             if p.n >= 2 and p.verdict != NO_DIFFERENCE]
    same = [(a, b) for a, b, p in verdicts if f.equiv[a, b].verdict == "equivalent"]
    margin = rf"{_margin()}\%"
    text = (r"Paired over seeds, test errors differ for " + "; ".join(lower) + r"; the "
            rf"other {len(verdicts) - len(lower)} of {len(verdicts)} decoder pairs show no "
            r"measurable difference (intervals in Table~\ref{tab:conv-paired})" if lower else
            r"Paired over seeds, no decoder pair shows a measurable difference in test error "
            r"(intervals in Table~\ref{tab:conv-paired})")
    if same:
        text += (rf"; within {margin} of each other (two one-sided tests): " + "; ".join(
            rf"{label(a)} and {label(b)}" for a, b in same))
    else:
        text += rf"; no pair is shown to be within {margin} of each other"
    return text + "."


def _margin() -> str:
    return f"{100 * EQUIVALENCE_MARGIN:g}"


def _find_conv(f: Facts) -> str:
    convae = [m for m in f.used if "-k" in m]
    if not convae:
        return "No ConvAE decoder was compared."
    init = "; ".join(rf"{label(m)} {F.ci_tex(values(f.used[m], 'checker_out_init_p2'))}"
                     for m in convae)
    noise4 = noise(f.records, 4)
    grad4 = [stats.interval(values(f.used[m], "checker_grad_p4")).mean for m in convae]
    near = [g for g in grad4 if 0.5 * noise4 <= g <= 2 * noise4]
    grad_text = (rf"The input gradients' $c_4$ lie between {F.num(min(grad4), 2)} and "
                 rf"{F.num(max(grad4), 2)}, against the white-noise level {F.num(noise4, 2)}: "
                 + (rf"{len(near)} of {len(grad4)} are within a factor 2 of it, so they are no "
                    r"checkerboard evidence" if near else r"none is within a factor 2 of it")
                 + ".")
    return (rf"At initialisation the period-2 share $c_2$ of the decoded images is {init} "
            rf"(white noise: {F.num(noise(f.records, 2), 2)}). " + grad_text + " "
            + _error_pairs(f))


def _ratio_groups(f: Facts) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for m, p in f.ratios.items():
        groups.setdefault(ratio_word(p) if p.n >= 2 else "not compared", []).append(m)
    return groups


def _find_checker(f: Facts) -> str:
    groups = _ratio_groups(f)
    images = F.ci_tex(query.final(f.records, "checker_input_p2"))

    def listing(ms):
        return "; ".join(rf"{label(m)} \ensuremath{{\times{math.exp(f.ratios[m].mean):.2g}}}"
                         for m in ms)
    parts = []
    if groups.get("above the images"):
        parts.append(r"measurably more period-2 energy than the images (geometric-mean ratio): "
                     + listing(groups["above the images"]))
    if groups.get("below the images"):
        parts.append(r"measurably less: " + listing(groups["below the images"]))
    if groups.get(NO_DIFFERENCE):
        parts.append(r"no measurable difference: "
                     + ", ".join(label(m) for m in groups[NO_DIFFERENCE]))
    if groups.get("not compared"):
        parts.append(r"not compared (fewer than two compared runs): "
                     + ", ".join(label(m) for m in groups["not compared"]))
    return (rf"Against the test images' own share $c_2 = $ {images} (one ratio per seed, "
            r"tested on the log scale, Holm over the models; Table~\ref{tab:conv-checker}), "
            r"the trained decoders' outputs carry " + "; ".join(parts) + ".")


def _answer(f: Facts) -> str:
    def init_means(decoder):
        return [stats.interval(values(per, "checker_out_init_p2")).mean
                for mod, per in f.used.items() if mod.partition("-k")[0] == decoder]

    up = init_means("upsample_conv") + init_means("bilinear_conv")
    others = init_means("transposed_conv") + init_means("tied")
    text = ""
    if up and others and max(up) < min(others):
        kinds = " (nearest or bilinear)" if init_means("bilinear_conv") else ""
        text = (f"In our runs upsampling{kinds} followed by convolution painted less period-2 "
                "energy at initialisation than every transposed convolution (own or tied "
                r"kernels), as Proposition~\ref{prop:upsample} predicts. ")
    elif up and others:
        text = ("In our runs the period-2 energy at initialisation did not separate upsampling + "
                r"convolution from transposed convolutions cleanly (Table~\ref{tab:conv}). ")
    groups = _ratio_groups(f)
    n = sum(len(v) for k, v in groups.items() if k != "not compared")
    if n:
        text += (rf"After training, {len(groups.get('above the images', []))} of {n} models' "
                 r"outputs carry measurably more period-2 energy than the test images "
                 rf"themselves, {len(groups.get('below the images', []))} measurably less "
                 r"(Table~\ref{tab:conv-checker}). ")
    if "keras_cae" in f.every and "matlab_cae" in f.every:
        p = f.paired.get(("keras_cae", "matlab_cae"))
        failed = _collapsed_names(f, ("keras_cae", "matlab_cae"))
        text += ("Post 003's asymmetric Keras CAE (upsampling, trained on its blog's binary "
                 "cross-entropy) and symmetric MATLAB CAE (transposed convolutions, squared "
                 "error) "
                 + ("were not compared (fewer than two compared runs each)"
                    if p is None or p.n < 2 else
                    "cannot be compared here: the " + " and ".join(map(label, failed))
                    + "'s training collapsed to a constant output in every seed" if failed else
                    "showed no measurable difference in squared test error"
                    if p.verdict == NO_DIFFERENCE else
                    f"differ: the Keras CAE's squared test error is {p.verdict}")
                 + r" (Table~\ref{tab:conv-paired}); this compares the two recipes, "
                 "architecture and loss together.")
    strength = (r" Evidence: " + checks_text(f).replace("These", "these"))
    return (text.strip() + strength) if text else "No convolutional decoder was run."


def numbers(f: Facts) -> dict[str, str]:
    """The paper's ``\\RConv...``, ``\\RFindConv...`` and ``\\RAnswerConv`` macros."""
    cfg = f.records[0]["config"]
    shape = f.records[0].get("extra", {}).get("image_shape") or [None, None]
    data = (rf"MNIST ({cfg.get('n_train')} training, {cfg.get('n_test')} test images, "
            rf"{shape[0]} $\times$ {shape[1]})" if cfg.get("data") else
            rf"the 8 $\times$ 8 digits ({cfg.get('n_train')} training, {cfg.get('n_test')} test)")
    return {"RConvData": data, "RConvRecipe": recipe(f),
            "RConvSeeds": F.num(len({r["config"]["seed"] for r in f.records})),
            "RConvSteps": F.num(cfg.get("steps")), "RConvStride": F.num(cfg.get("stride")),
            "RConvNoiseCTwo": F.num(noise(f.records, 2), 2),
            "RConvNoiseCFour": F.num(noise(f.records, 4), 2),
            "RConvInputCTwo": F.ci_tex(query.final(f.records, "checker_input_p2")),
            "RConvChecks": checks_text(f),
            "RFindConvPosts": _find_posts(f), "RFindConv": _find_conv(f),
            "RFindConvChecker": _find_checker(f), "RAnswerConv": _answer(f)}


def findings(f: Facts) -> list[str]:
    """Plain sentences: the training checks, collapsed trainings, each pair's test error and
    each model's c_2 ratio to the test images."""
    counts = _counts(f)
    out = [f"training checks: {len(counts.get('converged', []))} of "
           f"{sum(map(len, counts.values()))} runs converged, "
           f"{len(counts.get('blog budget', []))} reached the Keras blog's {BLOG_EPOCHS} "
           f"epochs unconverged, {len(counts.get('not converged', []))} did not converge, "
           f"{len(counts.get('diverged', []))} diverged, {len(counts.get('not checked', []))} "
           "not checked (records before the check); comparisons use all but the unconverged "
           "and diverged runs."]
    out += [f"{m}: test error {values(f.used[m], 'test_error')[0]:.6g} in all "
            f"{len(f.used[m])} seeds - training collapsed to one seed-independent output (a "
            "constant image), so its runs measure that failure, not the architecture."
            for m in _collapsed_names(f, f.used)]
    for (a, b), p in f.paired.items():
        verdict = p.verdict if p.verdict == NO_DIFFERENCE else f"{a} {p.verdict}"
        out.append(f"test error, {a} - {b}: {p.mean:+.3g} [{p.lo:+.3g}, {p.hi:+.3g}] ({p.n} "
                   f"seeds, Holm-adjusted {F.p_equals(p.p_adjusted)}): {verdict}; "
                   f"{f.equiv[a, b].verdict} within {_margin()} %.")
    for m, p in f.ratios.items():
        if p.n < 2:
            continue
        out.append(f"trained c_2 / test images' c_2, {m}: x{math.exp(p.mean):.3g} "
                   f"[{math.exp(p.lo):.3g}, {math.exp(p.hi):.3g}] ({p.n} seeds, Holm-adjusted "
                   f"{F.p_equals(p.p_adjusted)}): {ratio_word(p)}.")
    return out
