"""`python -m tiedae.bench`: run experiment suites, save one record per run, print findings.

Examples:
  python -m tiedae.bench                      # the quick suite
  python -m tiedae.bench --list
  python -m tiedae.bench --suite decoders conservation --full --out results/
  python -m tiedae.bench --suite all --full --resume   # finish an interrupted full run
  python -m tiedae.bench --suite decoders --overwrite  # redo; old file kept until done
  python -m tiedae.bench --repair --out results/       # set damaged record lines aside
  python -m tiedae.bench --report --out paper/results --readme README.md   # no runs

Nothing is lost: saved results are never deleted or replaced before their replacement is
complete (`tiedae.bench.runs` has the rules for --resume and --overwrite), and every problem
with the command line, the output folder, the saved records or `--data` is checked before any
run and reported in a line or two. One command at a time runs or repairs in a results folder
(`tiedae.bench.lock`): a second one is refused, naming the first; --report and --list need no
lock. Exit status: 0 done, 1 a run or a write failed, 2 bad input or a folder in use (nothing
was run), 130 interrupted (Ctrl-C, also while starting; --resume finishes).

Compiled XLA programs are kept in JAX's persistent compilation cache, in the user's cache folder
(`$XDG_CACHE_HOME/tiedae/jax`, else `~/.cache/tiedae/jax`; `$JAX_COMPILATION_CACHE_DIR` when
set), so a second command compiles nothing the first compiled (tracing still runs). The folder
is named at the start of each run; it may be deleted at any time. A folder that cannot be
written, or a disk with less than 100 MiB free, gives a one-line warning and the command runs
without it. `--no-cache` keeps nothing: the programs are cached in a folder private to the
process (runs that differ only in their seed share them), so every command starts cold and its
wall times include all compilation; that folder is deleted at exit, one left by a killed process
by the next run. Recorded `wall_time_s` include compilation only for what was not cached.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tiedae import _startup
from tiedae.bench import compile_cache, runs
from tiedae.bench.checks import UsageError, check_data, check_out, locked, prepare_out
from tiedae.bench.records import ResultStore, repair_records
from tiedae.bench.report import measured_time
from tiedae.bench.suite import Options, Suite
from tiedae.report.terminal import print_analysis

__all__ = ["UsageError", "build_parser", "main"]

PROG = "python -m tiedae.bench"
MAX_SEED = 2**31 - 1
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _seed(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number from 0 to {MAX_SEED} (e.g. --seed 0)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Experiments answering 'tied W^T or (pseudo-)inverse decoder?': runs suites, "
        "writes DIR/<suite>.jsonl and .csv, prints a table and findings per suite.",
    )
    parser.add_argument("--suite", nargs="+", metavar="NAME",
                        help="suites to run ('all' for every suite); default: the quick suite")
    parser.add_argument("--full", action="store_true",
                        help="full-size configurations (the paper's runs) instead of quick ones")
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="output folder (default: results/; its parent must exist); one "
                        "command at a time runs in it (a second is refused, naming the first)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help=f"base random seed, 0 to {MAX_SEED} (default 0)")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--resume", action="store_true",
                      help="keep saved records, run only the missing runs; repeat the options "
                      "of the command that saved them (records made with another --seed, "
                      "--full, --data or --device are refused)")
    keep.add_argument("--overwrite", action="store_true",
                      help="rerun every run of the chosen suites; their old files are replaced "
                      "only once all new runs are saved")
    parser.add_argument("--no-cache", action="store_true",
                        help="keep no compiled programs after the command (default: JAX's "
                        f"compilation cache in {_cache_hint()}, so a second run compiles "
                        "less)")
    parser.add_argument("--device", choices=("cpu", "gpu"),
                        help="JAX platform (default: JAX's own choice)")
    parser.add_argument("--data", metavar="PATH", nargs="+",
                        help="real data used instead of the bundled sets: MNIST-format images "
                        "(a folder of IDX files or a .npz) and/or an edge-list graph (e.g. "
                        "Cora's cora.cites), or a folder holding them (e.g. mnist/ and cora/)")
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument("--list", action="store_true", help="list the suites and exit")
    actions.add_argument("--report", action="store_true",
                         help="run nothing: print the tables and findings of the results saved "
                         "in --out (Markdown)")
    actions.add_argument("--repair", action="store_true",
                         help="run nothing: move the damaged lines of the result files in --out "
                         "to <file>.damaged (a copy), keep the records; then --resume")
    parser.add_argument("--readme", metavar="FILE",
                        help="with --report: rewrite FILE's section between the bench-report "
                        "markers with the report's findings")
    return parser


def _path_arg(flag: str, text: str | None) -> None:
    if text is not None and (not text.strip() or "\0" in text):
        raise UsageError(f"{flag} {text!r}: give a file or folder name")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """argparse, then the checks that need no file: argparse itself exits with status 2."""
    args = build_parser().parse_args(argv)
    if args.readme is not None and not args.report:
        raise UsageError("--readme rewrites a file from saved results: it needs --report")
    for flag in ("--out", "--readme"):
        _path_arg(flag, getattr(args, flag[2:]))
    for path in args.data or ():
        _path_arg("--data", path)
    return args


def _platform() -> str:
    import jax

    return jax.devices()[0].platform


def _setup_jax(device: str | None) -> None:
    import jax

    if device is not None:
        platform = "cuda" if device == "gpu" else "cpu"
        jax.config.update("jax_platforms", platform)
        try:
            devices = jax.devices()
        except Exception as err:  # RuntimeError or AssertionError, depending on the jax build
            raise UsageError(
                f"--device {device}: JAX finds no {device.upper()} ({type(err).__name__}: "
                f"{err}). Install a CUDA build of jax (pip install 'jax[cuda12]') or use "
                "--device cpu.") from None
        if device == "gpu" and devices[0].platform != "gpu":
            raise UsageError(f"--device gpu: JAX's devices are {devices}, no GPU")
    jax.config.update("jax_enable_x64", True)  # suites choose float32/float64 explicitly
    # On GPUs, JAX multiplies float32 matrices in TF32 by default (about 3 significant digits):
    # measured on an H100, the transpose tie then ended at ||WW^T - I|| ~ 6e-4 instead of ~1e-7
    # and loss gaps went negative. The suites check theory, so they ask for full precision.
    jax.config.update("jax_default_matmul_precision", "highest")


def _cache_hint() -> str:
    try:
        return str(compile_cache.user_cache_dir())
    except RuntimeError:  # no home folder
        return "~/.cache/tiedae/jax"


def _compilation_cache(enabled: bool) -> Path | None:
    folder, why = compile_cache.use(enabled)
    if why is not None:
        print(f"{PROG}: warning: compilation cache {why}; running without it (--no-cache hides "
              "this warning)", file=sys.stderr, flush=True)
    return folder


def _resolve(names: Sequence[str] | None, registry: Sequence[Suite]) -> list[Suite]:
    by_name = {s.name: s for s in registry}
    if not names:
        return [s for s in registry if s.in_quick]
    if "all" in names:
        return list(registry)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"unknown suite(s) {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(by_name)} or all (--list describes them)")
    return [by_name[n] for n in dict.fromkeys(names)]


def _list(console, args, registry: Sequence[Suite]) -> int:
    from rich.table import Table

    paper_results = Path(__file__).resolve().parents[2] / "paper" / "results"
    folders = list(dict.fromkeys([Path(args.out), paper_results]))
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


def _report(args, registry: Sequence[Suite]) -> int:
    from tiedae.report.markdown import markdown_report, replace_section

    selected = _resolve(args.suite or ["all"], registry)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--report: --out {args.out} is a file, not a folder of results")
    try:
        text = markdown_report(args.out, selected)
    except (OSError, ValueError) as err:
        raise UsageError(f"--report: {err}") from None
    if args.readme:
        try:
            replace_section(args.readme, markdown_report(args.out, selected, tables=False))
        except (OSError, ValueError) as err:
            raise UsageError(f"--readme {args.readme}: {err}") from None
    print(text)
    return 0


def _suite_name(path: Path) -> str:
    return path.name.removesuffix(".partial").removesuffix(".jsonl")


def _repair(console, args, registry: Sequence[Suite]) -> int:
    out = Path(args.out)
    if not out.is_dir():
        raise UsageError(f"--repair: --out {out} is not a folder")
    with locked(out):
        return _repair_locked(console, args, registry, out)


def _repair_locked(console, args, registry: Sequence[Suite], out: Path) -> int:
    names = {s.name for s in _resolve(args.suite, registry)} if args.suite else None
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
            raise UsageError(f"--repair: cannot rewrite {path} ({err.strerror or err}); "
                             f"{moved} damaged line(s) moved so far") from None
        if damaged:
            moved += len(damaged)
            lines = ", ".join(str(d.line) for d in damaged[:10])
            console.print(f"{path}: moved {len(damaged)} damaged line(s) (line {lines}: "
                          f"{damaged[0].reason}) to {path}.damaged", highlight=False)
    console.print(f"{moved} damaged line(s) set aside" + (
        "; --resume reruns their runs" if moved else f": the result files in {out} are fine"),
        highlight=False)
    return 0


def _print_plan(console, plans: Sequence[runs.SuitePlan], options: Options, out: Path) -> None:
    total = sum(len(p.todo) for p in plans)
    console.print(f"tiedae.bench: {len(plans)} suite(s), {total} run(s) to do "
                  f"({'quick' if options.quick else 'full'}), results in {out}/", highlight=False)
    for p in plans:
        if p.store.staged:
            console.print(f"  {p.suite.name}: new records go to {p.store.partial}; it replaces "
                          f"{p.store.jsonl} ({p.replaces} records) once all "
                          f"{len(p.configs)} runs are saved", highlight=False)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _kept(plans: Sequence[runs.SuitePlan]) -> str:
    pending = [str(p.store.jsonl) for p in plans if p.store.staged and p.replaces]
    return (f" The old {', '.join(pending)} stay as they were until the new runs are all "
            "saved." if pending else "")


def _stopped(plans: Sequence[runs.SuitePlan], outcome: runs.Outcome, why: str) -> None:
    """The message of an interrupted command or a failed write: what is saved, what to do."""
    left = sum(len(p.todo) for p in plans) - outcome.saved - len(outcome.failures)
    _error(f"{why}: {outcome.saved} run(s) saved by this command, {left} not done. Rerun the "
           f"same command with --resume to finish them.{_kept(plans)}")


def _summaries(console, plans: Sequence[runs.SuitePlan], outcome: runs.Outcome, out) -> int:
    for p in plans:
        try:
            records = [r for r in p.store.load() if r["run_id"] in p.run_ids]
            if records:
                print_analysis(console, p.suite.name, p.suite.analysis(records))
        except Exception as err:  # a summary bug must not hide the saved results
            outcome.failures.append((p.suite.name, "summary", f"{type(err).__name__}: {err}"))
            console.print(f"[red]summary of {p.suite.name} failed:[/red] "
                          f"{type(err).__name__}: {err}", highlight=False)
    console.print("\nresult files:", highlight=False)
    for p in plans:
        if p.store.path.exists():
            console.print(f"  {p.store.path}  {p.store.csv}", highlight=False)
    console.print(f"output folder: {out.resolve()}  ({outcome.elapsed:.1f} s for the runs)",
                  highlight=False)
    if outcome.failures:
        _error(f"{len(outcome.failures)} run(s) failed (tracebacks in {out / 'errors.log'}); "
               f"the others are saved. Fix the cause and rerun with --resume.{_kept(plans)}")
        return EXIT_FAILED
    return 0


def _run(console, args, registry: Sequence[Suite]) -> int:
    selected = _resolve(args.suite, registry)
    out = check_out(args.out)
    data, data_sha256 = check_data(args.data)
    options = Options(quick=not args.full, seed=args.seed, data=data)
    mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"

    def plan() -> list[runs.SuitePlan]:
        try:
            return runs.plan(selected, options, out, mode=mode, data_sha256=data_sha256,
                             platform=_platform())
        except runs.PlanError as err:
            raise UsageError(str(err)) from None

    if not out.exists():
        plan()  # refuses a broken suite before the folder is made
        prepare_out(out)
    with locked(out):  # planned under the lock: no other command adds records meanwhile
        plans = plan()
        prepare_out(out)
        return _execute(console, plans, options, out, cache=not args.no_cache)


def _execute(console, plans: Sequence[runs.SuitePlan], options: Options, out: Path,
             cache: bool) -> int:
    folder = _compilation_cache(cache)
    _print_plan(console, plans, options, out)
    if folder is not None:
        console.print(f"compiled programs are cached in {folder} (--no-cache: keep none)",
                      highlight=False)
    outcome = runs.execute(plans, console, error_log=out / "errors.log")
    if outcome.interrupted:
        _stopped(plans, outcome, "interrupted")
        return EXIT_INTERRUPTED
    if outcome.write_error:
        _stopped(plans, outcome, outcome.write_error)
        return EXIT_FAILED
    return _summaries(console, plans, outcome, out)


def main(argv: Sequence[str] | None = None, suites: Sequence[Suite] | None = None) -> int:
    """Runs the command; returns its exit status. `suites` replaces the registry (tests)."""
    try:
        _startup.started()  # from here on Ctrl-C is a KeyboardInterrupt, caught below
        from rich.console import Console

        args = parse_args(argv)
        console = Console(width=None if sys.stdout.isatty() else 150)
        _setup_jax(args.device)
        if suites is None:
            from tiedae.bench.suites import SUITES as suites
        if args.list:
            return _list(console, args, suites)
        if args.report:
            return _report(args, suites)
        if args.repair:
            return _repair(console, args, suites)
        return _run(console, args, suites)
    except UsageError as err:
        _error(str(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted; every record saved so far is kept (--resume finishes the rest)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _error("the output was closed (broken pipe); every record saved so far is kept")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
