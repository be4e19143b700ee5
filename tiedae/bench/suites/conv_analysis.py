r"""Analysis of the `conv-decoders` records (post 003): tables, findings and the paper's numbers.

Only runs that trained enter a comparison (`tiedae.bench.suites.conv_records.usable`: converged,
or a record written before convergence was recorded, which the text then says); the others are
counted and named. Three families of tests, each Holm-corrected within its table
(`tiedae.report.stats.holm`):

* `conv_paired`: paired differences of the test error over seeds: the Keras vs the MATLAB CAE,
  and per kernel size the decoder pairs of `DECODER_PAIRS`; beside each, two one-sided tests
  (`stats.equivalence`) on the log test errors against the margin `EQUIVALENCE_MARGIN` = 5 %,
  fixed before the runs: "equivalent" means the ratio of the errors lies within 1/1.05..1.05;
* `conv_checker`: per model, the ratio of its decoded test images' period-2 share c_2 to the
  test images' own c_2 (the same statistic of the same images), one ratio per seed, tested on
  the log scale (a paired t-test of log c_2(decoded) against log c_2(images); the table shows
  the geometric mean ratio and its 95 % interval). A ratio is heavy-tailed, which the log
  tames; a signed-rank test cannot reach p < 0.05 with 5 seeds at all. "above" / "below" means
  measurably more / less period-2 energy than the images themselves carry;
* the descriptive table `conv`: per model the parameters, the chosen step size, how many runs
  converged, the test error and c_2 at initialisation and trained, c_4 of the input gradients
  (mean ± 95 % t-interval), then the test images' and white noise's levels.

Example:
  >>> from tiedae.bench.suites import conv_analysis
  >>> conv_analysis.pairs(["keras_cae", "matlab_cae", "tied-k3", "transposed_conv-k3"])
  [('keras_cae', 'matlab_cae'), ('transposed_conv-k3', 'tied-k3')]
"""

from __future__ import annotations

import math

import numpy as np

from tiedae.bench.suites import conv_figures, conv_text
from tiedae.bench.suites.conv_records import (
    BLOG_EPOCHS,
    collapsed,
    compare,
    label,
    models,
    noise,
    status,
    values,
)
from tiedae.report import Analysis, Cell, Figure, Table, cell, difference_cells, query, stats
from tiedae.report import format as F

__all__ = ["DECODER_PAIRS", "EQUIVALENCE_MARGIN", "analyze", "checker_ratios", "equivalences",
           "pairs", "test_errors"]

DECODER_PAIRS = (("transposed_conv", "upsample_conv"), ("transposed_conv", "tied"),
                 ("upsample_conv", "tied"), ("bilinear_conv", "upsample_conv"),
                 ("bilinear_conv", "transposed_conv"))
EQUIVALENCE_MARGIN = conv_text.EQUIVALENCE_MARGIN  # test errors within a factor 1.05


def pairs(names) -> list[tuple[str, str]]:
    """The compared pairs among the model ids `names`: post 003's two CAEs, then per kernel
    size the `DECODER_PAIRS` that were both run."""
    names = list(names)
    out = [("keras_cae", "matlab_cae")]
    kernels = sorted({int(m.partition("-k")[2]) for m in names if "-k" in m})
    out += [(f"{a}-k{k}", f"{b}-k{k}") for k in kernels for a, b in DECODER_PAIRS]
    return [(a, b) for a, b in out if a in names and b in names]


def test_errors(by: dict) -> dict[tuple[str, str], stats.Paired]:
    """Paired test-error differences a - b of `pairs`, Holm-adjusted over them."""
    return stats.holm({(a, b): compare(by, a, b, "test_error") for a, b in pairs(by)})


def _log(x) -> np.ndarray:
    x = np.asarray(x, float)
    return np.log(np.where(x > 0, x, np.nan))


def equivalences(by: dict) -> dict[tuple[str, str], stats.Equivalence]:
    """TOST of log(test error a) - log(test error b) within +-log(1 + EQUIVALENCE_MARGIN)."""
    out = {}
    for a, b in pairs(by):
        x, y = query.paired_values(by[a].values(), by[b].values(), "test_error")
        out[a, b] = stats.equivalence(_log(x), _log(y), math.log1p(EQUIVALENCE_MARGIN))
    return out


def checker_ratios(by: dict, key: str = "checker_out_p2") -> dict[str, stats.Paired]:
    """Per model: log final[key] - log c_2 of the test images, paired over seeds, Holm-adjusted
    over the models (exp of the mean and interval: the geometric-mean ratio). A model whose
    training collapsed (`conv_records.collapsed`) is left out: its outputs measure the
    failure."""
    return stats.holm({m: stats.paired(_log(values(per, key)),
                                       _log(values(per, "checker_input_p2")))
                       for m, per in by.items()
                       if not collapsed(values(per, "test_error"))})


def _ci(values_, digits: int = 3) -> Cell:
    """Mean ± 95% half-width as text, `F.ci_tex` as LaTeX; the value alone when every seed
    gives it; '-' for no value."""
    iv = stats.interval(values_)
    if iv.n == 0:
        return Cell("-", "--")
    same = iv.n > 1 and iv.hi - iv.mean <= 1e-9 * abs(iv.mean)
    return Cell(F.fmt(iv.mean, digits) if same else F.fmt_ci(values_, digits), F.ci_tex(values_))


def _converged_cell(per: dict) -> Cell:
    states = [status(r) for r in per.values()]
    if all(s == "not checked" for s in states):
        return Cell("not checked", "not checked")
    n, budget = sum(s == "converged" for s in states), sum(s == "blog budget" for s in states)
    text = f"{n}/{len(states)}" + (f" (+{budget} at {BLOG_EPOCHS} epochs)" if budget else "")
    return Cell(text, text)


