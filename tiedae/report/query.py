"""Records, selected and grouped: the helpers every suite's analysis uses.

A record is one run's dict (`config`, `final`, `trajectory`, `extra`, `env`, ...) as the bench
saves it. `select` keeps records by config values, `group` groups them (first-seen order),
`by_seed` orders a group by seed, `paired_values` / `versus` pair two settings' runs by seed,
`final` and `trajectory` read a run's numbers (null -> nan), `load` reads a results folder and
`analyses` / `analyze` turn each suite's saved records into its analysis.

Example:
  >>> from tiedae.report import query
  >>> recs = [{"config": {"k": k, "seed": s}, "final": {"loss": k + s / 10}}
  ...         for k in (2, 4) for s in (1, 0)]
  >>> [key for key in query.group(recs, "k")]
  [(2,), (4,)]
  >>> query.final(query.by_seed(query.select(recs, k=4)), "loss").tolist()
  [4.0, 4.1]
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tiedae.report import stats

if TYPE_CHECKING:
    from tiedae.report.analysis import Analysis

__all__ = ["analyses", "analyze", "by_seed", "final", "group", "load", "paired_values", "select",
           "trajectory", "versus"]


def load(results_dir) -> dict[str, list[dict]]:
    """All records under `results_dir`, by suite name (from each `<suite>.jsonl`), read by the
    bench's one reader, `tiedae.bench.records.read_records`.

    Raises:
      FileNotFoundError: the folder does not exist.
      ValueError: a line is not valid JSON or is not a record of the file's suite
        (`DamagedRecordsError`: names the file and line and how to set such lines aside).
    """
    from tiedae.bench.records import read_records

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


def by_seed(records: Iterable[dict]) -> list[dict]:
    """The records ordered by their config's seed (two such lists pair run by run)."""
    return sorted(records, key=lambda r: r["config"]["seed"])


def paired_values(a_records, b_records, key: str) -> tuple[np.ndarray, np.ndarray]:
    """final[key] of two configurations' records on their common seeds, in seed order (a
    missing or never-reached value is nan)."""
    a = {r["config"]["seed"]: r for r in a_records}
    b = {r["config"]["seed"]: r for r in b_records}
    common = sorted(set(a) & set(b))
    return (final([a[s] for s in common], key), final([b[s] for s in common], key))


def versus(a_records, b_records, key: str) -> stats.Paired:
    """Paired a - b of final[key] over the common seeds."""
    return stats.paired(*paired_values(a_records, b_records, key))


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


def analyze(suite, records: list[dict], where) -> Analysis:
    """`suite.analyze(records)`, any failure raised as a ValueError naming `where` (the
    records' file or folder): records of another version or edited by hand."""
    from tiedae.report.analysis import Analysis

    try:
        analysis = suite.analyze(records)
    except Exception as err:
        raise ValueError(f"cannot analyse the records in {where} "
                         f"({type(err).__name__}: {err})") from err
    if not isinstance(analysis, Analysis):
        raise ValueError(f"suite {suite.name}: its analysis is a {type(analysis).__name__}, "
                         "not a tiedae.report.Analysis")
    return analysis


def analyses(results_dir, suites) -> list[tuple]:
    """(suite, records, analysis) of every suite with saved records in `results_dir`, in the
    order of `suites` (the renderers' one reader).

    Raises:
      FileNotFoundError: none of the suites has saved records there.
      ValueError: a result file is damaged (`DamagedRecordsError`: file, line, recovery), or a
        suite cannot analyse its records (records of another version, edited by hand, ...).
    """
    from tiedae.bench.records import ResultStore

    loaded = []
    for suite in suites:
        store = ResultStore(results_dir, suite.name)
        records = store.load()  # DamagedRecordsError (a ValueError) names the file and line
        if records:
            loaded.append((suite, records, analyze(suite, records, store.jsonl)))
    if not loaded:
        raise FileNotFoundError(f"no saved results of these suites in {results_dir}")
    return loaded
