"""`python -m tiedae.bench` end to end on tiny suites: records, summaries, --resume, a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from tiedae.bench import cli
from tiedae.bench.suite import Suite
from tiedae.report import Analysis, Table

REPO = Path(__file__).resolve().parents[1]


def _tiny_suite(calls=None, fail_on=None):
    def configs(options):
        n = 3 if options.quick else 4
        return [{"run_id": f"r{i}", "seed": options.seed + i, "i": i} for i in range(n)]

    def run(config):
        if calls is not None:
            calls.append(config["run_id"])
        if config["run_id"] == fail_on:
            raise RuntimeError("boom")
        return {"final": {"square": float(config["i"] ** 2)},
                "trajectory": {"step": [0, 1], "value": [0.0, config["i"]]}, "extra": {}}

    def analyze(recs):
        total = sum(r["final"]["square"] for r in recs)
        rows = [[r["run_id"], r["final"]["square"]] for r in recs]
        return Analysis([Table("tiny", ["run", "square"], rows)], [f"sum of squares {total:g}"])

    return Suite("tiny", "a test suite", configs, run, analyze)


def _lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_cli_end_to_end_writes_records_and_prints_findings(tmp_path, capsys):
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path), "--seed", "5"],
                    suites=[_tiny_suite()]) == 0
    recs = _lines(tmp_path / "tiny.jsonl")
    assert [r["run_id"] for r in recs] == ["r0", "r1", "r2"]
    assert [r["final"]["square"] for r in recs] == [0.0, 1.0, 4.0]
    assert [r["config"]["seed"] for r in recs] == [5, 6, 7]
    assert all(r["suite"] == "tiny" and r["wall_time_s"] >= 0 for r in recs)
    assert (tmp_path / "tiny.csv").read_text().count("\n") == 4
    out = capsys.readouterr().out
    assert "sum of squares 5" in out and "tiny.jsonl" in out


def test_full_flag_uses_full_configs(tmp_path):
    cli.main(["--suite", "tiny", "--full", "--out", str(tmp_path)], suites=[_tiny_suite()])
    assert len(_lines(tmp_path / "tiny.jsonl")) == 4


def test_default_runs_quick_suites_only(tmp_path):
    calls = []
    skipped = Suite("slow", "not in quick", lambda o: [{"run_id": "x", "seed": 0}],
                    lambda c: pytest.fail("must not run"), lambda r: None, in_quick=False)
    assert cli.main(["--out", str(tmp_path)], suites=[_tiny_suite(calls), skipped]) == 0
    assert calls == ["r0", "r1", "r2"] and not (tmp_path / "slow.jsonl").exists()


def test_list_and_unknown_suite(capsys, tmp_path):
    assert cli.main(["--list"], suites=[_tiny_suite()]) == 0
    assert "a test suite" in capsys.readouterr().out
    assert cli.main(["--suite", "nope", "--out", str(tmp_path)], suites=[_tiny_suite()]) == 2
    assert "unknown suite(s) 'nope'" in capsys.readouterr().err
    assert cli.main(["--suite", "tiny", "--data", str(tmp_path / "missing.npz")],
                    suites=[_tiny_suite()]) == 2
    assert "no such file" in capsys.readouterr().err


def test_resume_skips_saved_runs_and_failures_are_retried(tmp_path):
    calls = []
    code = cli.main(["--suite", "tiny", "--out", str(tmp_path)],
                    suites=[_tiny_suite(calls, fail_on="r1")])
    assert code == 1 and [r["run_id"] for r in _lines(tmp_path / "tiny.jsonl")] == ["r0", "r2"]
    calls.clear()
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path), "--resume"],
                    suites=[_tiny_suite(calls)]) == 0
    assert calls == ["r1"]
    assert sorted(r["run_id"] for r in _lines(tmp_path / "tiny.jsonl")) == ["r0", "r1", "r2"]
    calls.clear()  # without --resume or --overwrite nothing runs over saved results
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path)], suites=[_tiny_suite(calls)]) == 2
    assert calls == [] and len(_lines(tmp_path / "tiny.jsonl")) == 3
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path), "--overwrite"],
                    suites=[_tiny_suite(calls)]) == 0  # with --overwrite everything reruns
    assert calls == ["r0", "r1", "r2"] and len(_lines(tmp_path / "tiny.jsonl")) == 3


SLOW_SCRIPT = textwrap.dedent('''
    import sys, time
    from tiedae.bench import cli
    from tiedae.bench.suite import Suite
    from tiedae.report import Analysis, Table

    def configs(options):
        return [{"run_id": f"r{i}", "seed": i} for i in range(8)]

    def run(config):
        time.sleep(0.3)
        return {"final": {"i": float(config["seed"])}, "trajectory": {"x": list(range(500))}}

    suite = Suite("slow", "sleeps", configs, run,
                  lambda recs: Analysis([Table("slow", ["n"], [[len(recs)]])], []))
    sys.exit(cli.main(sys.argv[1:], suites=[suite]))
''')


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    script = tmp_path / "slow_bench.py"
    script.write_text(SLOW_SCRIPT)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(script), "--suite", "slow", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jsonl = out / "slow.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if jsonl.exists() and len(jsonl.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _lines(jsonl)  # every line parses after the kill
    assert 2 <= len(before) < 8
    stamps = {r["run_id"]: r["env"]["timestamp"] for r in before}
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    after = _lines(jsonl)
    ids = [r["run_id"] for r in after]
    assert sorted(ids) == [f"r{i}" for i in range(8)]  # none lost, none duplicated
    assert all(stamps[r["run_id"]] == r["env"]["timestamp"] for r in after
               if r["run_id"] in stamps)  # saved runs were not redone
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(any(d.platform == "gpu" for d in jax.devices()) or
                    os.environ.get("JAX_PLATFORMS", "").startswith("cuda"),
                    reason="a GPU is present")
def test_device_gpu_without_gpu_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "tiedae.bench", "--device", "gpu", "--list"],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "--device gpu" in proc.stderr and "GPU" in proc.stderr


def test_report_prints_saved_results_and_rewrites_the_readme_section(tmp_path, capsys):
    from tiedae.report.markdown import BEGIN, END

    suite = _tiny_suite()
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path)], suites=[suite]) == 0
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nstale 123\n{END}\nafter\n")
    capsys.readouterr()
    calls = []
    assert cli.main(["--report", "--out", str(tmp_path), "--readme", str(readme)],
                    suites=[_tiny_suite(calls)]) == 0
    assert calls == []  # nothing re-ran
    text = readme.read_text()
    assert "stale 123" not in text and text.startswith("# x\n\nbefore\n") and "after" in text
    assert "- sum of squares 5" in text and "| r2 | 4 |" not in text  # findings only
    assert "| r2 | 4 |" in capsys.readouterr().out  # the printed report has the tables
    readme.write_text(f"# x\n{BEGIN}\nstale\n{END}\n")  # the command's name for the option
    assert cli.main(["report", "--results", str(tmp_path), "--markdown-section", str(readme)],
                    suites=[suite]) == 0
    assert "stale" not in readme.read_text() and "## `tiny`" in readme.read_text()
    capsys.readouterr()
    readme.write_text("no markers here\n")
    assert cli.main(["--report", "--out", str(tmp_path), "--readme", str(readme)],
                    suites=[suite]) == 2
    assert "needs exactly one" in capsys.readouterr().err
    assert cli.main(["--report", "--out", str(tmp_path / "empty")], suites=[suite]) == 2
    assert "no saved results" in capsys.readouterr().err


def test_site_findings_and_readme_costs_are_regenerated_from_the_committed_results():
    """The findings page's numbers and the README's table of suite costs come from
    paper/results: regenerating their sections (`report --markdown-section
    docs/experiments/findings.md --costs-section README.md`) changes nothing."""
    from tiedae.bench.report import SECTION_LEVEL
    from tiedae.bench.suites import SUITES
    from tiedae.report import query
    from tiedae.report.markdown import (
        BEGIN,
        COSTS_BEGIN,
        COSTS_END,
        END,
        costs_markdown,
        markdown_report,
    )

    loaded = query.analyses(REPO / "paper" / "results", SUITES)
    page = (REPO / "docs" / "experiments" / "findings.md").read_text(encoding="utf-8")
    section = page.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert section == markdown_report(REPO / "paper" / "results", SUITES, tables=False,
                                      loaded=loaded, level=SECTION_LEVEL).strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    costs = readme.split(COSTS_BEGIN, 1)[1].split(COSTS_END, 1)[0].strip()
    assert costs == costs_markdown(loaded)


def test_costs_section_is_written_from_saved_results_and_refused_without_full_runs(
        tmp_path, capsys):
    from tiedae.report.markdown import COSTS_BEGIN, COSTS_END

    def configs(options):
        return [{"run_id": ("quick" if options.quick else "full") + "-r0", "seed": 0}]

    suite = Suite("tiny", "a test suite", configs, lambda c: {"final": {}}, lambda r: Analysis())
    page = tmp_path / "README.md"
    page.write_text(f"# title\n{COSTS_BEGIN}\nold\n{COSTS_END}\nend\n", encoding="utf-8")
    out = tmp_path / "res"
    assert cli.main(["run", "--suite", "tiny", "--out", str(out)], suites=[suite]) == 0
    assert cli.main(["report", "--results", str(out), "--costs-section", str(page)],
                    suites=[suite]) == 2
    assert "no full runs" in capsys.readouterr().err and "old" in page.read_text()
    assert cli.main(["run", "--suite", "tiny", "--full", "--out", str(tmp_path / "full")],
                    suites=[suite]) == 0
    assert cli.main(["report", "--results", str(tmp_path / "full"), "--costs-section",
                     str(page)], suites=[suite]) == 0
    text = page.read_text(encoding="utf-8")
    assert "| `tiny` | 1 |" in text and "old" not in text and text.endswith(f"{COSTS_END}\nend\n")


def _tiny_mnist(path):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (120, 8, 8), np.uint8),
             y_train=np.arange(120) % 3, x_test=rng.integers(0, 255, (12, 8, 8), np.uint8),
             y_test=np.arange(12) % 3)


def test_data_folder_with_images_and_a_graph_resolves_to_both(tmp_path):
    from tiedae.bench import datasets

    (tmp_path / "mnist").mkdir()
    _tiny_mnist(tmp_path / "mnist" / "tiny.npz")
    (tmp_path / "cora").mkdir()
    edges = "\n".join(f"{i} {(i * 7 + 1) % 40}" for i in range(40))
    (tmp_path / "cora" / "g.cites").write_text(edges + "\n")
    (tmp_path / "README.txt").write_text("A data folder.\nIt holds two sets.\n")  # not a graph
    found = datasets.resolve_data([tmp_path])
    assert found == {"mnist": str(tmp_path / "mnist" / "tiny.npz"),
                     "graph": str(tmp_path / "cora" / "g.cites")}
    assert datasets.resolve_data([found["graph"]]) == {"graph": found["graph"]}
    (tmp_path / "other.edges").write_text("1 2\n2 3\n")
    with pytest.raises(ValueError, match="two graph data sets"):
        datasets.resolve_data([tmp_path])
    with pytest.raises(ValueError, match="no MNIST-format data"):
        datasets.resolve_data([tmp_path / "README.txt"])


def test_cli_passes_the_named_data_sets_to_the_suites(tmp_path):
    from tiedae.bench.suite import Options

    npz = tmp_path / "tiny.npz"
    _tiny_mnist(npz)
    graph = tmp_path / "g.cites"
    graph.write_text("\n".join(f"{i} {(i * 7 + 1) % 40}" for i in range(40)) + "\n")
    seen = []

    def configs(options):
        seen.append(options.data)
        return [{"run_id": "quick-a", "seed": 0, "data": options.mnist,
                 "graph_data": options.graph}]

    suite = Suite(name="probe", description="records its data", configs=configs,
                  run=lambda c: {"final": {"x": 1.0}},
                  analyze=lambda recs: Analysis([Table("probe", ["x"], [[1]])], []))
    out = tmp_path / "out"
    assert cli.main(["--data", str(npz), str(graph), "--out", str(out)], suites=[suite]) == 0
    assert seen[-1] == {"mnist": str(npz), "graph": str(graph)}
    record = json.loads((out / "probe.jsonl").read_text().splitlines()[0])
    assert record["data_sha256"] is not None  # both files it names are in its digest
    assert Options(data=str(npz)).mnist == str(npz) and Options().graph is None
    bad = tmp_path / "g2.cites"
    bad.write_text("1 2\n")
    assert cli.main(["--data", str(bad), "--out", str(tmp_path / "o2")], suites=[suite]) == 2


HOLD_SCRIPT = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    from tiedae.bench import cli
    from tiedae.bench.suite import Suite
    from tiedae.report import Analysis, Table

    go, holding = Path(os.environ["GO_FILE"]), Path(os.environ["HOLDING_FILE"])

    def run(config):
        if config["run_id"] == "r1":  # r0 is saved: hold the folder until the test says go
            holding.write_text("")
            deadline = time.time() + 120
            while not go.exists() and time.time() < deadline:
                time.sleep(0.02)
        return {"final": {"i": float(config["seed"])}}

    suite = Suite("held", "waits", lambda o: [{"run_id": f"r{i}", "seed": o.seed + i}
                                              for i in range(2)],
                  run, lambda recs: Analysis([Table("held", ["n"], [[len(recs)]])], []))
    sys.exit(cli.main(sys.argv[1:], suites=[suite]))
''')


def test_second_process_on_the_same_folder_is_refused_naming_the_first(tmp_path):
    """Two real processes on one --out: the second is told who holds the folder and runs
    nothing; --report reads meanwhile; a SIGKILLed holder leaves no lock behind."""
    script = tmp_path / "hold.py"
    script.write_text(HOLD_SCRIPT)
    out, go, holding = tmp_path / "out", tmp_path / "go", tmp_path / "holding"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GO_FILE": str(go),
           "HOLDING_FILE": str(holding)}
    cmd = [sys.executable, str(script), "--suite", "held", "--out", str(out)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 120
        while not holding.exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert holding.exists(), first.communicate()[1]
        second = subprocess.Popen(cmd + ["--resume"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        report = subprocess.Popen([sys.executable, str(script), "--report", "--out", str(out)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and "is in use" in err
        assert f"pid {first.pid} on {socket.gethostname()}" in err and "--suite held" in err
        report_out, report_err = report.communicate(timeout=120)
        assert report.returncode == 0 and "r0" in report_out, report_err  # no lock needed
        assert [r["run_id"] for r in _lines(out / "held.jsonl")] == ["r0"]
    finally:
        first.kill()  # SIGKILL while holding the lock: the kernel releases it
        first.wait()
    from tiedae.bench.lock import LOCK_NAME, folder_lock

    assert (out / LOCK_NAME).exists()  # the killed process could not remove its file ...
    with folder_lock(out):  # ... but it holds nothing: the next command takes it over
        pass
    assert not (out / LOCK_NAME).exists()  # and removes it when done


def test_a_file_system_without_flock_runs_unlocked(tmp_path, monkeypatch):
    import errno

    from tiedae.bench import lock

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path)], suites=[_tiny_suite()]) == 0
    assert len(_lines(tmp_path / "tiny.jsonl")) == 3 and not (tmp_path / lock.LOCK_NAME).exists()


# ------------------------------------------------------------- commands ---------------------

def test_commands_run_list_report_repair(tmp_path, capsys, monkeypatch):
    out = tmp_path / "res"
    assert cli.main(["run", "--suite", "tiny", "--out", str(out), "--seed", "5"],
                    suites=[_tiny_suite()]) == 0
    assert [r["config"]["seed"] for r in _lines(out / "tiny.jsonl")] == [5, 6, 7]
    capsys.readouterr()
    assert cli.main(["list", "--results", str(out)], suites=[_tiny_suite()]) == 0
    assert "a test suite" in capsys.readouterr().out
    calls = []
    html_dir = tmp_path / "web"
    assert cli.main(["report", "--results", str(out), "--html", str(html_dir)],
                    suites=[_tiny_suite(calls)]) == 0
    cap = capsys.readouterr()
    assert calls == [] and "| r2 | 4 |" in cap.out and "- sum of squares 5" in cap.out
    assert f"HTML report: {html_dir / 'index.html'}" in cap.err
    assert "sum of squares 5" in (html_dir / "index.html").read_text()
    assert cli.main(["repair", "--results", str(out)], suites=[_tiny_suite()]) == 0
    assert "0 damaged line(s) set aside" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # the default results folder is ./results
    assert cli.main(["run", "--suite", "tiny"], suites=[_tiny_suite()]) == 0
    assert len(_lines(tmp_path / "results" / "tiny.jsonl")) == 3
    capsys.readouterr()
    assert cli.main(["report"], suites=[_tiny_suite()]) == 0
    assert "| r2 | 4 |" in capsys.readouterr().out


def test_the_old_report_flag_also_writes_html(tmp_path, capsys):
    assert cli.main(["--suite", "tiny", "--out", str(tmp_path / "res")],
                    suites=[_tiny_suite()]) == 0
    assert cli.main(["--report", "--out", str(tmp_path / "res"), "--html",
                     str(tmp_path / "web")], suites=[_tiny_suite()]) == 0
    assert (tmp_path / "web" / "index.html").is_file()


def test_list_reads_only_the_folders_it_is_given(tmp_path, capsys, monkeypatch):
    """`list` once read the repository's paper/results; now only --results (default ./results)."""
    assert (REPO / "paper" / "results" / "decoders.jsonl").exists()
    named = Suite("decoders", "same name as a committed suite",
                  lambda o: [{"run_id": "quick-a", "seed": 0}], lambda c: {"final": {"x": 1.0}},
                  lambda recs: Analysis([Table("t", ["x"], [[1]])], []))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["list"], suites=[named]) == 0
    out = capsys.readouterr().out
    assert "paper/results" not in out and " s (" not in out  # no measured time at all
    assert cli.main(["run", "--suite", "decoders"], suites=[named]) == 0
    capsys.readouterr()
    assert cli.main(["list"], suites=[named]) == 0
    assert "quick 0 s (results)" in capsys.readouterr().out


def test_help_presents_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"], suites=[_tiny_suite()])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {c} " in text for c in ("run", "list", "report", "repair"))
    assert "--resume" not in text.split("examples:")[0]  # old flags hidden, commands shown
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"], suites=[_tiny_suite()])
    assert "--html DIR" in capsys.readouterr().out
