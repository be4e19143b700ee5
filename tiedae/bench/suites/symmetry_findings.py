r"""The `symmetry` suite's sentences: the findings and the paper's numbers.

Every comparative word comes from the comparisons of `symmetry_verdicts` (paired over seeds,
Holm-corrected over the paired table): the decoders' errors and how nearly affine their codes
are against the mirror's, the linear decoder against the Eckart-Young bound and the theorem of
the suite's docstring, and the wide-encoder claim; `check_findings` counts and names the runs
that failed their training checks (`mlp_checks`).

Example:
  >>> from tiedae.bench.suites import symmetry_findings
  >>> symmetry_findings.theorem_findings({})  # no linear-decoder runs: nothing to say
  []
  >>> symmetry_findings.numbers([], {}, {}, {}, None, "not compared")["RSymEckartYoung"]
  'The linear decoder was not run.'
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites.comparisons import (
    difference_tex,
    difference_text,
    median_cell,
    reached,
    relation,
)
from tiedae.bench.suites.symmetry_runs import DECODERS, ENCODERS, LABELS, K
from tiedae.bench.suites.symmetry_verdicts import HEAVY, TARGET_MARGIN, target_level, wide_verdict
from tiedae.report import format as F
from tiedae.report import query

UNDECIDABLE = ("with these seeds the signed-rank test could not pass Holm's correction over "
               "the table even if every seed agreed, given the table's other p-values (the "
               "paired table gives the intervals)")

__all__ = ["check_findings", "decoder_findings", "encoder_findings", "numbers",
           "theorem_findings"]


def _eckart_young_text(ey) -> list[str]:
    if ey is None:
        return []
    train, ref, below = ey
    if not train:
        return ["The linear decoder's training error was not recorded."]
    text = (f"On the training set the linear decoder's error is {F.fmt(float(np.mean(train)))} "
            f"vs PCA's {F.fmt(float(np.mean(ref)))}: ")
    if below:
        return [text + (f"below it in {below} of {len(train)} seeds, which the Eckart-Young "
                        "bound (a linear decoder's outputs span a k-dim affine subspace) rules "
                        "out; check the PCA reference.")]
    return [text + (f"at or above it in all {len(train)} seeds, as the Eckart-Young bound "
                    "requires (a linear decoder's outputs span a k-dim affine subspace).")]


def _eckart_young_tex(ey) -> str:
    if ey is None:
        return "The linear decoder was not run."
    train, ref, below = ey
    if not train:
        return "The linear decoder's training error was not recorded."
    text = (rf"On the training set the linear decoder's error is {F.pm_ci(train)} against "
            rf"PCA's {F.num(float(np.mean(ref)))}: ")
    if below:
        return text + (rf"below it in {below} of {len(train)} seeds, which the Eckart--Young "
                       r"bound rules out (check the PCA reference).")
    return text + (rf"at or above it in all {len(train)} seeds, as the Eckart--Young bound "
                   r"requires, since the outputs of a linear decoder span a $k$-dimensional "
                   r"affine subspace.")


def _target_tex(groups, tex: bool = True) -> str:
    """The target and when the 100-25 encoder reaches it (median fraction of its steps)."""
    recs = groups.get("mirror", [])
    level = target_level(recs)
    steps = [r["final"].get("steps_to_target") for r in recs]
    frac = [s / r["config"]["steps"] for s, r in zip(steps, recs, strict=True)
            if s is not None and math.isfinite(s) and r["config"].get("steps")]
    num, pct = (F.num, r"\,\%") if tex else (F.fmt, " %")
    where = (f", reached by it at a median {num(100 * float(np.median(frac)))}{pct} of its "
             "steps" if frac else "")
    return (f"{num(100 * TARGET_MARGIN)}{pct} above the 100-25 encoder's final training "
            f"error, {num(level)}{where}").replace("100-25", "100--25" if tex else "100-25")


def decoder_findings(groups, vs, ey, simple) -> list[str]:
    """Sentences on the decoders: error, Eckart-Young, how affine the code is, classes."""
    decs = [name for name in DECODERS if name in groups]
    if not decs:
        return []
    out = []
    pca = groups.get("pca", [])

    def each(key):
        if key in HEAVY:  # medians [IQR]: R^2 can be heavy-tailed
            return ", ".join(f"{d} {median_cell(groups[d], key).text}" for d in decs)
        return ", ".join(f"{d} {F.ci(query.final(groups[d], key))}" for d in decs)

    out.append(f"k={K}: test error {each('test_error')}"
               + (f"; PCA {F.fmt(pca[0]['final'].get('test_error'))}" if pca else "") + ".")
    diffs = [f"{d} - mirror {difference_text(vs[d]['test_error'])}" for d in decs if d in vs]
    if diffs:
        out.append("paired test-error differences (95% CI): " + "; ".join(diffs) + ".")
    out += _eckart_young_text(ey)
    answer = {"yes": "the simpler decoders (linear, shallow) gave measurably more nearly affine "
                     "codes than the mirror",
              "no": "the simpler decoders did not give more nearly affine codes than the mirror",
              "mixed": "the simpler decoders gave more nearly affine codes in part only",
              "no measurable difference": "no measurable difference from the mirror",
              "undecidable": UNDECIDABLE}.get(
        simple, "not compared")
    out.append(f"how affine the 2-D code is (R^2 of the best affine map on test images, median "
               f"[IQR]) from "
               f"PCA's 2-D code: {each('code_r2_pca')}; from the pixels: "
               f"{each('code_r2_pixels')}. Simpler decoder, simpler code? {simple}: {answer}.")
    out.append(f"5-NN accuracy of the 2-D test codes: {each('knn_accuracy')}"
               + (f"; PCA's 2-D code {F.fmt(pca[0]['final'].get('knn_accuracy'))}" if pca
                  else "") + ".")
    return out


def encoder_findings(groups, vs, reach) -> list[str]:
    """Post 000's wide-encoder claim against the 100-25 encoder (the mirror run)."""
    out = []
    for name in ENCODERS if "mirror" in groups else ():
        if name not in groups:
            continue
        width = "-".join(map(str, groups[name][0]["config"]["encoder"]))
        steps, secs, never = (reach[name][key]
                              for key in ("steps_to_target", "seconds_to_target", "never"))
        claim = ("post 000's claim (half as many, twice as wide encoder layers converge "
                 f"faster): {wide_verdict(reach[name])}. " if name == "wide" else
                 "parameter-matched control: ")
        out.append(
            f"{claim}encoder {width} - encoder 100-25 (mirror decoder), to the target "
            f"({_target_tex(groups, tex=False)}): steps "
            f"{difference_text(vs[name]['steps_to_target'])} ({steps} "
            f"with never-reached runs); seconds {difference_text(vs[name]['seconds_to_target'])}"
            f" ({secs} with never-reached runs); test error "
            f"{difference_text(vs[name]['test_error'])}"
            + (f" ({never} runs never reached it)." if never else "."))
    return out


