r"""Suite `symmetry`: post 000's 2-D autoencoder with mirrored, tied, shallow and linear decoders.

Post 000 asks why the MLP autoencoder [d] -> 100 -> 25 -> (2) -> 25 -> 100 -> [d] used to see
clusters in two dimensions is symmetric, and whether a simpler decoder would force a simpler
(more linear) 2-D code; an answer claims that an encoder with "half as many, twice as wide"
layers converges faster. With the encoder d -> 100 -> 25 -> 2 fixed, the decoder is

* mirror: 2 -> 25 -> 100 -> d with its own weights;
* tied: the mirror with W_{N-L+1} = W_L^T (the encoder's matrices read transposed, its own
  biases only);
* shallow: 2 -> 100 -> d, the mirror without its 25-unit layer: the smallest step down in
  capacity that keeps a nonlinearity, between the mirror and the linear map;
* linear: x_hat = z F + c, whose reconstructions span a 2-D affine subspace, so its error on
  the training set cannot beat PCA's with 2 components (Eckart-Young) and the best code it can
  use is an affine function of x.

**Theorem (a linear decoder at its optimum has PCA's code, up to an affine map).** Let the
decoder be linear, x_hat = z F + c (F in R^{k x d}), on training rows x_i with mean x_bar,
PCA components V_k (k x d, orthonormal rows, lambda_k > lambda_{k+1}) and PCA code
p_i = (x_i - x_bar) V_k^T, and let the model reach the Eckart-Young optimum on them, i.e.
x_hat_i = x_bar + p_i V_k for every i (the optimum is unique when lambda_k > lambda_{k+1}).
Then z_i F = p_i V_k + (x_bar - c). Differences give (z_i - z_j) F = (p_i - p_j) V_k; the
p_i - p_j span R^k, so the row space of V_k lies in that of F, both have dimension k, F has
full row rank (F F^+ = I_k) and

    z_i = p_i (V_k F^+) + (x_bar - c) F^+,    V_k F^+ invertible (k x k):

the code is an affine image of PCA's code, with affine R^2 = 1 from PCA's code on the
training rows (on held-out rows as far as the encoder generalises). So a linear decoder cannot
make the code "simpler" than PCA's at its optimum, only equal to it up to an affine map; a
trained linear-decoder code with R^2 < 1 has not reached the optimum (tested in float64 in
tests/test_mlp_checks.py; the analysis reports the trained runs' median R^2).

How simple each code is: the affine R^2 (`tiedae.features.affine_r2`) from the pixels and from
PCA's 2-D code to the learnt code (fitted on the training images, scored on the test images;
reported as medians, compared by Wilcoxon's signed-rank test: R^2 is heavy-tailed), and the
linear-probe and 5-NN accuracy of the 2-D codes.
The wide-encoder claim keeps the mirror decoder and compares the encoder 100-25 with one hidden
layer of 200 ("half as many, twice as wide") and one hidden layer with as many parameters as
100-25 (103 units for d = 784), each at its own step size (`mlp_training`): steps and seconds
until the monitored training error first reaches the target, 10 % above the 100-25 encoder's
final training error (median over seeds; `target_level`: reached late in training, unlike
PCA's error with k components, which the mirror passes within its first few percent of steps;
a run that never reaches it counts as slower), and the test error. Training, monitoring, the
training checks and measurements: `tiedae.bench.suites.mlp_training` (whose trained runs the
`features` suite shares); only runs that passed their checks (`mlp_checks`) are compared, the
others are counted and named in the findings. The PCA run is the 2-D reference (codes and
reconstructions). Comparisons are paired over seeds (same seed: same data split and minibatch
order; for the decoders also the same initial encoder); every comparative word comes from
`tiedae.report.stats` (paired t, or signed-rank for R^2), with Holm's correction over the
paired table.

`analyze(records)` gives the tables `symmetry` (per decoder and encoder variant: parameters,
test and training error, probe and 5-NN accuracy: mean ± 95% t half-width over seeds; how
nearly affine the code is, steps and seconds to the target: median [IQR]) and `symmetry_paired`
(paired differences against the mirror / the 100-25 encoder), the findings, the paper's
numbers (``\RSymData``, ``\RSymK``, ``\RSymSteps``, ``\RSymLogEvery``, ``\RSymSeeds``,
``\RSymEncoder``, ``\RSymMatched``: the setting; ``\RFindSymmetry``, ``\RSymEckartYoung``,
``\RFindSimplicity``, ``\RFindWideEncoder``, ``\RAnswerSymmetry``) and the figures `codes2d`,
`symmetry_curves` and `symmetry_reconstructions`.

Example:
  >>> from tiedae.bench.suites import symmetry
  >>> symmetry.relation(symmetry.stats.paired([1.0, 1.1, 1.2], [2.0, 2.2, 2.1]), "test error")
  'a lower test error'
  >>> symmetry.reach_verdict([100.0, None, None], [50.0, 60.0, 70.0])  # None: never reached
  'higher'
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suite import Options, Suite
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites import mlp_training as mlp
from tiedae.report import format as F
from tiedae.report import plots, query, stats
from tiedae.report.analysis import (
    Analysis,
    Cell,
    Figure,
    Table,
    cell,
    ci_cell,
    difference_cells,
)

K = 2  # post 000's code size
SEEDS = {"quick": 3, "full": 6}
DECODERS = {"mirror": "mirror", "tied": "tied", "shallow": [mlp.ENCODER[0]],
            "linear": "linear"}
ENCODERS = ("wide", "matched")  # against the mirror run's encoder 100-25
QUICK_SKIPS = ("shallow", "wide", "matched")  # quick: three models to compile, not six
LABELS = {"mirror": Cell("mirror", "mirror"), "tied": Cell("tied (W^T)", r"tied ($W^\top$)"),
          "shallow": Cell("shallow (2-100-d)", "shallow (2--100--$d$)"),
          "linear": Cell("linear", "linear"), "pca": Cell("PCA", "PCA"),
          "pixels": Cell("raw pixels", "raw pixels")}
COLORS = {"mirror": "#1f77b4", "tied": "#2ca02c", "shallow": "#ff7f0e", "linear": "#d62728",
          "wide": "#9467bd", "matched": "#8c564b", "pca": "#7f7f7f"}
DASH = Cell("-", "--")


def encoder_widths(name: str, d: int) -> list[int]:
    """The hidden widths of the encoder variants: post 000's [100, 25]; 'wide': one layer
    twice as wide as its first ([200]); 'matched': one layer with as many parameters."""
    if name == "wide":
        return [2 * mlp.ENCODER[0]]
    if name == "matched":
        return [mlp.matched_width(d, mlp.ENCODER, K)]
    return list(mlp.ENCODER)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**mlp.base_config(options), "code_dim": K}
    d = int(np.prod(mlp.load(base)[4]))
    seeds = seed_list(options, quick=SEEDS["quick"], full=SEEDS["full"])
    out = []
    for seed in seeds:  # seed-major: the runs compared in a pair are made close in time
        images = mlp.IMAGES if seed == seeds[0] else 0
        for name, decoder in DECODERS.items():
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-decoder-{name}-s{seed}", "kind": "decoder",
                        "variant": name, "encoder": list(mlp.ENCODER), "decoder": decoder,
                        "seed": seed, "images": images})
        for name in ENCODERS:
            if options.quick and name in QUICK_SKIPS:
                continue
            out.append({**base, "run_id": f"{tag}-encoder-{name}-s{seed}", "kind": "encoder",
                        "variant": name, "encoder": encoder_widths(name, d),
                        "decoder": mlp.ENCODER[::-1], "seed": seed, "images": 0})
    out.append({**mlp.data_config(options), "run_id": f"{tag}-pca", "kind": "pca",
                "variant": "pca", "code_dim": K, "seed": options.seed,
                "images": mlp.IMAGES})
    return out


def run(config: dict) -> dict:
    """One run: PCA's reference, or a trained model (shared with `features`: see
    `mlp_training.train`)."""
    return mlp.pca_run(config) if config["kind"] == "pca" else mlp.train(config)


# ---- paired comparisons over seeds (the `features` suite uses these too) -----------------------


def _what(p) -> str:
    """'median' for a signed-rank comparison (Hodges-Lehmann), else 'mean'."""
    return "median" if isinstance(p, stats.SignedRank) else "mean"


def _holm_note(p) -> str:
    return (f", Holm p={F.fmt(p.p_adjusted, 2)} of {p.family}"
            if math.isfinite(getattr(p, "p_adjusted", math.nan)) and p.family > 1 else "")


def difference_text(p, digits: int = 3) -> str:
    """'mean [lo, hi], n=N: verdict' of a paired difference (plain text; 'median' for a
    signed-rank comparison; with its Holm-adjusted p-value where one was computed)."""
    if p.n == 0:
        return "not compared (no common seeds)"
    what = "median " if _what(p) == "median" else ""
    return (f"{what}{F.fmt(p.estimate, digits)} [{F.fmt(p.lo, 2)}, {F.fmt(p.hi, 2)}], "
            f"n={p.n}{_holm_note(p)}: {p.verdict}")


def difference_tex(p, digits: int = 2) -> str:
    """'mean, 95 % CI [lo, hi]' of a paired difference (LaTeX; 'median' for signed-rank)."""
    if p.n < 2:
        return F.NA
    what = "median " if _what(p) == "median" else ""
    return (rf"{what}{F.num(p.estimate, digits)}, 95\,\% CI [{F.num(p.lo, digits)}, "
            rf"{F.num(p.hi, digits)}]")


def paired_cells(p) -> list[Cell]:
    """The estimate (mean, or median for a signed-rank comparison), 95% interval, Holm-adjusted
    p-value (`tiedae.report.analysis.difference_cells`) and verdict cells of a paired table's
    row."""
    return [*difference_cells(p), cell(p.verdict if p.n >= 2 else "one seed")]


def holm_family(family: dict) -> dict:
    """Holm's correction over a table's comparisons {key: {measure: comparison}} (nested one
    level), returned in the same shape."""
    flat = {(a, b): c for a, row in family.items() for b, c in row.items()}
    adjusted = stats.holm(flat) if flat else {}
    out: dict = {a: {} for a in family}
    for (a, b), c in adjusted.items():
        out[a][b] = c
    return out


def relation(p: stats.Paired, what: str) -> str:
    """'a lower <what>' / 'a higher <what>' / 'no measurable difference in <what>'."""
    if p.n < 2 or p.verdict == "no measurable difference":
        return f"no measurable difference in {what}"
    return f"a {p.verdict} {what}"


def reach_verdict(a, b, verdict: str | None = None) -> str:
    """a against b for steps (or seconds) to a threshold over common seeds, where None / inf
    / nan means the run never reached it: the paired verdict on the seeds where both reached
    it (`verdict`, e.g. Holm-adjusted; default `stats.paired`'s), unless one side missed it
    more often; then 'higher' (a slower) when a missed it more often and the reached pairs do
    not say 'lower', 'lower' in the mirror case, else 'mixed'."""
    def never(v):
        return v is None or not math.isfinite(float(v))

    na, nb = sum(map(never, a)), sum(map(never, b))
    if verdict is None:  # the pairs with a never-reached side are dropped
        verdict = stats.paired(a, b).verdict
    if na == nb:
        return verdict
    if na > nb and verdict != "lower":
        return "higher"
    if na < nb and verdict != "higher":
        return "lower"
    return "mixed"


def reached(records, key: str) -> list[float]:
    """final[key] of steps or seconds to a threshold, never reached (None, nan) as +inf."""
    return [math.inf if math.isnan(v) else float(v) for v in query.final(records, key)]


def reach_cell(values, digits: int = 3) -> Cell:
    """Median [25th, 75th percentile] of steps or seconds to a threshold (never reached:
    +inf), with how many runs never reached it in the text."""
    never = sum(not math.isfinite(v) for v in values)
    if not values:
        return DASH
    if never == len(values):
        return Cell("never", F.med_iqr(values, digits))
    med, q25, q75 = stats.median_iqr(values)
    text = f"{F.fmt(med)} [{F.fmt(q25)}, {F.fmt(q75)}]"
    return Cell(text + (f" ({never} of {len(values)} never)" if never else ""),
                F.med_iqr(values, digits))


# ---- analysis ----------------------------------------------------------------------------------


def _groups(records) -> dict[str, list[dict]]:
    return {v: query.by_seed(recs) for (v,), recs in query.group(records, "variant").items()}


def _label(variant: str, recs) -> Cell:
    if variant in ENCODERS:
        widths = [str(w) for w in recs[0]["config"].get("encoder", [])]
        return Cell(f"encoder {'-'.join(widths)} (mirror dec.)",
                    f"encoder {'--'.join(widths)} (mirror dec.)")
    return LABELS.get(variant, cell(variant))


def _ordered(groups) -> list[str]:
    known = [v for v in (*DECODERS, *ENCODERS, "pca") if v in groups]
    return known + sorted(set(groups) - set(known))


PAIRED = {"decoder": (("test_error", Cell("test error", "test error")),
                      ("code_r2_pca", Cell("R^2 PCA->code", r"$R^2$ PCA$\to$code")),
                      ("knn_accuracy", Cell("5-NN acc.", "5-NN acc."))),
          "encoder": (("steps_to_target", Cell("steps to target", "steps to target")),
                      ("seconds_to_target", Cell("seconds to target", "seconds to target")),
                      ("test_error", Cell("test error", "test error")))}


def _median_cell(recs, key: str) -> Cell:
    """Median [25th, 75th percentile] over seeds (for heavy-tailed R^2)."""
    values = [v for v in query.final(recs, key) if math.isfinite(v)]
    if not values:
        return DASH
    med, q25, q75 = stats.median_iqr(values)
    return Cell(f"{F.fmt(med)} [{F.fmt(q25)}, {F.fmt(q75)}]", F.med_iqr(values, 3))


def _tables(groups, vs, failed=()) -> list[Table]:
    rows = []
    bad = _groups(failed)
    for v in _ordered({**bad, **groups}):
        recs = groups.get(v, [])
        n_bad = len(bad.get(v, []))
        f = (recs or bad[v])[0]["final"]
        params = (Cell(f"{f['params_encoder']} / {f['params_decoder']}",
                       rf"{F.num(f['params_encoder'])} / {F.num(f['params_decoder'])}")
                  if "params_encoder" in f else DASH)
        trained = "steps_to_target" in f
        if not recs:  # every run of the variant failed its checks
            rows.append([_label(v, bad[v]), params, *[DASH] * 8, f"0 of {n_bad}"])
            continue
        rows.append([_label(v, recs), params, ci_cell(query.final(recs, "test_error")),
                     ci_cell(query.final(recs, "train_error")),
                     _median_cell(recs, "code_r2_pca") if "code_r2_pca" in f else DASH,
                     _median_cell(recs, "code_r2_pixels") if "code_r2_pixels" in f else DASH,
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
    for v in _ordered(groups) if "mirror" in groups else ():
        if v in ("mirror", "pca"):
            continue
        label = _label(v, groups[v])
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


HEAVY = ("code_r2_pca", "code_r2_pixels")  # heavy-tailed: medians and signed-rank tests


def versus(a_records, b_records, key: str):
    """Paired a - b of final[key] over common seeds: `stats.signed_rank` for the heavy-tailed
    R^2 (`HEAVY`), else `stats.paired`."""
    if key in HEAVY:
        return stats.signed_rank(*query.paired_values(a_records, b_records, key))
    return query.versus(a_records, b_records, key)


def _versus_mirror(groups) -> dict[str, dict]:
    """{variant: {measure: variant - mirror}} for every variant but the mirror and PCA: the
    measures of the paired table (`PAIRED`), Holm-adjusted together."""
    if "mirror" not in groups:
        return {}
    return holm_family({
        v: {key: versus(groups[v], groups["mirror"], key)
            for key, _ in PAIRED["encoder" if v in ENCODERS else "decoder"]}
        for v in groups if v not in ("mirror", "pca")})


def _eckart_young(groups):
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


def simplicity_verdict(vs) -> str:
    """Does a simpler decoder give a more nearly affine code? From the paired R^2 (from PCA's
    code) differences of the linear and shallow decoders against the mirror over two or more
    seeds: 'yes' when every one is measurably higher, 'no measurable difference' when none
    differs, 'no' when none is higher and one is lower, else 'mixed'."""
    verdicts = [vs[d]["code_r2_pca"].verdict for d in ("linear", "shallow")
                if d in vs and vs[d]["code_r2_pca"].n >= 2]
    if not verdicts:
        return "not compared"
    if all(v == "higher" for v in verdicts):
        return "yes"
    if all(v == "no measurable difference" for v in verdicts):
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
                loss = np.asarray(t["train_loss"], float)
                hit = np.flatnonzero(loss <= level)
                final["steps_to_target"] = float(t["step"][hit[0]]) if hit.size else math.inf
                final["seconds_to_target"] = (float(t["wall_time"][hit[0]]) if hit.size
                                              else math.inf)
                final["target_level"] = level
            out[v].append({**r, "final": final})
    return out


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


def _reaching(groups, vs) -> dict[str, dict]:
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
    """The claim 'the wide encoder converges faster' from its `_reaching` verdicts: supported
    when both steps and seconds are lower, contradicted when both are higher."""
    found = frozenset((reach["steps_to_target"], reach["seconds_to_target"]))
    return {frozenset({"lower"}): "supported", frozenset({"higher"}): "contradicted",
            frozenset({"no measurable difference"}): "no measurable difference"}.get(
        found, "mixed")


def _decoder_findings(groups, vs, ey, simple) -> list[str]:
    """Sentences on the decoders: error, Eckart-Young, how affine the code is, classes."""
    decs = [name for name in DECODERS if name in groups]
    if not decs:
        return []
    out = []
    pca = groups.get("pca", [])

    def each(key):
        if key in HEAVY:  # medians [IQR]: R^2 can be heavy-tailed
            return ", ".join(f"{d} {_median_cell(groups[d], key).text}" for d in decs)
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
              "no measurable difference": "no measurable difference from the mirror"}.get(
        simple, "not compared")
    out.append(f"how affine the 2-D code is (R^2 of the best affine map on test images, median "
               f"[IQR]) from "
               f"PCA's 2-D code: {each('code_r2_pca')}; from the pixels: "
               f"{each('code_r2_pixels')}. Simpler decoder, simpler code? {simple}: {answer}.")
    out.append(f"5-NN accuracy of the 2-D test codes: {each('knn_accuracy')}"
               + (f"; PCA's 2-D code {F.fmt(pca[0]['final'].get('knn_accuracy'))}" if pca
                  else "") + ".")
    return out


def _encoder_findings(groups, vs, reach) -> list[str]:
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
        return "; ".join(rf"{LABELS[d].tex} {_median_cell(groups[d], key).tex}"
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
        "mixed": "The answer is mixed: the decoders differ in the direction of the change."}[
        verdict]


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


def _numbers(records, groups, vs, reach, ey, simple) -> dict[str, str]:
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
            rf"Verdict: {simple}. Does an encoder of half as many, twice as wide layers converge "
            rf"faster? Verdict: {wide}."),
    }


def analyze(records: list[dict]) -> Analysis:
    """Tables, findings, paper numbers and figures of the suite's records (module docstring)."""
    everything = records
    records, failed = mlp_checks.split(records)
    groups = with_target(_groups(records))
    vs = _versus_mirror(groups)
    reach = _reaching(groups, vs)
    ey = _eckart_young(groups)
    simple = simplicity_verdict(vs)
    figures = [
        Figure("codes2d", "2-D test codes by class, the first seed per decoder, and PCA's.",
               lambda: draw_codes2d(groups)),
        Figure("symmetry_curves", "Monitored training and test error against the step per "
               "decoder and encoder (median and min-max band over seeds).",
               lambda: draw_curves(groups, records)),
        Figure("symmetry_reconstructions", "Test images and their reconstructions by each "
               "decoder and by PCA (first seed).", lambda: draw_reconstructions(groups)),
    ]
    return Analysis(tables=_tables(groups, vs, failed),
                    findings=_check_findings(everything, failed)
                    + _decoder_findings(groups, vs, ey, simple)
                    + _theorem_findings(groups) + _encoder_findings(groups, vs, reach),
                    numbers=_numbers(records, groups, vs, reach, ey, simple), figures=figures)


def _check_findings(records, failed) -> list[str]:
    """How many trained runs passed their checks, and which failed (named, with why)."""
    return mlp_checks.check_findings(
        [r for r in records if r["config"].get("kind") != "pca"], failed)


def _theorem_findings(groups) -> list[str]:
    """The linear decoder's trained codes against the theorem (R^2 from PCA's code = 1 at the
    optimum): median and range over the seeds that passed."""
    r2 = [v for v in query.final(groups.get("linear", []), "code_r2_pca") if math.isfinite(v)]
    if not r2:
        return []
    return [f"theorem (at its optimum a linear decoder's code is an affine image of PCA's "
            f"code: R^2 = 1): the trained linear decoder's test-code R^2 from PCA's {K}-D code "
            f"has median {F.fmt(float(np.median(r2)), 4)} (min {F.fmt(min(r2), 4)}, max "
            f"{F.fmt(max(r2), 4)}, {len(r2)} seeds)."]


# ---- figures -----------------------------------------------------------------------------------


def draw_codes2d(groups):
    """2-D test codes coloured by class, the first seed per decoder, and PCA's 2-D code."""
    panels = [(v, groups[v][0]) for v in (*DECODERS, "pca")
              if v in groups and groups[v][0]["extra"].get("codes_2d")]
    fig, axes = plots.new_figure(max(len(panels), 1), 1, width=7.0, height=1.7)
    scatter = None
    for ax, (name, rec) in zip(axes[0], panels, strict=False):
        z = np.asarray(rec["extra"]["codes_2d"], dtype=float)
        y = np.asarray(rec["extra"]["labels"])
        scatter = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=1.5, vmin=-0.5, vmax=9.5,
                             linewidths=0, rasterized=True)
        f = rec["final"]
        title = LABELS[name].tex.replace("--", "-")
        if f.get("knn_accuracy") is not None:
            title += f"\n5-NN {f['knn_accuracy']:.2f}"
        if f.get("code_r2_pca") is not None:
            title += f", $R^2$ {f['code_r2_pca']:.2f}"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if scatter is not None:
        cbar = fig.colorbar(scatter, ax=list(axes[0]), ticks=range(10), fraction=0.02, pad=0.01)
        cbar.ax.tick_params(labelsize=6)
    return fig


