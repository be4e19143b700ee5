"""Result files of `python -m tiedae.bench`: one JSON line per run, rewritten atomically.

`DIR/<suite>.jsonl` holds one record per finished run. Each append rewrites the whole file to a
temporary file in the same folder (named `.<file>.<pid>.<random>.tmp`), flushes it to disk and
renames it over the old one (`os.replace`, atomic on POSIX), so a process killed at any moment
leaves either the old file or the new one, never a half-written line: at most the run in flight
is lost, and `--resume` skips the runs already saved. A temporary file left by a killed process
is removed by the next run (`remove_stale_temp_files`). `DIR/<suite>.csv` (config, final
figures, wall time; one row per record) is rewritten the same way.

A store can be *staged* (`--overwrite`): its records go to `DIR/<suite>.jsonl.partial`, and
`promote` renames that over `DIR/<suite>.jsonl` once every run is saved, so the old results stay
intact until the new ones are complete.

`read_records` is the one reader (the bench, its reports and the paper use it). A line that is
not strict JSON, not a record, a record of another suite or a repeated run_id raises
`DamagedRecordsError` naming the file and line; `repair_records` moves such lines to
`<file>.damaged` (appended verbatim) and keeps the rest.

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
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tiedae.bench.tempfiles import remove_orphans

__all__ = [
    "DamagedLine",
    "DamagedRecordsError",
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


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


FILE_MODE = 0o666 & ~_read_umask()  # read once, at import, before any threads write files
_TEMP_FILE = re.compile(r"\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and os.replace.

    The file gets the usual permissions (0o666 minus the umask), not mkstemp's private 0o600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(folder) -> int:
    """Removes the temporary files of `atomic_write_text` in `folder` whose process is dead."""
    return remove_orphans(folder, _TEMP_FILE)


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


def _reject_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")


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


def scan_records(path, suite: str | None = None) -> tuple[list[dict], list[DamagedLine]]:
    """(records, damaged lines) of a result file; blank lines are skipped.

    A line is damaged when it is not UTF-8, not strict JSON (NaN and Infinity included), not a
    record (an object with suite, run_id, config, final, wall_time_s of the right types), a
    record of another suite than `suite` (when given), or repeats an earlier line's run_id.
    Raises OSError (FileNotFoundError included) when the file cannot be read."""
    records: list[dict] = []
    damaged: list[DamagedLine] = []
    first_line: dict[str, int] = {}
    for i, raw in enumerate(Path(path).read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
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
    """Moves the damaged lines of a result file to `<file>.damaged` (appended verbatim, one per
    line, written before the file is rewritten) and rewrites the file with the records only.
    Returns the damaged lines (empty: the file was not touched)."""
    path = Path(path)
    records, damaged = scan_records(path, suite)
    if damaged:
        with open(path.with_name(path.name + ".damaged"), "ab") as fh:
            fh.write(b"".join(d.raw + b"\n" for d in damaged))
            fh.flush()
            os.fsync(fh.fileno())
        atomic_write_text(path, _jsonl_text(records))
    return damaged


class ResultStore:
    """The JSONL and CSV files of one suite in one output folder.

    Args:
      out_dir: the output folder.
      suite: the suite's name (records of other suites in its file count as damaged).
      staged: write to `<suite>.jsonl.partial` until `promote` (the old results stay intact).
      restart: ignore what the file holds (`load` gives []) until `begin` or the first append
        replaces it.
    """

    def __init__(self, out_dir, suite: str, *, staged: bool = False, restart: bool = False):
        self.dir = Path(out_dir)
        self.suite = suite
        self.jsonl = self.dir / f"{suite}.jsonl"
        self.csv = self.dir / f"{suite}.csv"
        self.partial = self.dir / f"{suite}.jsonl.partial"
        self.staged = staged
        self._restart = restart

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
        self._restart = False

    def append(self, record: dict) -> None:
        """Adds one record, replacing an older one with the same run_id; rewrites atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        records = [r for r in self.load() if r["run_id"] != record["run_id"]] + [record]
        atomic_write_text(self.path, _jsonl_text(records))
        self._restart = False
        if not self.staged:
            atomic_write_text(self.csv, _csv_text(records))

    def write_csv(self) -> None:
        """Rewrites `<suite>.csv` from `<suite>.jsonl`."""
        if self.jsonl.exists():
            atomic_write_text(self.csv, _csv_text(read_records(self.jsonl, self.suite)))

    def promote(self) -> None:
        """Replaces `<suite>.jsonl` by the staged records (one atomic rename), then the CSV."""
        if not self.staged or self._restart:
            raise RuntimeError(f"{self.suite}: nothing staged to promote")
        os.replace(self.partial, self.jsonl)
        self.staged = False
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
