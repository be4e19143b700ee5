"""Wall time and peak memory of the commands a new user runs: the quick bench twice and the tests.

The quick bench (`python -m tiedae.bench`) runs first with an empty compilation cache (a new
`$XDG_CACHE_HOME`, so nothing compiled before is reused) and then again with the cache the
first run filled, each into a new results folder; `--pytest` also times `python -m pytest -q`
from the repository. Each command runs in a fresh process; its wall time is measured around
the process, as a user would with `time`, and its peak memory is the largest resident set of
any process it ran (`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper process around it).
The `pip install` before each command is not timed: it depends on the network.

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


# Runs the command given as its arguments and prints the largest resident set (kB on Linux) of
# the processes it waited for: the command and its descendants.
_PEAK = ("import resource, subprocess, sys\n"
         "rc = subprocess.call(sys.argv[1:])\n"
         "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
         " file=sys.stderr)\n"
         "sys.exit(rc)\n")


def timed(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(seconds of wall time, peak resident memory in GiB) of `command` run to its end (a
    failure raises, with its output)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK, *command], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n"
                           f"{(proc.stdout + proc.stderr)[-2000:]}")
    kb = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    return seconds, float(kb[-1]) / 2**20


def measure(bench_args: list[str], pytest: bool) -> dict:
    """The times of the quick bench (empty cache, then warm) and, with `pytest`, the tests."""
    with tempfile.TemporaryDirectory(prefix="tiedae-times-") as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
               "PYTHONPATH": str(REPO)}
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        bench = [sys.executable, "-m", "tiedae.bench", "run", *bench_args]
        res = {}
        for name in ("first", "second"):
            seconds, peak = timed([*bench, "--out", str(Path(tmp) / name)], env, REPO)
            res[f"bench_{name}_s"], res[f"bench_{name}_peak_gib"] = seconds, peak
        if pytest:
            res["pytest_s"], res["pytest_peak_gib"] = timed(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env, REPO)
    res.update(device="cpu", cpu_count=os.cpu_count(), load_average=list(os.getloadavg()),
               goals_s=GOALS_S, bench_args=bench_args)
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytest", action="store_true", help="also time the test suite")
    parser.add_argument("--out", help="write the result JSON here")
    args = parser.parse_args(argv)
    res = measure([], args.pytest)
    if args.out:
        write_json(args.out, res)
    for key in ("bench_first_s", "bench_second_s", "pytest_s"):
        if key in res:
            peak = res[key.removesuffix("_s") + "_peak_gib"]
            print(f"{key}: {res[key]:.1f} s (goal {GOALS_S[key]:.0f} s), peak memory "
                  f"{peak:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