def _find_symmetry(groups, vs, k) -> str:
    decs = [d for d in DECODERS if d in groups]
    errors = "; ".join(rf"{LABELS[d].tex} {F.pm_ci(query.final(groups[d], 'test_error'))}"
                       for d in decs)
    text = rf"With a code of size $k={k}$, the test errors are {errors}"
    if "pca" in groups:
        text += (rf"; PCA with {k} components "
                 rf"{F.num(groups['pca'][0]['final'].get('test_error'))}")
    text += "."
    if "mirror" in groups:
        parts = [rf"the {LABELS[d].tex} decoder has {relation(vs[d]['test_error'], 'test error')}"
                 rf" (paired difference {difference_tex(vs[d]['test_error'])})"
                 for d in decs if d != "mirror"]
        if parts:
            text += " Against the mirror, " + "; ".join(parts) + "."
        if "tied" in groups:
            tied, mirror = groups["tied"][0]["final"], groups["mirror"][0]["final"]
            text += (rf" The tied decoder has {F.num(tied.get('params_decoder'))} free "
                     rf"parameters (its biases) against {F.num(mirror.get('params_decoder'))} "
                     r"for the mirror.")
    return text


def _simplicity_tex(groups, vs, verdict) -> str:
    if verdict == "not compared":
        return "The decoders' codes were not compared."

    def each(key):  # medians [IQR]: R^2 can be heavy-tailed
        return "; ".join(rf"{LABELS[d].tex} {median_cell(groups[d], key).tex}"
                         for d in DECODERS if d in groups)

    diffs = "; ".join(rf"{LABELS[d].tex} $-$ mirror: {vs[d]['code_r2_pca'].verdict} "
                      rf"({difference_tex(vs[d]['code_r2_pca'])})"
                      for d in ("linear", "shallow") if d in vs)
    text = (rf"How nearly affine is each 2-D code? The $R^2$ of the best affine map from PCA's "
            rf"2-D code to the learnt code, on test images (median [IQR]), is "
            rf"{each('code_r2_pca')}; from the "
            rf"pixels, {each('code_r2_pixels')}. Paired against the mirror: {diffs}. ")
    return text + {
        "yes": "The simpler decoders gave measurably more nearly affine codes.",
        "no": "The simpler decoders did not give more nearly affine codes.",
        "no measurable difference": "The simpler decoders' codes were not measurably more "
                                    "nearly affine than the mirror's.",
        "mixed": "The answer is mixed: the decoders differ in the direction of the change.",
        "undecidable": "Not decidable from these runs: "
                       + UNDECIDABLE + "."}[verdict]


