"""Per-step time of full-batch training on X vs through the covariance, as n grows.

`tiedae.fit(..., batch_size="covariance")` computes C = X_c^T X_c / n once (in row chunks) and
then evaluates L = tr C - 2 tr(V W C) + tr(V^T V W C W^T) at O(d^2 k) per step, independent of n;
the plain full-batch step costs O(n d k). At d=784, k=64 (float32, transpose decoder, SGD) the
table gives ms per step of each path for n in 1e3 .. 3e5 (add 1e6 with --max-n 1000000; it needs
about 10 GB of memory), the one-off cost of computing C, and the ratio plain / covariance. The
headline is the ratio at n = 60000, MNIST's size. Both steps are built with
`tiedae.training.make_train_step` and timed in the same process (best of repeats).

    python benchmarks/covariance_path.py [--max-n 300000] [--out results/covariance_path.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import tiedae
from tiedae.bench.suites.step_cost import best_times, step_function

N_GRID = (1_000, 10_000, 60_000, 100_000, 300_000, 1_000_000)


def measure(d: int, k: int, max_n: int, repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in [n for n in N_GRID if n <= max_n]:
        X = rng.standard_normal((n, d), dtype=np.float32)
        X -= X.mean(axis=0)
        t0 = time.perf_counter()
        _, C = tiedae.pca.covariance(X)
        cov_s = time.perf_counter() - t0
        C = jnp.asarray(C, jnp.float32)
        plain_fn = step_function("transpose", jnp.asarray(X), k)
        cov_fn = step_function("transpose", C, k, mode="covariance")
        times = best_times({"plain": plain_fn, "cov": cov_fn}, repeats, min_time=0.2)
        plain, cov = 1e3 * times["plain"], 1e3 * times["cov"]
        rows.append({"n": n, "plain_ms": plain, "covariance_ms": cov, "ratio": plain / cov,
                     "covariance_setup_s": cov_s})
        print(f"n={n:>8}: plain {plain:9.3f} ms/step, covariance {cov:7.3f} ms/step, "
              f"ratio {plain / cov:7.1f}, computing C once {cov_s:.2f} s", flush=True)
        del X
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--max-n", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="write the rows as JSON to this file")
    args = parser.parse_args()
    rows = measure(args.d, args.k, args.max_n, args.repeats)
    slope = float(np.polyfit(np.log([r["n"] for r in rows]),
                             np.log([r["covariance_ms"] for r in rows]), 1)[0])
    plain_slope = float(np.polyfit(np.log([r["n"] for r in rows]),
                                   np.log([r["plain_ms"] for r in rows]), 1)[0])
    head = [r for r in rows if r["n"] == 60_000]
    print(f"log-log slope of ms/step against n: plain {plain_slope:.2f} (linear = 1), "
          f"covariance {slope:.2f} (flat = 0)")
    if head:
        print(f"headline: at n=60000 the covariance step is {head[0]['ratio']:.1f}x faster "
              f"than the plain full-batch step (C computed once in "
              f"{head[0]['covariance_setup_s']:.2f} s)")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump({"d": args.d, "k": args.k, "rows": rows, "plain_slope": plain_slope,
                       "covariance_slope": slope, "device": str(jax.devices()[0]),
                       "cpu_count": os.cpu_count()}, fh, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
