r"""The HTML renderer: a static report of saved results, readable offline from the file system.

`write_html(results_dir, out_dir, suites)` writes `out_dir/index.html`, `style.css` and
`figures/<suite>-<name>.svg`: a table of contents, then one section per suite that has records
(id = the suite's name, so `index.html#decoders` opens one): its description, run count, run
time (the sum of the records' ``wall_time_s``), the devices, CPU counts and library versions
of its records' ``env``, its findings, its tables and its figures (those at least
`WIDE_INCHES` wide span the page, narrower ones half of it: all at about one scale). No
server, no JavaScript, no address outside the folder; the same results give the same files
(no dates).

Nothing of the user's is lost: the report is written to a temporary folder next to `out_dir`
and renamed into place. An existing `out_dir` is replaced only when it is an earlier report
(it holds the marker file `.tiedae-report`, which lists the report's files, and nothing else);
any other non-empty folder is refused. Every check of the input (the results folder, its
records, each suite's analysis) runs before anything is written; on any error the temporary
folder is removed and `out_dir` is as it was.

Example:
  >>> from tiedae.report.html import escape
  >>> escape('<b>"W^T & W^+"</b>')
  '&lt;b&gt;&quot;W^T &amp; W^+&quot;&lt;/b&gt;'
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tiedae.report import query
from tiedae.report.analysis import Analysis, Table

__all__ = ["MARKER", "escape", "write_html"]

MARKER = ".tiedae-report"
WIDE_INCHES = 5.0  # figures at least this wide span the page; narrower ones take half of it
_TEMP = re.compile(r"\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.(report|old)\.tmp")
_VERSIONS = ("python", "jax", "flax", "optax", "numpy")
_NUMBER = re.compile(r"[-+]?(\d|\.\d|inf\b|nan\b)")  # a cell that starts with a number
_BLANK = {"", "-", "n/a", "never", "none", "None"}


def escape(text) -> str:
    """`text` as HTML text (``&``, ``<``, ``>`` and quotes escaped)."""
    return html.escape(str(text), quote=True)


def _safe(name: str) -> str:
    """A file or anchor name from a suite or figure name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "x"


# ------------------------------------------------------------------ checks ------------------

def _check_results(results_dir: Path) -> None:
    if not results_dir.exists():
        raise FileNotFoundError(f"results folder {results_dir} does not exist")
    if not results_dir.is_dir():
        raise ValueError(f"{results_dir} is a file, not a folder of results")


def _previous_report(out: Path) -> bool:
    """Whether `out` may be replaced: absent, empty, or an earlier report holding only its
    files. Raises ValueError for anything else."""
    if not out.exists():
        if not out.parent.is_dir():
            raise FileNotFoundError(f"the report's parent folder {out.parent} does not exist")
        return False
    if not out.is_dir():
        raise ValueError(f"report folder {out} is a file; choose a folder name")
    entries = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir())
    if not entries:
        return False
    marker = out / MARKER
    if not marker.is_file():
        raise ValueError(f"{out} is a non-empty folder that is not a tiedae report (no {MARKER} "
                         "file); choose a new or empty folder (nothing was changed)")
    ours = set(marker.read_text(encoding="utf-8").split("\n")) | {MARKER}
    foreign = [e for e in entries if e not in ours]
    if foreign:
        raise ValueError(f"{out} is an earlier report but also holds {foreign[0]}, which the "
                         "report did not write; move it or choose another folder (nothing was "
                         "changed)")
    return True


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _values(records: list[dict], key: str) -> str:
    seen = dict.fromkeys(str(r.get("env", {}).get(key)) for r in records
                         if r.get("env", {}).get(key) is not None)
    return ", ".join(seen) or "not recorded"


def _meta(records: list[dict]) -> list[tuple[str, str]]:
    modes = {}  # run ids of the real suites start with quick- or full-
    for r in records:
        mode = r["run_id"].split("-", 1)[0]
        modes[mode] = modes.get(mode, 0) + 1
    runs = f"{len(records)}" + (f" ({', '.join(f'{m} {n}' for m, n in modes.items())})"
                                if set(modes) <= {"quick", "full"} else "")
    seconds = sum(float(r.get("wall_time_s") or 0.0) for r in records)
    versions = "; ".join(f"{k} {_values(records, k)}" for k in _VERSIONS
                         if any(k in r.get("env", {}) for r in records))
    stamps = sorted(str(r["env"]["timestamp"])[:10] for r in records
                    if r.get("env", {}).get("timestamp"))
    rows = [("runs", runs), ("run time", _duration(seconds)),
            ("device", _values(records, "device")), ("CPU cores", _values(records, "cpu_count")),
            ("versions", versions or "not recorded")]
    if stamps:
        rows.append(("recorded", stamps[0] if stamps[0] == stamps[-1]
                     else f"{stamps[0]} to {stamps[-1]}"))
    commits = dict.fromkeys(str(r["env"]["git_commit"])[:10] for r in records
                            if r.get("env", {}).get("git_commit"))
    if commits:
        rows.append(("commit", ", ".join(commits)))
    return rows


