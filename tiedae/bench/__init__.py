"""Benchmark and experiment suites behind `python -m tiedae.bench`.

`Suite` and `Options` define a suite (its records become one `tiedae.report.Analysis`);
`tiedae.bench.suites.SUITES` is the registry; `tiedae.bench.records` writes and reads the
result files (one line appended per record, one reader; `tiedae.bench.files` writes safely);
`tiedae.bench.runs` plans and makes the runs without losing saved results.
"""

from tiedae._submodules import lazy_submodules as _lazy_submodules
from tiedae.bench.suite import Options, Suite

__all__ = ["Options", "Suite"]

__getattr__ = _lazy_submodules(__name__)  # e.g. `tiedae.bench.records` imported on first use
