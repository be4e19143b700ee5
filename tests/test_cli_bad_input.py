"""Bad input to `python -m tiedae.bench`: a message (no traceback), a non-zero exit status, no
record lost, no stray temporary file. In-process on tiny fake suites where possible; in a
subprocess where the process boundary matters (signals, SIGKILL, temporary folders)."""

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tiedae.bench import cli, datasets, records
from tiedae.bench.suite import Suite
from tiedae.report import Analysis, Table

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc, unwritable on Linux")


def _suite(calls=None, n=3, interrupt_at=None, extra=None, name="tiny"):
    """A fake suite: n runs (r0, r1, ...); `interrupt_at` raises KeyboardInterrupt in that run;
    `extra` adds config values; runs with a "data" config read the user's data."""
    def configs(options):
        return [{"run_id": f"r{i}", "seed": options.seed + i, "data_seed": options.seed,
                 "data": options.mnist, **(extra or {})} for i in range(n)]

    def run(config):
        if calls is not None:
            calls.append(config["run_id"])
        if config["run_id"] == interrupt_at:
            raise KeyboardInterrupt
        rows = len(datasets.load("user", path=config["data"])) if config["data"] else 0
        return {"final": {"seed": float(config["seed"]), "rows": rows}}

    def analyze(recs):
        rows = [[r["run_id"]] for r in recs]
        return Analysis([Table(name, ["run"], rows)], [f"{len(recs)} runs"])

    return Suite(name, "a fake suite", configs, run, analyze)


def _cli(capsys, args, suites=None):
    """(exit status, stdout, stderr) of cli.main; argparse's SystemExit counts as a status."""
    try:
        code = cli.main([str(a) for a in args], suites=suites or [_suite()])
    except SystemExit as exit_:
        code = exit_.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _refused(capsys, args, message, suites=None):
    code, out, err = _cli(capsys, args, suites)
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert message in err, err
    return err


def _ids(path):
    """The run ids of a result file, read as the store reads it (blank lines skipped)."""
    saved, damaged = records.scan_records(path)
    assert damaged == []
    return [record["run_id"] for record in saved]


def _saved(tmp_path, capsys, *extra):
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, *extra])[0] == 0
    return (tmp_path / "tiny.jsonl").read_bytes()


# ---------------------------------------------------------------- data loss ---------------

@pytest.mark.parametrize("args", [[], ["--full"], ["--seed", "4"], ["--suite", "all"]])
def test_saved_results_are_never_deleted_without_resume_or_overwrite(tmp_path, capsys, args):
    before = _saved(tmp_path, capsys)
    calls = []
    err = _refused(capsys, ["--out", tmp_path, *args], "already holds results",
                   [_suite(calls)])
    assert "tiny.jsonl (3 records)" in err and "--resume" in err and "--overwrite" in err
    assert calls == [] and (tmp_path / "tiny.jsonl").read_bytes() == before


def test_interrupted_overwrite_keeps_the_old_file_and_resume_replaces_it(tmp_path, capsys):
    before = _saved(tmp_path, capsys)
    code, _, err = _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--overwrite",
                                 "--seed", "9"], [_suite(interrupt_at="r2")])
    assert code == 130 and "Traceback" not in err and "2 run(s) saved" in err
    assert (tmp_path / "tiny.jsonl").read_bytes() == before  # untouched
    assert _ids(tmp_path / "tiny.jsonl.partial") == ["r0", "r1"]
    _refused(capsys, ["--suite", "tiny", "--out", tmp_path], "interrupted --overwrite")
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume", "--seed", "9"],
                [_suite(calls)])[0] == 0
    assert calls == ["r2"] and not (tmp_path / "tiny.jsonl.partial").exists()
    recs = [json.loads(x) for x in (tmp_path / "tiny.jsonl").read_text().splitlines()]
    assert sorted(r["run_id"] for r in recs) == ["r0", "r1", "r2"]
    assert {r["config"]["data_seed"] for r in recs} == {9}


def test_failed_overwrite_keeps_the_old_file(tmp_path, capsys):
    before = _saved(tmp_path, capsys)

    def boom(config):
        raise RuntimeError("boom")

    bad = _suite()
    bad = Suite(bad.name, bad.description, bad.configs, boom, bad.analyze)
    code, out, err = _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--overwrite"], [bad])
    assert code == 1 and "Traceback" not in out + err and "RuntimeError: boom" in out
    assert "Traceback" in (tmp_path / "errors.log").read_text()  # kept for the developer
    assert (tmp_path / "tiny.jsonl").read_bytes() == before and "stay as they were" in err
    calls = []  # --resume goes on with the --overwrite, it does not take the old file as done
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"],
                [_suite(calls)])[0] == 0
    assert calls == ["r0", "r1", "r2"] and not (tmp_path / "tiny.jsonl.partial").exists()


def test_overwrite_refuses_a_damaged_file_so_its_lines_are_not_lost(tmp_path, capsys):
    path = tmp_path / "tiny.jsonl"
    path.write_bytes(_saved(tmp_path, capsys) + b"{garbage\n")
    _refused(capsys, ["--suite", "tiny", "--out", tmp_path, "--overwrite"], "tiny.jsonl:4")
    assert path.read_bytes().endswith(b"{garbage\n")


