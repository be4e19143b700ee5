"""The command line of `python -m tiedae.bench`: four commands, and the flags of earlier versions.

  python -m tiedae.bench                  the quick suite (= `run` with its defaults)
  python -m tiedae.bench run [--suite NAME ...] [--full] [--out DIR] [--seed N]
                             [--resume | --overwrite] [--no-cache] [--device cpu|gpu]
                             [--data PATH ...]
  python -m tiedae.bench list [--results DIR ...]
  python -m tiedae.bench report [--results DIR] [--suite NAME ...] [--markdown-section FILE]
                                [--costs-section FILE] [--html DIR]
  python -m tiedae.bench repair [--results DIR] [--suite NAME ...]

Without a command, the options of earlier versions still work as they did (`--suite ... --out`,
`--list`, `--report [--readme] [--html]`, `--repair`), so scripts that use them keep running.
`parse_args` gives one namespace for both spellings: `command` (run, list, report, repair),
`out` (the results folder), `out_flag` (how the user named it, for messages) and the command's
options. Every problem is a `UsageError` (one line, exit status 2), argparse's own included.

Example:
  >>> parse_args(["report", "--results", "saved", "--html", "web"]).command
  'report'
  >>> old = parse_args(["--report", "--out", "saved"])
  >>> old.command, old.out, old.out_flag
  ('report', 'saved', '--out')
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from tiedae.bench.checks import UsageError

__all__ = ["COMMANDS", "MAX_SEED", "PROG", "build_parser", "parse_args"]

PROG = "python -m tiedae.bench"
MAX_SEED = 2**31 - 1
COMMANDS = ("run", "list", "report", "repair")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits; we want one line, status 2
        raise UsageError(f"{message} (see {self.prog} --help)")


def _seed(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number from 0 to {MAX_SEED} (e.g. --seed 0)")
    return int(text)


def _cache_hint() -> str:
    from tiedae.bench import compile_cache

    try:
        return str(compile_cache.user_cache_dir())
    except RuntimeError:  # no home folder
        return "~/.cache/tiedae/jax"


def _run_options(parser, hidden: bool = False) -> None:
    def h(text):
        return argparse.SUPPRESS if hidden else text

    parser.add_argument("--suite", nargs="+", metavar="NAME",
                        help=h("suites to run ('all' for every suite); default: the quick suite"))
    parser.add_argument("--full", action="store_true",
                        help=h("full-size configurations (the paper's runs) instead of quick "
                               "ones"))
    parser.add_argument("--out", default="results", metavar="DIR",
                        help=h("output folder (default: results/; its parent must exist); one "
                               "command at a time runs in it (a second is refused, naming the "
                               "first)"))
    parser.add_argument("--seed", type=_seed, default=0,
                        help=h(f"base random seed, 0 to {MAX_SEED} (default 0)"))
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--resume", action="store_true",
                      help=h("keep saved records, run only the missing runs; repeat the options "
                             "of the command that saved them (records made with another --seed, "
                             "--full, --data or --device are refused)"))
    keep.add_argument("--overwrite", action="store_true",
                      help=h("rerun every run of the chosen suites; their old files are "
                             "replaced only once all new runs are saved"))
    parser.add_argument("--no-cache", action="store_true",
                        help=h("keep no compiled programs after the command (default: JAX's "
                               f"compilation cache in {_cache_hint()}, so a second run "
                               "compiles less)"))
    parser.add_argument("--device", choices=("cpu", "gpu"),
                        help=h("JAX platform (default: JAX's own choice)"))
    parser.add_argument("--data", metavar="PATH", nargs="+",
                        help=h("real data used instead of the bundled sets: MNIST-format "
                               "images (a folder of IDX files or a .npz) and/or an edge-list "
                               "graph (e.g. Cora's cora.cites), or a folder holding them (e.g. "
                               "mnist/ and cora/)"))


def _results(parser, what: str) -> None:
    parser.add_argument("--results", dest="out", default="results", metavar="DIR",
                        help=f"the folder of saved results {what} (default: results/)")
    parser.add_argument("--suite", nargs="+", metavar="NAME",
                        help="only these suites (default: all)")
    parser.set_defaults(out_flag="--results")


def _report_options(parser, hidden: bool = False) -> None:
    def h(text):
        return argparse.SUPPRESS if hidden else text

    parser.add_argument("--markdown-section", "--readme", dest="readme", metavar="FILE",
                        help=h("also rewrite FILE's section between the bench-report markers "
                               "with the findings (docs/experiments/findings.md; --readme is "
                               "its earlier name)"))
    parser.add_argument("--costs-section", dest="costs", metavar="FILE",
                        help=h("also rewrite FILE's section between the suite-costs markers "
                               "with a table of each suite's full runs and their run time "
                               "(the README's)"))
    parser.add_argument("--html", metavar="DIR",
                        help=h("also write the HTML report to DIR (DIR/index.html; a new or "
                               "empty folder, or an earlier report, which is replaced)"))


def build_parser() -> argparse.ArgumentParser:
    """The parser: the commands, and the earlier flags (hidden from --help)."""
    parser = _Parser(
        prog=PROG, usage="%(prog)s [-h] [COMMAND] [options]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Experiments answering 'tied W^T or (pseudo-)inverse decoder?': runs "
        "suites, writes DIR/<suite>.jsonl and .csv, prints a table and findings per suite. "
        "Without a command: `run` with its defaults (the quick suite).",
        epilog="examples:\n"
        f"  {PROG}                                  # the quick suite\n"
        f"  {PROG} list --results results\n"
        f"  {PROG} run --suite decoders conservation --full --out results\n"
        f"  {PROG} run --suite all --full --resume  # finish an interrupted run\n"
        f"  {PROG} report --results paper/results --html report/\n"
        f"  {PROG} repair --results results        # set damaged record lines aside\n"
        f"'{PROG} COMMAND --help' describes a command's options. The flags of earlier\n"
        "versions (--list, --report, --repair, --suite ... without a command) still work.")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", prog=PROG,
                                parser_class=_Parser)
    run = sub.add_parser("run", help="run suites, save one record per run, print findings",
                         description="Runs suites and saves one record per run in "
                         "--out/<suite>.jsonl (and .csv); nothing saved is ever lost.")
    _run_options(run)
    run.set_defaults(out_flag="--out")
    listing = sub.add_parser("list", help="the suites, their run counts and measured times",
                             description="Lists the suites, with the run time of the records "
                             "saved in the --results folders.")
    listing.add_argument("--results", dest="folders", nargs="+", default=["results"],
                         metavar="DIR", help="folders of saved results whose run times to "
                         "show (default: results/)")
    listing.set_defaults(out_flag="--results")
    report = sub.add_parser("report", help="tables and findings of saved results (Markdown, "
                            "HTML); runs nothing", description="Prints the tables and findings "
                            "of saved results as Markdown; runs nothing.")
    _results(report, "to report")
    _report_options(report)
    repair = sub.add_parser("repair", help="set damaged lines of result files aside",
                            description="Moves the lines of result files that are not records "
                            "to <file>.damaged (a copy) and keeps the records; run nothing. "
                            "`run --resume` then reruns those runs.")
    _results(repair, "to repair")
    # The flags of earlier versions, without a command (hidden from --help).
    _run_options(parser, hidden=True)
    actions = parser.add_mutually_exclusive_group()
    for flag in ("--list", "--report", "--repair"):
        actions.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    _report_options(parser, hidden=True)
    return parser


def _path_arg(flag: str, text: str | None) -> None:
    if text is not None and (not text.strip() or "\0" in text):
        raise UsageError(f"{flag} {text!r}: give a file or folder name")


def _legacy(args: argparse.Namespace) -> argparse.Namespace:
    """The namespace of an earlier-style command line, as its command would give it."""
    for flag, dest in (("--readme", "readme"), ("--costs-section", "costs"), ("--html", "html")):
        if getattr(args, dest) is not None and not args.report:
            raise UsageError(f"{flag} writes from saved results: it needs --report (or use "
                             f"'{PROG} report')")
    args.command = ("list" if args.list else "report" if args.report else
                    "repair" if args.repair else "run")
    args.out_flag = "--out"
    args.folders = [args.out]
    return args


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The checked namespace of a command line (see the module docstring)."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = _legacy(args)
    elif argv[0] != args.command:
        raise UsageError(f"options go after the command: {PROG} {args.command} "
                         f"{' '.join(argv[:argv.index(args.command)])} ...")
    for flag, value in ((args.out_flag, args.out), ("--readme", getattr(args, "readme", None)),
                        ("--costs-section", getattr(args, "costs", None)),
                        ("--html", getattr(args, "html", None))):
        _path_arg(flag, value)
    for path in getattr(args, "data", None) or ():
        _path_arg("--data", path)
    for path in getattr(args, "folders", ()):
        _path_arg(args.out_flag, path)
    return args
