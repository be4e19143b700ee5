"""Cost of one checkpoint write of `fit(..., checkpoint=Checkpoint(...))` against a training step.

For each model, `fit` runs the same minibatch training twice in the same process: without
checkpoints (the per-step time is its history's training time over the steps, compilation
excluded) and with a checkpoint at every log point. Each write (`Session.save`: the state's
device-to-host copy, `numpy.savez` of state, variables and history, `fsync`, rename, pruning)
is timed on its own, and so is the once-per-call set-up (`checkpoint.start`: the run's
fingerprint, with the SHA-256 of the data, and the look for a checkpoint to resume).

Reported per model: the checkpoint's size, the median write time, the step time, and the
ratios write / step and write / log interval (`--log-every` steps). Models: a float32
`LinearAE` d=784 k=64 (tied) with Adam, and a float32 `ConvAE` on 28x28x1 images, channels
(16, 32), with Adam (on a CPU one compiled call per step, so a fifth of the steps and of the
log interval); n=4096 rows, batch 256. The disk is the temporary directory's.

    python benchmarks/checkpoint_cost.py [--steps 200] [--log-every 50]
                                         [--out benchmarks/results/checkpoint_cost.json]
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import tempfile
import time

import jax
import numpy as np
import optax
from _output import write_json
from flax import nnx

import tiedae
from tiedae.training import Checkpoint
from tiedae.training import checkpoint as checkpoint_lib


class _Timed:
    """Wraps a function and records the seconds of each call."""

    def __init__(self, owner, name):
        self.owner, self.name, self.original = owner, name, getattr(owner, name)
        self.seconds: list[float] = []

    def __enter__(self):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - start)

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc):
        setattr(self.owner, self.name, self.original)


def measure(name: str, make_model, X: np.ndarray, steps: int, log_every: int,
            batch: int = 256) -> dict:
    kwargs = {"optimizer": optax.adam(1e-3), "steps": steps, "log_every": log_every,
              "batch_size": batch}
    tiedae.fit(make_model(), X, **{**kwargs, "steps": log_every})  # compile
    _, hist = tiedae.fit(make_model(), X, **kwargs)
    step_s = float(hist["wall_time"][-1]) / steps
    folder = tempfile.mkdtemp(prefix="tiedae-checkpoint-cost-")
    try:
        with _Timed(checkpoint_lib.Session, "save") as save, \
                _Timed(checkpoint_lib, "start") as start:
            _, hist_ckpt = tiedae.fit(make_model(), X, **kwargs,
                                      checkpoint=Checkpoint(folder, every=log_every, keep=1))
        size = sum(p.stat().st_size for p in pathlib.Path(folder).iterdir())
    finally:
        shutil.rmtree(folder)
    write_s = statistics.median(save.seconds)
    params = sum(int(np.size(p)) for p in jax.tree.leaves(nnx.state(make_model(), nnx.Param)))
    return {"model": name, "parameters": params, "steps": steps, "log_every": log_every,
            "batch": batch, "writes": len(save.seconds), "checkpoint_bytes": size,
            "write_ms": write_s * 1e3, "setup_ms": start.seconds[0] * 1e3,
            "step_ms": step_s * 1e3, "write_over_step": write_s / step_s,
            "write_over_log_interval": write_s / (step_s * log_every),
            "step_ms_with_checkpoints": float(hist_ckpt["wall_time"][-1]) / steps * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    flat = rng.normal(size=(args.n, 784)).astype(np.float32)
    images = flat.reshape(args.n, 28, 28, 1)
    models = [
        ("LinearAE d=784 k=64", lambda: tiedae.LinearAE(784, 64, rngs=nnx.Rngs(0)), flat, 1),
        ("ConvAE 28x28x1 (16, 32)",
         lambda: tiedae.ConvAE((28, 28, 1), (16, 32), rngs=nnx.Rngs(0)), images, 5),
    ]
    rows = [measure(name, make, X, max(1, args.steps // fewer),
                    max(1, args.log_every // fewer)) for name, make, X, fewer in models]
    print(f"{'model':<26} {'params':>8} {'ckpt KiB':>9} {'write ms':>9} {'step ms':>8} "
          f"{'write/step':>11} {'write/interval':>15} {'set-up ms':>10}")
    for r in rows:
        print(f"{r['model']:<26} {r['parameters']:>8} {r['checkpoint_bytes'] / 1024:>9.0f} "
              f"{r['write_ms']:>9.2f} {r['step_ms']:>8.3f} {r['write_over_step']:>10.2f}x "
              f"{r['write_over_log_interval']:>14.3f}x {r['setup_ms']:>10.1f}")
    print("(write/interval: one write against the steps of one log interval; the set-up runs "
          "once per fit call)")
    if args.out:
        write_json(args.out, {"device": str(jax.devices()[0]), "n": args.n, "rows": rows})


if __name__ == "__main__":
    main()
