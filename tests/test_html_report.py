"""The HTML report (`tiedae.report.html`): content, offline, bad input, atomic replacement, and
its screenshots (`tools/screenshot_report.py`, when chromium is installed)."""

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from paper_records import suite_module, write_tiny_results

from tiedae.bench.records import DamagedRecordsError, ResultStore, make_record
from tiedae.bench.suite import Suite
from tiedae.report import Analysis, Figure, Table
from tiedae.report.html import MARKER, write_html

REPO = Path(__file__).resolve().parents[1]
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc, unwritable on Linux")


def _draw():
    from tiedae.report.plots import new_figure

    fig, axes = new_figure(1, 1)
    axes[0, 0].plot([0, 1, 2], [1.0, 0.5, 0.25])
    return fig


def _fake(name="fig-suite", figures=True, fail=None):
    """A suite whose analysis has a table (with HTML-special text), a finding and a figure."""
    def analyze(records):
        if fail == "analysis":
            raise KeyError("final")
        rows = [[r["run_id"], r["final"]["x"]] for r in records]
        rows.append(["<script>&", None])

        def draw():
            if fail == "draw":
                raise RuntimeError("no ink")
            return _draw()

        return Analysis([Table("runs of <fig-suite>", ["run", "x"], rows)],
                        [f"{len(records)} runs; W^T <beats> W^+ & more"],
                        figures=[Figure("curve", "loss against step (median of runs)", draw)]
                        if figures else [])

    return Suite(name, "a suite with a figure", lambda o: [], lambda c: {}, analyze)


def _records(folder, name="fig-suite", n=3, wall=0.5):
    store = ResultStore(folder, name)
    for i in range(len(store.load()), n):  # runs are appended once: add the missing ones
        store.append(make_record(name, {"run_id": f"quick-r{i}", "seed": i},
                                 {"final": {"x": float(i)}}, wall))
    return store


def _leftovers(parent):
    return sorted(p.name for p in Path(parent).iterdir() if p.name.endswith(".tmp"))


def _index(out):
    return (Path(out) / "index.html").read_text(encoding="utf-8")


def test_report_of_real_suites_has_their_sections_findings_tables_and_no_web_address(tmp_path):
    results = tmp_path / "results"
    names = ["decoders", "regularized"]
    write_tiny_results(results, names, max_runs=8)
    suites = [suite_module(n).SUITE for n in names]
    index = write_html(results, tmp_path / "report", suites)
    text = index.read_text(encoding="utf-8")
    for suite in suites:
        records = ResultStore(results, suite.name).load()
        analysis = suite.analyze(records)
        assert f'<section id="{suite.name}">' in text and f'href="#{suite.name}"' in text
        assert html.escape(suite.description) in text
        assert f"<dd>{len(records)} (quick {len(records)})</dd>" in text
        assert all(f"<li>{html.escape(f)}</li>" in text for f in analysis.findings)
        assert f"<caption>{html.escape(analysis.tables[0].title)}</caption>" in text
        table = analysis.tables[0]
        row = next(r for r in table.rows if len(r) == len(table.columns))
        assert all(f">{html.escape(c.text)}</td>" in text for c in row)
        for heading in (r for r in table.rows if len(r) == 1):  # spans the table
            assert (f'<th colspan="{len(table.columns)}">{html.escape(heading[0].text)}</th>'
                    in text)
    assert "<dd>python " in text and "jax " in text and "cpu" in text
    css = (tmp_path / "report" / "style.css").read_text()
    for body in (text, css):
        assert "http://" not in body and "https://" not in body and "<script" not in body
    assert '<link rel="stylesheet" href="style.css">' in text
    assert (tmp_path / "report" / MARKER).is_file() and not _leftovers(tmp_path)


def test_figure_table_and_meta_of_one_suite(tmp_path):
    _records(tmp_path / "res", n=3, wall=0.5)
    text = _index(write_html(tmp_path / "res", tmp_path / "out", [_fake()]).parent)
    svg = tmp_path / "out" / "figures" / "fig-suite-curve.svg"
    assert '<figure class="wide">\n<img src="figures/fig-suite-curve.svg" alt="loss against' in text
    assert "<figcaption>loss against step (median of runs)</figcaption>" in text
    assert svg.is_file() and "<svg" in svg.read_text() and "href=\"http" not in svg.read_text()
    assert "<caption>runs of &lt;fig-suite&gt;</caption>" in text
    assert "<td>&lt;script&gt;&amp;</td>" in text and "<script>" not in text  # escaped
    assert "<li>3 runs; W^T &lt;beats&gt; W^+ &amp; more</li>" in text
    assert "<dt>run time</dt><dd>1.5 s</dd>" in text  # 3 records of 0.5 s
    assert f"<dt>CPU cores</dt><dd>{os.cpu_count()}</dd>" in text
    assert '<td class="num">2</td>' in text  # numbers right-aligned


def test_the_same_results_give_the_same_files(tmp_path):
    _records(tmp_path / "res")
    first, second = tmp_path / "a", tmp_path / "b"
    write_html(tmp_path / "res", first, [_fake()])
    write_html(tmp_path / "res", second, [_fake()])
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 4
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)


