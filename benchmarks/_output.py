"""What every benchmark script shares: writing its result JSON atomically (the bench's one
atomic writer, `tiedae.bench.records.atomic_write_text`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tiedae.bench.records import atomic_write_text


def write_json(path: str, result: dict) -> None:
    """Write `result` to `path` through a temporary file, so a kill leaves the old file whole."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(Path(path), json.dumps(result, indent=2))
