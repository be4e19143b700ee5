r"""The comparisons behind the `symmetry` suite's verdicts, computed once from its records.

`variant_groups` groups the runs by variant (seed-ordered); `with_target` gives each trained
run its steps and seconds to the wide-encoder claim's target (`target_level`: 10 % above the
100-25 encoder's final training error); `versus_mirror` pairs every variant with the mirror
run over seeds (`stats.paired`, or `stats.signed_rank` for the heavy-tailed R^2) and corrects
the paired table's comparisons together (Holm); `reaching` and `wide_verdict` judge the
wide-encoder claim, `simplicity_verdict` the question whether a simpler decoder gives a more
nearly affine code, and `eckart_young` checks the linear decoder's training error against PCA's.

Example:
  >>> from tiedae.bench.suites import symmetry_verdicts as sv
  >>> sv.wide_verdict({"steps_to_target": "lower", "seconds_to_target": "lower"})
  'supported'
  >>> sv.wide_verdict({"steps_to_target": "lower", "seconds_to_target": "higher"})
  'mixed'
  >>> recs = [{"config": {"seed": 0}, "trajectory": {"train_loss": [4.0, 2.0]}}]
  >>> round(sv.target_level(recs), 2)  # 10 % above the mirror runs' last training error
  2.2
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suite import first_step_at_or_below
from tiedae.bench.suites.comparisons import holm_family, reach_verdict, reached
from tiedae.bench.suites.symmetry_runs import DECODERS, ENCODERS, LABELS
from tiedae.report import query, stats
from tiedae.report.analysis import Cell, cell

__all__ = ["HEAVY", "PAIRED", "TARGET_MARGIN", "eckart_young", "ordered_variants", "reaching",
           "simplicity_verdict", "target_level", "variant_groups", "variant_label", "versus",
           "versus_mirror", "wide_verdict", "with_target"]


def variant_groups(records) -> dict[str, list[dict]]:
    return {v: query.by_seed(recs) for (v,), recs in query.group(records, "variant").items()}


def variant_label(variant: str, recs) -> Cell:
    if variant in ENCODERS:
        widths = [str(w) for w in recs[0]["config"].get("encoder", [])]
        return Cell(f"encoder {'-'.join(widths)} (mirror dec.)",
                    f"encoder {'--'.join(widths)} (mirror dec.)")
    return LABELS.get(variant, cell(variant))


def ordered_variants(groups) -> list[str]:
    known = [v for v in (*DECODERS, *ENCODERS, "pca") if v in groups]
    return known + sorted(set(groups) - set(known))


PAIRED = {"decoder": (("test_error", Cell("test error", "test error")),
                      ("code_r2_pca", Cell("R^2 PCA->code", r"$R^2$ PCA$\to$code")),
                      ("knn_accuracy", Cell("5-NN acc.", "5-NN acc."))),
          "encoder": (("steps_to_target", Cell("steps to target", "steps to target")),
                      ("seconds_to_target", Cell("seconds to target", "seconds to target")),
                      ("test_error", Cell("test error", "test error")))}
HEAVY = ("code_r2_pca", "code_r2_pixels")  # heavy-tailed: medians and signed-rank tests


def versus(a_records, b_records, key: str):
    """Paired a - b of final[key] over common seeds: `stats.signed_rank` for the heavy-tailed
    R^2 (`HEAVY`), else `stats.paired`."""
    if key in HEAVY:
        return stats.signed_rank(*query.paired_values(a_records, b_records, key))
    return query.versus(a_records, b_records, key)


def versus_mirror(groups) -> dict[str, dict]:
    """{variant: {measure: variant - mirror}} for every variant but the mirror and PCA: the
    measures of the paired table (`PAIRED`), Holm-adjusted together."""
    if "mirror" not in groups:
        return {}
    return holm_family({
        v: {key: versus(groups[v], groups["mirror"], key)
            for key, _ in PAIRED["encoder" if v in ENCODERS else "decoder"]}
        for v in groups if v not in ("mirror", "pca")})


def eckart_young(groups):
    """(training errors, PCA's, how many below PCA's) of the linear decoder's seeds that
    recorded both; None when the linear decoder was not run. Eckart-Young: its outputs span a
    k-dim affine subspace, so on the training set it cannot beat PCA, up to float32 rounding
    (a relative 1e-4)."""
    if "linear" not in groups:
        return None
    finals = [r["final"] for r in groups["linear"] if r["final"].get("train_error") is not None
              and r["final"].get("pca_train_error") is not None]
    train = [f["train_error"] for f in finals]
    ref = [f["pca_train_error"] for f in finals]
    return train, ref, sum(t < p * (1 - 1e-4) for t, p in zip(train, ref, strict=True))


def simplicity_verdict(vs) -> str:
    """Does a simpler decoder give a more nearly affine code? From the paired R^2 (from PCA's
    code) differences of the linear and shallow decoders against the mirror over two or more
    seeds: 'yes' when every one is measurably higher, 'no measurable difference' when none
    differs, 'undecidable' when none differs and one could not have (`stats.can_reach`: too few
    seeds for the rank test after Holm's correction), 'no' when none is higher and one is
    lower, else 'mixed'."""
    compared = [vs[d]["code_r2_pca"] for d in ("linear", "shallow")
                if d in vs and vs[d]["code_r2_pca"].n >= 2]
    verdicts = [c.verdict for c in compared]
    if not verdicts:
        return "not compared"
    if all(v == "higher" for v in verdicts):
        return "yes"
    if all(v == "no measurable difference" for v in verdicts):
        if not all(stats.can_reach(c) for c in compared):
            return "undecidable"
        return "no measurable difference"
    if "lower" in verdicts and "higher" not in verdicts:
        return "no"
    return "mixed"


TARGET_MARGIN = 0.10  # the wide-encoder target: 10 % above the 100-25 encoder's final error


def target_level(mirror_records) -> float:
    """The wide-encoder claim's target: (1 + TARGET_MARGIN) times the median over seeds of the
    100-25 encoder's (the mirror run's) last monitored training error; nan without curves.
    Unlike PCA's error with k components (which the mirror reaches within the first few
    percent of its steps), a run reaches it only late in training."""
    last = [r["trajectory"]["train_loss"][-1] for r in mirror_records
            if (r.get("trajectory") or {}).get("train_loss")]
    return (1 + TARGET_MARGIN) * float(np.median(last)) if last else math.nan


def with_target(groups) -> dict[str, list[dict]]:
    """The groups, each trained record given final["steps_to_target"] and
    final["seconds_to_target"]: the first logged step (and seconds of training) at which its
    monitored training error is <= `target_level` of the mirror runs (inf: never; None
    without curves). Records are copied, not modified."""
    level = target_level(groups.get("mirror", []))
    out = {}
    for v, recs in groups.items():
        out[v] = []
        for r in recs:
            t = r.get("trajectory") or {}
            final = dict(r["final"])
            if t.get("train_loss") and math.isfinite(level):
                loss = t["train_loss"]
                final["steps_to_target"] = first_step_at_or_below(t["step"], loss, level)
                final["seconds_to_target"] = first_step_at_or_below(t["wall_time"], loss, level)
                final["target_level"] = level
            out[v].append({**r, "final": final})
    return out


def reaching(groups, vs) -> dict[str, dict]:
    """{encoder variant: {"steps_to_target": verdict, "seconds_to_target": verdict, "never":
    count}}: `reach_verdict` of the variant - the mirror run (encoder 100-25) in steps and
    seconds to the target, and how many runs of the two never reached it."""
    if "mirror" not in groups:
        return {}
    return {v: {**{key: reach_verdict(*query.paired_values(groups[v], groups["mirror"], key),
                                      verdict=vs[v][key].verdict)
                   for key in ("steps_to_target", "seconds_to_target")},
                "never": sum(math.isinf(x) for name in (v, "mirror")
                             for x in reached(groups[name], "steps_to_target"))}
            for v in ENCODERS if v in groups}


def wide_verdict(reach: dict) -> str:
    """The claim 'the wide encoder converges faster' from its `reaching` verdicts: supported
    when both steps and seconds are lower, contradicted when both are higher."""
    found = frozenset((reach["steps_to_target"], reach["seconds_to_target"]))
    return {frozenset({"lower"}): "supported", frozenset({"higher"}): "contradicted",
            frozenset({"no measurable difference"}): "no measurable difference"}.get(
        found, "mixed")
