"""Wall time and peak memory of the commands a new user runs: the quick bench twice and the tests.

The quick bench (`python -m tiedae.bench`) runs first with an empty compilation cache (a new
`$XDG_CACHE_HOME`, so nothing compiled before is reused) and then again with the cache the
first run filled, each into a new results folder; `--pytest` also times the README's test
command (its `python -m pytest ...` part, read from the line after `<!-- test command -->`, so
its options, e.g. the number of worker processes, are the ones a user runs) from the
repository. Each command runs in a fresh process; its wall time is measured around the
process, as a user would with `time`, and its peak memory is the largest total resident set
of the process and its descendants, sampled every 0.2 s from /proc (several pytest workers
run at once, so their sum is what the machine needs), or where /proc does not list a
process's children the largest resident set of any one process it ran
(`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper process); the JSON says which
(`peak_memory_of`). The `pip install`
before each command is not timed: it depends on the network.

    python benchmarks/command_times.py --pytest --out benchmarks/results/command_times.json

Goals (issue 16): quick bench first run < 90 s, second run <= 45 s, tests <= 8 min.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _output import write_json

REPO = Path(__file__).resolve().parents[1]
GOALS_S = {"bench_first_s": 90.0, "bench_second_s": 45.0, "pytest_s": 480.0}


TEST_MARKER = "<!-- test command -->"


def readme_pytest_args(readme: Path = REPO / "README.md") -> list[str]:
    """The options of `python -m pytest` in the README's test command (the code block line
    after `TEST_MARKER`), e.g. ["-q", "-n", "2"].

    Raises:
      ValueError: no marker, or the command after it does not end in `python -m pytest ...`.
    """
    lines = readme.read_text(encoding="utf-8").splitlines()
    if TEST_MARKER not in lines:
        raise ValueError(f"{readme} has no {TEST_MARKER!r} line")
    command = lines[lines.index(TEST_MARKER) + 2]  # the marker, the ```bash fence, the command
    last = shlex.split(command.split("&&")[-1])
    if last[:3] != ["python", "-m", "pytest"]:
        raise ValueError(f"the README's test command does not end in python -m pytest: {command}")
    return last[3:]


def _tree_rss_kb(pid: int) -> int:
    """Resident memory (kB) of process `pid` and all its descendants, from /proc (0 when gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines()
                              if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


# /proc/<pid>/task/<tid>/children needs a kernel built with CONFIG_PROC_CHILDREN
PROCESS_TREE = Path(f"/proc/self/task/{os.getpid()}/children").exists()

# Runs the command given as its arguments and prints the largest resident set (kB on Linux) of
# the processes it waited for: where the process tree cannot be read.
_PEAK = ("import resource, subprocess, sys\n"
         "rc = subprocess.call(sys.argv[1:])\n"
         "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
         " file=sys.stderr)\n"
         "sys.exit(rc)\n")


def timed(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(seconds of wall time, peak resident memory in GiB) of `command` run to its end (a
    failure raises, with its output): the peak of its whole process tree where /proc shows
    it (`PROCESS_TREE`), else the largest single process (a wrapper's `ru_maxrss`)."""
    if not PROCESS_TREE:
        command = [sys.executable, "-c", _PEAK, *command]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _tree_rss_kb(proc.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n"
                               f"{log.read()[-2000:]}")
        if not PROCESS_TREE:
            log.seek(0)
            peak_kb = max(int(line.split()[1]) for line in log.read().splitlines()
                          if line.startswith("PEAK_RSS_KB"))
    return seconds, peak_kb / 2**20


def measure(bench_args: list[str], pytest: bool) -> dict:
    """The times of the quick bench (empty cache, then warm) and, with `pytest`, the tests."""
    with tempfile.TemporaryDirectory(prefix="tiedae-times-") as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
               "PYTHONPATH": str(REPO), "TIEDAE_MEASURING_COMMANDS": "1"}
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        bench = [sys.executable, "-m", "tiedae.bench", "run", *bench_args]
        res = {}
        for name in ("first", "second"):
            seconds, peak = timed([*bench, "--out", str(Path(tmp) / name)], env, REPO)
            res[f"bench_{name}_s"], res[f"bench_{name}_peak_gib"] = seconds, peak
        if pytest:
            args = readme_pytest_args()
            res["pytest_s"], res["pytest_peak_gib"] = timed(
                [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], env, REPO)
            res["pytest_args"] = args
    res.update(peak_memory_of="process tree" if PROCESS_TREE else None)
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
