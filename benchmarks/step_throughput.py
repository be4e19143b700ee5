"""Throughput of the jitted full-batch training step: closed form vs autodiff, vs numpy.

At n=4096, d=784, k=64, float32, timed in one process, interleaved round by round (best round
of each):

* `closed_form_speedup`: the autodiff `transpose` step's time (gradient by autodiff through
  the reconstruction, `tiedae.training.autodiff_reconstruction_error`: 10 n d k nominal FLOPs,
  two products forward, three backward) over the closed-form step that `tiedae.fit` runs
  (`tiedae.linear.closed_form`: 4 n d k, two products); goal >= 2.0. The same ratio for every
  decoder (the untied closed form does 8 n d k).
* The steps' GFLOP/s, counted honestly at each step's own nominal FLOPs (4 n d k closed form,
  8 n d k untied closed form, 10 n d k autodiff; the O(n d) and O(d k^2) work is not counted),
  as a ratio to numpy's float32 matmul rate on the same (n, d) x (d, k) product (1 = as fast
  as back-to-back numpy matmuls of that shape). numpy's rate is measured with its BLAS thread
  pool as it comes and limited to one thread (threadpoolctl).
* The pinv, right_inverse and untied closed-form steps as a ratio to the transpose one (goal
  <= 1.5 for the tied inverses), timed as `tiedae.fit` runs them (BLAS pools limited to one
  thread, see `tiedae.blas.blas_threads`) and with the pools as they come: XLA's matmuls do
  not use that pool, but the LAPACK calls of pinv / right_inverse do, and the idle pool
  threads then compete with XLA's.

    python benchmarks/step_throughput.py [--n 4096 --d 784 --k 64] [--repeats 7]
                                         [--out benchmarks/results/step_throughput.json]
"""

from __future__ import annotations

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
from _output import write_json
from threadpoolctl import threadpool_info

from tiedae.bench.suites.step_cost import (
    DECODERS,
    best_times,
    matmul_function,
    nominal_flops,
    one_blas_thread,
    step_function,
)


def measure(n: int, d: int, k: int, repeats: int, seed: int = 0, min_time: float = 0.1) -> dict:
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.standard_normal((n, d)).astype(np.float32))
    matmul = matmul_function(n, d, k, seed)
    fns = {dec: step_function(dec, X, k, seed) for dec in DECODERS}  # as tiedae.fit runs them
    fns.update({f"{dec} (autodiff)": step_function(dec, X, k, seed, mode="autodiff")
                for dec in DECODERS})
    fns.update({f"{dec} (default BLAS pool)": step_function(dec, X, k, seed, blas_limit=None)
                for dec in DECODERS})
    fns["numpy"], fns["numpy_one"] = matmul, one_blas_thread(matmul)
    times = best_times(fns, repeats, min_time=min_time)  # interleaved rounds, best of each
    numpy_default = 2.0 * n * d * k / times["numpy"] / 1e9
    numpy_one = 2.0 * n * d * k / times["numpy_one"] / 1e9
    ms = {dec: 1e3 * times[dec] for dec in DECODERS}
    autodiff_ms = {dec: 1e3 * times[f"{dec} (autodiff)"] for dec in DECODERS}
    flops = {dec: nominal_flops(dec, n, d, k) for dec in DECODERS}
    autodiff_flops = nominal_flops("transpose", n, d, k, mode="autodiff")
    step_gflops = flops["transpose"] / times["transpose"] / 1e9
    autodiff_gflops = autodiff_flops / times["transpose (autodiff)"] / 1e9
    device = jax.devices()[0]
    return {
        "n": n, "d": d, "k": k, "dtype": "float32",
        "device": f"{device.platform}:{device.id} ({os.cpu_count()} CPUs)",
        "flops_per_step": flops, "autodiff_flops_per_step": autodiff_flops,
        "step_ms": ms, "autodiff_step_ms": autodiff_ms,
        "closed_form_speedup": autodiff_ms["transpose"] / ms["transpose"],
        "closed_form_speedup_by_decoder": {dec: autodiff_ms[dec] / ms[dec] for dec in DECODERS},
        "time_ratio_to_transpose": {dec: ms[dec] / ms["transpose"] for dec in DECODERS},
        "time_ratio_to_transpose_default_blas_pool": {
            dec: times[f"{dec} (default BLAS pool)"] / times["transpose"] for dec in DECODERS},
        "transpose_step_gflops": step_gflops,
        "autodiff_transpose_step_gflops": autodiff_gflops,
        "numpy_matmul_gflops_default_threads": numpy_default,
        "numpy_matmul_gflops_one_blas_thread": numpy_one,
        "step_over_numpy_default_threads": step_gflops / numpy_default,
        "step_over_numpy_one_blas_thread": step_gflops / numpy_one,
        "autodiff_step_over_numpy_default_threads": autodiff_gflops / numpy_default,
        "autodiff_step_over_numpy_one_blas_thread": autodiff_gflops / numpy_one,
        "blas_pools": [{"api": p["internal_api"], "threads": p["num_threads"]}
                       for p in threadpool_info() if p.get("user_api") == "blas"],
        "cpu_count": os.cpu_count(), "jax_device": str(device),
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
    for col in ("decoder", "closed form ms", "autodiff ms", "autodiff / closed form",
                "time / transpose", "goal", "time / transpose, default BLAS pool"):
        table.add_column(col)
    for dec in DECODERS:
        goal = "1" if dec == "transpose" else ("<= 1.5" if dec != "untied" else "-")
        table.add_row(dec, f"{res['step_ms'][dec]:.3g}", f"{res['autodiff_step_ms'][dec]:.3g}",
                      f"{res['closed_form_speedup_by_decoder'][dec]:.3g}",
                      f"{res['time_ratio_to_transpose'][dec]:.3g}", goal,
                      f"{res['time_ratio_to_transpose_default_blas_pool'][dec]:.3g}")
    console = Console()
    console.print(table)
    console.print(
        f"closed-form speedup (autodiff transpose step / closed-form step): "
        f"{res['closed_form_speedup']:.3g}; goal >= 2.0.\n"
        f"closed-form transpose step: {res['transpose_step_gflops']:.3g} GFLOP/s (4ndk "
        f"nominal), autodiff: {res['autodiff_transpose_step_gflops']:.3g} GFLOP/s (10ndk); "
        f"numpy matmul {res['numpy_matmul_gflops_default_threads']:.3g} GFLOP/s with its "
        f"default BLAS pool {res['blas_pools']}, "
        f"{res['numpy_matmul_gflops_one_blas_thread']:.3g} with one BLAS thread.\n"
        f"step / numpy = {res['step_over_numpy_default_threads']:.3g} closed form, "
        f"{res['autodiff_step_over_numpy_default_threads']:.3g} autodiff (default pool); "
        f"{res['step_over_numpy_one_blas_thread']:.3g} and "
        f"{res['autodiff_step_over_numpy_one_blas_thread']:.3g} (one thread).",
        highlight=False)
    if args.out:
        write_json(args.out, res)
        console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