def _step_size(per: dict) -> Cell:
    r = per[min(per)]
    lr = r["final"].get("learning_rate", r["config"].get("learning_rate"))
    return cell(lr, 2)


def _table(every: dict, used: dict, records) -> Table:
    dash = Cell("-", "--")
    rows = []
    for m, per in every.items():
        use = used.get(m, {})
        rows.append([label(m), Cell(f"{int(values(per, 'params')[0]):,}",
                                    F.num(values(per, "params")[0])),
                     _step_size(per), _converged_cell(per),
                     *[_ci(values(use, key), digits) for key, digits in
                       (("test_error", 3), ("checker_out_init_p2", 2), ("checker_out_p2", 2),
                        ("checker_grad_p4", 2))]])
    inputs = {2: _ci(query.final(records, "checker_input_p2"), 2)}
    rows.append(["test images", dash, dash, dash, dash, inputs[2], inputs[2], dash])
    rows.append([Cell("white noise (p^2-1)/(HW-1)", r"white noise $(p^2-1)/(HW-1)$"), dash,
                 dash, dash, dash, cell(noise(records, 2), 2), cell(noise(records, 2), 2),
                 cell(noise(records, 4), 2)])
    return Table("conv-decoders: per model, parameters, step size, runs converged, and over "
                 "the compared runs test error and checkerboard shares c_p (mean ± 95% "
                 "t-interval)",
                 ["model", "params", "step size", "converged", "test error",
                  Cell("c_2 init", "$c_2$ init"), Cell("c_2 trained", "$c_2$ trained"),
                  Cell("c_4 grad.", "$c_4$ grad.")],
                 rows, name="conv", align="lrrrrrrr")


def _ratio_cells(p: stats.Paired) -> list[Cell]:
    if p.n < 2:
        return [Cell("-", "--")] * 4
    r, lo, hi = (math.exp(v) for v in (p.mean, p.lo, p.hi))
    verdict = conv_text.ratio_word(p)
    return [cell(r, 2), Cell(f"[{F.fmt(lo, 2)}, {F.fmt(hi, 2)}]",
                             rf"[{F.num(lo, 2)}, {F.num(hi, 2)}]"),
            Cell(F.p_value(p.p_adjusted), F.p_value(p.p_adjusted).replace("<", "$<$")),
            verdict]


def _checker_table(ratios: dict) -> Table:
    rows = [[label(m), *_ratio_cells(p)] for m, p in ratios.items()]
    return Table("conv-decoders: trained c_2 of the decoded test images over the test images' "
                 "own c_2 (geometric mean over seeds, 95% interval; verdicts at Holm-adjusted "
                 "p < 0.05 over the table)",
                 ["model", Cell("c_2 ratio", "$c_2$ ratio"), "95% interval", "Holm p",
                  "verdict"], rows, name="conv_checker", align="lrrrl")


def _paired_table(paired: dict, equiv: dict) -> Table:
    rows = []
    for (a, b), p in paired.items():
        verdict = ("no measurable difference" if p.verdict == "no measurable difference"
                   or p.n < 2 else f"{label(a)} {p.verdict}")
        e = equiv[a, b]
        rows.append([Cell(f"{label(a)} - {label(b)}", rf"{label(a)} $-$ {label(b)}"),
                     *difference_cells(p), verdict, e.verdict if e.n >= 2 else "-"])
    margin = f"{EQUIVALENCE_MARGIN:.0%}"
    margin_tex = margin.replace("%", r"\%")
    return Table(f"conv-decoders: paired test-error differences over seeds (verdicts at Holm-"
                 f"adjusted p < 0.05 over the table; equivalence: both errors within {margin} "
                 f"of each other, two one-sided tests)",
                 ["difference", "mean", "95% interval", "Holm p", "verdict",
                  Cell(f"within {margin}", f"within {margin_tex}")], rows,
                 name="conv_paired", align="lrrrll")


def analyze(records: list[dict]) -> Analysis:
    r"""Tables `conv`, `conv_checker` and `conv_paired` (module docstring), the findings
    (training checks, collapsed trainings, each pair's test error, each model's c_2 ratio) and
    the paper's numbers (``\RConvData``, ``\RConvRecipe``, ``\RConvSeeds``, ``\RConvSteps``,
    ``\RConvStride``, ``\RConvNoiseCTwo``, ``\RConvNoiseCFour``, ``\RConvInputCTwo``,
    ``\RConvChecks``, ``\RFindConvPosts``, ``\RFindConv``, ``\RFindConvChecker``,
    ``\RAnswerConv``) and the figures `checkerboard` and `conv_images`."""
    every = models(records, compared=False)
    if not every:
        return Analysis()
    used = models(records)
    paired, equiv, ratios = test_errors(used), equivalences(used), checker_ratios(used)
    facts = conv_text.Facts(records, every, used, paired, equiv, ratios)
    figures = [Figure("checkerboard", "Checkerboard share c_2 of the decoded images (at "
                      "initialisation and trained) and c_4 of the input gradients per model, "
                      "against the test images' and white noise's levels.",
                      lambda: conv_figures.checkerboard(used, records)),
               Figure("conv_images", "A test image decoded by each model at initialisation "
                      "and after training (first seed), beside the input.",
                      lambda: conv_figures.decoded_images(every, records))]
    return Analysis(tables=[_table(every, used, records), _checker_table(ratios),
                            _paired_table(paired, equiv)],
                    findings=conv_text.findings(facts), numbers=conv_text.numbers(facts),
                    figures=figures)
