r"""Reading a result file, and setting its damaged lines aside.

`scan_records` reads a `<suite>.jsonl` file: its records and its damaged lines (`DamagedLine`:
not UTF-8, not strict JSON, not a record of the right types, a record of another suite, a
repeated run_id); a blank line is skipped, and so is a last line cut short (what a process
killed while it appended leaves). `read_records` is the one reader the bench, its reports and
the paper use: it raises `DamagedRecordsError` (naming the file, the line and the recovery)
when a line is damaged. `repair_records` moves the damaged lines, and a last line cut short,
to `<file>.damaged` and keeps the records.

Example:
  >>> import json, pathlib, tempfile
  >>> from tiedae.bench.record_files import scan_records
  >>> folder = tempfile.TemporaryDirectory()
  >>> path = pathlib.Path(folder.name) / "toy.jsonl"
  >>> good = {"suite": "toy", "run_id": "a", "config": {}, "final": {}, "wall_time_s": 1.0}
  >>> _ = path.write_text(json.dumps(good) + "\n" + "not json\n")
  >>> records, damaged = scan_records(path, "toy")
  >>> [r["run_id"] for r in records], [(d.line, d.reason[:18]) for d in damaged]
  (['a'], [(2, 'is not valid JSON ')])
  >>> folder.cleanup()
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tiedae.bench.files import atomic_write_text, cut_short, set_aside, strict_json

__all__ = ["DamagedLine", "DamagedRecordsError", "read_records", "repair_records",
           "scan_records"]

_REQUIRED = {"suite": str, "run_id": str, "config": dict, "final": dict,
             "wall_time_s": (int, float)}
_OPTIONAL = {"trajectory": dict, "extra": dict, "env": dict, "fingerprint": str,
             "data_sha256": (str, type(None)), "options": dict}
_JSON_TYPE = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
              int: "a number", float: "a number", type(None): "null"}


@dataclasses.dataclass(frozen=True)
class DamagedLine:
    """A line of a result file that is not a record: its number (from 1), why, its bytes."""

    line: int
    reason: str
    raw: bytes


class DamagedRecordsError(ValueError):
    """A result file holds lines that are not records. The message names the file and line
    of the first and says how to recover; `path` and `damaged` (DamagedLine list) say all."""

    def __init__(self, path, damaged: list[DamagedLine]):
        self.path, self.damaged = Path(path), list(damaged)
        first = self.damaged[0]
        more = (f" (and {len(self.damaged) - 1} more damaged line(s))"
                if len(self.damaged) > 1 else "")
        super().__init__(
            f"{self.path}:{first.line} {first.reason}{more}. To go on, `python -m tiedae.bench "
            f"--repair --out {self.path.parent}` moves the damaged lines to "
            f"{self.path.name}.damaged (a copy) and keeps the rest; --resume then reruns them"
        )


def _problem(obj, suite: str | None) -> str | None:
    """Why a parsed line is not a record of `suite` (None when it is one)."""
    if not isinstance(obj, dict):
        return f"is not a bench record (it is {_JSON_TYPE.get(type(obj), 'not an object')})"
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        return f"is not a bench record (no {missing})"
    for key, types in {**_REQUIRED, **_OPTIONAL}.items():
        value = obj.get(key)
        if key in obj and (not isinstance(value, types) or isinstance(value, bool)):
            return (f"is not a bench record ({key!r} is "
                    f"{_JSON_TYPE.get(type(value), type(value).__name__)})")
    if suite is not None and obj["suite"] != suite:
        return f"holds a record of suite {obj['suite']!r}, not of {suite!r}"
    return None


def _scan(path, suite: str | None):
    """(records, damaged lines, the last line when it was cut short or None)."""
    lines = Path(path).read_bytes().split(b"\n")
    unfinished = None
    if lines[-1].strip() and cut_short(lines[-1]):  # a process killed while appending
        unfinished = DamagedLine(len(lines), "was cut short (a run killed while it was saved)",
                                 lines.pop())
    records: list[dict] = []
    damaged: list[DamagedLine] = []
    first_line: dict[str, int] = {}
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = strict_json(raw)
        except UnicodeDecodeError:
            reason = "is not UTF-8 text"
        except (ValueError, RecursionError) as err:
            reason = f"is not valid JSON ({err})"
        else:
            reason = _problem(obj, suite)
            if reason is None and obj["run_id"] in first_line:
                reason = f"repeats run_id {obj['run_id']!r} of line {first_line[obj['run_id']]}"
        if reason is None:
            first_line[obj["run_id"]] = i
            records.append(obj)
        else:
            damaged.append(DamagedLine(i, reason, raw))
    return records, damaged, unfinished


def scan_records(path, suite: str | None = None) -> tuple[list[dict], list[DamagedLine]]:
    """(records, damaged lines) of a result file; blank lines are skipped, and so is a last
    line cut short (no newline and not valid JSON: what a process killed while it appended
    leaves; see `tiedae.bench.files`).

    A line is damaged when it is not UTF-8, not strict JSON (NaN and Infinity included), not a
    record (an object with suite, run_id, config, final, wall_time_s of the right types), a
    record of another suite than `suite` (when given), or repeats an earlier line's run_id.
    Raises OSError (FileNotFoundError included) when the file cannot be read."""
    records, damaged, _ = _scan(path, suite)
    return records, damaged


def read_records(path, suite: str | None = None) -> list[dict]:
    """The records of a result file (see `scan_records`).

    Raises:
      DamagedRecordsError: a line is not a record (names the file, the line, the recovery).
      OSError: the file cannot be read (FileNotFoundError when it does not exist).
    """
    records, damaged = scan_records(path, suite)
    if damaged:
        raise DamagedRecordsError(path, damaged)
    return records


def _jsonl_text(records: list[dict]) -> str:
    return "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)


def repair_records(path, suite: str | None = None) -> list[DamagedLine]:
    """Moves the damaged lines of a result file, and a last line cut short, to `<file>.damaged`
    (appended verbatim, one per line, written before the file is rewritten) and rewrites the
    file with the records only. Returns the lines moved (empty: the file was not touched)."""
    path = Path(path)
    records, damaged, unfinished = _scan(path, suite)
    moved = damaged + ([unfinished] if unfinished else [])
    if moved:
        set_aside(path, [d.raw for d in moved])
        atomic_write_text(path, _jsonl_text(records))
    return moved