def test_failing_write_stops_with_a_message_and_keeps_what_was_saved(tmp_path, capsys,
                                                                      monkeypatch):
    from tiedae.bench import files

    real, writes = files._write_all, []

    def disk_full(fd, data):
        writes.append(data)
        if len(writes) == 2:  # half of the second record's line, then the disk is full
            os.write(fd, data[:len(data) // 2])
            raise OSError(28, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(files, "_write_all", disk_full)
    code, out, err = _cli(capsys, ["--suite", "tiny", "--out", tmp_path])
    assert code == 1 and "Traceback" not in out + err
    assert "No space left on device" in err and "1 run(s) saved" in err and "--resume" in err
    assert (tmp_path / "tiny.jsonl").read_bytes() == writes[0]  # the half line taken back
    assert (tmp_path / "tiny.csv").read_text().count("\n") == 2  # header and r0


def test_killed_while_saving_then_resume_reruns_that_run_exactly_once(tmp_path, capsys):
    """A SIGKILL in the middle of an append leaves the last line cut short (no newline):
    readers ignore it, --resume reruns exactly that run, the file ends with each run once."""
    path = tmp_path / "tiny.jsonl"
    lines = _saved(tmp_path, capsys).splitlines(keepends=True)
    cut = lines[2][:len(lines[2]) // 3]
    path.write_bytes(lines[0] + lines[1] + cut)  # killed while saving r2
    code, out, _ = _cli(capsys, ["list", "--results", tmp_path])
    assert code == 0 and "damaged" not in out
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"],
                [_suite(calls)])[0] == 0
    assert calls == ["r2"] and _ids(path) == ["r0", "r1", "r2"]
    assert path.read_bytes().startswith(lines[0] + lines[1]) and path.read_bytes()[-1:] == b"\n"
    assert (tmp_path / "tiny.jsonl.damaged").read_bytes() == cut + b"\n"  # set aside, not lost
    assert (tmp_path / "tiny.csv").read_text().count("\n") == 4


@pytest.mark.parametrize("where", ["configs", "r0", "r2", "write"])
def test_ctrl_c_prints_a_message_and_keeps_the_saved_records(tmp_path, capsys, monkeypatch,
                                                             where):
    suite = _suite(interrupt_at=where)
    if where == "configs":
        suite = Suite("tiny", "", lambda o: (_ for _ in ()).throw(KeyboardInterrupt),
                      suite.run, suite.analyze)
    if where == "write":
        fsyncs, real = [], os.fsync

        def fsync(fd):
            fsyncs.append(fd)
            if len(fsyncs) == 2:  # the second record's append: taken back
                raise KeyboardInterrupt
            real(fd)

        monkeypatch.setattr(records.os, "fsync", fsync)
    code, out, err = _cli(capsys, ["--suite", "tiny", "--out", tmp_path], [suite])
    assert code == 130 and "Traceback" not in out + err and "--resume" in err
    saved = {"configs": 0, "r0": 0, "r2": 2, "write": 1}[where]
    assert (_ids(tmp_path / "tiny.jsonl") if saved else []) == [f"r{i}" for i in range(saved)]
    if where != "configs":
        assert f"{saved} run(s) saved" in err
    assert not list(tmp_path.glob(".*.tmp"))
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"])[0] == 0
    assert sorted(_ids(tmp_path / "tiny.jsonl")) == ["r0", "r1", "r2"]


# --------------------------------------------- damaged result files ------------------------

DAMAGE = {
    "truncated last line": b'{"suite": "tiny", "run_id": "r9", "con',
    "garbage text": b"not json at all",
    "binary": bytes(b for b in range(256) if b != ord("\n")),
    "json but not a record": b'{"a": 1}',
    "an empty object": b"{}",
    "an array": b"[1, 2, 3]",
    "NaN": b"NaN",
    "record of another suite": b'{"suite": "x", "run_id": "r", "config": {}, "final": {}, '
                               b'"wall_time_s": 1}',
    "repeated run_id": b'{"suite": "tiny", "run_id": "r1", "config": {}, "final": {}, '
                       b'"wall_time_s": 1}',
    "wrong types": b'{"suite": "tiny", "run_id": 5, "config": 1, "final": {}, "wall_time_s": 1}',
}
COMMANDS = {"resume": ["--suite", "tiny", "--resume"], "report": ["--report"],
            "overwrite": ["--suite", "tiny", "--overwrite"], "run": ["--suite", "tiny"]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_result_file_is_named_with_its_line_and_the_way_out(tmp_path, capsys,
                                                                    damage, command):
    path = tmp_path / "tiny.jsonl"
    damaged = _saved(tmp_path, capsys) + DAMAGE[damage] + b"\n"
    path.write_bytes(damaged)
    err = _refused(capsys, [*COMMANDS[command], "--out", tmp_path], "tiny.jsonl:4")
    assert "--repair" in err and path.read_bytes() == damaged


@pytest.mark.parametrize("damage", ["truncated last line", "binary", "json but not a record"])
def test_list_shows_damage_and_repair_then_resume_finish_exactly_once(tmp_path, capsys,
                                                                       damage):
    path = tmp_path / "tiny.jsonl"
    lines = _saved(tmp_path, capsys).splitlines()
    path.write_bytes(b"\n".join([lines[0], DAMAGE[damage], lines[2]]) + b"\n")  # r1 lost
    code, out, err = _cli(capsys, ["--list", "--out", tmp_path])
    assert code == 0 and "damaged" in out and "Traceback" not in out + err
    code, out, _ = _cli(capsys, ["--repair", "--out", tmp_path])
    assert code == 0 and "moved 1 damaged line(s) (line 2" in out
    assert (tmp_path / "tiny.jsonl.damaged").read_bytes() == DAMAGE[damage] + b"\n"
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--resume", "--out", tmp_path], [_suite(calls)])[0] == 0
    assert calls == ["r1"] and sorted(_ids(path)) == ["r0", "r1", "r2"]
    assert "r1" in (tmp_path / "tiny.csv").read_text()


def test_damaged_partial_file_of_an_overwrite_is_named_and_repaired(tmp_path, capsys):
    _saved(tmp_path, capsys)
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--overwrite"],
                [_suite(interrupt_at="r2")])[0] == 130
    partial = tmp_path / "tiny.jsonl.partial"
    partial.write_bytes(partial.read_bytes() + b"{oops\n")
    err = _refused(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"],
                   "tiny.jsonl.partial:3")
    assert "--repair" in err
    assert _cli(capsys, ["--repair", "--out", tmp_path])[0] == 0
    assert (tmp_path / "tiny.jsonl.partial.damaged").read_bytes() == b"{oops\n"
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"],
                [_suite(calls)])[0] == 0
    assert calls == ["r2"] and sorted(_ids(tmp_path / "tiny.jsonl")) == ["r0", "r1", "r2"]


lines_of_garbage = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                 max_leaves=6).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=lines_of_garbage)
@example(garbage=b"\t")  # whitespace only: a blank line, skipped like an empty one
def test_any_garbage_line_is_reported_then_repaired_and_rerun_exactly_once(garbage):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        assert cli.main(["--suite", "tiny", "--out", tmp], suites=[_suite()]) == 0
        path = out / "tiny.jsonl"
        lines = path.read_bytes().splitlines()
        damaged = b"\n".join([lines[0], garbage, lines[2]]) + b"\n"  # r1 replaced by garbage
        path.write_bytes(damaged)
        blank = not any(part.strip() for part in garbage.split(b"\n"))
        code = cli.main(["--suite", "tiny", "--out", tmp, "--resume"], suites=[_suite()])
        if not blank:
            assert code == 2 and path.read_bytes() == damaged
            assert cli.main(["--repair", "--out", tmp], suites=[_suite()]) == 0
            moved = (out / "tiny.jsonl.damaged").read_bytes().split(b"\n")[:-1]
            assert moved == [x for x in garbage.split(b"\n") if x.strip()]
            code = cli.main(["--suite", "tiny", "--out", tmp, "--resume"], suites=[_suite()])
        assert code == 0 and sorted(_ids(path)) == ["r0", "r1", "r2"]


