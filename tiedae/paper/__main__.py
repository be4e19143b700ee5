"""`python -m tiedae.paper --results DIR --out paper/figures`: regenerate the paper's figures.

Every argument is checked before anything is written (a one-line message, exit status 2): the
results folder must exist and hold bench records, `--out` must be a folder or be creatable,
`--paper` must hold the manuscript. The output is generated into a temporary folder and moved
into place only when complete, file by file with atomic renames (`tiedae.paper.build`), so a
failure leaves `--out` as it was and no file in it is ever half-written. Exit status: 0 done,
1 a file could not be written, 2 bad input, 130 interrupted (Ctrl-C, also while starting).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from tiedae import _startup

PROG = "python -m tiedae.paper"


class UsageError(Exception):
    """An argument that cannot work; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Regenerate every figure, table and number of the paper from bench results "
                    "(no training: reads DIR/<suite>.jsonl and plots). Writes OUT/<figure>.pdf, "
                    "OUT/tables/<name>.tex and OUT/numbers.tex; other files in OUT are left "
                    "alone, and nothing is written unless everything was generated.",
    )
    parser.add_argument("--results", default="paper/results", metavar="DIR",
                        help="folder of bench results, the <suite>.jsonl files written by "
                             "`python -m tiedae.bench run --out DIR` (default: paper/results)")
    parser.add_argument("--out", default="paper/figures", metavar="OUT",
                        help="output folder for the PDFs, tables/ and numbers.tex; created "
                             "(with its parents) if missing (default: paper/figures)")
    parser.add_argument("--paper", default=None, metavar="DIR",
                        help="manuscript folder (holding tiedae.tex and sections/) whose "
                             "figures, tables and \\R... macros are checked against what was "
                             "generated: a missing one is an error. Default: the parent of "
                             "--out when it holds tiedae.tex (paper/ for paper/figures); "
                             "otherwise nothing is checked. Needed only to check a manuscript "
                             "elsewhere than in --out's parent")
    parser.add_argument("--allow-missing", action="store_true",
                        help="write visible 'not run' placeholders for suites absent from the "
                             "results (a draft) instead of refusing")
    return parser


def _path(flag: str, text: str) -> Path:
    if not text.strip() or "\0" in text:
        raise UsageError(f"{flag} {text!r}: give a folder name")
    return Path(text).expanduser()


def _check_results(text: str) -> Path:
    path = _path("--results", text)
    if not path.exists():
        raise UsageError(f"--results {text}: no such folder; give the folder of bench results "
                         "(`python -m tiedae.bench run --out DIR` writes one)")
    if not path.is_dir():
        raise UsageError(f"--results {text} is a file, not a folder of bench results")
    try:
        found = sorted(path.glob("*.jsonl"))
    except OSError as err:
        raise UsageError(f"--results {text}: cannot read it ({err.strerror or err})") from None
    if not found:
        raise UsageError(f"--results {text} holds no bench records (<suite>.jsonl files); "
                         f"`python -m tiedae.bench run --suite all --full --out {text}` makes them")
    return path


def _check_out(text: str) -> Path:
    out = _path("--out", text)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {text} is a file; give a folder (it receives the PDFs, "
                         "tables/ and numbers.tex)")
    existing = next(p for p in [out, *out.parents] if p.exists())
    if not existing.is_dir():
        raise UsageError(f"--out {text}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {text}: cannot write in {existing} (permission denied); "
                         "choose a writable folder")
    tables = out / "tables"
    if tables.exists() and not tables.is_dir():
        raise UsageError(f"--out {text}: {tables} is a file, but the tables go into that folder")
    return out


def _check_paper(text: str | None, out: Path) -> Path | None:
    from tiedae.paper.build import MANUSCRIPT, default_paper_dir

    if text is None:
        return default_paper_dir(out)
    paper = _path("--paper", text)
    if not (paper / MANUSCRIPT).is_file():
        raise UsageError(f"--paper {text}: no manuscript there ({paper / MANUSCRIPT} does not "
                         "exist); give the folder holding tiedae.tex and sections/, or leave "
                         "--paper out")
    return paper


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns its exit status."""
    try:
        _startup.started()  # from here on Ctrl-C is a KeyboardInterrupt, caught below
        args = build_parser().parse_args(argv)
        results = _check_results(args.results)
        out = _check_out(args.out)
        paper = _check_paper(args.paper, out)
        from tiedae.paper.build import generate

        warnings.showwarning = lambda message, *_args, **_kw: print(f"warning: {message}",
                                                                    file=sys.stderr)
        try:
            generate(results, out, paper_dir=paper, allow_missing=args.allow_missing)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        if paper is None:
            print(f"note: no manuscript (tiedae.tex) in {out.parent}, so none was checked "
                  "against the output; --paper DIR checks the one in DIR", file=sys.stderr)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{PROG}: error: cannot write {err.filename or 'the output'} "
              f"({err.strerror or err}); no file in --out is half-written", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no file in --out is half-written", file=sys.stderr)
        return _startup.EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
