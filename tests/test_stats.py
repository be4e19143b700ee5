"""Multiple comparisons, rank tests and equivalence in `tiedae.report.stats`."""

import math

import numpy as np
import pytest
import scipy.stats

from tiedae.report import stats


def _paired(p, mean=-1.0):
    return stats.Paired(mean, mean - 1, mean + 0.5, p, 6, "lower" if p < 0.05 else
                        stats.NO_DIFFERENCE)


def test_holm_adjusts_step_down_and_keeps_the_shape():
    ps = [0.01, 0.04, 0.03, 0.005]
    out = stats.holm([_paired(p) for p in ps])
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    np.testing.assert_allclose([c.p_adjusted for c in out], [0.03, 0.06, 0.06, 0.02])
    assert [c.verdict for c in out] == ["lower", stats.NO_DIFFERENCE, stats.NO_DIFFERENCE,
                                        "lower"]
    assert {c.family for c in out} == {4}
    mapping = stats.holm({"a": _paired(0.01, mean=2.0), "b": _paired(math.nan)})
    assert list(mapping) == ["a", "b"]
    assert mapping["a"].verdict == "higher" and mapping["a"].family == 1  # nan not counted
    assert mapping["b"].verdict == stats.NO_DIFFERENCE and math.isnan(mapping["b"].p_adjusted)
    assert mapping["a"].lo == _paired(0.01, mean=2.0).lo  # intervals untouched


def test_holm_rejects_what_is_not_a_comparison():
    with pytest.raises(TypeError, match="Paired or SignedRank"):
        stats.holm([0.01, 0.02])


def test_holm_keeps_familywise_error_under_five_percent():
    rng = np.random.default_rng(0)
    false = 0
    for _ in range(400):
        family = [stats.paired(rng.normal(size=8), rng.normal(size=8)) for _ in range(6)]
        false += any(c.verdict != stats.NO_DIFFERENCE for c in stats.holm(family))
    assert false / 400 < 0.08  # 0.05 plus Monte-Carlo slack (sd 0.011)


def test_signed_rank_matches_scipy_and_the_walsh_median():
    rng = np.random.default_rng(1)
    a, b = rng.standard_t(2, size=9) + 0.5, rng.normal(size=9)
    r = stats.signed_rank(a, b)
    d = a - b
    walsh = [(d[i] + d[j]) / 2 for i in range(9) for j in range(i, 9)]
    assert r.median == pytest.approx(np.median(walsh), abs=1e-12)
    assert r.p_value == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)
    assert r.lo <= r.median <= r.hi and r.n == 9


@pytest.mark.parametrize("n", [6, 7, 10, 15])
def test_signed_rank_interval_has_its_coverage(n):
    # exact coverage of [W_(c), W_(M+1-c)] is 1 - 2 P(W+ <= c - 1) under the null
    null = stats._signed_rank_null(n)
    assert null.sum() == pytest.approx(1.0) and len(null) == n * (n + 1) // 2 + 1
    cdf = np.cumsum(null)
    c = int(np.sum(cdf <= 0.025))
    assert c >= 1 and 1 - 2 * cdf[c - 1] >= 0.95 and 1 - 2 * cdf[c] < 0.95
    d = np.arange(1.0, n + 1)
    r = stats.signed_rank(d, np.zeros(n))
    walsh = np.sort([(d[i] + d[j]) / 2 for i in range(n) for j in range(i, n)])
    assert (r.lo, r.hi) == (walsh[c - 1], walsh[-c])


