r"""Numbers, sentences and tables of the deep suites, from records.

Same contract as `tiedae.paper.tables`: each function maps a suite's records to
`(macros, tables)`. Comparative words in generated sentences ("lower", "faster", ...) are
computed from the numbers too, so the text cannot contradict the tables.
"""

from __future__ import annotations

import numpy as np

from tiedae.paper import results as R

__all__ = ["compare"]


def _mean(records, key) -> float:
    return R.mean_std(R.final(records, key))[0]


def _first(records, key):
    vals = R.final(records, key)
    return vals[0] if vals.size else None


def compare(a, b) -> str:
    """'lower', 'higher' or 'similar': mean of `a` against mean of `b`, where 'similar' means
    the difference is within two standard errors (Welch) of the seeds' spread."""
    a = np.asarray([v for v in a if v is not None and np.isfinite(v)], dtype=float)
    b = np.asarray([v for v in b if v is not None and np.isfinite(v)], dtype=float)
    if a.size == 0 or b.size == 0:
        return "similar"
    var = (a.var(ddof=1) / a.size if a.size > 1 else 0.0) + (
        b.var(ddof=1) / b.size if b.size > 1 else 0.0)
    diff = a.mean() - b.mean()
    if abs(diff) <= 2.0 * np.sqrt(var):
        return "similar"
    return "lower" if diff < 0 else "higher"


MIRRORS = "the mirror's"
UNTIED_MIRRORS = "the untied mirror's"


def _versus(word: str, what: str, other: str) -> str:
    """'a lower test error than the mirror's' / 'a test error within two standard errors of
    the mirror's'."""
    if word == "similar":
        return f"a {what} within two standard errors of {other}"
    return f"a {word} {what} than {other}"


def _steps(records, key) -> str:
    """Mean ± std of 'steps to reach' over the runs that reached it, and how many never did."""
    vals = R.final(records, key)
    got = vals[np.isfinite(vals)]
    if got.size == 0:
        return "never"
    text = R.pm(got, 3)
    return text if got.size == vals.size else f"{text} ({vals.size - got.size} never)"


def _data_name(records) -> str:
    path = records[0]["config"].get("data") if records else None
    return "the digits data" if not path else R.tex_escape(str(path).rsplit("/", 1)[-1])

