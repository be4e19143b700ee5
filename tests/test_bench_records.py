"""Result files of the bench: strict JSON lines, appends, resume bookkeeping, CSV."""

import csv
import json
import math
import os

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
    assert set(rec) == {"suite", "run_id", "config", "data_sha256", "fingerprint", "final",
                        "trajectory", "extra", "wall_time_s", "env"}
    assert rec["data_sha256"] is None and rec["fingerprint"] == records.record_fingerprint(rec)
    assert rec["run_id"] == "r1" and "run_id" not in rec["config"]
    assert {"jax", "flax", "optax", "numpy", "python", "device", "git_commit",
            "timestamp"} <= set(rec["env"])


def test_make_record_rejects_bad_results():
    with pytest.raises(ValueError, match="unknown result keys"):
        make_record("toy", {"run_id": "a"}, {"final": {}, "oops": 1}, 0.0)
    with pytest.raises(ValueError, match="no 'final'"):
        make_record("toy", {"run_id": "a"}, {"trajectory": {}}, 0.0)


def test_store_appends_refuses_a_saved_run_and_writes_csv(tmp_path):
    store = ResultStore(tmp_path, "toy")
    assert store.load() == [] and store.done_ids() == set()
    store.append(_record("b", 2.0))
    store.append(_record("a", 3.0))
    before = store.jsonl.read_bytes()
    with pytest.raises(ValueError, match="run 'a' is saved already"):
        store.append(_record("a", 4.0))
    with pytest.raises(ValueError, match="run 'b' is saved already"):  # also a new store
        ResultStore(tmp_path, "toy").append(_record("b", 4.0))
    assert store.jsonl.read_bytes() == before
    recs = store.load()
    assert [(r["run_id"], r["final"]["x"]) for r in recs] == [("b", 2.0), ("a", 3.0)]
    assert store.done_ids() == {"a", "b"}
    lines = store.jsonl.read_text().splitlines()
    assert len(lines) == 2 and [json.loads(line) for line in lines] == recs
    assert not store.csv.exists()  # derived from the JSONL when a suite's runs end
    store.write_csv()
    rows = list(csv.DictReader(store.csv.open()))
    assert [r["run_id"] for r in rows] == ["b", "a"]
    assert rows[1]["final.x"] == "3.0" and rows[0]["config.nested.a"] == "1"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert store.jsonl.stat().st_mode & 0o777 == records.FILE_MODE


def test_append_reads_the_file_once_and_rewrites_no_line(tmp_path, monkeypatch):
    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    first = store.jsonl.read_bytes()
    reads = []
    real = records.read_records
    monkeypatch.setattr(records, "read_records", lambda *a: reads.append(a) or real(*a))
    store = ResultStore(tmp_path, "toy")
    for rid in "bcd":
        store.append(_record(rid))
    assert len(reads) == 1  # the run_ids, at the first append; not once per append
    assert store.jsonl.read_bytes().startswith(first)
    assert [r["run_id"] for r in store.load()] == list("abcd")


def test_a_last_line_cut_short_is_ignored_then_set_aside_by_the_next_append(tmp_path):
    """A process killed while it appended: the reader ignores the cut line, and the next
    append moves it to <file>.damaged, truncates it and writes whole lines only."""
    store = ResultStore(tmp_path, "toy")
    for rid in "ab":
        store.append(_record(rid))
    whole = store.jsonl.read_bytes()
    line_c = json.dumps(_record("c")).encode()
    for cut in (1, 37, len(line_c) - 1):  # inside a key, a value, before the final brace
        store.jsonl.write_bytes(whole + line_c[:cut])
        assert [r["run_id"] for r in records.read_records(store.jsonl, "toy")] == ["a", "b"]
        assert records.scan_records(store.jsonl, "toy")[1] == []
    cut = line_c[:len(line_c) // 2]
    store.jsonl.write_bytes(whole + cut)
    ResultStore(tmp_path, "toy").append(_record("c"))
    assert store.jsonl.read_bytes() == whole + line_c + b"\n"
    assert (tmp_path / "toy.jsonl.damaged").read_bytes() == cut + b"\n"


def test_a_line_cut_short_in_the_middle_is_damaged(tmp_path):
    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    line_b = json.dumps(_record("b")).encode()
    store.jsonl.write_bytes(store.jsonl.read_bytes() + line_b[:40] + b"\n" + line_b + b"\n")
    with pytest.raises(records.DamagedRecordsError, match=r"toy.jsonl:2 is not valid JSON"):
        store.load()
    with pytest.raises(records.DamagedRecordsError):
        ResultStore(tmp_path, "toy").append(_record("c"))


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path):
    """A file edited by hand whose last line lost its newline: that record counts, and the
    next one goes on a line of its own."""
    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    store.jsonl.write_bytes(store.jsonl.read_bytes().rstrip(b"\n"))
    assert store.done_ids() == {"a"}
    ResultStore(tmp_path, "toy").append(_record("b"))
    assert [r["run_id"] for r in store.load()] == ["a", "b"]
    assert store.jsonl.read_bytes().count(b"\n") == 2
    assert not (tmp_path / "toy.jsonl.damaged").exists()