def test_signed_rank_needs_six_pairs_at_five_percent():
    five = stats.signed_rank([2.0, 3.0, 4.0, 5.0, 6.0], [0.0] * 5)
    assert five.p_value == pytest.approx(0.0625) and five.verdict == stats.NO_DIFFERENCE
    assert (five.lo, five.hi) == (-math.inf, math.inf)
    six = stats.signed_rank([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [0.0] * 6)
    assert six.p_value == pytest.approx(2 / 64) and six.verdict == "higher"
    assert stats.signed_rank([], []).n == 0


def test_equivalence_is_two_one_sided_t_tests():
    a = np.array([1.0, 1.1, 0.9, 1.0, 1.05, 0.97])
    b = np.ones(6)
    r = stats.equivalence(a, b, 0.1)
    d = a - b
    se = d.std(ddof=1) / math.sqrt(6)
    t_low, t_high = (d.mean() + 0.1) / se, (d.mean() - 0.1) / se
    expected = max(scipy.stats.t.sf(t_low, 5), scipy.stats.t.cdf(t_high, 5))
    assert r.p_value == pytest.approx(expected, rel=1e-10)
    half = scipy.stats.t.ppf(0.95, 5) * se
    assert (r.lo, r.hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert r.verdict == ("equivalent" if -0.1 < r.lo and r.hi < 0.1 else "not shown equivalent")
    assert stats.equivalence(a, b, 0.01).verdict == "not shown equivalent"


@pytest.mark.parametrize("margin", [0, -1.0, math.inf, "0.1", math.nan])
def test_equivalence_refuses_a_bad_margin(margin):
    with pytest.raises(ValueError, match="margin"):
        stats.equivalence([1.0, 2.0], [1.0, 2.0], margin)


def test_paired_comparisons_refuse_unequal_lengths():
    for compare in (stats.paired, stats.signed_rank):
        with pytest.raises(ValueError, match="as many values"):
            compare([1.0, 2.0], [1.0])


@pytest.mark.parametrize("n", [5, 6, 8])
def test_smallest_p_is_the_exact_tests_p_when_every_difference_has_one_sign(n):
    r = stats.signed_rank(np.arange(1.0, n + 1), np.zeros(n))
    assert r.p_value == pytest.approx(r.smallest_p, rel=1e-12)
    assert r.smallest_p == 2.0 / 2**n


def test_a_rank_comparison_that_holm_can_never_pass_is_flagged():
    one_sided = stats.signed_rank(np.arange(1.0, 8.0), np.zeros(7))  # p = 1/64, the smallest
    assert stats.can_reach(one_sided) and one_sided.verdict == "higher"
    family = stats.holm([one_sided] * 3)  # 3 x 1/64 < 0.05: can still pass
    assert stats.can_reach(family[0]) and family[0].verdict == "higher"
    family = stats.holm([one_sided] * 3 + [stats.paired([1.0, 2.0, 3.0], [0.0, 0.0, 0.5])])
    assert not stats.can_reach(family[0]) and family[0].verdict == "no measurable difference"
    assert stats.can_reach(family[3])  # a t-test has no floor on its p-value


def test_reachability_follows_holms_step_down_not_its_first_step():
    """A rank comparison ranked after smaller t-test p-values is multiplied by less than m:
    with p = 1/32 among 14 tiny t-test p-values it passes, and so is reachable."""
    rank = stats.signed_rank(np.arange(1.0, 7.0), np.zeros(6))
    tiny = stats.paired(np.arange(1.0, 11.0), np.zeros(10))
    family = stats.holm([rank] + [tiny] * 14)
    assert family[0].verdict == "higher" and stats.can_reach(family[0])
    # alone among 15 equal rank tests, the same comparison could never pass
    assert not stats.can_reach(stats.holm([rank] * 15)[0])


def test_zero_differences_raise_the_smallest_p():
    """The test drops zero differences: 5 non-zero of 6 pairs give at best 2/2^5 = 0.0625."""
    r = stats.signed_rank([1.0, 2.0, 3.0, 4.0, 5.0, 0.0], [0.0] * 6)
    assert r.nonzero == 5 and r.smallest_p == 0.0625 == pytest.approx(r.p_value)
    assert not stats.can_reach(r) and r.verdict == "no measurable difference"
