r"""Suite `features`: does a weak (linear) decoder force better features? (post 002)

Post 002 asks whether a simple decoder, e.g. one linear map from the code, makes the encoder
learn better features than a decoder that mirrors it. The encoder d -> 100 -> 25 -> k (post
000's, ReLU, linear code) is trained with the mirror, the tied mirror (W^T in every layer) or
a linear decoder, at post 000's code size k = 2 and at a feature-learning size k = 16; its
frozen codes are scored by a linear probe (logistic regression) and 5-NN on the held-out images
(`tiedae.features`), next to the test reconstruction error. References: PCA's code of the same
size (one deterministic run per k) and the raw pixels. Training and measurements:
`tiedae.bench.suites.mlp_training`. The k = 2 runs have the training settings of the
`symmetry` suite's decoder runs: `mlp_training.train` shares them (one training when both
suites run in one command, the same numbers in both suites' results). Only runs that passed
their training checks (`mlp_checks`: converged, a full-rank code on held-out images, a linear
decoder within 2 % of PCA's training error) are compared; the others are counted per setting
in the table and named in the findings (at k = 16 a linear decoder that misses PCA's error
measures a training failure, not its features). Comparisons between decoders are paired over
the seeds where both passed (same seed: same split, minibatch order and initial encoder),
with Holm's correction over the paired table (`tiedae.report.stats.holm`).

Transfer (post 002's question, full runs only): the same encoders at k = 16 trained on the
training images of digits 0-4 only (`TRANSFER`: the validation split, PCA's optimum and the
checks on those digits), their frozen codes probed on digits 5-9 (probe fitted on the
training images of 5-9, scored on the test images of 5-9), against PCA fitted on digits 0-4
and the pixels of digits 5-9: the table `features transfer` and its paired table (reports
only, not the paper) and one finding.

`analyze(records)` gives the tables `features` (per code size and decoder: test error, probe
and 5-NN accuracy, mean ± 95% t half-width over seeds, median numerical rank of the codes, runs
compared and runs left out, with PCA and the pixels as references) and `features_paired`
(decoder - mirror over seeds, Holm-adjusted p-values), the
findings, the paper's numbers (``\RFeatSizes``, ``\RFeatSeeds``, ``\RFeatPixelsProbe``,
``\RFeatPixelsKnn``, ``\RFindFeatures``, ``\RAnswerFeatures``) and the figure `features`.

Example:
  >>> from tiedae.bench.suites import features
  >>> features.answer_word(["higher", "higher"]), features.answer_word(["lower", "higher"])
  ('better', 'mixed')
"""

from __future__ import annotations

import numpy as np

from tiedae.bench.suite import Options, Suite
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites import mlp_training as mlp
from tiedae.bench.suites.comparisons import DASH, difference_text, holm_family, paired_cells
from tiedae.bench.suites.features_figure import draw_features
from tiedae.bench.suites.symmetry_runs import LABELS
from tiedae.features import knn_accuracy, linear_probe_accuracy
from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.analysis import Analysis, Cell, Figure, Table, ci_cell

CODE_SIZES = (2, 16)
DECODERS = ("mirror", "tied", "linear")
SEEDS = {"quick": 3, "full": 6}
SCORES = (("probe_accuracy", Cell("linear probe", "linear probe")),
          ("knn_accuracy", Cell("5-NN", "5-NN")))