# --------------------------------------------- arguments ----------------------------------

BAD_SEEDS = ["-1", "-7", "abc", "1.5", "1e3", "0x10", "", " ", "2147483648",
             "99999999999999999999", "\u0663", "1_000", "+1"]


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_bad_seed_is_refused_before_any_run(tmp_path, capsys, seed):
    calls = []
    _refused(capsys, ["--suite", "tiny", "--out", tmp_path, "--seed", seed], "--seed",
             [_suite(calls)])
    assert calls == [] and not (tmp_path / "tiny.jsonl").exists()


@settings(max_examples=40, deadline=None)
@given(seed=st.text(max_size=12))
def test_any_seed_string_gives_runs_or_a_message(seed):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            code = cli.main(["--suite", "tiny", "--out", tmp, f"--seed={seed}"],
                            suites=[_suite()])
        except SystemExit as exit_:
            code = exit_.code
        valid = seed.strip().isascii() and seed.strip().isdigit() and int(seed) < 2**31
        assert code == (0 if valid else 2)
        assert (Path(tmp) / "tiny.jsonl").exists() == valid


def test_largest_seed_runs(tmp_path, capsys):
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--seed", "2147483647"])[0] == 0


@pytest.mark.parametrize("args, message", [
    (["--readme", "README.md"], "needs --report"),
    (["--resume", "--overwrite"], "not allowed with"),
    (["--list", "--report"], "not allowed with"),
    (["--report", "--repair"], "not allowed with"),
    (["--bogus"], "unrecognized arguments"),
    (["--device", "tpu"], "invalid choice"),
    (["--suite"], "expected at least one argument"),
    (["--seed"], "expected one argument"),
    (["--suite", "nope"], "unknown suite(s) 'nope'"),
    (["--suite", ""], "unknown suite(s) ''"),
    (["--suite", "tiny", "nope", "also-not"], "'nope', 'also-not'"),
    (["--suite", "tiny", "--out", ""], "--out '': give a file or folder name"),
    (["--suite", "tiny", "--out", "a\0b"], "give a file or folder name"),
    (["--suite", "tiny", "--data", ""], "--data '': give a file or folder name"),
    (["--repair", "--out", "{tmp}/missing"], "is not a folder"),
    (["--report", "--out", "{tmp}/missing"], "no saved results"),
    (["--report", "--out", "{tmp}/afile"], "is a file"),
    (["--report", "--out", "{saved}", "--readme", "{tmp}/missing.md"], "No such file"),
    (["--report", "--out", "{saved}", "--readme", "{tmp}"], "Is a directory"),
    (["--report", "--out", "{saved}", "--readme", "{tmp}/binary.md"], "can't decode"),
    (["--report", "--out", "{saved}", "--readme", "{tmp}/afile"], "needs exactly one"),
])
def test_bad_arguments_get_a_message(tmp_path, capsys, args, message):
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00")
    saved = tmp_path / "saved"
    saved.mkdir()
    _saved(saved, capsys)
    args = [a.format(tmp=tmp_path, saved=saved) for a in args]
    _refused(capsys, args, message)


