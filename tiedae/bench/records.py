"""Result files of `python -m tiedae.bench`: one JSON line per run, appended as it ends.

`DIR/<suite>.jsonl` holds one record per finished run, one line each. Saving a record appends
its line and fsyncs the file (`tiedae.bench.files.append_line`): earlier lines are never
rewritten, so a process killed at any moment loses at most the run in flight, and `--resume`
skips the runs already saved. A process killed while it writes can leave a last line cut short
(no newline, not valid JSON): readers ignore it, and the next append moves it to
`<file>.damaged` before it writes. `DIR/<suite>.csv` (config, final figures, wall time; one row
per record) is derived from the JSONL: rewritten atomically when a suite's runs end, when a
command stops (Ctrl-C, a failed write), after `promote` and `repair`; after a SIGKILL it lags
until the next command on the suite.

A store can be *staged* (`--overwrite`): its records go to `DIR/<suite>.jsonl.partial`, and
`promote` renames that over `DIR/<suite>.jsonl` once every run is saved, so the old results stay
intact until the new ones are complete.

`read_records` is the one reader (the bench, its reports and the paper use it). A line that is
not strict JSON, not a record, a record of another suite or a repeated run_id raises
`DamagedRecordsError` naming the file and line (also a line cut short that is not the last);
`repair_records` moves such lines, and a last line cut short, to `<file>.damaged` (appended
verbatim) and keeps the rest.

Every record carries a `fingerprint`: the sha256 of its suite, run_id, config and the sha256 of
the user's data it used (`data_sha256`, None when it used none). `--resume` counts a saved run
as done only when the fingerprint it would have now is the one of its saved record. A record
also keeps the command-line `options` that made it (`{"seed": 0, "full": false}`) and, in
`env["device"]`, the device it ran on: `--resume` refuses a file whose records were made with
other options or on another kind of device (`tiedae.bench.runs`).

Non-finite floats are stored as null, so every line is strict JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import functools
import hashlib
import io
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from tiedae.bench.files import (
    FILE_MODE,
    append_line,
    atomic_write_text,
    cut_short,
    remove_stale_temp_files,
    set_aside,
    strict_json,
)

__all__ = [
    "DamagedLine",
    "DamagedRecordsError",
    "FILE_MODE",
    "ResultStore",
    "atomic_write_text",
    "command_options",
    "env_info",
    "fingerprint",
    "make_record",
    "read_records",
    "record_fingerprint",
    "record_platform",
    "remove_stale_temp_files",
    "repair_records",
    "scan_records",
    "to_jsonable",
]


def to_jsonable(obj):
    """numpy arrays/scalars -> lists/floats; non-finite floats -> None; tuples -> lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "__array__"):  # jax arrays
        return to_jsonable(np.asarray(obj))
    raise TypeError(f"cannot store a {type(obj).__name__} in a result record")


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if out.returncode != 0:
            return None
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, timeout=5,
        )
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def _static_env() -> dict:
    import flax
    import jax
    import optax

    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')} x{jax.device_count()}",
        "cpu_count": os.cpu_count(),
        "git_commit": _git_commit(),
    }


def env_info() -> dict:
    """Versions, device, git commit (None outside a git checkout) and a UTC timestamp."""
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return {**_static_env(), "timestamp": now}


def fingerprint(suite: str, config: dict, data_sha256: str | None = None) -> str:
    """sha256 (hex) of a run: its suite, run_id, every config value and the data it used.

    `config` is a suite's config (with "run_id"); `data_sha256` the digest of the user's data
    the run reads (None for none). Equal fingerprints mean the same run on the same data."""
    body = {k: v for k, v in config.items() if k != "run_id"}
    payload = {"suite": suite, "run_id": config["run_id"], "config": to_jsonable(body),
               "data_sha256": data_sha256}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def command_options(seed: int, quick: bool) -> dict:
    """The command-line options a record keeps: what `--resume` must repeat (with `--data`,
    which the fingerprint covers, and the device, which `env` records)."""
    return {"seed": int(seed), "full": not quick}


def record_platform(record: dict) -> str | None:
    """The kind of device a record ran on ("cpu", "gpu", ...; from `env["device"]`), or None."""
    device = record.get("env", {}).get("device") if isinstance(record.get("env"), dict) else None
    return device.split(":", 1)[0] if isinstance(device, str) and device else None


def record_fingerprint(record: dict) -> str:
    """The fingerprint of a saved record, recomputed from its content (also for records saved
    before fingerprints existed: those used no user data)."""
    config = {**record["config"], "run_id": record["run_id"]}
    return fingerprint(record["suite"], config, record.get("data_sha256"))


