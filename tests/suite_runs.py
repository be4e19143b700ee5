"""Shared by the suite tests: run one config of a registered suite and check its record."""

import json

import numpy as np

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


def write_tiny_mnist(path, n_train: int = 30, n_test: int = 5) -> str:
    """Writes a random MNIST-format .npz (28 x 28 uint8 images, labels 0-9) to `path`;
    returns the path as a string (what `--data` and the loaders take)."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, n_train).astype(np.uint8),
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, n_test).astype(np.uint8))
    return str(path)