@pytest.mark.parametrize("args, message", [
    (["report", "--results", "{tmp}/missing"], "no saved results"),
    (["report", "--results", "{tmp}/afile"], "--results {tmp}/afile is a file"),
    (["report", "--results", "{saved}", "--html", "{tmp}/afile"], "is a file; choose a folder"),
    (["report", "--results", "{saved}", "--html", "{tmp}/mine"], "not a tiedae report"),
    (["report", "--results", "{saved}", "--html", "{tmp}/missing/web"], "parent folder"),
    (["report", "--results", "{saved}", "--html", ""], "--html '': give a file or folder name"),
    (["report", "--results", "{damaged}", "--html", "{tmp}/web"], "tiny.jsonl:4"),
    (["report", "--results", "{saved}", "--suite", "nope", "--html", "{tmp}/web"],
     "unknown suite(s) 'nope'"),
    pytest.param(["report", "--results", "{saved}", "--html", "/proc/tiedae-web"],
                 "cannot write the report", marks=LINUX),
    (["repair", "--results", "{tmp}/missing"], "--results {tmp}/missing is not a folder"),
    (["list", "--results", ""], "--results '': give a file or folder name"),
    (["run", "--seed"], "expected one argument"),
    (["run", "--seed", "x"], "0 to 2147483647 (e.g. --seed 0) (see python -m tiedae.bench run "
                             "--help)"),
    (["run", "--report"], "unrecognized arguments"),
    (["report", "--full"], "unrecognized arguments"),
    (["nope"], "invalid choice"),
    (["--out", "{tmp}", "report"], "options go after the command"),
    (["--html", "{tmp}/web"], "--html writes from saved results: it needs --report"),
])
def test_commands_with_bad_input_are_one_line_and_change_nothing(tmp_path, capsys, args,
                                                                  message):
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine\n")
    saved, damaged = tmp_path / "saved", tmp_path / "damaged"
    saved.mkdir()
    damaged.mkdir()
    _saved(saved, capsys)
    _saved(damaged, capsys)
    with open(damaged / "tiny.jsonl", "ab") as fh:
        fh.write(b"{oops\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(tmp=tmp_path, saved=saved, damaged=damaged) for a in args]
    err = _refused(capsys, args, message.format(tmp=tmp_path))
    assert len(err.strip().splitlines()) == 1, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "web").exists()


TOKENS = ["--suite", "tiny", "all", "--full", "--out", "--seed", "0", "-3", "--resume",
          "--overwrite", "--data", "--list", "--report", "--repair", "--readme", "x.md", "",
          "run", "list", "report", "repair", "--results", "--html"]


@settings(max_examples=40, deadline=None)
@given(tokens=st.lists(st.sampled_from(TOKENS) | st.text(max_size=6), max_size=7))
def test_any_argument_list_gives_a_status_not_an_exception(tokens):
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # relative paths among the tokens land here
        try:
            code = cli.main([*tokens, "--out", tmp], suites=[_suite()])
        except SystemExit as exit_:
            code = exit_.code
        finally:
            os.chdir(cwd)
        assert code in (0, 2)


def test_closed_output_pipe_is_a_message_not_a_traceback():
    read, write = os.pipe()
    os.close(read)  # whatever reads the output has stopped, as with `| head -1`
    try:
        proc = subprocess.run([sys.executable, "-m", "tiedae.bench", "--report", "--out",
                               str(REPO / "paper" / "results")], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.close(write)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "broken pipe" in proc.stderr


@pytest.mark.parametrize("out, message", [
    ("{tmp}/afile", "is a file, not a folder"),
    ("{tmp}/missing/out", "parent folder"),
    ("{tmp}/afile/out", "parent folder"),
    pytest.param("/proc/tiedae-out", "cannot write there", marks=LINUX),
    pytest.param("/proc", "cannot write there", marks=LINUX),
])
def test_unusable_output_folder_is_refused_before_any_run(tmp_path, capsys, out, message):
    (tmp_path / "afile").write_text("x\n")
    calls = []
    _refused(capsys, ["--suite", "tiny", "--out", out.format(tmp=tmp_path)], message,
             [_suite(calls)])
    assert calls == [] and (tmp_path / "afile").read_text() == "x\n"


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_read_only_output_folder_is_refused_before_any_run(tmp_path, capsys):
    tmp_path.chmod(0o555)
    calls = []
    try:
        _refused(capsys, ["--suite", "tiny", "--out", tmp_path], "cannot write there",
                 [_suite(calls)])
    finally:
        tmp_path.chmod(0o755)
    assert calls == []


# --------------------------------------------- --data --------------------------------------

def _arrays(n_train=100, n_test=10, side=8):
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
            "y_train": np.arange(n_train) % 3,
            "x_test": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
            "y_test": np.arange(n_test) % 3}


def _idx(array) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int64): 0x0C}
    array = array.astype(np.uint8 if array.dtype == np.uint8 else ">i4")
    head = bytes([0, 0, codes.get(np.dtype(array.dtype), 0x0C), array.ndim])
    return head + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()


def _idx_folder(folder, arrays, damage=None):
    folder.mkdir()
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    for key, name in names.items():
        raw = _idx(arrays[key])
        if key == "x_train" and damage == "truncated":
            raw = raw[: len(raw) // 2]
        if key == "x_train" and damage == "random":
            raw = b"\xff" + os.urandom(299)  # not IDX's two zero bytes
        if key == "x_train" and damage == "bad gzip":
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw)[:40])
            continue
        (folder / name).write_bytes(raw)
    return folder


def _npz(path, **override):
    np.savez(path, **{**_arrays(), **override})
    return path