def _numeric(cells) -> bool:
    """Whether a column holds numbers (right-aligned): every cell starts with one or is blank."""
    texts = [c.text.strip() for c in cells]
    return (any(t not in _BLANK for t in texts)
            and all(t in _BLANK or _NUMBER.match(t) for t in texts))


def _table(table: Table) -> list[str]:
    width = len(table.columns)
    body = [row for row in table.rows if len(row) == width]
    numeric = [_numeric([row[j] for row in body]) for j in range(width)]

    def td(j, c, tag="td"):
        kind = ' class="num"' if numeric[j] else ""
        return f"<{tag}{kind}>{escape(c.text)}</{tag}>"

    lines = ['<div class="table-wrap"><table>', f"<caption>{escape(table.title)}</caption>",
             "<thead><tr>" + "".join(td(j, c, "th") for j, c in enumerate(table.columns))
             + "</tr></thead>",
             "<tbody>"]
    lines.extend(f'<tr class="heading"><th colspan="{width}">{escape(row[0].text)}</th></tr>'
                 if len(row) < width else
                 "<tr>" + "".join(td(j, c) for j, c in enumerate(row)) + "</tr>"
                 for row in table.rows)
    lines.append("</tbody></table></div>")
    return lines


def _figures(suite, analysis: Analysis, folder: Path, written: list[str]) -> list[str]:
    from matplotlib import rc_context

    from tiedae.report.plots import save

    lines = []
    for figure in analysis.figures:
        rel = f"figures/{_safe(suite.name)}-{_safe(figure.name)}.svg"
        try:
            fig = figure.draw()
            wide = fig.get_size_inches()[0] >= WIDE_INCHES
            with rc_context({"svg.hashsalt": "tiedae"}):  # the same ids in every rerun
                save(fig, folder / rel)
        except Exception as err:
            raise ValueError(f"suite {suite.name}: cannot draw figure {figure.name!r} "
                             f"({type(err).__name__}: {err})") from err
        written.append(rel)
        lines += [f'<figure class="{"wide" if wide else "narrow"}">',
                  f'<img src="{escape(rel)}" alt="{escape(figure.caption)}">',
                  f"<figcaption>{escape(figure.caption)}</figcaption>", "</figure>"]
    return lines


def _section(suite, records, analysis: Analysis, folder: Path, written: list[str]) -> list[str]:
    anchor = _safe(suite.name)
    lines = [f'<section id="{anchor}">',
             f'<h2><a href="#{anchor}">{escape(suite.name)}</a></h2>',
             f'<p class="description">{escape(suite.description)}</p>', '<dl class="meta">']
    lines += [f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in _meta(records)]
    lines.append("</dl>")
    if analysis.findings:
        lines += ["<h3>Findings</h3>", '<ul class="findings">',
                  *(f"<li>{escape(f)}</li>" for f in analysis.findings), "</ul>"]
    if analysis.tables:
        lines.append("<h3>Tables</h3>")
        for table in analysis.tables:
            lines += _table(table)
    if analysis.figures:
        lines += ["<h3>Figures</h3>", '<div class="figures">',
                  *_figures(suite, analysis, folder, written), "</div>"]
    lines += ['<p class="top"><a href="#contents">back to the contents</a></p>', "</section>"]
    return lines


def _index(results_dir: Path, loaded: list[tuple], sections: list[str]) -> str:
    total = sum(float(r.get("wall_time_s") or 0.0) for _, recs, _ in loaded for r in recs)
    runs = sum(len(recs) for _, recs, _ in loaded)
    toc = ['<nav id="contents"><h2>Contents</h2><table class="toc"><thead><tr><th>suite</th>'
           "<th>what it measures</th>" + "".join(f'<th class="num">{h}</th>' for h in
                                                ("runs", "run time", "findings", "tables",
                                                 "figures")) + "</tr></thead><tbody>"]
    for suite, recs, analysis in loaded:
        seconds = sum(float(r.get("wall_time_s") or 0.0) for r in recs)
        toc.append(f'<tr><td><a href="#{_safe(suite.name)}">{escape(suite.name)}</a></td>'
                   f"<td>{escape(suite.description)}</td>"
                   f'<td class="num">{len(recs)}</td><td class="num">{_duration(seconds)}</td>'
                   f'<td class="num">{len(analysis.findings)}</td>'
                   f'<td class="num">{len(analysis.tables)}</td>'
                   f'<td class="num">{len(analysis.figures)}</td></tr>')
    toc.append("</tbody></table></nav>")
    head = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>tiedae.bench results</title>", '<link rel="stylesheet" href="style.css">',
        "</head>", "<body>", "<header>", "<h1>tiedae.bench results</h1>",
        f'<p class="summary">{len(loaded)} suite(s), {runs} run(s), {_duration(total)} of run '
        f"time (the records' wall_time_s), from the results in "
        f"<code>{escape(results_dir.name or results_dir)}</code>. Written by "
        "<code>python -m tiedae.bench report --html</code>; every number below is computed "
        "from the saved records.</p>", "</header>", "<main>"]
    return "\n".join([*head, *toc, *sections, "</main>", "</body>", "</html>", ""])