def _wide_tex(groups, vs, reach) -> str:
    if "mirror" not in groups or "wide" not in groups:
        return "The wide-encoder claim was not tested."
    base = groups["mirror"]
    parts = []
    for v in ENCODERS:
        if v not in groups:
            continue
        ps, never = vs[v], reach[v]["never"]
        widths = "--".join(str(w) for w in groups[v][0]["config"]["encoder"])
        parts.append(
            rf"the encoder {widths} ({F.num(groups[v][0]['final'].get('params_encoder'))} "
            rf"parameters) needs {F.med_iqr(reached(groups[v], 'steps_to_target'))} steps and "
            rf"{F.med_iqr(reached(groups[v], 'seconds_to_target'), 2)} seconds (median "
            rf"[IQR]); paired against 100--25: steps {ps['steps_to_target'].verdict} "
            rf"({difference_tex(ps['steps_to_target'], 3)}), seconds "
            rf"{ps['seconds_to_target'].verdict} ({difference_tex(ps['seconds_to_target'])}), "
            rf"test error {ps['test_error'].verdict} ({difference_tex(ps['test_error'])})"
            + (rf"; {never} of the compared runs never reached the threshold (a run that "
               r"never reached it counts as slower)" if never else ""))
    base_text = (rf"The 100--25 encoder ({F.num(base[0]['final'].get('params_encoder'))} "
                 rf"parameters) reaches the target training error "
                 rf"({_target_tex(groups)}) after "
                 rf"{F.med_iqr(reached(base, 'steps_to_target'))} steps and "
                 rf"{F.med_iqr(reached(base, 'seconds_to_target'), 2)} seconds; ")
    return (base_text + "; ".join(parts) + rf". Post 000's claim that half as many, twice as "
            rf"wide encoder layers converge faster: {wide_verdict(reach['wide'])}.")


def numbers(records, groups, vs, reach, ey, simple) -> dict[str, str]:
    trained = [r for r in records if "steps" in r["config"]]
    cfg = trained[0]["config"] if trained else (records[0]["config"] if records else {})
    k = cfg.get("code_dim", 2)
    data = ("MNIST" if records and records[0]["config"].get("data")
            else "the digits data ($8\\times8$)")
    wide = wide_verdict(reach["wide"]) if "wide" in reach else "not tested"
    tied = vs.get("tied", {}).get("test_error")
    return {
        "RSymData": data, "RSymK": F.num(k), "RSymSteps": F.num(cfg.get("steps")),
        "RSymLogEvery": F.num(cfg.get("log_every")),
        "RSymSeeds": F.num(len({r["config"]["seed"] for r in trained})),
        "RSymEncoder": "--".join(str(w) for w in cfg.get("encoder", [])) or F.NA,
        "RSymMatched": ("--".join(str(w) for w in groups["matched"][0]["config"]["encoder"])
                        if "matched" in groups else F.NA),
        "RFindSymmetry": _find_symmetry(groups, vs, k) if groups else F.NA,
        "RSymEckartYoung": _eckart_young_tex(ey),
        "RFindSimplicity": _simplicity_tex(groups, vs, simple),
        "RFindWideEncoder": _wide_tex(groups, vs, reach),
        "RAnswerSymmetry": (
            rf"On {data} with post 000's 2-D autoencoder, the tied mirror shows "
            + (relation(tied, "test error") if tied else "an untested test error")
            + (r" than the untied mirror's"
               if tied and tied.verdict != "no measurable difference" and tied.n >= 2
               else " from the untied mirror")
            + rf" (paired over seeds). Does a simpler decoder give a more nearly affine code? "
            rf"Verdict: {simple}"
            + (r" with these seeds (the rank test could not pass Holm's correction)"
               if simple == "undecidable" else "")
            + rf". Does an encoder of half as many, twice as wide layers converge "
            rf"faster? Verdict: {wide}."),
    }


def check_findings(records, failed) -> list[str]:
    """How many trained runs passed their checks, and which failed (named, with why)."""
    return mlp_checks.check_findings(
        [r for r in records if r["config"].get("kind") != "pca"], failed)


def theorem_findings(groups) -> list[str]:
    """The linear decoder's trained codes against the theorem (R^2 from PCA's code = 1 at the
    optimum): median and range over the seeds that passed."""
    r2 = [v for v in query.final(groups.get("linear", []), "code_r2_pca") if math.isfinite(v)]
    if not r2:
        return []
    return [f"theorem (at its optimum a linear decoder's code is an affine image of PCA's "
            f"code: R^2 = 1): the trained linear decoder's test-code R^2 from PCA's {K}-D code "
            f"has median {F.fmt(float(np.median(r2)), 4)} (min {F.fmt(min(r2), 4)}, max "
            f"{F.fmt(max(r2), 4)}, {len(r2)} seeds)."]