def draw_curves(groups, records):
    """Monitored training (left) and test (right) error against the step, per decoder and
    encoder variant: median over seeds and min-max band; dashed: PCA with k and 2k
    components."""
    fig, axes = plots.new_figure(2, 1, width=7.0, height=2.2)
    fig.subplots_adjust(wspace=0.35)
    for v in _ordered(groups):
        curves = [r for r in groups[v] if (r.get("trajectory") or {}).get("train_loss")]
        if not curves:
            continue
        for ax, key in zip(axes[0], ("train_loss", "test_loss"), strict=True):
            x = np.asarray(curves[0]["trajectory"]["step"], float)
            same = [np.asarray(r["trajectory"][key], float) for r in curves
                    if len(r["trajectory"][key]) == len(x)]
            plots.band(ax, x, same, COLORS.get(v, "#000000"),
                       _label(v, groups[v]).tex.replace("--", "-"))
    thresholds = next((r["extra"].get("thresholds") for r in records
                       if r["extra"].get("thresholds")), None)
    for name, value in (thresholds or {}).items():
        axes[0, 0].axhline(value, color="#7f7f7f", linestyle="--" if name == "pca_k" else ":",
                           linewidth=0.8)
    axes[0, 0].set(xlabel="step", ylabel="training error (monitor rows)", yscale="log")
    axes[0, 1].set(xlabel="step", ylabel="test error (monitor rows)", yscale="log")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 1].legend(handles, labels, frameon=False, fontsize=6)
    return fig


def draw_reconstructions(groups):
    """Test images (top row) and their reconstructions by each decoder and by PCA (first
    seed)."""
    rows = [(v, groups[v][0]) for v in (*DECODERS, "pca")
            if v in groups and groups[v][0]["extra"].get("reconstructions")]
    if not rows:
        return plots.stub("no reconstructions in the records")
    first = rows[0][1]["extra"]
    shape = tuple(first["image_shape"])
    n = len(first["images"])
    fig, axes = plots.new_figure(n, len(rows) + 1, width=0.55 * n, height=0.6)
    grid = [("test", first["images"])] + [
        (LABELS[v].tex.replace("--", "-"), rec["extra"]["reconstructions"]) for v, rec in rows]
    for row, (name, images) in zip(axes, grid, strict=True):
        for j, ax in enumerate(row):
            ax.imshow(np.clip(np.asarray(images[j], float).reshape(shape), 0, 1), cmap="gray_r",
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
    return fig


SUITE = Suite(
    name="symmetry",
    description="post 000's 2-D MLP autoencoder: mirror / tied / shallow / linear decoders, "
                "how affine each code is, and the wide-encoder claim (posts 000, 001)",
    configs=configs, run=run, analyze=analyze,
)