TRANSFER = {"code_dim": 16, "train_classes": [0, 1, 2, 3, 4], "probe_classes": [5, 6, 7, 8, 9]}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = mlp.base_config(options)
    seeds = seed_list(options, quick=SEEDS["quick"], full=SEEDS["full"])
    out = []
    sizes = CODE_SIZES[:1] if options.quick else CODE_SIZES  # quick: symmetry's runs only
    for seed in seeds:  # seed-major, like `symmetry` (whose k=2 runs these are)
        for k in sizes:
            for decoder in DECODERS:
                images = mlp.IMAGES if seed == seeds[0] and k == 2 else 0
                out.append({**base, "run_id": f"{tag}-k{k}-{decoder}-s{seed}", "code_dim": k,
                            "encoder": list(mlp.ENCODER), "decoder": decoder, "seed": seed,
                            "images": images})
    data = mlp.data_config(options)
    for k in sizes:
        out.append({**data, "run_id": f"{tag}-k{k}-pca", "code_dim": k, "decoder": "pca",
                    "seed": options.seed, "images": 0})
    out.append({**data, "run_id": f"{tag}-pixels", "code_dim": 0, "decoder": "pixels",
                "seed": options.seed})
    if options.quick:
        return out
    # transfer (post 002): encoders trained on digits 0-4, frozen codes probed on digits 5-9
    for seed in seeds:
        for decoder in DECODERS:
            out.append({**base, **TRANSFER, "transfer": True, "encoder": list(mlp.ENCODER),
                        "run_id": f"{tag}-transfer-k16-{decoder}-s{seed}", "decoder": decoder,
                        "seed": seed, "images": 0})
    for decoder in ("pca", "pixels"):
        out.append({**data, **TRANSFER, "transfer": True, "decoder": decoder,
                    "run_id": f"{tag}-transfer-{decoder}", "seed": options.seed, "images": 0,
                    **({"code_dim": 0} if decoder == "pixels" else {})})
    return out


def run(config: dict) -> dict:
    """One run: PCA's code, the pixels, or a trained model (the k = 2 ones shared with
    `symmetry`: see `mlp_training.train`)."""
    if config["decoder"] == "pca":
        return mlp.pca_run(config)
    if config["decoder"] == "pixels":
        X, y, X_test, y_test, _ = mlp.probe_data(config)
        return {"final": {"probe_accuracy": linear_probe_accuracy(X, y, X_test, y_test),
                          "knn_accuracy": knn_accuracy(X, y, X_test, y_test)},
                "trajectory": {}, "extra": {}}
    return mlp.train(config)


def _why_not_compared(word: str, failed) -> str:
    """', because every linear-decoder run failed its training checks' where that is why."""
    linear = [r for r in failed if r["config"].get("decoder") == "linear"]
    if word != "not compared" or not linear:
        return ""
    return (f", because all {len(linear)} linear-decoder runs failed their training checks "
            r"(a full-rank code; a training error within 2\,\% of PCA's), so no model with a "
            "linear decoder that trained is there to compare")


def answer_word(verdicts) -> str:
    """'better' / 'worse' / 'no measurable difference' / 'mixed' from paired verdicts of the
    linear decoder's scores against the mirror's."""
    verdicts = list(verdicts)
    if not verdicts:
        return "not compared"
    for word, verdict in (("better", "higher"), ("worse", "lower"),
                          ("no measurable difference", "no measurable difference")):
        if all(v == verdict for v in verdicts):
            return word
    return "mixed"


# ---- analysis ----------------------------------------------------------------------------------


def _groups(records) -> dict[tuple, list[dict]]:
    return {key: query.by_seed(recs)
            for key, recs in query.group(records, "code_dim", "decoder").items()}


def _sizes(groups) -> list[int]:
    return sorted({k for k, d in groups if k and d in DECODERS})


def _rank(recs) -> float | None:
    """Median numerical rank of the codes over seeds (None where not recorded)."""
    ranks = query.final(recs, "code_rank")
    ranks = ranks[~np.isnan(ranks)]
    return float(np.median(ranks)) if ranks.size else None


def _versus_mirror(groups) -> dict[tuple, dict[str, stats.Paired]]:
    """{(k, decoder): {measure: paired decoder - mirror}} for the tied and linear decoders,
    Holm-adjusted together (the family of the paired table)."""
    keys = (*(key for key, _ in SCORES), "test_error")
    return holm_family({
        (k, d): {key: query.versus(groups[(k, d)], groups[(k, "mirror")], key) for key in keys}
        for k in _sizes(groups) if (k, "mirror") in groups
        for d in DECODERS[1:] if (k, d) in groups})


