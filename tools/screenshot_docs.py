"""Screenshots of the documentation site, to look at it the way a reader does.

Takes headless Chromium screenshots of a built site (default docs/_build/html, written by the
README's docs command): the home page (`docs-home.png`), a tutorial down to its plots
(`docs-tutorial.png`, a tall window: headless Chromium paints only the first window height of
a page) and an API page (`docs-api.png`). Needs the `chromium` binary (Debian: apt-get install
-y chromium); without it, or without a built site, the script says so and exits with status 2.

Usage:
  python tools/screenshot_docs.py [--html docs/_build/html] [--out DIR]

The PNGs go to --out (default: a new temporary folder); their paths are printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot_report import find_browser, screenshot  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAGES = {  # png name: (page of the site, window "width,height")
    "docs-home.png": ("index.html", "1280,1400"),
    "docs-tutorial.png": ("tutorials/why_transpose.html", "1280,5200"),
    "docs-api.png": ("generated/tiedae.fit.html", "1280,1800"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=str(REPO / "docs" / "_build" / "html"), metavar="DIR",
                        help="the built site (default: docs/_build/html)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the PNGs (default: a new temporary folder)")
    args = parser.parse_args(argv)
    browser = find_browser("screenshot_docs")
    if browser is None:
        return 2
    site = Path(args.html).resolve()
    missing = [page for page, _ in PAGES.values() if not (site / page).is_file()]
    if missing:
        print(f"screenshot_docs: {site} has no {', '.join(missing)}: build the site first "
              "(the README's docs command)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tiedae-screens-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiedae-chromium-") as tmp:
        for png, (page, window) in PAGES.items():
            try:
                screenshot(browser, (site / page).as_uri(), out / png, Path(tmp) / "profile",
                           window=window)
            except (RuntimeError, OSError) as err:
                print(f"screenshot_docs: {err}", file=sys.stderr)
                return 2
            print(out / png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
