"""Shared by the suite tests: run one config of a registered suite and check its record."""

import json

from tiedae.bench.records import make_record
from tiedae.bench.suites import SUITES
from tiedae.report import Analysis

BY_NAME = {s.name: s for s in SUITES}


def run_once(name: str, config: dict) -> dict:
    """Runs `config` of suite `name`; checks the record is strict JSON and analyses into a
    table with rows. Returns the record."""
    result = BY_NAME[name].run(config)
    record = make_record(name, config, result, 0.0)
    json.dumps(record, allow_nan=False)
    analysis = BY_NAME[name].analyze([record])
    assert isinstance(analysis, Analysis) and any(table.rows for table in analysis.tables)
    return record