def _tables(groups, vs, failed=()) -> list[Table]:
    rows = []
    n_failed = {key: len(recs) for key, recs in query.group(failed, "code_dim", "decoder").items()}
    for k in sorted({k for k, d in (*groups, *n_failed) if k}):  # PCA's sizes (a PCA alone)
        for d in (*DECODERS, "pca"):
            if (k, d) not in groups:
                if (k, d) in n_failed:  # every run of the setting failed its checks
                    rows.append([k, LABELS[d], DASH, DASH, DASH, DASH, 0, n_failed[(k, d)]])
                continue
            recs = groups[(k, d)]
            rank = _rank(recs)
            test, probe, knn = (ci_cell(query.final(recs, key)) for key in
                                ("test_error", "probe_accuracy", "knn_accuracy"))
            rows.append([k, LABELS[d], test, probe, knn, DASH if rank is None else rank,
                         len(recs), n_failed.get((k, d), 0)])
    for (_k, d), recs in groups.items():
        if d == "pixels":
            rows.append([DASH, LABELS[d], DASH, ci_cell(query.final(recs, "probe_accuracy")),
                         ci_cell(query.final(recs, "knn_accuracy")), DASH, len(recs), 0])
    main = Table("features: frozen-code quality per decoder, runs that passed their training "
                 "checks (mean ± 95% CI half-width over seeds; code rank: median numerical "
                 "rank; failed: runs left out)",
                 [Cell("k", "$k$"), "code", "test error", "linear probe acc.", "5-NN acc.",
                  "code rank", "runs", "failed"], rows, name="features", align="rlrrrrrr")
    rows = [[k, Cell(f"{LABELS[d].text} - mirror", rf"{LABELS[d].tex} $-$ mirror"), name,
             *paired_cells(vs[(k, d)][key])]
            for (k, d) in vs
            for key, name in (*SCORES, ("test_error", Cell("test error", "test error")))]
    paired = Table("features: decoder - mirror over the seeds where both passed their checks "
                   "(mean, 95% t interval, Holm-adjusted p-value over the table, verdict)",
                   [Cell("k", "$k$"), "difference", "measure", "mean",
                    Cell("95% interval", r"95\,\% interval"), "Holm p", "verdict"], rows,
                   name="features_paired", align="rllrrrl")
    return [main, paired]


def _pixels(groups) -> list[dict] | None:
    recs = [r for (_, d), rs in groups.items() if d == "pixels" for r in rs]
    return recs or None


def _findings(groups, vs, sizes, word) -> list[str]:
    findings = []
    for k in sizes:
        if (k, "mirror") not in groups:
            continue
        parts = [f"{name} {d} - mirror {difference_text(vs[(k, d)][key])}"
                 for key, name in (("probe_accuracy", "probe"), ("knn_accuracy", "5-NN"))
                 for d in DECODERS[1:] if (k, d) in vs]
        pca = groups.get((k, "pca"))
        ref = (f"; PCA's {k}-D code: probe {F.fmt(pca[0]['final'].get('probe_accuracy'))}, "
               f"5-NN {F.fmt(pca[0]['final'].get('knn_accuracy'))}" if pca else "")
        findings.append(f"k={k}, paired accuracy differences (95% CI): " + "; ".join(parts)
                        + ref + ".")
    if (0, "pixels") in groups:
        f = groups[(0, "pixels")][0]["final"]
        findings.append(f"raw pixels: probe {F.fmt(f.get('probe_accuracy'))}, 5-NN "
                        f"{F.fmt(f.get('knn_accuracy'))}.")
    if word != "not compared":
        findings.append(f"post 002 (does a linear decoder force better features?): the linear "
                        f"decoder's codes against the mirror's, over probe and 5-NN at k = "
                        f"{', '.join(str(k) for k in sizes if (k, 'mirror') in groups)}"
                        f": {word}.")
    return findings