BAD_DATA = {
    "random binary": (lambda t: t / "x.bin", lambda p: p.write_bytes(os.urandom(500)), None),
    "random bytes named .npz": (lambda t: t / "x.npz",
                                lambda p: p.write_bytes(os.urandom(500)), None),
    "empty .npz": (lambda t: t / "x.npz", lambda p: p.write_bytes(b""), None),
    "wrong keys": (lambda t: t / "x.npz", lambda p: np.savez(p, a=np.zeros(3)), "lacks"),
    "three images": (lambda t: t / "x.npz", lambda p: np.savez(p, **_arrays(3, 3)),
                     "3 training images (need 100)"),
    "five test images": (lambda t: t / "x.npz", lambda p: np.savez(p, **_arrays(100, 5)),
                         "5 test images (need 10)"),
    "4x4 images": (lambda t: t / "x.npz", lambda p: np.savez(p, **_arrays(side=4)),
                   "4x4 pixels"),
    "9x9 images": (lambda t: t / "x.npz", lambda p: np.savez(p, **_arrays(side=9)),
                   "multiples of 4"),
    "one class": (lambda t: t / "x.npz", lambda p: _npz(p, y_train=np.zeros(100, int)),
                  "single class"),
    "test images of another size": (
        lambda t: t / "x.npz", lambda p: _npz(p, x_test=_arrays(side=9)["x_test"]),
        "but test images (9, 9)"),
    "object arrays": (lambda t: t / "x.npz",
                      lambda p: _npz(p, x_train=np.array([{}, 1], dtype=object)), None),
    "2-D images": (lambda t: t / "x.npz", lambda p: _npz(p, x_train=np.zeros((100, 64))),
                   "shape"),
    "NaN pixels": (lambda t: t / "x.npz",
                   lambda p: _npz(p, x_train=np.full((100, 8, 8), np.nan)), "NaN"),
    "pixels out of range": (lambda t: t / "x.npz",
                            lambda p: _npz(p, x_train=np.full((100, 8, 8), 300.0)), None),
    "labels for other images": (lambda t: t / "x.npz",
                                lambda p: _npz(p, y_train=np.arange(7)), "labels"),
    "empty folder": (lambda t: t / "d", lambda p: p.mkdir(), None),
    "truncated IDX": (lambda t: t / "d", lambda p: _idx_folder(p, _arrays(), "truncated"), None),
    "random IDX": (lambda t: t / "d", lambda p: _idx_folder(p, _arrays(), "random"), None),
    "broken gzip IDX": (lambda t: t / "d", lambda p: _idx_folder(p, _arrays(), "bad gzip"),
                        None),
    "three images as IDX": (lambda t: t / "d", lambda p: _idx_folder(p, _arrays(3, 3)),
                            "3 training images"),
    "missing file": (lambda t: t / "nothing.npz", lambda p: None, "no such file or folder"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_is_one_message_before_any_run(tmp_path, capsys, case):
    make_path, make, message = BAD_DATA[case]
    path = make_path(tmp_path)
    make(path)
    datasets.user_images.cache_clear()
    datasets.check_user_data.cache_clear()
    calls = []
    err = _refused(capsys, ["--suite", "tiny", "--out", tmp_path / "out", "--data", path],
                   message or str(path), [_suite(calls)])
    assert calls == [] and err.count("--data") == 1 and len(err.splitlines()) <= 2
    assert not (tmp_path / "out").exists()


# --------------------------------------------- silently wrong ------------------------------

@pytest.fixture
def two_data_sets(tmp_path):
    datasets.user_images.cache_clear()
    datasets.check_user_data.cache_clear()
    yield _npz(tmp_path / "ok.npz"), _npz(tmp_path / "other.npz", y_train=np.arange(100) % 2)
    datasets.user_images.cache_clear()
    datasets.check_user_data.cache_clear()


def test_records_carry_the_data_fingerprint(tmp_path, capsys, two_data_sets):
    ok, _ = two_data_sets
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path / "o", "--data", ok])[0] == 0
    recs = [json.loads(x) for x in (tmp_path / "o" / "tiny.jsonl").read_text().splitlines()]
    digest = datasets.check_user_data(str(ok))
    assert {r["data_sha256"] for r in recs} == {digest} and len(digest) == 64
    assert all(r["final"]["rows"] == 100 for r in recs)
    assert all(r["fingerprint"] == records.record_fingerprint(r) for r in recs)


def test_records_name_the_data_not_its_path(tmp_path, capsys, two_data_sets):
    ok, _ = two_data_sets
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path / "o", "--data", ok])[0] == 0
    text = (tmp_path / "o" / "tiny.jsonl").read_text()
    assert str(tmp_path) not in text and str(tmp_path) not in (tmp_path / "o" / "tiny.csv"
                                                               ).read_text()
    assert {json.loads(x)["config"]["data"] for x in text.splitlines()} == {"ok.npz"}


def test_resume_finds_the_data_moved_and_records_that_kept_its_path(tmp_path, capsys,
                                                                    two_data_sets):
    """The records name the data set and its digest, so a resume from another folder with the
    same file goes on; records saved before (with the path itself) count as the same runs."""
    ok, _ = two_data_sets
    out = tmp_path / "o"
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--data", ok],
                [_suite(interrupt_at="r2")])[0] == 130
    moved = tmp_path / "elsewhere" / "ok.npz"
    moved.parent.mkdir()
    moved.write_bytes(ok.read_bytes())
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--resume", "--data", moved],
                [_suite(calls)])[0] == 0
    assert calls == ["r2"]  # r0 and r1 were saved from the other folder: same name and digest
    saved = [json.loads(x) for x in (out / "tiny.jsonl").read_text().splitlines()]
    old = [{**r, "config": {**r["config"], "data": str(ok)}} for r in saved]  # the old layout
    (out / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--resume", "--data", ok],
                [_suite(calls)])[0] == 0
    assert calls == []


