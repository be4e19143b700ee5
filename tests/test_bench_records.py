"""Result files of the bench: strict JSON lines, atomic rewrites, resume bookkeeping, CSV."""

import csv
import json
import math

import numpy as np
import pytest

from tiedae.bench import records
from tiedae.bench.records import ResultStore, make_record, to_jsonable


def _record(run_id, value=1.0):
    config = {"run_id": run_id, "seed": 0, "nested": {"a": 1}}
    result = {"final": {"x": value}, "trajectory": {"step": [0, 1]}, "extra": {}}
    return make_record("toy", config, result, 0.5)


def test_to_jsonable_converts_numpy_and_non_finite():
    out = to_jsonable({"a": np.arange(3), "b": np.float32(1.5), "c": float("nan"),
                       "d": (np.int64(2), np.inf), "e": np.bool_(True)})
    assert out == {"a": [0, 1, 2], "b": 1.5, "c": None, "d": [2, None], "e": True}
    json.dumps(out, allow_nan=False)  # strict JSON


def test_to_jsonable_rejects_objects():
    with pytest.raises(TypeError, match="cannot store"):
        to_jsonable({"a": object()})


def test_make_record_layout_and_env():
    rec = _record("r1")
    assert set(rec) == {"suite", "run_id", "config", "final", "trajectory", "extra",
                        "wall_time_s", "env"}
    assert rec["run_id"] == "r1" and "run_id" not in rec["config"]
    assert {"jax", "flax", "optax", "numpy", "python", "device", "git_commit",
            "timestamp"} <= set(rec["env"])


def test_make_record_rejects_bad_results():
    with pytest.raises(ValueError, match="unknown result keys"):
        make_record("toy", {"run_id": "a"}, {"final": {}, "oops": 1}, 0.0)
    with pytest.raises(ValueError, match="no 'final'"):
        make_record("toy", {"run_id": "a"}, {"trajectory": {}}, 0.0)


def test_store_append_load_replace_and_csv(tmp_path):
    store = ResultStore(tmp_path, "toy")
    assert store.load() == [] and store.done_ids() == set()
    store.append(_record("a", 1.0))
    store.append(_record("b", 2.0))
    store.append(_record("a", 3.0))  # same run_id replaces, never duplicates
    recs = store.load()
    assert [r["run_id"] for r in recs] == ["b", "a"]
    assert recs[1]["final"]["x"] == 3.0
    assert store.done_ids() == {"a", "b"}
    lines = store.jsonl.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    rows = list(csv.DictReader(store.csv.open()))
    assert [r["run_id"] for r in rows] == ["b", "a"]
    assert rows[1]["final.x"] == "3.0" and rows[0]["config.nested.a"] == "1"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert store.jsonl.stat().st_mode & 0o777 == records.FILE_MODE  # not mkstemp's 0o600


def test_store_reset_and_corrupt_line(tmp_path):
    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    store.reset()
    assert not store.jsonl.exists() and not store.csv.exists()
    store.jsonl.write_text('{"run_id": "a"}\n{"run_id": \n')
    with pytest.raises(ValueError, match="toy.jsonl:2"):
        store.load()


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    records.atomic_write_text(path, "old\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(records.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        records.atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_non_finite_final_is_stored_as_null(tmp_path):
    store = ResultStore(tmp_path, "toy")
    store.append(make_record("toy", {"run_id": "a", "seed": 0},
                             {"final": {"x": math.inf}}, 0.0))
    assert store.load()[0]["final"]["x"] is None
