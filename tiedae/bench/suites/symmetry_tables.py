r"""The `symmetry` suite's tables: `symmetry` (one row per variant) and `symmetry_paired`.

`tables(groups, vs, failed)` writes, over the runs that passed their training checks, each
variant's parameters, test and training error, probe and 5-NN accuracy (mean ± 95% t
half-width over seeds), how nearly affine its code is and its steps and seconds to the target
(median [IQR]), and how many of its runs passed; then each variant's paired differences against
the mirror run with their Holm-adjusted p-values (`symmetry_verdicts.versus_mirror`).

Example:
  >>> from tiedae.bench.suites import symmetry_tables
  >>> [t.name for t in symmetry_tables.tables({}, {})]
  ['symmetry', 'symmetry_paired']
"""

from __future__ import annotations

from tiedae.bench.suites.comparisons import DASH, median_cell, paired_cells, reach_cell, reached
from tiedae.bench.suites.symmetry_runs import ENCODERS, K
from tiedae.bench.suites.symmetry_verdicts import (
    PAIRED,
    ordered_variants,
    variant_groups,
    variant_label,
)
from tiedae.report import format as F
from tiedae.report import query
from tiedae.report.analysis import Cell, Table, ci_cell

__all__ = ["tables"]


def tables(groups, vs, failed=()) -> list[Table]:
    rows = []
    bad = variant_groups(failed)
    for v in ordered_variants({**bad, **groups}):
        recs = groups.get(v, [])
        n_bad = len(bad.get(v, []))
        f = (recs or bad[v])[0]["final"]
        params = (Cell(f"{f['params_encoder']} / {f['params_decoder']}",
                       rf"{F.num(f['params_encoder'])} / {F.num(f['params_decoder'])}")
                  if "params_encoder" in f else DASH)
        trained = "steps_to_target" in f
        if not recs:  # every run of the variant failed its checks
            rows.append([variant_label(v, bad[v]), params, *[DASH] * 8, f"0 of {n_bad}"])
            continue
        rows.append([variant_label(v, recs), params, ci_cell(query.final(recs, "test_error")),
                     ci_cell(query.final(recs, "train_error")),
                     median_cell(recs, "code_r2_pca") if "code_r2_pca" in f else DASH,
                     median_cell(recs, "code_r2_pixels") if "code_r2_pixels" in f else DASH,
                     ci_cell(query.final(recs, "probe_accuracy")),
                     ci_cell(query.final(recs, "knn_accuracy")),
                     reach_cell(reached(recs, "steps_to_target")) if trained else DASH,
                     reach_cell(reached(recs, "seconds_to_target"), 2) if trained else DASH,
                     f"{len(recs)} of {len(recs) + n_bad}"])
    main = Table(
        f"symmetry: post 000's 2-D autoencoder, k={K}, over the runs that passed their training "
        "checks (mean ± 95% CI half-width over seeds; R^2 and steps/seconds: median [IQR]; "
        "passed: runs compared of runs made)",
        ["run", Cell("enc. / dec. params", "enc.\\ / dec.\\ params"), "test error",
         "train error", Cell("R2 PCA->code", r"$R^2$ PCA$\to$code"),
         Cell("R2 pixels->code", r"$R^2$ pixels$\to$code"), "probe acc.", "5-NN acc.",
         "steps to target", Cell("s to target", "s to target"), "passed"], rows,
        name="symmetry")
    rows = []
    for v in ordered_variants(groups) if "mirror" in groups else ():
        if v in ("mirror", "pca"):
            continue
        label = variant_label(v, groups[v])
        for key, name in PAIRED["encoder" if v in ENCODERS else "decoder"]:
            rows.append([Cell(f"{label.text} - mirror", rf"{label.tex} $-$ mirror"), name,
                         *paired_cells(vs[v][key])])
    paired = Table("symmetry: each variant - the mirror run (mirror decoder, encoder 100-25), "
                   "paired over the seeds where both passed their checks: mean and 95% t "
                   "interval (R^2: median and Hodges-Lehmann interval, signed-rank test), "
                   "Holm-adjusted p-value over the table, verdict",
                   ["difference", "measure", "estimate", Cell("95% interval",
                                                             r"95\,\% interval"),
                    "Holm p", "verdict"], rows, name="symmetry_paired", align="llrrrl")
    return [main, paired]
