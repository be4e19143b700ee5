"""Run times of saved bench records, as `python -m tiedae.bench --list` shows them.

The reports themselves are `tiedae.report`'s renderers (terminal, Markdown, LaTeX, HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tiedae.bench.records import DamagedRecordsError, ResultStore
from tiedae.bench.suite import Suite

__all__ = ["measured_time"]


def measured_time(suite: Suite, folders: Sequence[Path]) -> str:
    """Run time of the suite's saved records in each folder (quick and full runs), from their
    wall_time_s, for `--list`; a damaged or unreadable file is named instead."""
    seen = []
    for folder in folders:
        try:
            records = ResultStore(folder, suite.name).load() if folder.is_dir() else []
        except DamagedRecordsError as err:
            seen.append(f"damaged: {err.path}:{err.damaged[0].line} (see --repair)")
            continue
        except OSError as err:
            seen.append(f"unreadable: {err.strerror or err} ({folder})")
            continue
        for mode in ("quick", "full"):
            times = [r["wall_time_s"] for r in records if r["run_id"].startswith(mode + "-")]
            if times:
                seen.append(f"{mode} {sum(times):.0f} s ({folder})")
    return "; ".join(seen) or "-"