def make_record(suite: str, config: dict, result: dict, wall_time_s: float, *,
                data_sha256: str | None = None, options: dict | None = None) -> dict:
    """Builds a record in the documented layout from a config and a suite's `run` output.

    `data_sha256` is the digest of the user's data the run read (None for none); `options` the
    command-line options that made it (`command_options`; None: not recorded)."""
    unknown = set(result) - {"final", "trajectory", "extra"}
    if unknown:
        raise ValueError(f"suite {suite!r} returned unknown result keys {sorted(unknown)}")
    if "final" not in result:
        raise ValueError(f"suite {suite!r} returned no 'final' figures")
    return to_jsonable(
        {
            "suite": suite,
            "run_id": config["run_id"],
            "config": {k: v for k, v in config.items() if k != "run_id"},
            "data_sha256": data_sha256,
            "fingerprint": fingerprint(suite, config, data_sha256),
            **({} if options is None else {"options": dict(options)}),
            "final": result["final"],
            "trajectory": result.get("trajectory", {}),
            "extra": result.get("extra", {}),
            "wall_time_s": float(wall_time_s),
            "env": env_info(),
        }
    )


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


class ResultStore:
    """The JSONL and CSV files of one suite in one output folder.

    Args:
      out_dir: the output folder.
      suite: the suite's name (records of other suites in its file count as damaged).
      staged: write to `<suite>.jsonl.partial` until `promote` (the old results stay intact).
      restart: ignore what the file holds (`load` gives []) until `begin` (a staged store's
        first append calls it) or the first append.
    """

    def __init__(self, out_dir, suite: str, *, staged: bool = False, restart: bool = False):
        self.dir = Path(out_dir)
        self.suite = suite
        self.jsonl = self.dir / f"{suite}.jsonl"
        self.csv = self.dir / f"{suite}.csv"
        self.partial = self.dir / f"{suite}.jsonl.partial"
        self.staged = staged
        self._restart = restart
        self._saved: set[str] | None = None  # run_ids in the file, read at the first append

    @property
    def path(self) -> Path:
        """The file appends go to: the partial file when staged, else `<suite>.jsonl`."""
        return self.partial if self.staged else self.jsonl

    def load(self) -> list[dict]:
        """Records saved so far (empty when there is no file). Raises DamagedRecordsError."""
        if self._restart:
            return []
        try:
            return read_records(self.path, self.suite)
        except FileNotFoundError:
            return []

    def done_ids(self) -> set[str]:
        return {rec["run_id"] for rec in self.load()}

    def begin(self) -> None:
        """Replaces the file with an empty one (a staged store: marks an --overwrite begun)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, "")
        self._restart, self._saved = False, set()

    def append(self, record: dict) -> None:
        """Saves one record: appends its line to the file (`files.append_line`: one write, then
        fsync; the file is read once, at the first append, for its run_ids).

        Raises:
          ValueError: the file already holds a record with this run_id (a run is saved once;
            `--overwrite` stages its runs in a new file).
          DamagedRecordsError: the file holds damaged lines (at the first append).
          OSError: the file cannot be written (it is left as it was).
        """
        if self._restart and self.staged:
            self.begin()
        if self._saved is None:
            self._saved = {r["run_id"] for r in self.load()}
        if record["run_id"] in self._saved:
            raise ValueError(f"{self.path}: run {record['run_id']!r} is saved already")
        self.dir.mkdir(parents=True, exist_ok=True)
        append_line(self.path, json.dumps(record, allow_nan=False).encode("utf-8"))
        self._saved.add(record["run_id"])
        self._restart = False

    def write_csv(self) -> None:
        """Rewrites `<suite>.csv` from `<suite>.jsonl` (atomically)."""
        if self.jsonl.exists():
            atomic_write_text(self.csv, _csv_text(read_records(self.jsonl, self.suite)))

    def promote(self) -> None:
        """Replaces `<suite>.jsonl` by the staged records (one atomic rename), then the CSV."""
        if not self.staged or self._restart:
            raise RuntimeError(f"{self.suite}: nothing staged to promote")
        os.replace(self.partial, self.jsonl)
        self.staged, self._saved = False, None
        self.write_csv()


def _flatten(prefix: str, obj: dict) -> dict:
    out = {}
    for key, val in obj.items():
        if isinstance(val, dict):
            out.update(_flatten(f"{prefix}{key}.", val))
        elif isinstance(val, list):
            out[prefix + key] = json.dumps(val)
        else:
            out[prefix + key] = val
    return out


def _csv_text(records: list[dict]) -> str:
    rows = [
        {"run_id": r["run_id"], **_flatten("config.", r["config"]),
         **_flatten("final.", r["final"]), "wall_time_s": r["wall_time_s"]}
        for r in records
    ]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
