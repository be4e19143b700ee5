r"""Reading saved bench records and turning their numbers into LaTeX.

The paper's numbers are never typed: `load` reads the `<suite>.jsonl` files written by
`python -m tiedae.bench`, the helpers below select and aggregate records, and `num` / `pm` format
a value (or a mean ± std over seeds) as LaTeX that works in text and in math.

Example:
  >>> from tiedae.paper import results
  >>> results.num(3.2e-6)
  '\\ensuremath{3.2\\times10^{-6}}'
  >>> results.num(0.1234)
  '\\ensuremath{0.123}'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tiedae.bench.records import read_records

__all__ = [
    "final",
    "group",
    "load",
    "mean_std",
    "num",
    "pm",
    "select",
    "tex_escape",
    "trajectory",
]


def load(results_dir) -> dict[str, list[dict]]:
    """All records under `results_dir`, by suite name (from each `<suite>.jsonl`), read by the
    bench's one reader, `tiedae.bench.records.read_records`.

    Raises:
      FileNotFoundError: the folder does not exist.
      ValueError: a line is not valid JSON or is not a record of the file's suite
        (`DamagedRecordsError`: names the file and line and how to set such lines aside).
    """
    folder = Path(results_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist")
    suites: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        records = read_records(path, suite=path.stem)
        if records:
            suites[path.stem] = records
    return suites


def select(records: Iterable[dict], **where) -> list[dict]:
    """Records whose config matches every `key=value` (a tuple/list value means 'any of')."""
    out = []
    for rec in records:
        cfg = rec["config"]
        ok = True
        for key, want in where.items():
            have = cfg.get(key)
            if isinstance(want, (tuple, list, set)):
                ok = ok and have in want
            else:
                ok = ok and have == want
        if ok:
            out.append(rec)
    return out


def group(records: Iterable[dict], *keys: str) -> dict[tuple, list[dict]]:
    """Records grouped by the config values of `keys`, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        groups.setdefault(tuple(_hashable(rec["config"].get(k)) for k in keys), []).append(rec)
    return groups


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def final(records: Iterable[dict], metric: str) -> np.ndarray:
    """`final[metric]` of each record as floats (missing or null -> nan)."""
    vals = [rec.get("final", {}).get(metric) for rec in records]
    return np.array([np.nan if v is None else float(v) for v in vals], dtype=float)


def trajectory(record: dict, metric: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, metric) arrays of one record's trajectory (nulls -> nan).

    Raises:
      KeyError: the record has no such trajectory (names the run and the keys it has).
    """
    traj = record.get("trajectory") or {}
    if metric not in traj or x not in traj:
        raise KeyError(
            f"run {record.get('run_id')!r} has no trajectory {metric!r} vs {x!r}; "
            f"it has {sorted(traj)}"
        )
    as_float = [np.nan if v is None else float(v) for v in traj[metric]]
    steps = [np.nan if v is None else float(v) for v in traj[x]]
    return np.asarray(steps, dtype=float), np.asarray(as_float, dtype=float)


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std, count) of the finite values; std is 0 for one value, nan for none."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan, math.nan, 0
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std, int(arr.size)


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


NA = r"\textit{n/a}"


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


def pm(values: Sequence[float], digits: int = 3, *, zero_below: float = 0.0) -> str:
    """'mean ± std' over seeds as LaTeX; just the value for one seed; 'n/a' for none.

    Small or large means share one power of ten: (3.5 ± 0.4)×10^{-7}. With `zero_below` > 0,
    a set of values all smaller than it in magnitude (rounding noise) is written as ≈0.
    """
    mean, std, count = mean_std(values)
    if count == 0:
        return NA
    if zero_below > 0:
        arr = np.asarray([v for v in values if v is not None], dtype=float)
        if np.all(np.abs(arr[np.isfinite(arr)]) < zero_below):
            return r"\ensuremath{\approx0}"
    if count == 1 or std == 0:
        return num(mean, digits)
    if mean != 0 and std < 10.0 ** (_exponent(mean) - digits):
        return num(mean, digits)  # the spread is below the last digit shown
    if mean != 0 and not 1e-2 <= abs(mean) < 1e4:
        exp = _exponent(float(f"{mean:.{digits}g}"))
        scale = 10.0**exp
        return (rf"\ensuremath{{({_plain(mean / scale, digits)}\pm{_plain(std / scale, 2)})"
                rf"\times10^{{{exp}}}}}")
    spread = _plain(std, 2) if std >= 1e-4 else _body(std, 2)
    return rf"\ensuremath{{{_body(mean, digits)}\pm{spread}}}"


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
