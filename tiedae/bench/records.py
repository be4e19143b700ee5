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

Modules: `tiedae.bench.record_format` (what a record holds: `make_record`, fingerprints, the
environment), `tiedae.bench.record_files` (reading a file, damaged lines, repair) and this one
(`ResultStore`: appending, the CSV, staging and promotion), which also gives the names of the
other two.

Example:
  >>> import tempfile
  >>> from tiedae.bench.records import ResultStore, make_record
  >>> folder = tempfile.TemporaryDirectory()
  >>> store = ResultStore(folder.name, "toy")
  >>> store.append(make_record("toy", {"run_id": "a", "seed": 0}, {"final": {"x": 1.0}}, 0.5))
  >>> [r["final"] for r in store.load()], store.done_ids()
  ([{'x': 1.0}], {'a'})
  >>> folder.cleanup()
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from tiedae.bench.files import (
    FILE_MODE,
    append_line,
    atomic_write_text,
    remove_stale_temp_files,
)
from tiedae.bench.record_files import (
    DamagedLine,
    DamagedRecordsError,
    read_records,
    repair_records,
    scan_records,
)
from tiedae.bench.record_format import (
    command_options,
    env_info,
    fingerprint,
    make_record,
    record_fingerprint,
    record_platform,
    to_jsonable,
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
