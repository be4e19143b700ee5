r"""Whether an MLP autoencoder run trained: convergence, code health and the known optimum.

A comparison between trained models means something only when each model trained. Three
checks, recorded per run by `tiedae.bench.suites.mlp_training` and used by the `symmetry` and
`features` analyses to leave failed runs out of every comparison (and to count them):

* **converged**: the validation loss v (logged every `log_every` steps) improved by less than
  `CONVERGENCE_TOLERANCE` = 1 % over the last fifth of the steps,
  (v(0.8 T) - v(T)) / v(0.8 T) < 0.01, with each end the mean of the last 5 % of the points
  up to it (`late_change`), under the run's step cap T;
* **full-rank code**: the numerical rank of the centred codes of held-out images (singular
  values above 1e-3 times the largest) equals the code size k (`code_rank`); units of a ReLU
  layer that are never active on the held-out images are *dead* (`dead_units`);
* **optimum reached** (only for a model whose decoder is linear, x_hat = z F + c): its outputs
  span a k-dim affine subspace, so by Eckart-Young its training error is at least PCA's with k
  components, E_PCA(k) = sum_{i>k} lambda_i; the bound is reachable (an encoder can produce
  PCA's code), so a run whose training error exceeds (1 + 0.02) E_PCA(k) is an optimisation
  failure (`reaches_optimum`; None for other decoders, whose optimum is unknown).

`passed(final)` is the conjunction (a missing check, e.g. in a record written before the
checks existed, counts as passed; a recorded failure does not).

References:
  Eckart, C. & Young, G. (1936). The approximation of one matrix by another of lower rank.
  Psychometrika 1(3), 211-218.

Example:
  >>> from tiedae.bench.suites import mlp_checks
  >>> mlp_checks.converged([10.0] * 80 + [9.99] * 20)
  True
  >>> mlp_checks.converged([10.0 - 0.1 * i for i in range(100)])  # still falling
  False
  >>> mlp_checks.reaches_optimum(20.3, 20.0, "linear"), mlp_checks.reaches_optimum(
  ...     21.0, 20.0, "linear"), mlp_checks.reaches_optimum(21.0, 20.0, "mirror")
  (True, False, None)
  >>> mlp_checks.failures({"converged": True, "code_rank": 1, "code_dim": 2})
  ['code rank 1 < 2']
  >>> ok, failed = mlp_checks.split([
  ...     {"run_id": "a", "config": {"code_dim": 2}, "final": {"converged": True, "code_rank": 2}},
  ...     {"run_id": "b", "config": {"code_dim": 2}, "final": {"converged": False}},
  ...     {"run_id": "pca", "config": {"code_dim": 2}, "final": {"test_error": 1.0}}])
  >>> [r["run_id"] for r in ok], [r["run_id"] for r in failed]
  (['a', 'pca'], ['b'])
"""

from __future__ import annotations

import math

import numpy as np

CONVERGENCE_FRACTION = 0.2  # the last fifth of the steps
CONVERGENCE_TOLERANCE = 0.01  # improved by less than 1 % over it
OPTIMUM_TOLERANCE = 0.02  # a linear decoder within 2 % of PCA's training error
RANK_RTOL = 1e-3


