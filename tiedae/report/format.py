r"""Numbers written for people: plain text (terminal, Markdown, HTML) and LaTeX.

Text: `fmt` (3 significant digits), `mean_std` and `ci` (mean ± std or ± the half-width of the
95% t interval over seeds), `fmt_ci`. LaTeX: `num` (an ``\ensuremath`` number with powers of
ten), `pm`, `pm_ci`, `med_iqr`, `verdict`, `tex_escape`, `camel` (a macro-name part). The
statistics behind the intervals are `tiedae.report.stats`.

Example:
  >>> from tiedae.report import format as F
  >>> F.num(3.2e-6)
  '\\ensuremath{3.2\\times10^{-6}}'
  >>> F.num(0.1234), F.fmt(0.1234), F.fmt(3.2e-6)
  ('\\ensuremath{0.123}', '0.123', '3.20e-06')
  >>> F.ci([1.0, 1.2, 0.9, 1.1, 1.0])
  '1.04 ± 0.14'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from tiedae.report import stats

__all__ = ["NA", "camel", "ci", "ci_tex", "decimals", "fmt", "fmt_ci", "med_iqr", "mean_std",
           "num", "p_equals", "p_value", "paired_short", "paired_tex", "pm", "pm_ci",
           "tex_escape", "verdict"]

NA = r"\textit{n/a}"


# ---- plain text ---------------------------------------------------------------------------------


def fmt(x, digits: int = 3) -> str:
    """Compact number for tables: 3 significant digits, scientific when tiny or huge."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    return f"{x:.{max(digits - 1, 1)}e}"


def mean_std(values: Iterable, digits: int = 3) -> str:
    """'mean ± std' over seeds (just the value for one seed); None entries count as missing."""
    vals = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    vals = vals[~np.isnan(vals)]
    if vals.size == 0:
        return "-"
    if vals.size == 1:
        return fmt(vals[0], digits)
    return f"{fmt(vals.mean(), digits)} ± {fmt(vals.std(ddof=1), 2)}"


def ci(values: Sequence, digits: int = 3) -> str:
    """'mean ± half-width of the 95% t interval' over seeds; the value alone for one seed, '-'
    for none."""
    iv = stats.interval(values)
    if iv.n == 0:
        return "-"
    if iv.n == 1:
        return fmt(iv.mean, digits)
    return f"{fmt(iv.mean, digits)} ± {fmt(iv.hi - iv.mean, 2)}"


def fmt_ci(values: Sequence, digits: int = 3) -> str:
    """'mean ± half-width (n)' with the 95% t interval's half-width; the value alone for n=1."""
    iv = stats.interval(values)
    if iv.n == 0:
        return "-"
    if iv.n == 1:
        return f"{iv.mean:.{digits}g}"
    return f"{iv.mean:.{digits}g} ± {iv.hi - iv.mean:.2g} (n={iv.n})"


# ---- LaTeX --------------------------------------------------------------------------------------


def _plain(x: float, digits: int) -> str:
    """x rounded to `digits` significant digits, written without an exponent."""
    rounded = float(f"{x:.{digits}g}")
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return np.format_float_positional(rounded, trim="-")


def _exponent(x: float) -> int:
    return int(np.floor(np.log10(abs(x)))) if x != 0 else 0


def _body(x: float, digits: int) -> str:
    """LaTeX math (no \\ensuremath) for a finite float."""
    if x == 0:
        return "0"
    if 1e-2 <= abs(x) < 1e4:
        return _plain(x, digits)
    exp = _exponent(float(f"{x:.{digits}g}"))
    mantissa = _plain(x / 10.0**exp, digits)
    if mantissa in ("1", "-1"):
        return f"{'-' if x < 0 else ''}10^{{{exp}}}"
    return f"{mantissa}\\times10^{{{exp}}}"


def num(x, digits: int = 3) -> str:
    """A number as LaTeX (`\\ensuremath`): 3 significant digits, powers of ten when small/large.

    None or nan gives 'n/a'; infinities give the symbol.
    """
    if x is None:
        return NA
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return rf"\ensuremath{{{int(x)}}}" if abs(int(x)) < 10**6 else num(float(x), digits)
    x = float(x)
    if math.isnan(x):
        return NA
    if math.isinf(x):
        return r"\ensuremath{\infty}" if x > 0 else r"\ensuremath{-\infty}"
    if x.is_integer() and abs(x) < 10**6:
        return rf"\ensuremath{{{int(x)}}}"
    return rf"\ensuremath{{{_body(x, digits)}}}"


def _mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std, count) of the finite values; std is 0 for one value, nan for none."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan, math.nan, 0
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std, int(arr.size)


def pm(values: Sequence[float], digits: int = 3, *, zero_below: float = 0.0) -> str:
    """'mean ± std' over seeds as LaTeX; just the value for one seed; 'n/a' for none.

    Small or large means share one power of ten: (3.5 ± 0.4)×10^{-7}. With `zero_below` > 0,
    a set of values all smaller than it in magnitude (rounding noise) is written as ≈0.
    """
    mean, std, count = _mean_std(values)
    return _mean_pm(values, mean, std, count, digits, zero_below)


def pm_ci(values: Sequence, digits: int = 3, *, zero_below: float = 0.0) -> str:
    r"""'mean ± half-width of the 95% t interval' over seeds as LaTeX (like `pm`, which
    writes ± std); the value alone for one seed, 'n/a' for none, ≈0 when every value is below
    `zero_below` in magnitude."""
    iv = stats.interval(values)
    return _mean_pm(values, iv.mean, iv.hi - iv.mean, iv.n, digits, zero_below)


