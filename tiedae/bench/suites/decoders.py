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

Modules: `decoders_runs` (the configurations and one run), `decoders_settings` (the records by
setting, times to the target and paired comparisons), `decoders_text` (tables, findings, the
paper's numbers) and `decoders_figures`.

Example:
  >>> from tiedae.bench.suites import decoders
  >>> decoders.SUITE.name, decoders.DECODERS
  ('decoders', ('transpose', 'pinv', 'right_inverse', 'untied'))
"""

from __future__ import annotations

from tiedae.bench.suite import Suite
from tiedae.bench.suites.decoders_figures import decoder_panels, draw_curves, draw_sv
from tiedae.bench.suites.decoders_runs import (
    DECODERS,
    OPTIMIZERS,
    SUBSPACE_TARGET,
    SV_EVERY,
    UNTIED_V0_CAP,
    cap_untied_decoder,
    configs,
    run,
)
from tiedae.bench.suites.decoders_settings import (
    Setting,
    headline,
    median_iqr_text,
    paired_to_target,
    settings,
    to_target,
    wide_setting,
)
from tiedae.bench.suites.decoders_text import metrics_table, numbers, setting_findings, time_table
from tiedae.report import Analysis, Figure

__all__ = ["DECODERS", "OPTIMIZERS", "SUBSPACE_TARGET", "SUITE", "SV_EVERY", "UNTIED_V0_CAP",
           "Setting", "analyze", "cap_untied_decoder", "configs", "decoder_panels", "headline",
           "median_iqr_text", "paired_to_target", "run", "settings", "to_target",
           "wide_setting"]


def analyze(records: list[dict]) -> Analysis:
    """The decoders' tables (time to the subspace, paired against the transpose decoder; the
    final metrics), findings, the paper's numbers and the two figures."""
    groups = settings(records)
    findings = [line for g in groups.values() if set(DECODERS) <= set(g.runs)
                for line in setting_findings(g)]
    return Analysis(
        tables=[time_table(groups), metrics_table(groups)],
        findings=findings,
        numbers=numbers(groups, records),
        figures=[
            Figure("decoders_curves", "Relative loss gap, ||WW^T - I||_F and subspace distance "
                   "against steps, one line per decoder (median and range over seeds).",
                   lambda: draw_curves(records)),
            Figure("decoders_sv", "Singular values of W against steps under the transpose and "
                   "pseudo-inverse ties (first seed), on the widest real-image setting.",
                   lambda: draw_sv(records)),
        ],
    )


SUITE = Suite(
    name="decoders",
    description="transpose vs pinv vs right_inverse vs untied: loss gap, ||WW^T-I||, singular "
                "values of W, steps and seconds to the principal subspace",
    configs=configs, run=run, analyze=analyze,
)
