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

Modules: `symmetry_runs` (the variants, configs and one run), `symmetry_verdicts` (the
comparisons behind every verdict), `symmetry_tables`, `symmetry_findings` (findings and the
paper's numbers) and `symmetry_figures`; the wording of paired comparisons is shared with
`features` (`comparisons`).

Example:
  >>> from tiedae.bench.suites import symmetry
  >>> from tiedae.report import stats
  >>> symmetry.relation(stats.paired([1.0, 1.1, 1.2], [2.0, 2.2, 2.1]), "test error")
  'a lower test error'
  >>> symmetry.reach_verdict([100.0, None, None], [50.0, 60.0, 70.0])  # None: never reached
  'higher'
"""

from __future__ import annotations

from tiedae.bench.suite import Suite
from tiedae.bench.suites import mlp_checks
from tiedae.bench.suites.comparisons import (
    DASH,
    difference_tex,
    difference_text,
    holm_family,
    paired_cells,
    reach_cell,
    reach_verdict,
    reached,
    relation,
)
from tiedae.bench.suites.symmetry_figures import draw_codes2d, draw_curves, draw_reconstructions
from tiedae.bench.suites.symmetry_findings import (
    check_findings,
    decoder_findings,
    encoder_findings,
    numbers,
    theorem_findings,
)
from tiedae.bench.suites.symmetry_runs import (
    COLORS,
    DECODERS,
    ENCODERS,
    LABELS,
    QUICK_SKIPS,
    SEEDS,
    K,
    configs,
    encoder_widths,
    run,
)
from tiedae.bench.suites.symmetry_tables import tables
from tiedae.bench.suites.symmetry_verdicts import (
    HEAVY,
    PAIRED,
    TARGET_MARGIN,
    eckart_young,
    reaching,
    simplicity_verdict,
    target_level,
    variant_groups,
    versus,
    versus_mirror,
    wide_verdict,
    with_target,
)
from tiedae.report.analysis import Analysis, Figure

__all__ = ["COLORS", "DASH", "DECODERS", "ENCODERS", "HEAVY", "K", "LABELS", "PAIRED",
           "QUICK_SKIPS", "SEEDS", "SUITE", "TARGET_MARGIN", "analyze", "configs",
           "difference_tex", "difference_text", "draw_codes2d", "draw_curves",
           "draw_reconstructions", "encoder_widths", "holm_family", "paired_cells", "reach_cell",
           "reach_verdict", "reached", "relation", "run", "simplicity_verdict", "target_level",
           "versus", "wide_verdict", "with_target"]


def analyze(records: list[dict]) -> Analysis:
    """Tables, findings, paper numbers and figures of the suite's records (module docstring)."""
    everything = records
    records, failed = mlp_checks.split(records)
    groups = with_target(variant_groups(records))
    vs = versus_mirror(groups)
    reach = reaching(groups, vs)
    ey = eckart_young(groups)
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
    return Analysis(tables=tables(groups, vs, failed),
                    findings=check_findings(everything, failed)
                    + decoder_findings(groups, vs, ey, simple)
                    + theorem_findings(groups) + encoder_findings(groups, vs, reach),
                    numbers=numbers(records, groups, vs, reach, ey, simple), figures=figures)


SUITE = Suite(
    name="symmetry",
    description="post 000's 2-D MLP autoencoder: mirror / tied / shallow / linear decoders, "
                "how affine each code is, and the wide-encoder claim (posts 000, 001)",
    configs=configs, run=run, analyze=analyze,
)
