"""`python -m tiedae.bench`: run experiment suites, save one record per run, print findings.

Examples:
  python -m tiedae.bench                      # the quick suite
  python -m tiedae.bench --list
  python -m tiedae.bench --suite decoders conservation --full --out results/
  python -m tiedae.bench --suite all --full --resume   # finish an interrupted full run
  python -m tiedae.bench --report --out paper/results --readme README.md   # no runs
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from tiedae.bench.records import ResultStore, make_record
from tiedae.bench.suite import Options, Suite

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiedae.bench",
        description="Experiments answering 'tied W^T or (pseudo-)inverse decoder?': runs suites, "
        "writes DIR/<suite>.jsonl and .csv, prints a table and findings per suite.",
    )
    parser.add_argument("--suite", nargs="+", metavar="NAME",
                        help="suites to run ('all' for every suite); default: the quick suite")
    parser.add_argument("--full", action="store_true",
                        help="full-size configurations (the paper's runs) instead of quick ones")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="output folder (default: results/)")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="keep saved records and skip their run_ids")
    parser.add_argument("--device", choices=("cpu", "gpu"),
                        help="JAX platform (default: JAX's own choice)")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the tables and findings of the results saved "
                        "in --out (Markdown)")
    parser.add_argument("--readme", metavar="FILE",
                        help="with --report: rewrite FILE's section between the bench-report "
                        "markers with the report's findings")
    parser.add_argument("--data", metavar="PATH",
                        help="a user's MNIST / Fashion-MNIST data (folder of IDX files or "
                        ".npz) used next to the bundled digits")
    return parser


def _select_device(device: str | None) -> None:
    import jax

    if device is None:
        return
    platform = "cuda" if device == "gpu" else "cpu"
    jax.config.update("jax_platforms", platform)
    try:
        devices = jax.devices()
    except Exception as err:  # RuntimeError or AssertionError, depending on the jax build
        raise SystemExit(
            f"--device {device}: JAX finds no {device.upper()} ({type(err).__name__}: {err}). "
            "Install a CUDA build of "
            "jax (pip install 'jax[cuda12]') or use --device cpu."
        ) from None
    if device == "gpu" and devices[0].platform != "gpu":
        raise SystemExit(f"--device gpu: JAX's devices are {devices}, no GPU")


def _compilation_cache() -> None:
    """Reuses compiled steps across runs that differ only in seed (identical XLA programs).

    A cache directory private to this process (deleted at exit) keeps timings reproducible:
    every invocation starts cold. JAX_COMPILATION_CACHE_DIR, when set, is used instead.
    """
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        tmp = tempfile.TemporaryDirectory(prefix="tiedae-bench-xla-")
        atexit.register(tmp.cleanup)
        jax.config.update("jax_compilation_cache_dir", tmp.name)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def _resolve(names: Sequence[str] | None, registry: Sequence[Suite]) -> list[Suite]:
    by_name = {s.name: s for s in registry}
    if not names:
        return [s for s in registry if s.in_quick]
    if "all" in names:
        return list(registry)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(
            f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(by_name)} or all"
        )
    return [by_name[n] for n in dict.fromkeys(names)]


def _measured_time(suite: Suite, folders: Sequence[Path]) -> str:
    """Run time of the suite's saved records (quick and full), from their wall_time_s."""
    seen = []
    for folder in folders:
        records = ResultStore(folder, suite.name).load() if folder.is_dir() else []
        for mode in ("quick", "full"):
            times = [r["wall_time_s"] for r in records if r["run_id"].startswith(mode + "-")]
            if times:
                seen.append(f"{mode} {sum(times):.0f} s ({folder})")
    return "; ".join(seen) or "-"


def _print_list(console, registry: Sequence[Suite], folders: Sequence[Path]) -> None:
    from rich.table import Table

    table = Table(title="tiedae.bench suites")
    for col in ("name", "in quick", "what it measures", "runs quick / full",
                "measured run time (saved records)"):
        table.add_column(col)
    for s in registry:
        runs = f"{len(s.configs(Options(quick=True)))} / {len(s.configs(Options(quick=False)))}"
        table.add_row(s.name, "yes" if s.in_quick else "no", s.description, runs,
                      _measured_time(s, folders))
    console.print(table)