@pytest.mark.parametrize("failure", ["disk full mid-line", "ctrl-c at fsync"])
def test_a_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch, failure):
    from tiedae.bench import files

    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    store.jsonl.write_bytes(store.jsonl.read_bytes() + b'{"cut')  # and a line cut short
    before = store.jsonl.read_bytes()
    if failure == "disk full mid-line":
        def write_half(fd, data):
            os.write(fd, data[:len(data) // 2])
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(files, "_write_all", write_half)
        error = OSError
    else:
        fsyncs, real_fsync = [], os.fsync

        def interrupted(fd):  # the first fsync is <file>.damaged's, the second the append's
            fsyncs.append(fd)
            if len(fsyncs) == 2:
                raise KeyboardInterrupt
            real_fsync(fd)

        monkeypatch.setattr(files.os, "fsync", interrupted)
        error = KeyboardInterrupt
    with pytest.raises(error):
        store.append(_record("b"))
    assert store.jsonl.read_bytes() == before[:-len(b'{"cut')]  # only the cut line went,
    assert (tmp_path / "toy.jsonl.damaged").read_bytes() == b'{"cut\n'  # to .damaged
    monkeypatch.undo()
    store.append(_record("b"))
    assert [r["run_id"] for r in store.load()] == ["a", "b"]


def test_corrupt_line_names_file_and_line(tmp_path):
    store = ResultStore(tmp_path, "toy")
    store.append(_record("a"))
    good = store.jsonl.read_text()
    store.jsonl.write_text(good + '{"run_id": \n')
    with pytest.raises(records.DamagedRecordsError, match=r"toy.jsonl:2 is not valid JSON"):
        store.load()
    store.jsonl.write_text(good + '{"run_id": "b"}\n')
    with pytest.raises(ValueError, match=r"toy.jsonl:2 is not a bench record \(no \['suite'"):
        store.load()


@pytest.mark.parametrize("line, reason", [
    (b"[1, 2]", "it is an array"),
    (b'"text"', "it is a string"),
    (b"null", "it is null"),
    (b"NaN", "NaN is not strict JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100000, "not valid JSON"),
    (b'{"suite": "toy", "run_id": 3, "config": {}, "final": {}, "wall_time_s": 1}',
     "'run_id' is a number"),
    (b'{"suite": "toy", "run_id": "x", "config": [], "final": {}, "wall_time_s": 1}',
     "'config' is an array"),
    (b'{"suite": "toy", "run_id": "x", "config": {}, "final": {}, "wall_time_s": true}',
     "'wall_time_s' is a boolean"),
    (b'{"suite": "other", "run_id": "x", "config": {}, "final": {}, "wall_time_s": 1}',
     "suite 'other', not of 'toy'"),
    (b'{"suite": "toy", "run_id": "a", "config": {}, "final": {}, "wall_time_s": 1}',
     "repeats run_id 'a' of line 1"),
])
def test_scan_records_names_every_kind_of_damage(tmp_path, line, reason):
    path = tmp_path / "toy.jsonl"
    ResultStore(tmp_path, "toy").append(_record("a"))
    path.write_bytes(path.read_bytes() + b"\n" + line + b"\n")
    recs, damaged = records.scan_records(path, "toy")
    assert [r["run_id"] for r in recs] == ["a"]
    assert [d.line for d in damaged] == [3] and reason in damaged[0].reason
    assert damaged[0].raw == line


def test_repair_moves_damaged_lines_aside_and_keeps_records(tmp_path):
    store = ResultStore(tmp_path, "toy")
    for rid in "abc":
        store.append(_record(rid))
    lines = store.jsonl.read_bytes().splitlines()
    store.jsonl.write_bytes(b"\n".join([lines[0], b"garbage", lines[1], b'{"x": 1}', lines[2],
                                        b"{trunc"]))
    with pytest.raises(records.DamagedRecordsError) as info:
        store.load()
    assert [d.line for d in info.value.damaged] == [2, 4]  # line 6 was cut short: ignored
    assert "and 1 more damaged line(s)" in str(info.value) and "--repair" in str(info.value)
    assert [d.line for d in records.repair_records(store.jsonl, "toy")] == [2, 4, 6]
    assert [r["run_id"] for r in store.load()] == ["a", "b", "c"]
    assert (tmp_path / "toy.jsonl.damaged").read_bytes() == b'garbage\n{"x": 1}\n{trunc\n'
    assert records.repair_records(store.jsonl, "toy") == []  # nothing left to move


def test_staged_store_keeps_the_old_file_until_promoted(tmp_path):
    old = ResultStore(tmp_path, "toy")
    old.append(_record("a", 1.0))
    old.append(_record("z", 1.0))
    before = old.jsonl.read_text()
    new = ResultStore(tmp_path, "toy", staged=True, restart=True)
    assert new.load() == [] and new.path == new.partial
    new.append(_record("a", 2.0))
    assert old.jsonl.read_text() == before and new.done_ids() == {"a"}
    new.promote()
    assert [(r["run_id"], r["final"]["x"]) for r in old.load()] == [("a", 2.0)]
    assert not new.partial.exists() and "z" not in old.csv.read_text()
    with pytest.raises(RuntimeError, match="nothing staged"):
        new.promote()


def test_fingerprint_covers_config_values_and_data():
    base = {"run_id": "a", "seed": 0, "lr": 1e-2, "data": "x.npz"}
    fp = records.fingerprint("toy", base, "d" * 64)
    assert fp == records.fingerprint("toy", dict(reversed(base.items())), "d" * 64)
    assert fp != records.fingerprint("toy", {**base, "seed": 1}, "d" * 64)
    assert fp != records.fingerprint("toy", {**base, "lr": 1.01e-2}, "d" * 64)
    assert fp != records.fingerprint("toy", base, "e" * 64)
    assert fp != records.fingerprint("toy", base, None)
    assert fp != records.fingerprint("other", base, "d" * 64)
    assert fp != records.fingerprint("toy", {**base, "run_id": "b"}, "d" * 64)
    rec = make_record("toy", base, {"final": {}}, 0.0, data_sha256="d" * 64)
    saved = json.loads(json.dumps(rec))
    assert records.record_fingerprint(saved) == fp == saved["fingerprint"]
    from tiedae.bench.runs import config_difference

    assert config_difference(saved, {**base, "seed": 2}, "e" * 64) == (
        "seed 0 -> 2, --data contents (sha256 dddddddddddd -> eeeeeeeeeeee)")
    assert config_difference(saved, {**base, "new_knob": None}, "d" * 64) == (
        "new_knob (absent) -> None")


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / ".toy.jsonl.4194305.abc_1234.tmp"  # above the largest Linux pid
    mine = tmp_path / f".toy.jsonl.{os.getpid()}.abc_1234.tmp"
    other = tmp_path / ".toy.jsonl.abc_1234.tmp"  # no pid: not ours to judge
    for path in (dead, mine, other):
        path.write_text("x")
    assert records.remove_stale_temp_files(tmp_path) == 1
    assert not dead.exists() and mine.exists() and other.exists()


def test_tempfiles_docstring_example():
    import doctest

    from tiedae.bench import tempfiles

    result = doctest.testmod(tempfiles)
    assert result.attempted > 0 and result.failed == 0


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
