"""Wall time of the commands a new user runs: the quick bench twice and the test suite.

The quick bench (`python -m tiedae.bench`) runs first with an empty compilation cache (a new
`$XDG_CACHE_HOME`, so nothing compiled before is reused) and then again with the cache the
first run filled, each into a new results folder; `--pytest` also times `python -m pytest -q`
from the repository. Each command runs in a fresh process; its wall time is measured around
the process, as a user would with `time`.

    python benchmarks/command_times.py --pytest --out benchmarks/results/command_times.json

Goals (issue 16): quick bench first run < 90 s, second run <= 45 s, tests <= 8 min.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _output import write_json

REPO = Path(__file__).resolve().parents[1]
GOALS_S = {"bench_first_s": 90.0, "bench_second_s": 45.0, "pytest_s": 480.0}


def timed(command: list[str], env: dict, cwd: Path) -> float:
    """Seconds of wall time of `command` run to its end (a failure raises, with its output)."""
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n"
                           f"{(proc.stdout + proc.stderr)[-2000:]}")
    return seconds


def measure(bench_args: list[str], pytest: bool) -> dict:
    """The times of the quick bench (empty cache, then warm) and, with `pytest`, the tests."""
    with tempfile.TemporaryDirectory(prefix="tiedae-times-") as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
               "PYTHONPATH": str(REPO)}
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        bench = [sys.executable, "-m", "tiedae.bench", "run", *bench_args]
        res = {"bench_first_s": timed([*bench, "--out", str(Path(tmp) / "first")], env, REPO),
               "bench_second_s": timed([*bench, "--out", str(Path(tmp) / "second")], env,
                                       REPO)}
        if pytest:
            res["pytest_s"] = timed([sys.executable, "-m", "pytest", "-q", "-p",
                                     "no:cacheprovider"], env, REPO)
    res.update(device="cpu", cpu_count=os.cpu_count(), load_average=list(os.getloadavg()),
               goals_s=GOALS_S, bench_args=bench_args)
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytest", action="store_true", help="also time the test suite")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    res = measure([], args.pytest)
    for key in ("bench_first_s", "bench_second_s", "pytest_s"):
        if key in res:
            print(f"{key}: {res[key]:.1f} s (goal {GOALS_S[key]:.0f} s)")
    if args.out:
        write_json(args.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
