"""Shared by the suite tests: run one config of a registered suite and check its record."""

import json

from tiedae.bench.records import make_record
from tiedae.bench.suite import Summary
from tiedae.bench.suites import SUITES

BY_NAME = {s.name: s for s in SUITES}


def run_once(name: str, config: dict) -> dict:
    """Runs `config` of suite `name`; checks the record is strict JSON and summarises into a
    well-formed table. Returns the record."""
    result = BY_NAME[name].run(config)
    record = make_record(name, config, result, 0.0)
    json.dumps(record, allow_nan=False)
    summary = BY_NAME[name].summarize([record])
    assert isinstance(summary, Summary) and summary.rows
    assert all(len(row) == len(summary.columns) for row in summary.rows)
    return record
