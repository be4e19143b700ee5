"""Does fusing training steps into one compiled while loop pay, per model kind, on this device?

`fit` runs the steps between two log points in one compiled call (a `lax.while_loop`), which
removes the per-call dispatch cost of small models. On XLA:CPU a convolution inside a while
loop's body runs several times slower than the same convolution in a plain compiled function,
so on a CPU `fit` gives a model with convolutions one call per step
(`tiedae.training.step.fuses_well`). This script measures the rule's premise: the engine's own
compiled segment (`tiedae.training.step.compiled_segment`: loss, gradient, Adam update and the
divergence guard), on a fixed batch, called once per step vs once for all the steps.

Models: a LinearAE (d=784, k=64, batch 256; the control: fusion should pay), `tiedae.ConvAE`
on 28 x 28 images (batch 32), post 003's Keras and MATLAB CAEs (28 x 28, batch 32) and post
001's conv AE (48 x 48 x 3, batch 16). Reported: milliseconds per step each way and the ratio
fused / one per call (> 1: fusing is slower), and whether `fit` fuses the model's steps on
this device. Best of `--repeats` interleaved rounds,
compilation excluded.

    python benchmarks/fused_convolutions.py [--steps 20] [--repeats 3]
                                            [--out benchmarks/results/fused_convolutions.json]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax
from _output import write_json
from flax import nnx

import tiedae
from tiedae.bench.suites import conv_capacity, conv_decoders
from tiedae.nonlinear.sequential import SequentialAE
from tiedae.training import FullBatch, TrainState, reconstruction_error, step


def _models() -> dict:
    """name -> (model factory, input shape of one image or row, batch size)."""
    enc, dec = conv_capacity.architecture("baseline")
    return {
        "LinearAE d=784 k=64": (lambda: tiedae.LinearAE(784, 64, rngs=nnx.Rngs(0)), (784,), 256),
        "ConvAE 28x28 (16, 4) k3": (lambda: tiedae.ConvAE((28, 28, 1), (16, 4), kernel_size=3,
                                                          rngs=nnx.Rngs(0)), (28, 28, 1), 32),
        "post 003 Keras CAE": (lambda: conv_decoders.post_003_model(
            "keras_cae", (28, 28, 1), nnx.Rngs(0)), (28, 28, 1), 32),
        "post 003 MATLAB CAE": (lambda: conv_decoders.post_003_model(
            "matlab_cae", (28, 28, 1), nnx.Rngs(0)), (28, 28, 1), 32),
        "post 001 conv AE": (lambda: SequentialAE((48, 48, 3), enc, dec, rngs=nnx.Rngs(0)),
                             (48, 48, 3), 16),
    }


def measure(name: str, factory, shape: tuple, batch: int, steps: int, repeats: int) -> dict:
    model = factory()
    X = jax.random.uniform(jax.random.key(0), (batch, int(np.prod(shape))))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(1e-3)
    dynamic, static = step.partition((reconstruction_error, reconstruction_error, None, None))
    bound = FullBatch(X).bind(dtype=np.float32, mesh=None, seed=0, offset=None)
    segment, _ = step.compiled_segment(step.StepSpec(graphdef, tx, bound.select, static, (),
                                                     None))
    state0 = TrainState.create(params, tx)

    def call(state, m):
        return segment(state, rest, bound.resident, None, np.int32(m), {}, dynamic, False)[0]

    def one_per_call():
        state = state0
        for _ in range(steps):
            state = call(state, 1)
        jax.block_until_ready(state)

    def fused():
        jax.block_until_ready(call(state0, steps))

    best = {"one_per_call": float("inf"), "fused": float("inf")}
    for round_ in range(repeats + 1):  # round 0 compiles and warms up
        for way, run in (("one_per_call", one_per_call), ("fused", fused)):
            start = time.perf_counter()
            run()
            if round_:
                best[way] = min(best[way], time.perf_counter() - start)
    fit_fuses = step.fuses_well(segment, state0, rest, bound.resident, None, np.int32(1), {},
                                dynamic, False)
    return {"model": name, "params": sum(int(np.size(p)) for p in jax.tree.leaves(params)),
            "batch": batch, "steps": steps, "fit_fuses": fit_fuses,
            "one_per_call_ms": 1e3 * best["one_per_call"] / steps,
            "fused_ms": 1e3 * best["fused"] / steps,
            "fused_over_one_per_call": best["fused"] / best["one_per_call"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure(name, *spec, args.steps, args.repeats) for name, spec in _models().items()]
    print(f"{'model':<26} {'params':>9} {'batch':>6} {'one/call ms':>12} {'fused ms':>9} "
          f"{'fused/one':>10} {'fit fuses':>10}")
    for r in rows:
        print(f"{r['model']:<26} {r['params']:>9} {r['batch']:>6} {r['one_per_call_ms']:>12.2f} "
              f"{r['fused_ms']:>9.2f} {r['fused_over_one_per_call']:>9.2f}x "
              f"{str(r['fit_fuses']):>10}")
    print("(> 1: fusing the steps into one while loop is slower than one call per step)")
    if args.out:
        write_json(args.out, {"device": str(jax.devices()[0]), "rows": rows})


if __name__ == "__main__":
    main()