def _resume_refuses(tmp_path, capsys, first, second, message, suites=(None, None)):
    out = tmp_path / "o"
    code, _, err = _cli(capsys, ["--suite", "tiny", "--out", out, *first],
                        [suites[0] or _suite(interrupt_at="r2")])
    assert code == 130, err
    before = (out / "tiny.jsonl").read_bytes()
    calls = []
    err = _refused(capsys, ["--suite", "tiny", "--out", out, "--resume", *second], message,
                   [suites[1] or _suite(calls)])
    assert "would mix" in err and calls == [] and (out / "tiny.jsonl").read_bytes() == before


def test_resume_with_other_data_is_refused(tmp_path, capsys, two_data_sets):
    ok, other = two_data_sets
    _resume_refuses(tmp_path, capsys, ["--data", ok], ["--data", other], "--data contents")


def test_resume_with_the_same_path_but_new_contents_is_refused(tmp_path, capsys,
                                                               two_data_sets):
    ok, _ = two_data_sets
    out = tmp_path / "o"
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--data", ok],
                [_suite(interrupt_at="r2")])[0] == 130
    _npz(ok, y_train=np.arange(100) % 2)  # same file name, other labels
    datasets.user_images.cache_clear()
    datasets.check_user_data.cache_clear()
    _refused(capsys, ["--suite", "tiny", "--out", out, "--resume", "--data", ok],
             "--data contents")


def test_resume_without_the_data_is_refused(tmp_path, capsys, two_data_sets):
    ok, _ = two_data_sets
    _resume_refuses(tmp_path, capsys, ["--data", ok], [], "data")


def test_resume_with_another_seed_is_refused(tmp_path, capsys):
    _resume_refuses(tmp_path, capsys, [], ["--seed", "1"], "data_seed 0 -> 1")


def test_resume_with_other_config_values_is_refused(tmp_path, capsys):
    _resume_refuses(tmp_path, capsys, [], [], "lr 0.01 -> 0.02",
                    (_suite(interrupt_at="r2", extra={"lr": 0.01}), _suite(extra={"lr": 0.02})))


def _named_suite(calls):
    """A fake suite whose run_ids name the size, the data and the seed, as the real suites' do
    (e.g. optimal-decoder's quick-d0-k16-s0): another --seed, --full or --data plans other
    run_ids, so no planned run has a saved record to compare fingerprints with."""
    def configs(options):
        tag = f"{'quick' if options.quick else 'full'}-{'user' if options.mnist else 'bundled'}"
        return [{"run_id": f"{tag}-s{options.seed + i}", "seed": options.seed + i,
                 "data": options.mnist} for i in range(2)]

    def run(config):
        calls.append(config["run_id"])
        return {"final": {"seed": float(config["seed"])}}

    return Suite("named", "run_ids name the options", configs, run,
                 lambda recs: Analysis([Table("named", ["run"], [[r["run_id"]] for r in recs])]))


def _on_gpu(path):
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, "env": {**r["env"], "device": "gpu:H200 x1"}})
                            + "\n" for r in recs))


def _without_options(path):  # as records saved before they kept their options
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "options"}) + "\n"
                            for r in recs))


RESUME_WITH_OTHER_OPTIONS = {  # first command, edit of its records, --resume command, message
    "--seed": ([], None, ["--seed", "5"], "made with --seed 0 (quick sizes), this command has "
                                           "--seed 5"),
    "--full": ([], None, ["--full"], "this command has --seed 0 --full"),
    "no --full": (["--full"], None, [], "made with --seed 0 --full"),
    "--data": ([], None, ["--data", "{npz}"], "not runs of this command"),
    "no --data": (["--data", "{npz}"], None, [], "not runs of this command"),
    "--device": ([], _on_gpu, [], "ran on a gpu device, this command runs on cpu"),
    "--device cpu": ([], _on_gpu, ["--device", "cpu"], "ran on a gpu device"),
    "--seed, older records": ([], _without_options, ["--seed", "5"],
                              "not runs of this command (e.g. quick-bundled-s0)"),
    "--full, older records": ([], _without_options, ["--full"], "not runs of this command"),
}


@pytest.mark.parametrize("option", RESUME_WITH_OTHER_OPTIONS)
def test_resume_with_any_other_option_is_refused_and_changes_nothing(tmp_path, capsys,
                                                                     two_data_sets, option):
    """Every option that changes the records is compared with the saved records', also when
    the new command plans other run_ids than the saved ones (the bug: --resume --seed 5 on
    seed-0 results ran seeds 5-9 into the same file)."""
    first, edit, second, message = RESUME_WITH_OTHER_OPTIONS[option]
    npz, _ = two_data_sets
    fill = lambda args: [str(a).format(npz=npz) for a in args]  # noqa: E731
    out, calls = tmp_path / "o", []
    assert _cli(capsys, ["--suite", "named", "--out", out, *fill(first)],
                [_named_suite(calls)])[0] == 0
    if edit:
        edit(out / "named.jsonl")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls.clear()
    err = _refused(capsys, ["--suite", "named", "--out", out, "--resume", *fill(second)],
                   message, [_named_suite(calls)])
    assert "would mix" in err and len(err.strip().splitlines()) == 1
    assert calls == [] and {p.name: p.read_bytes() for p in out.iterdir()} == before
    # the same options as the first command resume (and run nothing: all saved)
    if edit is not _on_gpu:
        assert _cli(capsys, ["--suite", "named", "--out", out, "--resume", *fill(first)],
                    [_named_suite(calls)])[0] == 0
        assert calls == []


