r"""Statistics over seeds for the suites' tables and findings.

Every experiment is repeated over seeds, one record per seed. Summaries report

* `interval(values)`: the mean with a two-sided 95% Student-t confidence interval (and the
  standard error), for independent seeds;
* `paired(a, b)`: the mean of the per-seed differences a_i - b_i of two configurations run with
  the same seeds (same data split, same initial draws where the models allow), its 95% t
  interval and the paired t-test's p-value. When the interval contains 0 the verdict is "no
  measurable difference": a finding never names a winner inside the noise;
* `median_iqr(values)`: median and interquartile range, for skewed quantities such as
  iterations to a threshold (with "never reached" runs counted as +inf);
* `signed_rank(a, b)`: for heavy-tailed paired statistics (R², ratios), the Hodges-Lehmann
  median of the differences, its distribution-free interval and Wilcoxon's signed-rank p-value.
  With n pairs the smallest two-sided p-value is 2 / 2^n: 5 seeds can never reach p < 0.05
  (0.0625), 6 can (0.031);
* `holm(comparisons)`: Holm's step-down correction over the m tested comparisons of one table,
  which keeps the chance of any false "lower"/"higher" in the table at or below 5%: the i-th
  smallest p-value is multiplied by m - i + 1 (made monotone, capped at 1), and a comparison
  keeps its direction only when its adjusted p-value is below 0.05;
* `equivalence(a, b, margin)`: two one-sided paired t-tests (TOST) against a margin fixed before
  the run: "equivalent" when the (1 - 2·0.05) interval of the mean difference lies inside
  (-margin, +margin). Without a margin a finding says "no measurable difference" with its
  interval, never "equal".

References:
  Student (1908). The probable error of a mean. Biometrika 6(1), 1-25.

  Wilcoxon (1945). Individual comparisons by ranking methods. Biometrics Bulletin 1(6), 80-83.

  Hodges & Lehmann (1963). Estimates of location based on rank tests. Ann. Math. Statist.
  34(2), 598-611.

  Holm (1979). A simple sequentially rejective multiple test procedure. Scand. J. Statist.
  6(2), 65-70.

  Schuirmann (1987). A comparison of the two one-sided tests procedure and the power approach
  for assessing the equivalence of average bioavailability. J. Pharmacokin. Biopharm. 15(6),
  657-680.

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
  >>> [r.verdict for r in stats.holm([stats.Paired(-1.0, -2.0, -0.1, 0.03, 6, "lower"),
  ...                                  stats.Paired(-1.0, -2.0, -0.1, 0.04, 6, "lower")])]
  ['no measurable difference', 'no measurable difference']
  >>> stats.equivalence([1.0, 1.1, 0.9, 1.0, 1.05], [1.0, 1.0, 1.0, 1.0, 1.0], 0.2).verdict
  'equivalent'
  >>> r = stats.signed_rank([3.0, 2.0, 4.0, 5.0, 9.0, 2.5], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
  >>> r.verdict, r.median, round(r.p_value, 4)
  ('higher', 2.75, 0.0312)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import scipy.stats

__all__ = ["Equivalence", "Interval", "Paired", "SignedRank", "can_reach", "equivalence", "holm",
           "interval", "median_iqr", "paired", "signed_rank"]

LEVEL = 0.95
ALPHA = 1 - LEVEL
NO_DIFFERENCE = "no measurable difference"


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
      verdict: "lower" (a < b: hi < 0), "higher" (lo > 0) or "no measurable difference";
        after `holm`, from the adjusted p-value.
      p_adjusted: Holm's adjusted p-value within its table (nan: not adjusted).
      family: the number of tested comparisons it was adjusted over (1: not adjusted).
    """

    mean: float
    lo: float
    hi: float
    p_value: float
    n: int
    verdict: str
    p_adjusted: float = math.nan
    family: int = 1

    @property
    def estimate(self) -> float:
        return self.mean


def paired(a: Sequence, b: Sequence, level: float = LEVEL) -> Paired:
    """Compares a and b measured on the same seeds (a[i] with b[i]); pairs with a missing or
    non-finite value are dropped. Raises ValueError when the sequences differ in length."""
    x, y = _pairs(a, b)
    diff = x - y
    ci = interval(diff, level)
    p = math.nan
    if diff.size >= 2 and diff.std(ddof=1) > 0:
        p = float(scipy.stats.ttest_rel(x, y).pvalue)
    elif diff.size >= 2:  # identical differences: no spread, the sign is the verdict
        p = 0.0 if diff[0] != 0 else 1.0
        ci = Interval(ci.mean, 0.0, ci.mean, ci.mean, ci.n)
    if ci.n < 2 or not (ci.hi < 0 or ci.lo > 0):
        verdict = NO_DIFFERENCE
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


