"""`python -m tiedae.bench`: run experiment suites, save one record per run, print findings.

Commands (`tiedae.bench.arguments` has the full command line):
  python -m tiedae.bench                                  # the quick suite (= run)
  python -m tiedae.bench list --results results
  python -m tiedae.bench run --suite decoders conservation --full --out results/
  python -m tiedae.bench run --suite all --full --resume  # finish an interrupted full run
  python -m tiedae.bench run --suite decoders --overwrite # redo; old file kept until done
  python -m tiedae.bench repair --results results/        # set damaged record lines aside
  python -m tiedae.bench report --results paper/results --html report/ \
      --markdown-section docs/experiments/findings.md

The flags of earlier versions (`--list`, `--report`, `--repair`, `--suite ... --out` without a
command) still work as they did.

Nothing is lost: saved results are never deleted or replaced before their replacement is
complete (`tiedae.bench.runs` has the rules for --resume and --overwrite), and every problem
with the command line, the output folder, the saved records or `--data` is checked before any
run and reported in a line or two. One command at a time runs or repairs in a results folder
(`tiedae.bench.lock`): a second one is refused, naming the first; report and list need no
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

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tiedae import _startup
from tiedae.bench import compile_cache, runs
from tiedae.bench import report as commands
from tiedae.bench.arguments import PROG, build_parser, parse_args
from tiedae.bench.checks import UsageError, check_data, check_out, locked, prepare_out
from tiedae.bench.suite import Options, Suite
from tiedae.report.terminal import print_analysis

__all__ = ["UsageError", "build_parser", "main"]

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


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


def _compilation_cache(enabled: bool) -> Path | None:
    folder, why = compile_cache.use(enabled)
    if why is not None:
        print(f"{PROG}: warning: compilation cache {why}; running without it (--no-cache hides "
              "this warning)", file=sys.stderr, flush=True)
    return folder


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
    from rich.markup import escape

    unanalysed = []
    for p in plans:
        try:
            records = [r for r in p.store.load() if r["run_id"] in p.run_ids]
            if records:
                print_analysis(console, p.suite.name, p.suite.analyze(records))
        except Exception as err:  # an analysis bug must not hide the saved results
            unanalysed.append(p.suite.name)
            console.print(f"[red]analysis of {p.suite.name} failed:[/red] "
                          f"{escape(f'{type(err).__name__}: {err}')}", highlight=False)
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
    if unanalysed:
        _error(f"the analysis of {', '.join(unanalysed)} failed; every run is saved, and "
               f"`python -m tiedae.bench report --results {out}` repeats the analysis")
        return EXIT_FAILED
    return 0


def _run(console, args, registry: Sequence[Suite]) -> int:
    selected = commands.resolve(args.suite, registry)
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
        _setup_jax(getattr(args, "device", None))
        if suites is None:
            from tiedae.bench.suites import SUITES as suites
        if args.command == "list":
            return commands.list_suites(console, args.folders, suites)
        if args.command == "report":
            return commands.report(args, suites)
        if args.command == "repair":
            return commands.repair(console, args, suites)
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
