r"""Suite `step-cost`: time per training step of each decoder against k and d.

One jitted full-batch gradient step (`tiedae.training.make_train_step`, float32, SGD) per
decoder, timed in several interleaved rounds (every decoder and the numpy baseline once per
round, so a burst of load from other processes hits all alike; `step_timing`), and reported
(a) as a ratio to the transpose step: the geometric mean of the per-round ratios, with a paired
t-test on the log ratios over the rounds, Holm-corrected over every comparison of the table
(`step_cost_analysis`), that says whether the difference is measurable, (b) as GFLOP/s of the
step's nominal FLOPs against numpy's float32 matmul rate on the same (n, d) x (d, k) product
measured in the same run (the faster of numpy's default BLAS pool and one BLAS thread), and
(c) as the speedup of the closed-form step over autodiff through the reconstruction, per
decoder. The steps timed are those `fit` runs: the closed-form gradient
(`tiedae.linear.closed_form`), nominally 4 n d k FLOPs for the tied decoders and 8 n d k
untied; the autodiff step (`autodiff_reconstruction_error`) does 10 n d k (two products
forward, three backward). Absolute times vary between runs on a shared machine: compare
ratios. pinv adds an O(d k^2) SVD and right_inverse an O(d k^2 + k^3) Cholesky, negligible
while k << n.

Modules: `step_timing` (timing a step, the numpy baseline, nominal FLOPs), this one (the
configurations and one run) and `step_cost_analysis` (the tests, tables, findings, the paper's
numbers and the figure `step_cost`).

Example:
  >>> from tiedae.bench.suite import Options
  >>> [c["run_id"] for c in configs(Options())]
  ['quick-n1024-d256-k64']
  >>> len(configs(Options(quick=False)))
  13
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tiedae.bench.suite import Options, Suite
from tiedae.bench.suites.step_cost_analysis import analyze, costs, versus_transpose_table
from tiedae.bench.suites.step_timing import (
    AUTODIFF_FLOPS_PER_NDK,
    LOSSES,
    best_times,
    matmul_function,
    nominal_flops,
    one_blas_thread,
    round_times,
    step_function,
    versus_transpose,
)
from tiedae.linear import LINEAR_DECODERS as DECODERS

__all__ = ["AUTODIFF_FLOPS_PER_NDK", "DECODERS", "LOSSES", "SUITE", "analyze", "best_times",
           "configs", "costs", "matmul_function", "nominal_flops", "one_blas_thread",
           "round_times", "run", "step_function", "versus_transpose", "versus_transpose_table"]


def configs(options: Options) -> list[dict]:
    if options.quick:
        n, grid = 1024, [(256, 64)]
    else:
        n = 4096
        grid = [(d, k) for d in (256, 784) for k in (8, 16, 32, 64, 128, 256, 512) if k <= d]
    tag = "quick" if options.quick else "full"
    return [{"run_id": f"{tag}-n{n}-d{d}-k{k}", "n": n, "d": d, "k": k, "seed": options.seed,
             "repeats": 5 if options.quick else 9} for d, k in grid]


def run(config: dict) -> dict:
    n, d, k = config["n"], config["d"], config["k"]
    rng = np.random.default_rng(config["seed"])
    X = jnp.asarray(rng.standard_normal((n, d)).astype(np.float32))
    matmul = matmul_function(n, d, k, config["seed"])
    fns = {dec: step_function(dec, X, k, config["seed"]) for dec in DECODERS}
    for dec in DECODERS:
        fns[f"{dec}_autodiff"] = step_function(dec, X, k, config["seed"], mode="autodiff")
    for dec in DECODERS[1:3]:  # the decoders that call LAPACK, with the BLAS pools as they are
        fns[f"{dec}_default_pool"] = step_function(dec, X, k, config["seed"], blas_limit=None)
    fns["numpy"] = matmul
    fns["numpy_one_thread"] = one_blas_thread(matmul)
    rounds = round_times(fns, config["repeats"])
    times = {name: min(t) for name, t in rounds.items()}
    numpy_s = min(times["numpy"], times["numpy_one_thread"])  # the faster pool setting
    final = {"numpy_gflops": 2.0 * n * d * k / numpy_s / 1e9,
             "numpy_one_blas_thread_faster": times["numpy_one_thread"] < times["numpy"]}
    for dec in DECODERS:
        t, t_auto = times[dec], times[f"{dec}_autodiff"]
        final[f"{dec}_ms"] = 1e3 * t
        final[f"{dec}_ratio"] = t / times["transpose"]
        final[f"{dec}_gflops"] = nominal_flops(dec, n, d, k) / t / 1e9
        final[f"{dec}_vs_numpy"] = final[f"{dec}_gflops"] / final["numpy_gflops"]
        final[f"{dec}_autodiff_ms"] = 1e3 * t_auto
        final[f"{dec}_autodiff_vs_numpy"] = (nominal_flops(dec, n, d, k, "autodiff") / t_auto
                                             / 1e9 / final["numpy_gflops"])
        final[f"{dec}_closed_form_speedup"] = t_auto / t
        if dec != "transpose":
            cmp = versus_transpose(rounds[dec], rounds["transpose"])
            final.update({f"{dec}_{key}": val for key, val in cmp.items()})
    for dec in DECODERS[1:3]:
        final[f"{dec}_default_pool_ratio"] = times[f"{dec}_default_pool"] / times["transpose"]
    return {"final": final, "trajectory": {},
            "extra": {"rounds_ms": {name: [1e3 * t for t in ts] for name, ts in rounds.items()},
                      "flops_per_step": {dec: nominal_flops(dec, n, d, k) for dec in DECODERS},
                      "autodiff_flops_per_step": nominal_flops("transpose", n, d, k,
                                                               "autodiff")}}


SUITE = Suite(
    name="step-cost",
    description="time per step vs k and d for each decoder: ratio to transpose, GFLOP/s vs "
                "numpy matmul",
    configs=configs, run=run, analyze=analyze,
)