def _find_tex(groups, vs, sizes) -> str:
    parts = []
    for k in sizes:
        scores = "; ".join(
            rf"{LABELS[d].tex} {F.pm_ci(query.final(groups[(k, d)], 'probe_accuracy'))} / "
            rf"{F.pm_ci(query.final(groups[(k, d)], 'knn_accuracy'))}"
            for d in (*DECODERS, "pca") if (k, d) in groups)
        text = rf"At $k={k}$, probe / 5-NN accuracy: {scores}."
        ranks = {d: _rank(groups[(k, d)]) for d in DECODERS if (k, d) in groups}
        low = [rf"{LABELS[d].tex} {F.num(r)}" for d, r in ranks.items()
               if r is not None and F.num(r) != F.num(float(k))]
        if low:
            text += (rf" Codes spanning fewer than {k} directions (median numerical rank): "
                     + "; ".join(low) + ".")
        diffs = [rf"{name.tex} {LABELS[d].tex} $-$ mirror {F.num(p.mean, 2)} "
                 rf"[{F.num(p.lo, 2)}, {F.num(p.hi, 2)}]: {p.verdict}"
                 for d in DECODERS[1:] if (k, d) in vs
                 for key, name in SCORES if (p := vs[(k, d)][key]).n >= 2]
        if diffs:
            text += " Paired differences (95\\,\\% CI): " + "; ".join(diffs) + "."
        parts.append(text)
    return " ".join(parts) if parts else F.NA


ANSWERS = {
    "better": "the linear decoder's codes scored measurably higher than the mirror's on every "
              "score and code size",
    "worse": "the linear decoder's codes scored measurably lower than the mirror's on every "
             "score and code size: a weaker decoder gave worse features, not better",
    "no measurable difference": "no measurable difference between the linear decoder's codes "
                                "and the mirror's",
    "mixed": "mixed: the sign of the paired difference depends on the score and the code size "
             "(Table~\\ref{tab:features-paired})",
    "not compared": "not compared",
}
TRANSFER_ANSWERS = {
    "better": "they scored measurably higher than the mirror's on both scores",
    "worse": "they scored measurably lower than the mirror's on both scores",
    "no measurable difference": "no measurable difference from the mirror's on either score",
    "mixed": "mixed: the two scores do not agree in their verdicts against the mirror's",
    "not compared": "not compared (no linear-decoder run passed its checks)",
}


def analyze(records: list[dict]) -> Analysis:
    """Tables, findings, paper numbers and the figure of the suite's records (module
    docstring)."""
    transfer = [r for r in records if r["config"].get("transfer")]
    records = [r for r in records if not r["config"].get("transfer")]
    everything = records + transfer
    records, failed = mlp_checks.split(records)
    groups = _groups(records)
    sizes = _sizes(groups)
    vs = _versus_mirror(groups)
    # post 002's answer: the linear decoder against the mirror, every score and code size
    word = answer_word(vs[(k, "linear")][key].verdict for k in sizes if (k, "linear") in vs
                       for key, _ in SCORES)
    pixels = _pixels(groups)
    seeds = {r["config"]["seed"] for r in records if r["config"].get("decoder") in DECODERS}
    feat_sizes = ", ".join(rf"$k={k}$" for k in sizes) or F.NA
    numbers = {"RFeatSizes": feat_sizes, "RFeatSeeds": F.num(len(seeds)),
               "RFeatPixelsProbe": F.pm_ci(query.final(pixels, "probe_accuracy")) if pixels
               else F.NA,
               "RFeatPixelsKnn": F.pm_ci(query.final(pixels, "knn_accuracy")) if pixels
               else F.NA,
               "RFindFeatures": _find_tex(groups, vs, sizes),
               "RAnswerFeatures": rf"Does a weak (linear) decoder force better features? "
                                  rf"Scored by a linear probe and 5-NN on held-out images at "
                                  rf"{feat_sizes}: {ANSWERS[word]}"
                                  + _why_not_compared(word, failed) + "."}
    t_table, t_findings, t_numbers = _transfer(transfer)
    if t_numbers:
        numbers["RAnswerFeatures"] += (
            " For digits its encoder never saw (trained on digits 0--4, probed on 5--9, $k=16$), "
            f"the linear decoder's codes: {TRANSFER_ANSWERS[t_numbers.pop('word')]}.")
    numbers.update(t_numbers or {"RFindFeatTransfer": "The transfer runs were not run."})
    figure = Figure("features", "Probe and 5-NN accuracy of the frozen codes per decoder and "
                    "code size (mean and 95% t interval over seeds); PCA's code as squares, "
                    "the pixels dashed.", lambda: draw_features(groups, sizes, DECODERS, SCORES))
    return Analysis(tables=_tables(groups, vs, failed) + t_table,
                    findings=_check_findings(everything, failed + mlp_checks.split(transfer)[1])
                    + _findings(groups, vs, sizes, word) + t_findings, numbers=numbers,
                    figures=[figure])


