r"""Timing one training step: the measurements behind the `step-cost` suite (and benchmarks/).

A step is one jitted full-batch SGD step of a float32 `tiedae.LinearAE`
(`tiedae.training.make_train_step`), in one of three modes: "full" (the step `tiedae.fit` runs:
the closed-form gradient of `tiedae.linear.closed_form`, nominally 4 n d k FLOPs for the tied
decoders and 8 n d k untied), "autodiff" (automatic differentiation through the
reconstruction, `tiedae.training.autodiff_reconstruction_error`: two (n, d) x (d, k)-sized
products forward and three backward, 10 n d k) or "covariance" (the step on the (d, d)
covariance). `round_times` times several such functions in interleaved rounds, so that a burst
of load from other processes hits all of them alike and the times of one round are paired;
`versus_transpose` compares a decoder's rounds with the transpose step's.

Example:
  >>> from tiedae.bench.suites.step_timing import nominal_flops
  >>> nominal_flops("transpose", 100, 10, 2), nominal_flops("untied", 100, 10, 2)
  (8000.0, 16000.0)
  >>> nominal_flops("pinv", 100, 10, 2, mode="autodiff")
  20000.0
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae.blas import blas_threads, limit_blas_threads
from tiedae.linear.closed_form import step_flops
from tiedae.report import stats
from tiedae.training import (
    TrainState,
    autodiff_reconstruction_error,
    covariance_loss,
    make_train_step,
    reconstruction_error,
)

__all__ = ["AUTODIFF_FLOPS_PER_NDK", "LOSSES", "best_times", "matmul_function", "nominal_flops",
           "one_blas_thread", "round_times", "step_function", "versus_transpose"]

AUTODIFF_FLOPS_PER_NDK = 10.0  # two (n, d) x (d, k)-sized products forward, three backward
LOSSES = {"full": reconstruction_error, "autodiff": autodiff_reconstruction_error,
          "covariance": covariance_loss}


def round_times(fns: dict, repeats: int, min_time: float = 0.05) -> dict[str, list[float]]:
    """Seconds per call of each function in each of `repeats` rounds.

    Rounds visit the functions in turn (interleaved), so a burst of load from other processes
    on a shared machine hits all of them alike: the times of one round are paired. Each timing
    runs enough calls to last about `min_time`.
    """
    calls = {}
    for name, fn in fns.items():
        for _ in range(3):
            fn()
        t0 = time.perf_counter()
        fn()
        calls[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            rounds[name].append((time.perf_counter() - t0) / calls[name])
    return rounds


def best_times(fns: dict, repeats: int, min_time: float = 0.05) -> dict[str, float]:
    """Seconds per call of each function: the best (least disturbed) of `round_times`."""
    return {name: min(t) for name, t in round_times(fns, repeats, min_time).items()}


def versus_transpose(times: list[float], transpose: list[float]) -> dict:
    """A decoder's step against the transpose step over paired rounds: the median per-round
    ratio and the paired comparison of the times (verdict "lower": measurably faster; one
    record's test, before the analysis corrects the table's tests for multiplicity)."""
    ratio = float(np.median(np.asarray(times) / np.asarray(transpose)))
    r = stats.paired(times, transpose)
    return {"ratio_median": ratio, "verdict": r.verdict, "diff_ms": 1e3 * r.mean,
            "diff_ms_lo": 1e3 * r.lo, "diff_ms_hi": 1e3 * r.hi}


def step_function(decoder: str, X: jax.Array, k: int, seed: int = 0, mode: str = "full",
                  blas_limit: int | None = 1):
    """A no-argument function running one jitted full-batch SGD step of a float32 LinearAE
    (`tiedae.training.make_train_step`) and waiting for its result. mode: "full" (the step
    `fit` runs: closed-form gradient), "autodiff" (autodiff through the reconstruction) or
    "covariance" (X is then the (d, d) covariance). The step runs with the BLAS pools limited
    to `blas_limit` threads, as `tiedae.fit` runs it (None: the pools as they are)."""
    if mode not in LOSSES:
        raise ValueError(f"mode must be one of {sorted(LOSSES)}; got {mode!r}")
    model = tiedae.LinearAE(X.shape[1], k, decoder=decoder, rngs=nnx.Rngs(seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = optax.sgd(1e-4)
    step = make_train_step(graphdef, rest, opt, loss_fn=LOSSES[mode])
    box = [TrainState.create(params, opt)]

    def one():
        with blas_threads(blas_limit):
            box[0], _ = step(box[0], X)
            jax.block_until_ready(box[0].params)

    return one


def matmul_function(n: int, d: int, k: int, seed: int = 0):
    """A no-argument function computing numpy's float32 (n, d) @ (d, k) (2 n d k FLOPs)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)).astype(np.float32)
    B = rng.standard_normal((d, k)).astype(np.float32)
    return lambda: A @ B


def one_blas_thread(fn):
    """`fn` run with numpy's BLAS pool limited to one thread."""

    def limited():
        with limit_blas_threads(1):
            return fn()

    return limited


def nominal_flops(decoder: str, n: int, d: int, k: int, mode: str = "full") -> float:
    """Nominal FLOPs of one step: the n-sized products only (see the module docstring)."""
    if mode == "autodiff":
        return AUTODIFF_FLOPS_PER_NDK * n * d * k
    return step_flops(n, d, k, free_decoder=decoder == "untied")
