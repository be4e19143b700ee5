"""Benchmark and experiment suites behind `python -m tiedae.bench`.

`Suite`, `Options` and `Summary` define a suite; `tiedae.bench.suites.SUITES` is the registry;
`tiedae.bench.records` writes the result files atomically.
"""

from tiedae.bench.suite import Options, Suite, Summary

__all__ = ["Options", "Suite", "Summary"]