def _transfer(records) -> tuple[list[Table], list[str], dict[str, str]]:
    """The transfer tables (reports only), finding and paper numbers (`RFindFeatTransfer`, and
    under "word" the answer word of the linear decoder against the mirror): codes of encoders
    trained on digits 0-4, probed on digits 5-9, per decoder over the runs that passed their
    checks, decoder - mirror paired over seeds with Holm's correction over the table."""
    if not records:
        return [], [], {}
    ok, failed = mlp_checks.split(records)
    groups = {d: query.by_seed(recs) for (d,), recs in query.group(ok, "decoder").items()}
    n_failed = {d: len(recs) for (d,), recs in query.group(failed, "decoder").items()}
    rows = [[LABELS[d], *(ci_cell(query.final(groups.get(d, []), key)) for key, _ in SCORES),
             len(groups.get(d, [])), n_failed.get(d, 0)]
            for d in (*DECODERS, "pca", "pixels") if d in groups or d in n_failed]
    vs = holm_family({d: {key: query.versus(groups[d], groups["mirror"], key)
                          for key, _ in SCORES}
                      for d in DECODERS[1:] if d in groups and "mirror" in groups})
    main = Table("features transfer: encoders trained on digits 0-4 (k=16), frozen codes "
                 "probed on digits 5-9 (mean ± 95% CI half-width over the runs that passed "
                 "their checks; failed: runs left out)",
                 ["code", "linear probe acc.", "5-NN acc.", "runs", "failed"], rows,
                 name=None, align="lrrrr")
    paired = Table("features transfer: decoder - mirror over seeds (mean, 95% t interval, "
                   "Holm-adjusted p-value over the table, verdict)",
                   ["difference", "measure", "mean", "95% interval", "Holm p", "verdict"],
                   [[f"{LABELS[d].text} - mirror", name, *paired_cells(vs[d][key])]
                    for d in vs for key, name in SCORES], name=None, align="llrrrl")
    text = "; ".join(f"{name.text} {d} - mirror {difference_text(vs[d][key])}"
                     for d in vs for key, name in SCORES)
    scores = "; ".join(
        rf"{LABELS[d].tex} {F.pm_ci(query.final(groups[d], 'probe_accuracy'))} / "
        rf"{F.pm_ci(query.final(groups[d], 'knn_accuracy'))}"
        for d in (*DECODERS, "pca", "pixels") if d in groups)
    diffs = "; ".join(rf"{name.tex} {LABELS[d].tex} $-$ mirror {F.num(p.mean, 2)} "
                      rf"[{F.num(p.lo, 2)}, {F.num(p.hi, 2)}], Holm {F.p_equals(p.p_adjusted)}: "
                      rf"{p.verdict}" for d in vs for key, name in SCORES
                      if (p := vs[d][key]).n >= 2)
    numbers = {"RFindFeatTransfer": rf"Encoders trained on digits 0--4 ($k=16$), their frozen "
                                    rf"codes probed on digits 5--9, probe / 5-NN accuracy: "
                                    rf"{scores}." + (rf" Paired differences (95\,\% CI): {diffs}."
                                                     if diffs else ""),
               "word": answer_word(vs["linear"][key].verdict for key, _ in SCORES
                                   if vs["linear"][key].n >= 2)
               if "linear" in vs else "not compared"}
    return [main, paired], ([f"transfer (trained on digits 0-4, probed on 5-9, k=16): {text}."]
                            if text else []), numbers


def _check_findings(records, failed) -> list[str]:
    """How many trained runs passed their checks, and which failed (named, with why)."""
    return mlp_checks.check_findings(
        [r for r in records if r["config"].get("decoder") in DECODERS], failed)


SUITE = Suite(
    name="features",
    description="linear-probe / 5-NN accuracy of frozen codes (k = 2, 16) per decoder (mirror, "
                "tied, linear) vs PCA and pixels (post 002)",
    configs=configs, run=run, analyze=analyze,
)
