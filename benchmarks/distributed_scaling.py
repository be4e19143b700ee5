"""Wall time of data-parallel training over 2 processes vs 1 process (CPU, loopback).

The same full-batch run (a float32 tied LinearAE, Adam, n x d data, `--steps` steps, one log
point at the end) in three layouts, each a fresh set of processes started by this script:

* `1 process x 1 device`: plain `tiedae.fit(model, X)` (the baseline);
* `1 process x 2 devices`: `fit(..., devices="all")` with 2 CPU devices in one process;
* `2 processes x 1 device`: `python -m tiedae.launch --processes 2 --devices-per-process 1`,
  each process passing its half of the rows, `fit(..., devices="all")` (gloo collectives on
  127.0.0.1).

Reported per layout: the training time (`history["wall_time"]` of the last step: compilation
and set-up excluded) and the whole command's wall time (Python and JAX start-up, connecting,
compiling, training), best of `--repeats` interleaved rounds (each round runs every layout
once, so a burst of load from other programs hits all alike); the speed-up is the baseline's
training time over the layout's. The trained encoders must agree (largest difference reported)
or the script fails. Each process of a layout lets XLA use all the machine's cores, as a user
who does not tune thread pools would run it.

    python benchmarks/distributed_scaling.py [--n 32768] [--d 256] [--k 32] [--steps 100]
        [--repeats 3] [--label "what machine"] [--out benchmarks/results/distributed_scaling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from _output import write_json

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
LAYOUTS = {  # name: (processes, devices per process)
    "1 process x 1 device": (1, 1),
    "1 process x 2 devices": (1, 2),
    "2 processes x 1 device": (2, 1),
}


def worker(args) -> None:
    """One process of a layout: train on this process's rows, write the result (rank 0)."""
    from tiedae.training import distributed

    distributed.initialize()
    import jax
    import numpy as np
    import optax
    from flax import nnx

    import tiedae

    rank, count = jax.process_index(), jax.process_count()
    X = tiedae.data.spiked_covariance(args.n, args.d, k=args.k, gap=4.0, seed=0,
                                      dtype=np.float32).X
    mine = np.array_split(X, count)[rank]
    devices = None if len(jax.devices()) == 1 else "all"
    model, hist = tiedae.fit(tiedae.LinearAE(args.d, args.k, rngs=nnx.Rngs(0)), mine,
                             optimizer=optax.adam(1e-3), steps=args.steps, log_every=args.steps,
                             devices=devices)
    if rank == 0:
        np.save(args.result + ".npy", np.asarray(model.encoder_matrix()))
        pathlib.Path(args.result).write_text(json.dumps({
            "train_s": float(hist["wall_time"][-1]), "devices": len(jax.devices()),
            "processes": count, "device": str(jax.devices()[0]), "loss": float(hist["loss"][-1])}))


def run_layout(name: str, args, folder: pathlib.Path, round_: int) -> dict:
    processes, per_process = LAYOUTS[name]
    result = folder / f"{name.replace(' ', '_')}_{round_}.json"
    me = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", "--result",
          str(result), "--n", str(args.n), "--d", str(args.d), "--k", str(args.k), "--steps",
          str(args.steps)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if processes == 1:
        command, env["JAX_NUM_CPU_DEVICES"] = me, str(per_process)
    else:
        command = [sys.executable, "-m", "tiedae.launch", "--processes", str(processes),
                   "--devices-per-process", str(per_process), "--timeout",
                   str(args.timeout), "--", *me]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=args.timeout + 60)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{name} failed (status {done.returncode}):\n{done.stdout}{done.stderr}")
    record = json.loads(result.read_text())
    record["command_s"] = elapsed
    record["encoder_file"] = str(result) + ".npy"
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32768)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per command")
    parser.add_argument("--label", default="", help="what machine / conditions (stored)")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.n % 2:
        parser.error(f"--n must be even (split over 2 devices); got {args.n}")

    import numpy as np

    runs: dict[str, list[dict]] = {name: [] for name in LAYOUTS}
    encoders = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats):
            for name in LAYOUTS:
                rec = run_layout(name, args, pathlib.Path(tmp), round_)
                encoders.setdefault(name, np.load(rec.pop("encoder_file")))
                runs[name].append(rec)
    base = encoders["1 process x 1 device"]
    diff = max(float(np.abs(e - base).max()) for e in encoders.values())
    best = {name: {"train_s": min(r["train_s"] for r in recs),
                   "command_s": min(r["command_s"] for r in recs), "device": recs[0]["device"]}
            for name, recs in runs.items()}
    if diff > 1e-3:
        raise SystemExit(f"the layouts trained different encoders (largest difference {diff})")
    baseline = best["1 process x 1 device"]["train_s"]
    rows = [{"layout": name, "processes": LAYOUTS[name][0],
             "devices_per_process": LAYOUTS[name][1], "train_s": best[name]["train_s"],
             "command_s": best[name]["command_s"],
             "speedup": baseline / best[name]["train_s"]} for name in LAYOUTS]
    print(f"n={args.n} d={args.d} k={args.k} steps={args.steps} float32, best of "
          f"{args.repeats} rounds; largest encoder difference between layouts {diff:.2g}")
    print(f"{'layout':<24} {'train s':>9} {'command s':>10} {'speed-up':>9}")
    for r in rows:
        print(f"{r['layout']:<24} {r['train_s']:>9.3f} {r['command_s']:>10.2f} "
              f"{r['speedup']:>8.2f}x")
    if args.out:
        res = {"label": args.label, "device": best["1 process x 1 device"]["device"],
               "cpu_count": os.cpu_count(), "n": args.n, "d": args.d, "k": args.k,
               "steps": args.steps, "repeats": args.repeats, "dtype": "float32",
               "max_encoder_difference": diff, "rows": rows}
        write_json(args.out, res)


if __name__ == "__main__":
    main()
