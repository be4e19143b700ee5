"""Throughput of the jitted full-batch training step against numpy's matmul rate.

At n=4096, d=784, k=64, float32: GFLOP/s of the `transpose` step (nominal 10 n d k FLOPs: two
products forward, three backward) as a ratio to numpy's float32 matmul GFLOP/s on the same
(n, d) x (d, k) product, measured in the same process (goal >= 0.9); and the time of the pinv,
right_inverse and untied steps as a ratio to the transpose step (goal <= 1.5 for the tied
inverses). numpy's rate is measured twice: with its BLAS thread pool as it comes and limited
to one thread (threadpoolctl). The steps are timed as `tiedae.fit` runs them (BLAS pools
limited to one thread, see `tiedae.blas.blas_threads`) and with the pools as they come: XLA's
matmuls do not use that pool, but the LAPACK calls of pinv / right_inverse do, and the idle
pool threads then compete with XLA's. All timings are interleaved round by round (best round
of each).

    python benchmarks/step_throughput.py [--n 4096 --d 784 --k 64] [--repeats 7]
                                         [--out results/step_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_info

from tiedae.bench.suites.step_cost import (
    DECODERS,
    best_times,
    matmul_function,
    one_blas_thread,
    step_function,
)


def measure(n: int, d: int, k: int, repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.standard_normal((n, d)).astype(np.float32))
    flops = 10.0 * n * d * k
    matmul = matmul_function(n, d, k, seed)
    fns = {dec: step_function(dec, X, k, seed) for dec in DECODERS}  # as tiedae.fit runs them
    pooled = {dec: step_function(dec, X, k, seed, blas_limit=None) for dec in DECODERS}
    fns.update({f"{dec} (default BLAS pool)": fn for dec, fn in pooled.items()})
    fns["numpy"], fns["numpy_one"] = matmul, one_blas_thread(matmul)
    times = best_times(fns, repeats, min_time=0.1)  # interleaved rounds, best of each
    numpy_default = 2.0 * n * d * k / times["numpy"] / 1e9
    numpy_one = 2.0 * n * d * k / times["numpy_one"] / 1e9
    ms = {dec: 1e3 * times[dec] for dec in DECODERS}
    step_gflops = flops / (ms["transpose"] / 1e3) / 1e9
    return {
        "n": n, "d": d, "k": k, "dtype": "float32", "flops_per_step": flops,
        "step_ms": ms,
        "time_ratio_to_transpose": {dec: ms[dec] / ms["transpose"] for dec in DECODERS},
        "time_ratio_to_transpose_default_blas_pool": {
            dec: times[f"{dec} (default BLAS pool)"] / times["transpose"] for dec in DECODERS},
        "transpose_step_gflops": step_gflops,
        "numpy_matmul_gflops_default_threads": numpy_default,
        "numpy_matmul_gflops_one_blas_thread": numpy_one,
        "step_over_numpy_default_threads": step_gflops / numpy_default,
        "step_over_numpy_one_blas_thread": step_gflops / numpy_one,
        "blas_pools": [{"api": p["internal_api"], "threads": p["num_threads"]}
                       for p in threadpool_info() if p.get("user_api") == "blas"],
        "cpu_count": os.cpu_count(), "jax_device": str(jax.devices()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", help="write the figures as JSON to this file")
    args = parser.parse_args()
    res = measure(args.n, args.d, args.k, args.repeats)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training step, n={res['n']} d={res['d']} k={res['k']} float32 "
                        f"({res['jax_device']}, {res['cpu_count']} CPUs)")
    for col in ("decoder", "ms / step", "time / transpose", "goal",
                "time / transpose, default BLAS pool"):
        table.add_column(col)
    for dec in DECODERS:
        goal = "1" if dec == "transpose" else ("<= 1.5" if dec != "untied" else "-")
        table.add_row(dec, f"{res['step_ms'][dec]:.3g}",
                      f"{res['time_ratio_to_transpose'][dec]:.3g}", goal,
                      f"{res['time_ratio_to_transpose_default_blas_pool'][dec]:.3g}")
    console = Console()
    console.print(table)
    console.print(
        f"transpose step: {res['transpose_step_gflops']:.3g} GFLOP/s (10ndk nominal); numpy "
        f"matmul {res['numpy_matmul_gflops_default_threads']:.3g} GFLOP/s with its default "
        f"BLAS pool {res['blas_pools']}, {res['numpy_matmul_gflops_one_blas_thread']:.3g} with "
        f"one BLAS thread.\nstep / numpy = {res['step_over_numpy_default_threads']:.3g} "
        f"(default pool), {res['step_over_numpy_one_blas_thread']:.3g} (one thread); goal "
        ">= 0.9.", highlight=False)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(res, fh, indent=2)
        os.replace(tmp, args.out)
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
