"""What every benchmark script shares: writing its result JSON the way the bench writes its
files (`tiedae.bench.files.atomic_write_text`: a kill leaves the old file whole), with the same
`env` block as the bench's records (`tiedae.bench.records.env_info`: library versions, device,
CPU count, git commit, UTC time)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tiedae.bench.files import atomic_write_text
from tiedae.bench.records import env_info


def write_json(path: str, result: dict) -> None:
    """Write `result`, plus `env` (unless it has one), to `path` through a temporary file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    result = result if "env" in result else {**result, "env": env_info()}
    atomic_write_text(Path(path), json.dumps(result, indent=2))
