"""Per-step cost of NNX's stateful jit vs tiedae's jit over split state, for a small model.

The flax-examples pattern (`nnx.jit` over the module and an `nnx.Optimizer`) traverses the
module graph in Python on every call; tiedae's `make_train_step` jits a pure function of the
split state. For small models that traversal dominates. Both steps do the same arithmetic
(loss, gradient, Adam update); the table gives microseconds per step and their ratio, measured
in the same process.

    python benchmarks/nnx_overhead.py [--steps 2000] [--out results/nnx_overhead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import tiedae
from tiedae.train import TrainState, make_train_step, reconstruction_error


def _time_per_step(run_step, steps: int, repeats: int = 3) -> float:
    run_step()  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            out = run_step()
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def measure(d: int, k: int, batch: int, steps: int) -> dict:
    X = jax.random.normal(jax.random.key(0), (batch, d), jnp.float32)
    tx = optax.adam(1e-3)

    model = tiedae.LinearAE(d, k, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, optimizer, x):
        loss, grads = nnx.value_and_grad(reconstruction_error)(model, x)
        optimizer.update(model, grads)
        return loss

    nnx_time = _time_per_step(lambda: nnx_step(model, optimizer, X), steps)

    model = tiedae.LinearAE(d, k, rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    step = make_train_step(graphdef, rest, tx)
    state = [TrainState.create(params, tx)]

    def split_step():
        state[0], logged = step(state[0], X, False)
        return logged["objective"]

    split_time = _time_per_step(split_step, steps)
    return {"d": d, "k": k, "batch": batch, "nnx_jit_us": nnx_time * 1e6,
            "split_jit_us": split_time * 1e6, "speedup": nnx_time / split_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure(d, k, b, args.steps) for d, k, b in [(64, 8, 128), (784, 64, 256)]]
    print(f"{'d':>5} {'k':>4} {'batch':>6} {'nnx.jit µs':>11} {'split jit µs':>13} {'speedup':>8}")
    for r in rows:
        print(f"{r['d']:>5} {r['k']:>4} {r['batch']:>6} {r['nnx_jit_us']:>11.1f} "
              f"{r['split_jit_us']:>13.1f} {r['speedup']:>7.2f}x")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"device": str(jax.devices()[0]), "rows": rows}, f, indent=1)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