@dataclasses.dataclass(frozen=True)
class SignedRank:
    """Paired comparison a - b over seeds by ranks (for heavy-tailed statistics).

    Attributes:
      median, lo, hi: Hodges-Lehmann estimate (the median of the Walsh averages
        (d_i + d_j) / 2, i <= j) and its distribution-free interval, whose coverage is at least
        the level (exact for continuous differences).
      p_value: two-sided Wilcoxon signed-rank test (exact for n <= 50 without ties).
      n: number of pairs; verdict, p_adjusted, family: as in `Paired`.
      nonzero: the pairs with a non-zero difference, which the test uses (None: n).
      reachable: after `holm`, whether this comparison could have passed the correction had
        every pair agreed in sign (its p-value at `smallest_p`, the table's other p-values as
        they are); False means too few seeds for the rank test, not evidence of no effect.
    """

    median: float
    lo: float
    hi: float
    p_value: float
    n: int
    verdict: str
    p_adjusted: float = math.nan
    family: int = 1
    nonzero: int | None = None
    reachable: bool = True

    @property
    def estimate(self) -> float:
        return self.median

    @property
    def smallest_p(self) -> float:
        """The smallest two-sided p-value the exact test can give: 2 / 2^m for its m pairs with
        a non-zero difference (all of one sign). With 5 pairs it is 0.0625, so 5 seeds can
        never give p < 0.05."""
        m = self.n if self.nonzero is None else self.nonzero
        return 2.0 * 0.5**m if m > 0 else math.nan


def can_reach(comparison, alpha: float = ALPHA) -> bool:
    """Whether `comparison` could have been called a difference: False only for a signed-rank
    comparison that no data on its pairs could have made pass (alone: `smallest_p` >= alpha;
    after `holm`: its adjusted p-value >= alpha even at `smallest_p`, see
    `SignedRank.reachable`); True for every other comparison (a t-test has no floor).

    Example:
      >>> r = signed_rank([1.0] * 6, [0.0] * 6)  # p = 2/2^6, the smallest for 6 pairs
      >>> can_reach(r), can_reach(holm([r] * 15)[0])  # 15 x 1/32 = 0.47 for the first
      (True, False)
    """
    if not isinstance(comparison, SignedRank) or not comparison.smallest_p > 0:
        return True  # not a rank test, or no non-zero difference: nothing it missed
    return comparison.reachable and comparison.smallest_p < alpha