def test_resume_of_real_suite_with_another_seed_is_refused(tmp_path, capsys):
    """The reported command: `--suite optimal-decoder --resume --seed 5` on seed-0 records."""
    from tiedae.bench.suite import Options
    from tiedae.bench.suites import SUITES

    suite = next(s for s in SUITES if s.name == "optimal-decoder")
    store = records.ResultStore(tmp_path, suite.name)
    for config in suite.configs(Options(seed=0)):
        store.append(records.make_record(suite.name, config, {"final": {"x": 1.0}}, 0.0,
                                         options=records.command_options(0, quick=True)))
    before = store.jsonl.read_bytes()
    _refused(capsys, ["--suite", "optimal-decoder", "--out", tmp_path, "--resume", "--seed",
                      "5"], "made with --seed 0 (quick sizes), this command has --seed 5",
             SUITES)
    assert store.jsonl.read_bytes() == before


def test_overwrite_with_other_data_replaces_every_record(tmp_path, capsys, two_data_sets):
    ok, other = two_data_sets
    out = tmp_path / "o"
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--data", ok])[0] == 0
    assert _cli(capsys, ["--suite", "tiny", "--out", out, "--data", other, "--overwrite"])[0] == 0
    recs = [json.loads(x) for x in (out / "tiny.jsonl").read_text().splitlines()]
    assert {r["data_sha256"] for r in recs} == {datasets.check_user_data(str(other))}


# --------------------------------------------- valid input that used to fail ---------------

def test_resume_counts_records_saved_before_fingerprints_existed(tmp_path, capsys):
    path = tmp_path / "tiny.jsonl"
    lines = [json.loads(x) for x in _saved(tmp_path, capsys).splitlines()]
    path.write_text("".join(json.dumps({k: v for k, v in r.items()
                                        if k not in ("fingerprint", "data_sha256")}) + "\n"
                            for r in lines))
    calls = []
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path, "--resume"], [_suite(calls)])[0] == 0
    assert calls == []


@pytest.mark.parametrize("args", [["--resume"], ["--overwrite"], ["--seed", "007"],
                                  ["--seed", " 3 "]])
def test_fresh_folder_with_any_mode_runs(tmp_path, capsys, args):
    assert _cli(capsys, ["--suite", "tiny", "--out", tmp_path / "new", *args])[0] == 0
    assert _ids(tmp_path / "new" / "tiny.jsonl") == ["r0", "r1", "r2"]
    assert not (tmp_path / "new" / "tiny.jsonl.partial").exists()


def test_repair_of_sound_files_changes_nothing(tmp_path, capsys):
    before = _saved(tmp_path, capsys)
    code, out, _ = _cli(capsys, ["--repair", "--out", tmp_path])
    assert code == 0 and "are fine" in out and (tmp_path / "tiny.jsonl").read_bytes() == before


# --------------------------------------------- real signals, real processes ----------------

CHILD = textwrap.dedent('''
    import os, signal, sys
    from tiedae.bench import cli
    from tiedae.bench.suite import Suite
    from tiedae.report import Analysis, Table

    sig, where, index = os.environ["KILL_AT"].split(":")
    sig, index, count = getattr(signal, sig), int(index), [0]
    # a process started in the background by a non-interactive shell inherits SIGINT ignored;
    # a terminal's Ctrl-C reaches Python's default handler, which is what is tested here
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def maybe_kill(kind):
        if kind == where:
            count[0] += 1
            if count[0] == index:
                os.kill(os.getpid(), sig)

    real_fsync = os.fsync
    def fsync(fd):  # a whole line written, not yet fsynced
        maybe_kill("write")
        real_fsync(fd)
    os.fsync = fsync

    from tiedae.bench import files
    real_write = files._write_all
    def write_all(fd, data):  # half a line written
        if where == "cut" and count[0] + 1 == index:
            os.write(fd, data[:len(data) // 2])
        maybe_kill("cut")
        real_write(fd, data)
    files._write_all = write_all

    def run(config):
        maybe_kill("run")
        return {"final": {"i": float(config["seed"])}, "trajectory": {"x": list(range(300))}}

    suite = Suite("kill", "killed", lambda o: [{"run_id": f"r{i}", "seed": o.seed + i}
                                               for i in range(6)],
                  run, lambda recs: Analysis([Table("kill", ["n"], [[len(recs)]])], []))
    sys.exit(cli.main(sys.argv[1:], suites=[suite]))
''')


