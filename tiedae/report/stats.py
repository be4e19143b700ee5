r"""Statistics over seeds for the suites' tables and findings.

Every experiment is repeated over seeds, one record per seed. Summaries report

* `interval(values)`: the mean with a two-sided 95% Student-t confidence interval (and the
  standard error), for independent seeds;
* `paired(a, b)`: the mean of the per-seed differences a_i - b_i of two configurations run with
  the same seeds (same data split, same initial draws where the models allow), its 95% t
  interval and the paired t-test's p-value. When the interval contains 0 the verdict is "no
  measurable difference": a finding never names a winner inside the noise;
* `median_iqr(values)`: median and interquartile range, for skewed quantities such as
  iterations to a threshold (with "never reached" runs counted as +inf).

References:
  Student (1908). The probable error of a mean. Biometrika 6(1), 1-25.

Example:
  >>> from tiedae.report import stats
  >>> r = stats.paired([1.0, 1.2, 0.9, 1.1, 1.0], [1.5, 1.6, 1.4, 1.7, 1.5])
  >>> r.verdict, round(r.mean, 2)
  ('lower', -0.5)
  >>> stats.paired([1.0, 1.2, 0.9], [1.1, 1.0, 1.0]).verdict
  'no measurable difference'
  >>> stats.median_iqr([50.0, 50.0, None, None, None])
  (inf, 50.0, inf)
  >>> stats.median_iqr([1.0, 2.0, 3.0, 4.0])
  (2.5, 1.75, 3.25)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import scipy.stats

__all__ = ["Interval", "Paired", "interval", "median_iqr", "paired"]

LEVEL = 0.95


def _finite(values) -> np.ndarray:
    """The values as floats, without None (a non-finite number stored as null) and NaN."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return arr[~np.isnan(arr)]


@dataclasses.dataclass(frozen=True)
class Interval:
    """Mean of n values with its standard error and two-sided t interval [lo, hi]."""

    mean: float
    se: float
    lo: float
    hi: float
    n: int


def interval(values: Sequence, level: float = LEVEL) -> Interval:
    """Mean and Student-t confidence interval of independent values (None/NaN dropped).

    With one value the interval is the value itself (se = nan); with none everything is nan.
    """
    x = _finite(values)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, math.nan, mean, mean, 1)
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    half = float(scipy.stats.t.ppf(0.5 + level / 2, x.size - 1)) * se
    return Interval(mean, se, mean - half, mean + half, int(x.size))


@dataclasses.dataclass(frozen=True)
class Paired:
    """Paired comparison a - b over seeds.

    Attributes:
      mean, lo, hi: mean difference and its t interval.
      p_value: two-sided paired t-test (nan for fewer than 2 pairs or zero spread).
      n: number of pairs.
      verdict: "lower" (a < b: hi < 0), "higher" (lo > 0) or "no measurable difference".
    """

    mean: float
    lo: float
    hi: float
    p_value: float
    n: int
    verdict: str


def paired(a: Sequence, b: Sequence, level: float = LEVEL) -> Paired:
    """Compares a and b measured on the same seeds (a[i] with b[i]); pairs with a missing or
    non-finite value are dropped. Raises ValueError when the sequences differ in length."""
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs as many values in a as in b; got {len(a)} "
                         f"and {len(b)}")
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and math.isfinite(float(x))
             and math.isfinite(float(y))]
    diff = np.array([x - y for x, y in pairs], dtype=float)
    ci = interval(diff, level)
    p = math.nan
    if diff.size >= 2 and diff.std(ddof=1) > 0:
        p = float(scipy.stats.ttest_rel([x for x, _ in pairs], [y for _, y in pairs]).pvalue)
    elif diff.size >= 2:  # identical differences: no spread, the sign is the verdict
        p = 0.0 if diff[0] != 0 else 1.0
        ci = Interval(ci.mean, 0.0, ci.mean, ci.mean, ci.n)
    if ci.n < 2 or not (ci.hi < 0 or ci.lo > 0):
        verdict = "no measurable difference"
    else:
        verdict = "lower" if ci.hi < 0 else "higher"
    return Paired(ci.mean, ci.lo, ci.hi, p, ci.n, verdict)


def median_iqr(values: Sequence) -> tuple[float, float, float]:
    """(median, 25th, 75th percentile); None counts as +inf (never reached)."""
    x = np.array([math.inf if v is None else float(v) for v in values], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    x = np.sort(x)

    def quantile(p: float) -> float:  # numpy's "linear" method, with inf beyond a never-reached
        pos = p * (x.size - 1)
        lo, frac = int(math.floor(pos)), pos - math.floor(pos)
        if frac == 0:
            return float(x[lo])
        return float(x[lo] + frac * (x[lo + 1] - x[lo])) if math.isfinite(x[lo + 1]) else math.inf

    q25, med, q75 = quantile(0.25), quantile(0.5), quantile(0.75)
    return float(med), float(q25), float(q75)
