"""Screenshots of the HTML report, to look at it the way a reader does.

Builds the HTML report (`tiedae.report.html.write_html`) of a results folder (default:
paper/results) into a temporary folder, then asks headless Chromium for two screenshots: the
top of the report (`report-top.png`) and one suite's section (`report-<suite>.png`, opened at
its anchor `#<suite>`). Headless Chromium paints only the first window height of a page (a
section further down comes out blank even at its anchor), so the section is taken from a copy
of index.html beside it whose only change is one extra CSS rule hiding the header, the contents
and the other sections. Needs the `chromium` binary (Debian: apt-get install -y chromium);
without it the script says so and exits with status 2.

Usage:
  python tools/screenshot_report.py [--results paper/results] [--suite decoders] [--out DIR]

The PNGs go to --out (default: a new temporary folder); their paths are printed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WINDOW = "1280,2000"


def find_browser(tool: str) -> str | None:
    """Chromium's path, or None after saying on stderr how to install it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print(f"{tool}: no chromium on PATH (apt-get install -y chromium)", file=sys.stderr)
    return browser


def screenshot(browser: str, url: str, png: Path, profile: Path, timeout: float = 120,
               window: str = WINDOW) -> None:
    """One headless Chromium screenshot of `url` into `png` (`window`: "width,height")."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--window-size={window}", f"--screenshot={png}", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"chromium made no screenshot of {url} (exit {proc.returncode}: "
                           f"{tail[0]})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(REPO / "paper" / "results"), metavar="DIR",
                        help="folder of saved results (default: the repository's paper/results)")
    parser.add_argument("--suite", default=None, metavar="NAME",
                        help="the suite whose section to screenshot (default: the first one "
                        "with records)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the PNGs (default: a new temporary folder)")
    args = parser.parse_args(argv)
    browser = find_browser("screenshot_report")
    if browser is None:
        return 2

    from tiedae.bench.records import ResultStore
    from tiedae.bench.suites import SUITES
    from tiedae.report.html import write_html

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tiedae-screens-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiedae-report-") as tmp:
        try:
            index = write_html(args.results, Path(tmp) / "report", SUITES)
        except (OSError, ValueError) as err:
            print(f"screenshot_report: {err}", file=sys.stderr)
            return 2
        names = [s.name for s in SUITES if ResultStore(args.results, s.name).load()]
        suite = args.suite or names[0]
        if suite not in names:
            print(f"screenshot_report: no records of suite {suite!r} in {args.results}; "
                  f"choose from {', '.join(names)}", file=sys.stderr)
            return 2
        focus = index.with_name(f"focus-{suite}.html")
        rule = (f"<style>body > header, nav, section:not(#{suite}) {{ display: none; }}"
                "</style>\n</head>")
        focus.write_text(index.read_text(encoding="utf-8").replace("</head>", rule, 1),
                         encoding="utf-8")
        shots = {out / "report-top.png": index.as_uri(),
                 out / f"report-{suite}.png": f"{focus.as_uri()}#{suite}"}
        for png, url in shots.items():
            screenshot(browser, url, png, Path(tmp) / "profile")
            print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