def _pairs(a: Sequence, b: Sequence) -> tuple[np.ndarray, np.ndarray]:
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs as many values in a as in b; got {len(a)} "
                         f"and {len(b)}")
    keep = [(float(x), float(y)) for x, y in zip(a, b, strict=True)
            if x is not None and y is not None and math.isfinite(float(x))
            and math.isfinite(float(y))]
    arr = np.array(keep, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _signed_rank_null(n: int) -> np.ndarray:
    """P(W+ = w), w = 0..n(n+1)/2, of the signed-rank statistic under the null (no ties)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts / 2.0**n


def signed_rank(a: Sequence, b: Sequence, level: float = LEVEL) -> SignedRank:
    """Compares a and b measured on the same seeds by Wilcoxon's signed-rank test.

    Pairs with a missing or non-finite value are dropped; zero differences count in the
    estimate and are dropped by the test (scipy's default, "wilcox"). The interval is the
    Hodges-Lehmann one: with W the sorted Walsh averages, M = n(n+1)/2 and c the largest count
    with P(W+ <= c - 1) <= (1 - level) / 2 under the null, [W_(c), W_(M+1-c)] (1-based). When
    no such c exists (n <= 5 at 95%: even the whole range of W covers only 1 - 2/2^n) the
    interval is (-inf, inf).

    Raises:
      ValueError: a and b differ in length.
    """
    x, y = _pairs(a, b)
    d = x - y
    n = int(d.size)
    if n == 0:
        return SignedRank(math.nan, math.nan, math.nan, math.nan, 0, NO_DIFFERENCE)
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2.0)
    estimate = float(np.median(walsh))
    cdf = np.cumsum(_signed_rank_null(n))
    c = int(np.sum(cdf <= (1.0 - level) / 2.0))  # P(W+ <= c - 1) <= (1 - level) / 2
    lo, hi = (float(walsh[c - 1]), float(walsh[-c])) if c > 0 else (-math.inf, math.inf)
    p = math.nan
    if np.any(d != 0):
        p = float(scipy.stats.wilcoxon(d).pvalue)
    verdict = NO_DIFFERENCE
    if p < ALPHA:
        verdict = "lower" if estimate < 0 else "higher"
    return SignedRank(estimate, lo, hi, p, n, verdict, nonzero=int(np.count_nonzero(d)))


def holm(comparisons, alpha: float = ALPHA):
    """Holm's correction over one table's comparisons (`Paired` or `SignedRank`).

    `comparisons` is a sequence or a mapping of them; the result has the same shape, each
    comparison with `p_adjusted`, `family` (the number m of comparisons with a p-value) and a
    verdict from the adjusted p-value: "lower"/"higher" by the sign of the estimate when
    p_adjusted < alpha, else "no measurable difference". Comparisons without a p-value (fewer
    than 2 pairs) are not counted in m and keep "no measurable difference". The intervals are
    left as they were (95% each, not simultaneous).

    Raises:
      TypeError: an element is not a comparison.
    """
    keys = list(comparisons) if isinstance(comparisons, dict) else None
    items = [comparisons[k] for k in keys] if keys is not None else list(comparisons)
    for item in items:
        if not isinstance(item, (Paired, SignedRank)):
            raise TypeError(f"holm adjusts Paired or SignedRank comparisons, not "
                            f"{type(item).__name__}")
    tested = [i for i, c in enumerate(items) if math.isfinite(c.p_value)]
    m = len(tested)
    p_values = {i: items[i].p_value for i in tested}
    adjusted = _holm_adjusted(p_values)
    out = []
    for i, c in enumerate(items):
        p_adj = adjusted.get(i, math.nan)
        verdict = NO_DIFFERENCE
        if p_adj < alpha and c.estimate != 0:
            verdict = "lower" if c.estimate < 0 else "higher"
        extra = {}
        if isinstance(c, SignedRank) and i in p_values:  # at its best: every pair agreeing
            best = _holm_adjusted({**p_values, i: min(c.p_value, c.smallest_p)})[i]
            extra["reachable"] = bool(best < alpha)
        out.append(dataclasses.replace(c, p_adjusted=p_adj, family=max(m, 1), verdict=verdict,
                                       **extra))
    return dict(zip(keys, out, strict=True)) if keys is not None else out


def _holm_adjusted(p_values: dict) -> dict:
    """Holm's step-down adjusted p-values of {key: p}."""
    m, adjusted, running = len(p_values), {}, 0.0
    for rank, key in enumerate(sorted(p_values, key=p_values.get)):
        running = max(running, min(1.0, (m - rank) * p_values[key]))
        adjusted[key] = running
    return adjusted


@dataclasses.dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests of |mean(a - b)| < margin over paired seeds.

    Attributes:
      mean, lo, hi: mean difference and its (1 - 2 alpha) t interval.
      margin: the margin fixed before the run.
      p_value: the larger of the two one-sided p-values.
      n: number of pairs.
      verdict: "equivalent" (p < alpha: the interval lies inside (-margin, margin)) or
        "not shown equivalent".
    """

    mean: float
    lo: float
    hi: float
    margin: float
    p_value: float
    n: int
    verdict: str


def equivalence(a: Sequence, b: Sequence, margin: float, alpha: float = ALPHA) -> Equivalence:
    """Schuirmann's TOST for paired values: is the mean of a - b within +-margin?

    Raises:
      ValueError: margin is not a positive finite number, or a and b differ in length.
    """
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"equivalence margin must be a positive finite number, got {margin!r}")
    x, y = _pairs(a, b)
    d = x - y
    ci = interval(d, 1 - 2 * alpha)
    p = math.nan
    if d.size >= 2 and d.std(ddof=1) > 0:
        p_low = scipy.stats.ttest_1samp(d, -margin, alternative="greater").pvalue
        p_high = scipy.stats.ttest_1samp(d, margin, alternative="less").pvalue
        p = float(max(p_low, p_high))
    elif d.size >= 2:
        p = 0.0 if abs(d[0]) < margin else 1.0
        ci = Interval(ci.mean, 0.0, ci.mean, ci.mean, ci.n)
    verdict = "equivalent" if p < alpha else "not shown equivalent"
    return Equivalence(ci.mean, ci.lo, ci.hi, float(margin), p, ci.n, verdict)