def test_a_suite_without_figures_gets_no_figure_block(tmp_path):
    _records(tmp_path / "res")
    text = _index(write_html(tmp_path / "res", tmp_path / "out", [_fake(figures=False)]).parent)
    assert "<figure" not in text and "<h3>Figures</h3>" not in text and "<table>" in text
    assert not list((tmp_path / "out" / "figures").iterdir())


def test_suites_without_records_are_left_out(tmp_path):
    _records(tmp_path / "res")
    text = _index(write_html(tmp_path / "res", tmp_path / "out",
                             [_fake(), _fake("absent")]).parent)
    assert 'id="fig-suite"' in text and 'id="absent"' not in text


def _bad(tmp_path, kind):
    res, out = tmp_path / "res", tmp_path / "out"
    suites = [_fake()]
    if kind not in ("missing results", "results is a file"):
        res.mkdir()
    if kind == "results is a file":
        res.write_text("x\n")
    if kind not in ("missing results", "results is a file", "empty results"):
        _records(res)
    if kind == "damaged":
        with open(res / "fig-suite.jsonl", "a") as fh:
            fh.write('{"suite": "fig-suite", "run_id": "r\n')
    if kind == "foreign":
        _records(res, "other", n=1)
        (res / "fig-suite.jsonl").write_text((res / "other.jsonl").read_text())
    if kind == "analysis fails":
        suites = [_fake(fail="analysis")]
    if kind == "figure fails":
        suites = [_fake(fail="draw")]
    if kind == "target is a file":
        out.write_text("mine\n")
    if kind == "target holds user files":
        out.mkdir()
        (out / "notes.txt").write_text("mine\n")
    if kind == "earlier report plus a user file":
        write_html(res, out, suites)
        (out / "figures" / "mine.png").write_bytes(b"mine")
    if kind == "target's parent missing":
        out = tmp_path / "nowhere" / "out"
    if kind == "target not writable":
        out = Path("/proc/tiedae-html-report")
    return res, out, suites


BAD = {
    "missing results": (FileNotFoundError, "does not exist"),
    "results is a file": (ValueError, "is a file, not a folder of results"),
    "empty results": (FileNotFoundError, "no saved results of these suites"),
    "damaged": (DamagedRecordsError, "fig-suite.jsonl:4"),
    "foreign": (DamagedRecordsError, "fig-suite.jsonl:1"),
    "analysis fails": (ValueError, "cannot analyse the records in"),
    "figure fails": (ValueError, "cannot draw figure 'curve' (RuntimeError: no ink)"),
    "target is a file": (ValueError, "is a file; choose a folder name"),
    "target holds user files": (ValueError, "is a non-empty folder that is not a tiedae report"),
    "earlier report plus a user file": (ValueError, "also holds figures/mine.png"),
    "target's parent missing": (FileNotFoundError, "parent folder"),
    "target not writable": (ValueError, "cannot write the report"),
}


@pytest.mark.parametrize("kind", [k if k != "target not writable" else pytest.param(k, marks=LINUX)
                                  for k in BAD])
def test_bad_input_is_a_named_error_and_leaves_nothing_behind(tmp_path, kind):
    res, out, suites = _bad(tmp_path, kind)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    error, message = BAD[kind]
    with pytest.raises(error, match=None) as info:
        write_html(res, out, suites)
    assert message in str(info.value)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing deleted
    assert not _leftovers(tmp_path) and not _leftovers(out.parent if out.parent.is_dir()
                                                       else tmp_path)


def test_an_earlier_report_is_replaced_whole(tmp_path):
    res, out = tmp_path / "res", tmp_path / "out"
    _records(res, n=2)
    write_html(res, out, [_fake()])
    assert "<li>2 runs;" in _index(out)
    _records(res, n=4)
    write_html(res, out, [_fake(figures=False)])  # the old figure goes with the old report
    assert "<li>4 runs;" in _index(out) and not (out / "figures" / "fig-suite-curve.svg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "res"]


def test_an_empty_folder_is_a_valid_target(tmp_path):
    _records(tmp_path / "res")
    (tmp_path / "out").mkdir()
    assert write_html(tmp_path / "res", tmp_path / "out", [_fake()]).is_file()


def test_failure_while_replacing_keeps_the_earlier_report(tmp_path, monkeypatch):
    res, out = tmp_path / "res", tmp_path / "out"
    _records(res)
    write_html(res, out, [_fake()])
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="cannot draw figure"):
        write_html(res, out, [_fake(fail="draw")])
    real_rename = os.rename

    def rename(src, dst):  # the new report cannot be moved into place
        if Path(dst) == out and str(src).endswith(".report.tmp"):
            raise PermissionError(13, "Permission denied")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ValueError, match="cannot write the report"):
        write_html(res, out, [_fake()])
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "res"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_screenshots_of_the_report_are_taken(tmp_path):
    write_tiny_results(tmp_path / "res", ["regularized"], max_runs=6)
    shots = tmp_path / "shots"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "screenshot_report.py"),
                           "--results", str(tmp_path / "res"), "--suite", "regularized",
                           "--out", str(shots)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    for name in ("report-top.png", "report-regularized.png"):
        pixels = np.asarray(Image.open(shots / name).convert("L"), dtype=float)
        assert pixels.shape == (2000, 1280)
        assert pixels.std() > 5 and (pixels < 128).mean() > 0.002  # text, not a blank page
