"""Result files of `python -m tiedae.bench`: one JSON line per run, rewritten atomically.

`DIR/<suite>.jsonl` holds one record per finished run. Each append rewrites the whole file to a
temporary file in the same folder, flushes it to disk and renames it over the old one
(`os.replace`, atomic on POSIX), so a process killed at any moment leaves either the old file or
the new one, never a half-written line: at most the run in flight is lost, and `--resume` skips
the run_ids already present. `DIR/<suite>.csv` (config, final figures, wall time; one row per
record) is rewritten the same way.

Non-finite floats are stored as null, so every line is strict JSON.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import json
import math
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ResultStore", "atomic_write_text", "env_info", "make_record", "to_jsonable"]


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


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and os.replace.

    The file gets the usual permissions (0o666 minus the umask), not mkstemp's private 0o600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def make_record(suite: str, config: dict, result: dict, wall_time_s: float) -> dict:
    """Builds a record in the documented layout from a config and a suite's `run` output."""
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
            "final": result["final"],
            "trajectory": result.get("trajectory", {}),
            "extra": result.get("extra", {}),
            "wall_time_s": float(wall_time_s),
            "env": env_info(),
        }
    )


class ResultStore:
    """The JSONL and CSV files of one suite in one output folder."""

    def __init__(self, out_dir, suite: str):
        self.dir = Path(out_dir)
        self.suite = suite
        self.jsonl = self.dir / f"{suite}.jsonl"
        self.csv = self.dir / f"{suite}.csv"

    def load(self) -> list[dict]:
        """Records saved so far (empty when there is no file). Raises on a corrupt line."""
        if not self.jsonl.exists():
            return []
        records = []
        for i, line in enumerate(self.jsonl.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.jsonl}:{i} is not valid JSON ({err})") from err
        return records

    def done_ids(self) -> set[str]:
        return {rec["run_id"] for rec in self.load()}

    def reset(self) -> None:
        """Starts the suite afresh (without --resume): removes its old result files."""
        for path in (self.jsonl, self.csv):
            if path.exists():
                path.unlink()

    def append(self, record: dict) -> None:
        """Adds one record, replacing an older one with the same run_id; rewrites atomically."""
        self.dir.mkdir(parents=True, exist_ok=True)
        records = [r for r in self.load() if r["run_id"] != record["run_id"]] + [record]
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
        atomic_write_text(self.jsonl, text)
        atomic_write_text(self.csv, _csv_text(records))


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