def late_change(values, fraction: float = CONVERGENCE_FRACTION) -> float:
    """Relative change of a logged curve over the last `fraction` of training: the mean of
    its last 5 % of points against the mean of the 5 % that end at (1 - fraction) of the run
    (a flat curve gives about 0; negative: still falling). nan for fewer than 10 points."""
    v = np.asarray(values, float)
    if len(v) < 10:
        return float("nan")
    w = max(1, len(v) // 20)
    cut = int(round((1 - fraction) * len(v)))
    end, before = v[-w:].mean(), v[max(cut - w, 0):cut].mean()
    return float((end - before) / before)


def converged(values, fraction: float = CONVERGENCE_FRACTION,
              tolerance: float = CONVERGENCE_TOLERANCE) -> bool:
    """Whether a logged validation-loss curve improved by less than `tolerance` (relative)
    over its last `fraction` of steps (`late_change` > -tolerance); False for a curve too short
    to tell or with non-finite values."""
    change = late_change(values, fraction)
    return bool(math.isfinite(change) and change > -tolerance)


def code_rank(z, rtol: float = RANK_RTOL) -> int:
    """Numerical rank of the centred codes: singular values above rtol times the largest (a
    code whose encoder lost most of its ReLUs spans fewer directions than its size)."""
    zc = np.asarray(z, np.float64) - np.mean(z, axis=0)
    s = np.linalg.svd(zc, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def dead_units(hidden) -> list[int]:
    """Per hidden ReLU layer (a list of (n, width) activations on held-out rows), the number of
    units that are zero on every row."""
    return [int(np.sum(np.max(np.asarray(h), axis=0) <= 0)) for h in hidden]


def reaches_optimum(train_error: float, pca_train_error: float, decoder,
                    tolerance: float = OPTIMUM_TOLERANCE) -> bool | None:
    """For a linear decoder: whether its training error is within `tolerance` (relative) of
    PCA's with as many components (the Eckart-Young optimum); None for any other decoder."""
    if decoder != "linear":
        return None
    return bool(float(train_error) <= (1 + tolerance) * float(pca_train_error))


def failures(final: dict) -> list[str]:
    """Why a run failed its checks (empty: passed, or the record predates the checks). Reads
    `converged`, `code_rank` against `code_dim` and `reaches_optimum` from `final` (the code
    size may be given there as `code_dim`)."""
    out = []
    if final.get("converged") is False:
        out.append("not converged")
    k, rank = final.get("code_dim"), final.get("code_rank")
    if final.get("code_full_rank") is False or (k is not None and rank is not None
                                                 and rank < k):
        out.append(f"code rank {rank} < {k}")
    if final.get("reaches_optimum") is False:
        out.append("misses PCA's training error by > 2 %")
    return out


def record_failures(record: dict) -> list[str]:
    """`failures` of a record. A record written before the checks existed is checked as far as
    it allows: its code rank against its code size, and a linear decoder's training error
    against PCA's (its convergence was not recorded); a reference run (PCA, pixels: no code
    rank recorded) has none."""
    final = {**record.get("final", {}), "code_dim": record.get("config", {}).get("code_dim")}
    if "converged" not in final:
        if "code_rank" not in final:
            final.pop("code_dim")
        if ("reaches_optimum" not in final and final.get("train_error") is not None
                and final.get("pca_train_error") is not None):
            final["reaches_optimum"] = reaches_optimum(
                final["train_error"], final["pca_train_error"],
                record.get("config", {}).get("decoder"))
    return failures(final)


def passed(record: dict) -> bool:
    """Whether a trained run's record passed every check it allows (`record_failures`)."""
    return not record_failures(record)


def split(records) -> tuple[list[dict], list[dict]]:
    """(records that passed, trained runs that failed their checks): the analyses compare the
    first and count and name the second."""
    ok, failed = [], []
    for rec in records:
        (ok if passed(rec) else failed).append(rec)
    return ok, failed


def failure_text(failed, label=lambda rec: rec.get("run_id", "?")) -> str:
    """One sentence naming the runs that failed their checks and why ('' when none)."""
    if not failed:
        return ""
    parts = []
    for rec in failed:
        parts.append(f"{label(rec)} ({', '.join(record_failures(rec))})")
    return (f"{len(failed)} trained run(s) failed the training checks (converged, full-rank "
            f"code, a linear decoder within 2 % of PCA's training error) and are left out of "
            f"every comparison: " + "; ".join(parts) + ".")


def check_findings(trained, failed) -> list[str]:
    """Findings: how many of the trained runs passed their checks, and `failure_text` of the
    failed ones (for records written before the checks existed, the checks they allow)."""
    if not trained:
        return []
    recorded = all("converged" in r.get("final", {}) for r in trained)
    checks = ("converged, full-rank code, linear decoder within 2 % of PCA's training error"
              if recorded else "full-rank code, linear decoder within 2 % of PCA's training "
              "error; these records predate the convergence check")
    text = (f"training checks: {len(trained) - len(failed)} of {len(trained)} trained runs "
            f"passed ({checks}).")
    return [text] + ([failure_text(failed)] if failed else [])