def _print_summary(console, suite: Suite, records: list[dict]) -> None:
    from rich.table import Table

    summary = suite.summarize(records)
    table = Table(title=summary.title, title_justify="left")
    for col in summary.columns:
        table.add_column(str(col))
    for row in summary.rows:
        table.add_row(*[str(c) for c in row])
    console.print(table)
    for line in summary.findings:
        console.print(f"  [bold]finding[/bold] ({suite.name}): {line}", highlight=False)


def main(argv: Sequence[str] | None = None, suites: Sequence[Suite] | None = None) -> int:
    """Runs the command. `suites` replaces the built-in registry (used by the tests)."""
    args = build_parser().parse_args(argv)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 150)
    _select_device(args.device)
    import jax

    jax.config.update("jax_enable_x64", True)  # suites choose float32/float64 explicitly
    _compilation_cache()
    if suites is None:
        from tiedae.bench.suites import SUITES as suites
    if args.list:
        paper_results = Path(__file__).resolve().parents[2] / "paper" / "results"
        _print_list(console, suites, list(dict.fromkeys([Path(args.out), paper_results])))
        return 0
    if args.readme and not args.report:
        raise SystemExit("--readme needs --report")
    if args.report:
        from tiedae.bench.report import markdown_report, replace_section

        selected = _resolve(args.suite or ["all"], suites)
        try:
            text = markdown_report(args.out, selected)
            if args.readme:
                replace_section(args.readme, markdown_report(args.out, selected, tables=False))
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"--report: {err}") from None
        print(text)
        return 0
    if args.data is not None and not os.path.exists(args.data):
        raise SystemExit(f"--data {args.data}: no such file or folder")
    selected = _resolve(args.suite, suites)
    options = Options(quick=not args.full, seed=args.seed, data=args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    plan = []
    for suite in selected:
        store = ResultStore(out, suite.name)
        configs = suite.configs(options)
        ids = [c["run_id"] for c in configs]
        if len(set(ids)) != len(ids):
            raise RuntimeError(f"suite {suite.name!r} has duplicate run_ids")
        if not args.resume:
            store.reset()
        done = store.done_ids()
        todo = [c for c in configs if c["run_id"] not in done]
        plan.append((suite, store, ids, todo))
    total = sum(len(todo) for *_, todo in plan)
    mode = "quick" if options.quick else "full"
    console.print(
        f"tiedae.bench: {len(selected)} suite(s), {total} run(s) to do ({mode}), "
        f"results in {out}/", highlight=False,
    )

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    failures = []
    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("runs", total=total)
        for suite, store, _, todo in plan:
            for config in todo:
                progress.update(task, description=f"{suite.name}: {config['run_id']}")
                t0 = time.perf_counter()
                try:
                    result = suite.run(dict(config))
                    record = make_record(suite.name, config, result, time.perf_counter() - t0)
                except Exception as err:  # one failed run must not lose the others
                    failures.append((suite.name, config["run_id"], err))
                    console.print(f"[red]run {suite.name}/{config['run_id']} failed:[/red] "
                                  f"{type(err).__name__}: {err}", highlight=False)
                    console.print(traceback.format_exc(limit=3), highlight=False)
                else:
                    store.append(record)
                progress.advance(task)
    elapsed = time.perf_counter() - start

    for suite, store, ids, _ in plan:
        wanted = set(ids)
        records = [r for r in store.load() if r["run_id"] in wanted]
        if records:
            try:
                _print_summary(console, suite, records)
            except Exception as err:  # a summary bug must not hide the saved results
                failures.append((suite.name, "summary", err))
                console.print(f"[red]summary of {suite.name} failed:[/red] "
                              f"{type(err).__name__}: {err}", highlight=False)
    console.print("\nresult files:", highlight=False)
    for _suite, store, *_ in plan:
        if store.jsonl.exists():
            console.print(f"  {store.jsonl}  {store.csv}", highlight=False)
    console.print(f"output folder: {out.resolve()}  ({elapsed:.1f} s for the runs)",
                  highlight=False)
    if failures:
        console.print(f"[red]{len(failures)} run(s) failed[/red]; fix and rerun with --resume")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