def _mean_pm(values, mean: float, spread: float, count: int, digits: int,
             zero_below: float) -> str:
    """`pm`'s and `pm_ci`'s LaTeX for a mean and its spread over `count` values."""
    if count == 0:
        return NA
    if zero_below > 0:
        arr = np.asarray([v for v in values if v is not None], dtype=float)
        if np.all(np.abs(arr[np.isfinite(arr)]) < zero_below):
            return r"\ensuremath{\approx0}"
    if count == 1 or not math.isfinite(spread) or spread == 0:
        return num(mean, digits)
    if mean != 0 and spread < 10.0 ** (_exponent(mean) - digits):
        return num(mean, digits)  # the spread is below the last digit shown
    if mean != 0 and not 1e-2 <= abs(mean) < 1e4:
        exp = _exponent(float(f"{mean:.{digits}g}"))
        scale = 10.0**exp
        return (rf"\ensuremath{{({_plain(mean / scale, digits)}\pm{_plain(spread / scale, 2)})"
                rf"\times10^{{{exp}}}}}")
    text = _plain(spread, 2) if spread >= 1e-4 else _body(spread, 2)
    return rf"\ensuremath{{{_body(mean, digits)}\pm{text}}}"


def med_iqr(values: Sequence, digits: int = 3, never: str = "never") -> str:
    r"""'median [q25, q75]' as LaTeX; inf (not reached) is written `never`."""
    vals = [math.inf if v is None else float(v) for v in values]
    if not vals:
        return NA
    med, lo, hi = stats.median_iqr(vals)

    def one(x):
        return never if math.isinf(x) else num(x, digits)

    return f"{one(med)} [{one(lo)}, {one(hi)}]"


def verdict(a: Sequence, b: Sequence, digits: int = 2, lower: str = "lower",
            higher: str = "higher") -> str:
    r"""'<verdict> (Δ mean [lo, hi])' of a paired comparison a - b over seeds, as LaTeX."""
    return paired_tex(stats.paired(a, b), digits, lower, higher)


def _word(r: stats.Paired, lower: str, higher: str) -> str:
    return {"lower": lower, "higher": higher}.get(r.verdict, "no measurable difference")


def paired_tex(r: stats.Paired, digits: int = 2, lower: str = "lower",
               higher: str = "higher") -> str:
    r"""A computed paired comparison (`stats.paired`) as LaTeX: '<verdict> (difference mean,
    95% CI [lo, hi])', the verdict worded `lower` / `higher`; 'n/a' for fewer than 2 pairs."""
    if r.n < 2:
        return NA
    return (rf"{_word(r, lower, higher)} (difference {num(r.mean, digits)}, 95\,\% CI "
            rf"[{num(r.lo, digits)}, {num(r.hi, digits)}])")


def paired_short(r: stats.Paired, digits: int = 2, lower: str = "lower",
                 higher: str = "higher") -> tuple[str, str]:
    """(text, LaTeX) '<verdict> <difference> [lo, hi]' of a paired comparison, for narrow table
    columns whose header says what the numbers are; ('n/a', NA) for fewer than 2 pairs."""
    if r.n < 2:
        return "n/a", NA
    word = _word(r, lower, higher)
    return (f"{word} {fmt(r.mean, digits)} [{fmt(r.lo, digits)}, {fmt(r.hi, digits)}]",
            rf"{word} {num(r.mean, digits)} [{num(r.lo, digits)}, {num(r.hi, digits)}]")


def p_value(p: float) -> str:
    """A p-value as text: two significant digits, '< 0.001' below that, '-' for none.

    Example:
      >>> from tiedae.report import format as F
      >>> F.p_value(0.01234), F.p_value(1e-5), F.p_value(float("nan")), F.p_value(1.0)
      ('0.012', '< 0.001', '-', '1')
    """
    if not math.isfinite(p):
        return "-"
    return "< 0.001" if p < 1e-3 else f"{p:.2g}"


def p_equals(p: float) -> str:
    """'p = 0.012', 'p < 0.001' or 'p = -' (none), for sentences."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def decimals(half: float) -> int:
    """Decimals that show a half-width to two significant digits (at least one)."""
    if not (math.isfinite(half) and half > 0):
        return 3
    return max(1, 1 - int(math.floor(math.log10(half))))


def ci_tex(values, *, signed: bool = False) -> str:
    r"""'mean ± half-width of the 95% t-interval' as LaTeX; the value alone for one seed or
    a value that every seed shares."""
    ci = stats.interval(values)
    if ci.n == 0:
        return NA
    sign = "+" if signed else ""
    if ci.n == 1:
        return rf"\ensuremath{{{ci.mean:{sign}.3f}}}"
    half = ci.hi - ci.mean
    if half <= 1e-9 * abs(ci.mean):  # the same value in every seed (e.g. of fixed test data)
        return num(ci.mean)
    d = decimals(half)
    return rf"\ensuremath{{{ci.mean:{sign}.{d}f}\pm{half:.{d}f}}}"


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text) -> str:
    """Plain text (a config value, a name) made safe for LaTeX."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def camel(name: str) -> str:
    """A name made into letters only, for a LaTeX macro name.

    Example:
      >>> camel("right_inverse"), camel("nonuniform_l2")
      ('RightInverse', 'NonuniformLTwo')
    """
    parts = [p for p in "".join(c if c.isalnum() else " " for c in str(name)).split() if p]
    word = "".join(p[:1].upper() + p[1:] for p in parts)
    digits = {"0": "Zero", "1": "One", "2": "Two", "3": "Three", "4": "Four", "5": "Five",
              "6": "Six", "7": "Seven", "8": "Eight", "9": "Nine"}
    return "".join(digits.get(c, c) for c in word)
