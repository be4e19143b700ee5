"""Saving bench records: appending a line vs rewriting the whole file vs one file per run.

Three ways to save N records of one suite, one record at a time as the bench does (each save
reaches the disk, `fsync`, before the next run starts), timed in the same process on the same
disk (the temporary folder's, or `--dir`):

* **append** (the store since issue 16, `tiedae.bench.records.ResultStore.append`): one line
  appended to `<suite>.jsonl` and fsynced; the CSV summary written once at the end, as the
  bench does when a suite's runs end;
* **rewrite** (the store before, reimplemented here as the baseline): every save reads the whole
  `<suite>.jsonl`, drops a record with the same run_id, and rewrites it and the CSV atomically
  (temporary file, fsync, rename): save i costs O(i), N saves O(N²);
* **file per run**: one JSON file per record, written atomically (temporary file, fsync,
  rename), where "exists" would mean done.

Also timed: writing the CSV once (append) and reading the N records back (one JSONL through
`read_records` vs listing and parsing N files). The record is a real one, the median-sized
record of `paper/results/symmetry.jsonl` (the suite with the largest records), given a new
run_id per save. The ways run in interleaved rounds, best of `--repeats`; the rewrite, O(N²),
runs at the smallest N only, in the first round. At the largest N it would write tens of GB,
so there its total is a model: the time of one rewrite save is measured with i = 0, N/10 and N
records already saved (best of `--repeats` each), fitted by a line a + b·i and summed over
i < N; the same model at the smallest N is checked against that N's measured total.

    python benchmarks/record_store.py [--n 100 1000] [--repeats 3] [--dir TMP]
                                      [--out benchmarks/results/record_store.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _output import write_json

from tiedae.bench import records
from tiedae.bench.files import atomic_write_text
from tiedae.bench.records import ResultStore, read_records

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "paper" / "results" / "symmetry.jsonl"
SUITE = "symmetry"


def _runs(record: dict, n: int, start: int = 0) -> list[dict]:
    return [{**record, "run_id": f"bench-{i:06d}"} for i in range(start, start + n)]


def rewrite_save(folder: Path, record: dict) -> None:
    """The store before issue 16 (`ResultStore.append` then): read everything, rewrite all."""
    jsonl, csv = folder / f"{SUITE}.jsonl", folder / f"{SUITE}.csv"
    saved = read_records(jsonl, SUITE) if jsonl.exists() else []
    saved = [r for r in saved if r["run_id"] != record["run_id"]] + [record]
    atomic_write_text(jsonl, "".join(json.dumps(r, allow_nan=False) + "\n" for r in saved))
    atomic_write_text(csv, records._csv_text(saved))  # the CSV layout, unchanged since


def append_all(folder: Path, runs: list[dict]) -> None:
    store = ResultStore(folder, SUITE)
    for record in runs:
        store.append(record)


def write_csv(folder: Path) -> None:
    ResultStore(folder, SUITE).write_csv()


def read_jsonl(folder: Path) -> list[dict]:
    return read_records(folder / f"{SUITE}.jsonl", SUITE)


def file_per_run_all(folder: Path, runs: list[dict]) -> None:
    (folder / SUITE).mkdir(exist_ok=True)
    for record in runs:
        atomic_write_text(folder / SUITE / f"{record['run_id']}.json",
                          json.dumps(record, allow_nan=False))


def read_file_per_run(folder: Path) -> list[dict]:
    return [json.loads(p.read_bytes()) for p in sorted((folder / SUITE).iterdir())]


def _timed(action, *args) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def _in_new_folder(root: Path, action, *args) -> float:
    """Seconds of `action(folder, *args)` in a new empty folder under `root`, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="record-store-", dir=root))
    try:
        return _timed(action, folder, *args)
    finally:
        shutil.rmtree(folder)


def _one_rewrite_save(folder: Path, record: dict, saved: int) -> float:
    """Seconds of one rewrite save with `saved` records already in the file (written at once,
    as the earlier saves would have left it; not timed)."""
    if saved:
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in _runs(record, saved))
        atomic_write_text(folder / f"{SUITE}.jsonl", text)
    return _timed(rewrite_save, folder, _runs(record, 1, start=saved)[0])


def rewrite_model(root: Path, record: dict, levels: list[int], repeats: int) -> dict:
    """Seconds of one rewrite save with i records already saved, per level i (best of
    `repeats`), and the line a + b·i fitted to them."""
    seconds = []
    for saved in levels:
        best = float("inf")
        for _ in range(repeats):
            folder = Path(tempfile.mkdtemp(prefix="record-store-", dir=root))
            try:
                best = min(best, _one_rewrite_save(folder, record, saved))
            finally:
                shutil.rmtree(folder)
        seconds.append(best)
    b, a = np.polyfit(levels, seconds, 1)
    return {"levels": levels, "save_s": seconds, "a_s": float(a), "b_s_per_record": float(b)}


