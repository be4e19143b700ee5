"""The measurement behind the `exact-pcs` budgets at k = 20 and 50: one start, a large budget.

Runs the full `exact-pcs` configuration of one code size k on one random start (seed 0) for
each method and optimizer named, with the iteration budget given, and prints the iterations to
axis distance 0.3 (None: not reached), the time per iteration and the axis distance every 2000
iterations. `FULL_PLAN` in tiedae/bench/suites/exact_pcs.py cites its output for
`python tools/exact_pcs_budget.py 20 16000` and `python tools/exact_pcs_budget.py 50 16000`
(about 2 and 3 minutes on two cores).

Usage:
  python tools/exact_pcs_budget.py K BUDGET [METHOD:OPTIMIZER ...]

Default methods: rag:sgd_nesterov nonuniform_l2:sgd_nesterov.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit() or not argv[1].isdigit():
        print(__doc__.split("Usage:")[1].strip().splitlines()[0].strip(), file=sys.stderr)
        return 2
    import jax

    jax.config.update("jax_enable_x64", True)  # as the bench does (tiedae/bench/cli.py)
    jax.config.update("jax_default_matmul_precision", "highest")
    from tiedae.bench.suite import Options
    from tiedae.bench.suites import exact_pcs

    k, budget = int(argv[0]), int(argv[1])
    which = argv[2:] or ["rag:sgd_nesterov", "nonuniform_l2:sgd_nesterov"]
    configs = [c for c in exact_pcs.configs(Options(quick=False)) if c["k"] == k]
    if not configs:
        print(f"k={k} is not in the full plan {sorted(exact_pcs.FULL_PLAN)}", file=sys.stderr)
        return 2
    base = next(c for c in configs if c["seed"] == 0)
    for spec in which:
        method, opt = spec.split(":")
        config = dict(base, method=method, optimizer=opt, steps=budget,
                      lr=exact_pcs.LR[opt][method] * exact_pcs.THEIR_D / base["d"])
        start = time.perf_counter()
        out = exact_pcs.run(config)
        seconds = time.perf_counter() - start
        final, traj = out["final"], out["trajectory"]
        marks = {int(s): round(float(a), 3) for s, a in
                 zip(traj["step"], traj["axis_distance"], strict=True) if s % 2000 == 0}
        print(f"k={k} {method} {opt}: iterations to 0.3 {final['iterations_to_axis_0.3']} of "
              f"{budget}; {1000 * seconds / max(final['iterations_run'], 1):.2f} ms/iteration; "
              f"final axis distance {final['axis_distance']:.3f}; every 2000: {marks}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