CSS = """\
:root { --fg: #1d2330; --muted: #5b6475; --line: #d8dce3; --band: #f4f6f9; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
header .summary { padding-bottom: 12px; border-bottom: 3px solid var(--accent); }
h1 { margin: 0 0 6px; font-size: 28px; }
h2 { margin: 0 0 4px; font-size: 22px; }
h2 a { color: inherit; text-decoration: none; }
h3 { margin: 18px 0 6px; font-size: 15px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
a { color: var(--accent); }
code { font: 13px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--band);
  padding: 1px 4px; border-radius: 3px; }
.summary, .description { color: var(--muted); margin: 4px 0 10px; }
nav { margin: 22px 0 8px; }
section { margin: 26px 0; padding: 18px 20px 8px; border: 1px solid var(--line);
  border-radius: 8px; }
section:target { border-color: var(--accent); box-shadow: 0 0 0 2px #1f5fa833; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 10px; margin: 8px 0 4px; }
.meta div { background: var(--band); border-radius: 6px; padding: 4px 10px; font-size: 13px; }
.meta dt { display: inline; color: var(--muted); margin-right: 6px; }
.meta dd { display: inline; margin: 0; }
.findings { padding-left: 20px; margin: 4px 0; }
.findings li { margin: 4px 0; }
.table-wrap { overflow-x: auto; margin: 10px 0 14px; }
table { border-collapse: collapse; font-size: 13px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0 6px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fafbfc; }
table.toc { width: 100%; font-size: 14px; }
table.toc td:first-child, table.toc .num { white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
figure { margin: 8px 0; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--line);
  border-radius: 4px; }
@media (max-width: 760px) { figure.narrow { grid-column: 1 / -1; } }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.top { font-size: 13px; text-align: right; margin: 10px 0 0; }
"""


# ------------------------------------------------------------------- write ------------------

def _temp_folder(out: Path, kind: str) -> Path:
    from tiedae.bench.tempfiles import remove_orphans

    remove_orphans(out.parent, _TEMP)  # left by killed runs
    try:
        return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{os.getpid()}.",
                                     suffix=f".{kind}.tmp"))
    except OSError as err:
        raise ValueError(f"cannot write the report next to {out} "
                         f"({err.strerror or err}); choose a writable folder") from None


def write_html(results_dir, out_dir, suites: Sequence, *, loaded: list | None = None) -> Path:
    """Writes the HTML report of the suites' records in `results_dir` to `out_dir`.

    Args:
      results_dir: a folder of `<suite>.jsonl` records (`python -m tiedae.bench run --out DIR`).
      out_dir: the report folder: new, empty, or an earlier report (replaced).
      suites: `tiedae.bench.Suite`s; those without records in `results_dir` are left out.
      loaded: `query.analyses(results_dir, suites)` when the caller has it already.

    Returns:
      The path of `out_dir/index.html`.

    Raises:
      FileNotFoundError: `results_dir` or `out_dir`'s parent does not exist, or no suite has
        records in `results_dir`.
      ValueError: a result file is damaged or foreign (`DamagedRecordsError`: file, line,
        recovery); a suite cannot analyse its records or draw a figure; `out_dir` is a file,
        a folder that is not an earlier report, or cannot be written.
    """
    from tiedae.bench.records import FILE_MODE

    results_dir, out = Path(results_dir), Path(out_dir)
    _check_results(results_dir)
    replace = _previous_report(out)
    loaded = query.analyses(results_dir, suites) if loaded is None else loaded
    tmp = _temp_folder(out, "report")
    try:
        (tmp / "figures").mkdir()
        written = ["index.html", "style.css"]
        sections = []
        for suite, records, analysis in loaded:
            sections += _section(suite, records, analysis, tmp, written)
        (tmp / "style.css").write_text(CSS, encoding="utf-8")
        (tmp / "index.html").write_text(_index(results_dir, loaded, sections), encoding="utf-8")
        (tmp / MARKER).write_text("\n".join(written) + "\n", encoding="utf-8")
        os.chmod(tmp, FILE_MODE | 0o111)  # mkdtemp makes it private
        if replace:
            old = _temp_folder(out, "old")
            os.rename(out, old / "report")
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old / "report", out)
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)  # replaces an empty folder
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"cannot write the report {out} ({err.strerror or err}); "
                         "nothing was changed") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"