def modelled_total(model: dict, n: int) -> float:
    """sum_{i<n} (a + b·i)."""
    return n * model["a_s"] + model["b_s_per_record"] * n * (n - 1) / 2


def measure(record: dict, ns: list[int], repeats: int, root: Path) -> dict:
    small = min(ns)
    keys = ("append_s", "csv_s", "file_per_run_s", "read_jsonl_s", "read_file_per_run_s")
    rows = []
    for n in ns:
        runs = _runs(record, n)
        best = dict.fromkeys(keys, float("inf"))
        rewrite = None
        for round_ in range(repeats):  # interleaved rounds
            folder = Path(tempfile.mkdtemp(prefix="record-store-", dir=root))
            try:
                for key, action, args in (
                        ("append_s", append_all, (runs,)), ("csv_s", write_csv, ()),
                        ("read_jsonl_s", read_jsonl, ()),
                        ("file_per_run_s", file_per_run_all, (runs,)),
                        ("read_file_per_run_s", read_file_per_run, ())):
                    best[key] = min(best[key], _timed(action, folder, *args))
            finally:
                shutil.rmtree(folder)
            if n == small and round_ == 0:  # O(n^2): one round only
                rewrite = _in_new_folder(root, lambda f, runs=runs: [rewrite_save(f, r)
                                                                     for r in runs])
        rows.append({"n": n, **best, "rewrite_s": rewrite})
    levels = sorted({0, max(ns) // 10, max(ns)})
    model = rewrite_model(root, record, levels, repeats)
    for row in rows:
        row["rewrite_model_s"] = modelled_total(model, row["n"])
        row["rewrite_measured"] = row["rewrite_s"] is not None
        rewrite = row["rewrite_s"] if row["rewrite_measured"] else row["rewrite_model_s"]
        # a rewrite save also writes the CSV: against the appends and one CSV at the end
        row["rewrite_over_append"] = rewrite / (row["append_s"] + row["csv_s"])
        row["file_per_run_over_append"] = row["file_per_run_s"] / row["append_s"]
        row["append_ms_per_record"] = row["append_s"] / row["n"] * 1e3
    return {"record_bytes": len(json.dumps(record, allow_nan=False)) + 1, "rows": rows,
            "rewrite_model": model, "repeats": repeats}


def _file_system(path: Path) -> str:
    """The file system type of the mount holding `path` (Linux; 'unknown' elsewhere)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    real = str(path.resolve())
    best = max((m for m in mounts if len(m) > 2 and (real == m[1] or real.startswith(
        m[1].rstrip("/") + "/"))), key=lambda m: len(m[1]), default=None)
    return best[2] if best else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="folder to write in (default: temp)")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    root = Path(args.dir or tempfile.gettempdir())
    saved = read_records(SOURCE, SUITE)
    sizes = [len(json.dumps(r, allow_nan=False)) for r in saved]
    median = int(np.argsort(sizes)[len(sizes) // 2])
    record = saved[median]
    load_start = os.getloadavg()[0]
    res = {"device": f"disk of {'--dir' if args.dir else 'the temporary folder'} "
                     f"({_file_system(root)}), {os.cpu_count()} CPUs",
           "source": f"paper/results/symmetry.jsonl line {median + 1}, the median size",
           **measure(record, sorted(args.n), args.repeats, root),
           "load_average": [load_start, os.getloadavg()[0]]}
    print(f"record: {res['record_bytes']} bytes; best of {args.repeats} rounds; {res['device']}")
    print(f"{'N':>6} {'rewrite s':>10} {'append s':>9} {'csv s':>7} {'per-run s':>10} "
          f"{'rewrite/append':>15} {'per-run/append':>15} {'read jsonl s':>13} "
          f"{'read files s':>13}")
    for r in res["rows"]:
        rewrite = (f"{r['rewrite_s']:.3g}" if r["rewrite_measured"] else
                   f"~{r['rewrite_model_s']:.3g}")
        print(f"{r['n']:>6} {rewrite:>10} {r['append_s']:>9.3g} {r['csv_s']:>7.3g} "
              f"{r['file_per_run_s']:>10.3g} "
              f"{r['rewrite_over_append']:>14.3g}x {r['file_per_run_over_append']:>14.3g}x "
              f"{r['read_jsonl_s']:>13.3g} {r['read_file_per_run_s']:>13.3g}")
    model = res["rewrite_model"]
    print(f"rewrite model: {model['a_s'] * 1e3:.3g} ms + {model['b_s_per_record'] * 1e3:.3g} ms "
          f"per saved record (save times {model['save_s']} at {model['levels']} saved)")
    if args.out:
        write_json(args.out, res)


if __name__ == "__main__":
    main()
