r"""LaTeX for the statistics of the linear suites: mean ± 95% t half-width, median [IQR] and
paired verdicts, in the formatting of `tiedae.paper.results`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tiedae.bench import stats
from tiedae.paper import results as R

__all__ = ["med_iqr", "pm_ci", "verdict"]


def pm_ci(values: Sequence, digits: int = 3, *, zero_below: float = 0.0) -> str:
    r"""'mean ± half-width of the 95% t interval' over seeds as LaTeX (like `R.pm`, which
    writes ± std); the value alone for one seed, 'n/a' for none, ≈0 when every value is below
    `zero_below` in magnitude."""
    iv = stats.interval(values)
    if iv.n == 0:
        return R.NA
    if zero_below > 0:
        arr = np.asarray([v for v in values if v is not None], dtype=float)
        if np.all(np.abs(arr[np.isfinite(arr)]) < zero_below):
            return r"\ensuremath{\approx0}"
    half = iv.hi - iv.mean
    if iv.n == 1 or not math.isfinite(half) or half == 0:
        return R.num(iv.mean, digits)
    if iv.mean != 0 and half < 10.0 ** (R._exponent(iv.mean) - digits):
        return R.num(iv.mean, digits)  # the spread is below the last digit shown
    if iv.mean != 0 and not 1e-2 <= abs(iv.mean) < 1e4:
        exp = R._exponent(float(f"{iv.mean:.{digits}g}"))
        scale = 10.0**exp
        return (rf"\ensuremath{{({R._plain(iv.mean / scale, digits)}\pm"
                rf"{R._plain(half / scale, 2)})\times10^{{{exp}}}}}")
    spread = R._plain(half, 2) if half >= 1e-4 else R._body(half, 2)
    return rf"\ensuremath{{{R._body(iv.mean, digits)}\pm{spread}}}"


def med_iqr(values: Sequence, digits: int = 3, never: str = "never") -> str:
    r"""'median [q25, q75]' as LaTeX; inf (not reached) is written `never`."""
    vals = [math.inf if v is None else float(v) for v in values]
    if not vals:
        return R.NA
    med, lo, hi = stats.median_iqr(vals)

    def one(x):
        return never if math.isinf(x) else R.num(x, digits)

    return f"{one(med)} [{one(lo)}, {one(hi)}]"


def verdict(a: Sequence, b: Sequence, digits: int = 2, lower: str = "lower",
            higher: str = "higher") -> str:
    r"""'<verdict> (Δ mean [lo, hi])' of a paired comparison a - b over seeds, as LaTeX."""
    r = stats.paired(a, b)
    if r.n < 2:
        return R.NA
    word = {"lower": lower, "higher": higher}.get(r.verdict, "no measurable difference")
    return (rf"{word} (difference {R.num(r.mean, digits)}, 95\,\% CI [{R.num(r.lo, digits)}, "
            rf"{R.num(r.hi, digits)}])")
