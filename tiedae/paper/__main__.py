"""`python -m tiedae.paper --results DIR --out paper/figures`: regenerate the paper's figures."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from tiedae.paper.build import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tiedae.paper",
        description="Regenerate every figure, table and number of the paper from bench results "
                    "(no training: reads DIR/<suite>.jsonl and plots).",
    )
    parser.add_argument("--results", default="paper/results",
                        help="folder of bench results (default: paper/results)")
    parser.add_argument("--out", default="paper/figures",
                        help="output folder for PDFs, tables/ and numbers.tex "
                             "(default: paper/figures)")
    parser.add_argument("--paper", default=None,
                        help="manuscript folder to check (default: the parent of --out)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="write 'not run' placeholders for suites absent from the results")
    args = parser.parse_args(argv)
    warnings.showwarning = lambda message, *_args, **_kw: print(f"warning: {message}",
                                                                file=sys.stderr)
    try:
        generate(Path(args.results), Path(args.out), paper_dir=args.paper,
                 allow_missing=args.allow_missing)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
