"""Per-step cost of small-model training: one compiled step per call vs fit's fused steps.

Three ways to run the same arithmetic (loss, gradient, Adam update of a float32 LinearAE on a
fixed batch), timed in the same process:

* `nnx.jit` over the module with an `nnx.Optimizer` (the flax-examples pattern): NNX walks the
  module graph in Python on every call;
* one jitted step over split state per call (`tiedae.training.make_train_step`);
* `tiedae.fit`, which runs all the steps between two log points in one compiled call (a
  `lax.while_loop`), logging every `--log-every` steps.

Reported: microseconds per step and the ratios. The three are timed in interleaved rounds (each
once per round, so a burst of load from other processes hits all alike), best of `--repeats`
rounds of `--steps` steps each, compilation excluded (for fit: its history's wall time of the
training, which excludes compilation and set-up). The headline is d=64, k=8, batch 128: fused
vs one step per call (goal >= 5x).

    python benchmarks/per_step_overhead.py [--steps 2000] [--log-every 100] [--repeats 5]
                                            [--out results/per_step_overhead.json]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax
from _output import write_json
from flax import nnx

import tiedae
from tiedae.training import TrainState, make_train_step, reconstruction_error


def _interleaved_best(runs: dict, repeats: int) -> dict[str, float]:
    """Seconds of each run (a function returning its own time, or None to be timed), best of
    `repeats` interleaved rounds after one warm-up round."""
    best = dict.fromkeys(runs, float("inf"))
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            own = run()
            elapsed = time.perf_counter() - start if own is None else own
            if round_:  # round 0 compiles and warms up
                best[name] = min(best[name], elapsed)
    return best


def measure(d: int, k: int, batch: int, steps: int, log_every: int, repeats: int) -> dict:
    X = jax.random.normal(jax.random.key(0), (batch, d), jnp.float32)
    tx = optax.adam(1e-3)

    model = tiedae.LinearAE(d, k, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, optimizer, x):
        loss, grads = nnx.value_and_grad(reconstruction_error)(model, x)
        optimizer.update(model, grads)
        return loss

    def nnx_run():
        for _ in range(steps):
            loss = nnx_step(model, optimizer, X)
        jax.block_until_ready(loss)

    graphdef, params, rest = nnx.split(tiedae.LinearAE(d, k, rngs=nnx.Rngs(0)), nnx.Param, ...)
    step = make_train_step(graphdef, rest, tx)
    box = [TrainState.create(params, tx)]

    def split_run():
        for _ in range(steps):
            box[0], logged = step(box[0], X)
        jax.block_until_ready(logged["loss"])

    def fused_run():
        _, hist = tiedae.fit(tiedae.LinearAE(d, k, rngs=nnx.Rngs(0)), X, optimizer=tx,
                             steps=steps, log_every=log_every, center=False)
        return hist["wall_time"][-1]  # the training, compilation and set-up excluded

    best = _interleaved_best({"nnx": nnx_run, "split": split_run, "fused": fused_run}, repeats)
    nnx_s, split_s, fused_s = (best[name] / steps for name in ("nnx", "split", "fused"))
    return {"d": d, "k": k, "batch": batch, "steps": steps, "log_every": log_every,
            "nnx_jit_us": nnx_s * 1e6, "split_jit_us": split_s * 1e6,
            "fused_us": fused_s * 1e6, "split_over_nnx_speedup": nnx_s / split_s,
            "fused_over_split_speedup": split_s / fused_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure(d, k, b, args.steps, args.log_every, args.repeats)
            for d, k, b in [(64, 8, 128), (784, 64, 256)]]
    print(f"{'d':>5} {'k':>4} {'batch':>6} {'nnx.jit µs':>11} {'split jit µs':>13} "
          f"{'fused µs':>9} {'split/nnx':>10} {'fused/split':>12}")
    for r in rows:
        print(f"{r['d']:>5} {r['k']:>4} {r['batch']:>6} {r['nnx_jit_us']:>11.1f} "
              f"{r['split_jit_us']:>13.1f} {r['fused_us']:>9.1f} "
              f"{r['split_over_nnx_speedup']:>9.2f}x {r['fused_over_split_speedup']:>11.2f}x")
    print(f"(fit logs every {args.log_every} steps: one compiled call per log interval)")
    if args.out:
        write_json(args.out, {"device": str(jax.devices()[0]), "rows": rows})


if __name__ == "__main__":
    main()
