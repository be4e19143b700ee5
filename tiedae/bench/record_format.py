r"""What a bench record holds, and how one is made: `make_record`, fingerprints, the environment.

A record is one JSON object: `suite`, `run_id`, `config` (the run's config without its
run_id), `data_sha256` (the digest of the user's data the run read, None for none),
`fingerprint` (`fingerprint`: the sha256 of the suite, run_id, config and data digest),
`options` (the command-line options that made it, `command_options`), `final`, `trajectory`
and `extra` (the suite's numbers), `wall_time_s` and `env` (`env_info`: library versions,
device, git commit, time). `to_jsonable` turns numpy and JAX values into JSON ones, a
non-finite float into null, so that every line is strict JSON.

Example:
  >>> import numpy as np
  >>> from tiedae.bench.record_format import fingerprint, to_jsonable
  >>> to_jsonable({"x": np.float32(0.5), "y": [np.inf, 1], "z": (True, None)})
  {'x': 0.5, 'y': [None, 1], 'z': [True, None]}
  >>> a = fingerprint("toy", {"run_id": "a", "seed": 0})
  >>> a == fingerprint("toy", {"run_id": "a", "seed": 0})
  True
  >>> a == fingerprint("toy", {"run_id": "a", "seed": 1})
  False
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["command_options", "env_info", "fingerprint", "make_record", "record_fingerprint",
           "record_platform", "to_jsonable"]


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
