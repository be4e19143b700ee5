"""What every benchmark script shares: writing its result JSON atomically."""

from __future__ import annotations

import json
import os


def write_json(path: str, result: dict) -> None:
    """Write `result` to `path` through a temporary file, so a kill leaves the old file whole."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, path)