def _child(tmp_path, kill_at, *args):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env.update(PYTHONPATH=str(REPO), KILL_AT=kill_at, TMPDIR=str(tmp_path / "tmp"))
    return subprocess.run([sys.executable, str(script), "--suite", "kill", "--no-cache",
                           "--out", str(tmp_path / "out"), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def _state(tmp_path):
    path = tmp_path / "out" / "kill.jsonl"
    recs = records.read_records(path) if path.exists() else []  # a line cut short: ignored
    ids = [r["run_id"] for r in recs]
    assert len(ids) == len(set(ids))
    return {r["run_id"]: r["env"]["timestamp"] for r in recs}


def test_sigint_and_sigkill_at_every_point_then_resume_gives_every_record_once(tmp_path):
    (tmp_path / "tmp").mkdir()
    xla = lambda: [p.name for p in (tmp_path / "tmp").iterdir()]  # noqa: E731
    steps = [  # (signal, where, n-th occurrence in that process, records saved afterwards)
        ("SIGKILL", "run", 1, 0),      # before the first record
        ("SIGINT", "run", 1, 0),
        ("SIGKILL", "cut", 2, 1),      # half of the second record's line written
        ("SIGINT", "cut", 1, 1),       # half of the next line: taken back
        ("SIGKILL", "write", 1, 2),    # a whole line written, not yet fsynced: it is saved
        ("SIGKILL", "run", 2, 3),      # between records
        ("SIGINT", "run", 2, 4),
    ]
    saved, cut = {}, 0
    for i, (sig, where, n, count) in enumerate(steps):
        proc = _child(tmp_path, f"{sig}:{where}:{n}", *(["--resume"] if i else []))
        assert proc.returncode == (130 if sig == "SIGINT" else -signal.SIGKILL), proc.stderr
        state = _state(tmp_path)
        assert len(state) == count and all(state[k] == v for k, v in saved.items())
        saved = state
        path = tmp_path / "out" / "kill.jsonl"
        ends_cut = path.exists() and not path.read_bytes().endswith(b"\n")
        assert ends_cut == (sig == "SIGKILL" and where == "cut")
        cut += ends_cut
        if sig == "SIGINT":
            assert "Traceback" not in proc.stdout + proc.stderr
            assert "--resume" in proc.stderr and "run(s) saved by this command" in proc.stderr
            assert xla() == []  # its cache folder went at exit, a killed one's at start
            assert not list((tmp_path / "out").glob(".*.tmp"))
        else:
            assert len(xla()) == 1  # a SIGKILL runs no clean-up: the next run removes it
    proc = _child(tmp_path, "SIGINT:never:1", "--resume")
    assert proc.returncode == 0, proc.stderr
    state = _state(tmp_path)
    assert sorted(state) == [f"r{i}" for i in range(6)]
    assert all(state[k] == v for k, v in saved.items())  # nothing redone
    assert _ids(tmp_path / "out" / "kill.jsonl") == sorted(state)  # whole lines only
    assert (tmp_path / "out" / "kill.csv").read_text().count("\n") == 7
    damaged = (tmp_path / "out" / "kill.jsonl.damaged").read_bytes().splitlines()
    assert len(damaged) == cut == 1 and damaged[0].startswith(b'{"suite": "kill"')
    assert xla() == [] and not list((tmp_path / "out").glob(".*.tmp"))


def test_sigkill_during_overwrite_keeps_the_old_file(tmp_path):
    (tmp_path / "tmp").mkdir()
    old = records.ResultStore(tmp_path / "out", "kill")  # what the child saves, made here
    for i in range(6):
        old.append(records.make_record("kill", {"run_id": f"r{i}", "seed": i},
                                       {"final": {"i": float(i)}}, 0.0))
    before = old.jsonl.read_bytes()
    proc = _child(tmp_path, "SIGKILL:run:4", "--overwrite", "--seed", "5")
    assert proc.returncode == -signal.SIGKILL
    assert old.jsonl.read_bytes() == before and len(_ids(old.partial)) == 3
    proc = _child(tmp_path, "SIGINT:never:1", "--resume", "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(x) for x in old.jsonl.read_text().splitlines()]
    assert sorted(r["config"]["seed"] for r in recs) == list(range(5, 11))
    assert not old.partial.exists() and not list((tmp_path / "tmp").iterdir())


SIGINT_ON_IMPORT = textwrap.dedent('''
    # sitecustomize of the start-up test: Python imports it before `-m`'s module. It restores
    # Python's SIGINT handler (a shell's background job inherits SIGINT ignored) and sends
    # SIGINT to this process the moment module SIGINT_ON_IMPORT starts to be imported.
    import os, signal, sys

    signal.signal(signal.SIGINT, signal.default_int_handler)

    class SigintOnImport:
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["SIGINT_ON_IMPORT"]:
                sys.meta_path.remove(self)
                open(os.environ["SIGINT_SENT"], "w").close()
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, SigintOnImport())
''')

STARTING = {  # command, its arguments, the module whose import is interrupted, the message
    "bench, importing jax": ("tiedae.bench", ["--list"], "jax", "interrupted while starting"),
    "bench, importing its cli": ("tiedae.bench", ["--list"], "tiedae.bench.cli",
                                 "interrupted while starting"),
    "bench, in main": ("tiedae.bench", ["--list"], "tiedae.bench.suites", "interrupted;"),
    "paper, importing jax": ("tiedae.paper", [], "jax", "interrupted while starting"),
    "paper, importing matplotlib": ("tiedae.paper", [], "matplotlib",
                                    "interrupted while starting"),
    "launch, importing jax": ("tiedae.launch", ["--processes", "1", "--", "true"], "jax",
                              "interrupted while starting"),
}


@pytest.mark.parametrize("case", STARTING)
def test_ctrl_c_while_starting_is_one_line_and_status_130(tmp_path, case):
    """Ctrl-C while `python -m tiedae.bench` (.paper, .launch) imports JAX: one line, 130."""
    command, args, module, message = STARTING[case]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SIGINT_ON_IMPORT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO)]),
           "SIGINT_ON_IMPORT": module, "SIGINT_SENT": str(tmp_path / "sent")}
    proc = subprocess.run([sys.executable, "-m", command, *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert (tmp_path / "sent").exists()  # the SIGINT came while `module` was being imported
    assert proc.returncode == 130, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"python -m {command}")
