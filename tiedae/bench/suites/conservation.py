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

Modules: `conservation_runs` (the configurations and the two kinds of run),
`conservation_analysis` (tables, findings, the paper's numbers) and `conservation_figure`.

Example:
  >>> from tiedae.bench.suites import conservation
  >>> conservation.THEORY  # the drift exponent p per optimizer
  {'gd': 2, 'momentum': 2, 'adam': 1}
"""

from __future__ import annotations

from tiedae.bench.suite import Suite
from tiedae.bench.suites.conservation_analysis import (
    decay_numbers,
    decay_table,
    drift_findings,
    drift_table,
    numbers,
    slope_key,
)
from tiedae.bench.suites.conservation_figure import draw
from tiedae.bench.suites.conservation_runs import (
    INITS,
    MOMENTUM,
    OPTIMIZERS,
    SMALL,
    SPIKED,
    THEORY,
    TRAINED_LR,
    configs,
    run,
)
from tiedae.report import Analysis, Figure, query, stats

__all__ = ["INITS", "MOMENTUM", "OPTIMIZERS", "SMALL", "SPIKED", "SUITE", "THEORY", "TRAINED_LR",
           "analyze", "configs", "run", "slope_key"]


def analyze(records: list[dict]) -> Analysis:
    """Drift exponents per tie, optimizer and initialisation (table `conservation`), the
    untied imbalance's decay, the findings, the paper's numbers and the figure."""
    drift, decay = query.select(records, kind="drift"), query.select(records, kind="decay")
    findings, slopes = [], {}
    for (dec, opt), recs in query.group(drift, "decoder", "optimizer").items():
        key = slope_key(recs)
        slopes[dec, opt] = query.final(recs, key)
        findings += drift_findings(dec, opt, recs, stats.interval(slopes[dec, opt]), key)
    decay_macros, decay_findings = decay_numbers(decay)
    return Analysis(
        tables=[drift_table(drift),
                decay_table(query.group(decay, "lambda_over_lambda1"))],
        findings=findings + decay_findings,
        numbers=numbers(drift, slopes, decay_macros),
        figures=[Figure("conservation", "Drift of WW^T against the step size (pseudo-inverse "
                        "tie), its local log-log slope, and the untied imbalance against steps.",
                        lambda: draw(records))],
    )


SUITE = Suite(
    name="conservation",
    description="invariants: pinv/right_inverse keep WW^T (drift ~ eta^2 with GD and momentum, "
                "~ eta with Adam; from below and above I); untied WW^T - V^TV conserved, decays "
                "like exp(-4 lam eta t) with L2",
    configs=configs, run=run, analyze=analyze,
)
