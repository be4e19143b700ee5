"""The commands of `python -m tiedae.bench` that run nothing: `list`, `report` and `repair`.

`list_suites` shows each suite with the run time of its records saved in the folders the user
names (`--results`, default results/; never the repository's own folders). `report` prints the
Markdown report of saved results (`tiedae.report.markdown`) and, with `--html`, writes the HTML
report (`tiedae.report.html`); with `--markdown-section FILE` (or its earlier name `--readme`)
it rewrites FILE's findings section (the site's docs/experiments/findings.md), with
`--costs-section FILE` its table of what each suite's full runs cost (the README's).
`repair` moves the damaged lines of result files aside. Every problem is a `UsageError`: one
line, exit status 2, nothing half-written.

Example:
  >>> from pathlib import Path
  >>> from tiedae.bench.suite import Suite
  >>> suite = Suite("tiny", "a test suite", lambda o: [], lambda c: {}, lambda r: None)
  >>> measured_time(suite, [Path("no-such-folder")])
  '-'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tiedae.bench.checks import UsageError, locked
from tiedae.bench.records import DamagedRecordsError, ResultStore, repair_records
from tiedae.bench.suite import Options, Suite

SECTION_LEVEL = 2  # the suites' headings in a --markdown-section page (## `decoders` ...)

__all__ = ["list_suites", "measured_time", "repair", "report", "resolve"]


def resolve(names: Sequence[str] | None, registry: Sequence[Suite]) -> list[Suite]:
    """The suites named on the command line (none: the quick ones; 'all': every one)."""
    by_name = {s.name: s for s in registry}
    if not names:
        return [s for s in registry if s.in_quick]
    if "all" in names:
        return list(registry)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"unknown suite(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(by_name)} or all (the list command describes them)")
    return [by_name[n] for n in dict.fromkeys(names)]


def measured_time(suite: Suite, folders: Sequence[Path]) -> str:
    """Run time of the suite's saved records in each folder (quick and full runs), from their
    wall_time_s, for `list`; a damaged or unreadable file is named instead."""
    seen = []
    for folder in folders:
        try:
            records = ResultStore(folder, suite.name).load() if folder.is_dir() else []
        except DamagedRecordsError as err:
            seen.append(f"damaged: {err.path}:{err.damaged[0].line} (see repair)")
            continue
        except OSError as err:
            seen.append(f"unreadable: {err.strerror or err} ({folder})")
            continue
        for mode in ("quick", "full"):
            times = [r["wall_time_s"] for r in records if r["run_id"].startswith(mode + "-")]
            if times:
                seen.append(f"{mode} {sum(times):.0f} s ({folder})")
    return "; ".join(seen) or "-"


def list_suites(console, folders: Sequence[str], registry: Sequence[Suite]) -> int:
    """Prints the suites: name, whether quick runs them, description, run counts, run times of
    the records saved in `folders`."""
    from rich.table import Table

    folders = [Path(f).expanduser() for f in dict.fromkeys(folders)]
    table = Table(title="tiedae.bench suites")
    for col in ("name", "in quick", "what it measures", "runs quick / full",
                "measured run time (saved records)"):
        table.add_column(col)
    for s in registry:
        runs_ = f"{len(s.configs(Options(quick=True)))} / {len(s.configs(Options(quick=False)))}"
        table.add_row(s.name, "yes" if s.in_quick else "no", s.description, runs_,
                      measured_time(s, folders))
    console.print(table)
    return 0


def report(args, registry: Sequence[Suite]) -> int:
    """Prints the Markdown report of the results in `args.out`; with `args.html` also writes
    the HTML report, with `args.readme` rewrites the README's findings section."""
    from tiedae.report import query
    from tiedae.report.markdown import (
        COSTS_BEGIN,
        COSTS_END,
        check_section,
        costs_markdown,
        markdown_report,
        replace_section,
    )

    where = f"{args.out_flag} {args.out}"
    selected = resolve(args.suite or ["all"], registry)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"report: {where} is a file, not a folder of results")
    try:  # every suite analysed once, for the Markdown, HTML and README outputs
        loaded = query.analyses(args.out, selected)
        text = markdown_report(args.out, selected, loaded=loaded)
    except (OSError, ValueError) as err:
        raise UsageError(f"report: {err}") from None
    if args.readme:  # checked before the HTML report is written: a bad README changes nothing
        try:
            check_section(args.readme)
        except (OSError, ValueError) as err:
            raise UsageError(f"--readme {args.readme}: {err}") from None
    if args.costs:
        try:
            check_section(args.costs, begin=COSTS_BEGIN, end=COSTS_END)
            costs = costs_markdown(loaded)
        except (OSError, ValueError) as err:
            raise UsageError(f"--costs-section {args.costs}: {err}") from None
    if args.html:
        from tiedae.report.html import write_html

        try:
            index = write_html(args.out, args.html, selected, loaded=loaded)
        except (OSError, ValueError) as err:
            raise UsageError(f"--html {args.html}: {err}") from None
        print(f"HTML report: {index}", file=sys.stderr, flush=True)
    if args.readme:
        try:
            replace_section(args.readme, markdown_report(args.out, selected, tables=False,
                                                         loaded=loaded, level=SECTION_LEVEL))
        except (OSError, ValueError) as err:
            raise UsageError(f"--readme {args.readme}: {err}") from None
    if args.costs:
        try:
            replace_section(args.costs, costs, begin=COSTS_BEGIN, end=COSTS_END)
        except (OSError, ValueError) as err:
            raise UsageError(f"--costs-section {args.costs}: {err}") from None
    print(text)
    return 0


def _suite_name(path: Path) -> str:
    return path.name.removesuffix(".partial").removesuffix(".jsonl")


def repair(console, args, registry: Sequence[Suite]) -> int:
    """Moves the damaged lines of the result files in `args.out` to `<file>.damaged`."""
    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"repair: {args.out_flag} {out} is not a folder")
    with locked(out):
        return _repair_locked(console, args, registry, out)


def _repair_locked(console, args, registry: Sequence[Suite], out: Path) -> int:
    names = {s.name for s in resolve(args.suite, registry)} if args.suite else None
    paths = sorted([*out.glob("*.jsonl"), *out.glob("*.jsonl.partial")])
    moved = 0
    for path in paths:
        suite = _suite_name(path)
        if names is not None and suite not in names:
            continue
        try:
            damaged = repair_records(path, suite)
            if damaged and path.suffix == ".jsonl":
                ResultStore(out, suite).write_csv()
        except OSError as err:
            raise UsageError(f"repair: cannot rewrite {path} ({err.strerror or err}); "
                             f"{moved} damaged line(s) moved so far") from None
        if damaged:
            moved += len(damaged)
            lines = ", ".join(str(d.line) for d in damaged[:10])
            console.print(f"{path}: moved {len(damaged)} damaged line(s) (line {lines}: "
                          f"{damaged[0].reason}) to {path}.damaged", highlight=False)
    console.print(f"{moved} damaged line(s) set aside" + (
        "; run --resume reruns their runs" if moved else f": the result files in {out} are "
        "fine"), highlight=False)
    return 0
