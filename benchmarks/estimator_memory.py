"""Peak memory of `LinearAutoencoder.fit` / `partial_fit` on a memory map vs `pca.fit_chunks`.

Writes an (n, d) float32 `.npy` file (default 100 000 x 784: 314 MB) chunk by chunk, then runs
each of these in a fresh process (so `ru_maxrss` is its own peak resident memory) on
`np.load(path, mmap_mode="r")`:

* `fit_chunks`: `tiedae.pca.fit_chunks(mm, k)`;
* `fit_covariance_source`: `tiedae.fit` of a float64 `LinearAE` on `Covariance(mm)` (the
  training engine on the same chunked pass, for the cost of JAX's compiled training);
* `estimator_fit`: `tiedae.LinearAutoencoder(k, max_steps=--steps).fit(mm)`;
* `estimator_partial_fit`: `partial_fit` on four slices `mm[i:j]` of the map;
* `import`: only the imports (`tiedae`, scikit-learn), the baseline every process pays.

Goal (issue 19): the estimator's peak within 10 % of `fit_chunks`'s. Prints one JSON object;
the file is deleted at the end.

    python benchmarks/estimator_memory.py [--rows 100000] [--d 784] [--k 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def child(method: str, path: str, k: int, steps: int) -> dict:
    sys.path.insert(0, str(REPO))
    import tiedae

    mm = np.load(path, mmap_mode="r")
    if method == "fit_chunks":
        tiedae.pca.fit_chunks(mm, k)
    elif method == "fit_covariance_source":  # the engine on the chunked covariance pass
        import jax
        import optax
        from flax import nnx

        with jax.enable_x64(True):
            model = tiedae.LinearAE(mm.shape[1], k, param_dtype=jax.numpy.float64,
                                    rngs=nnx.Rngs(0))
            tiedae.fit(model, tiedae.training.Covariance(mm), optimizer=optax.sgd(1e-3),
                       steps=steps, log_every=steps)
    elif method == "estimator_fit":
        tiedae.LinearAutoencoder(k, max_steps=steps, tol=0, random_state=0).fit(mm)
    elif method == "estimator_partial_fit":
        ae = tiedae.LinearAutoencoder(k, max_steps=steps, tol=0, random_state=0)
        bounds = np.linspace(0, len(mm), 5).astype(int)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            ae.partial_fit(mm[start:stop])
    return {"method": method,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="training steps per call")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.path, args.k, args.steps)))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="tiedae-estimator-memory-"))
    path = workdir / "rows.npy"
    try:
        # written with explicit writes: a child's ru_maxrss starts from its parent's at fork,
        # so this process must not hold the file's pages
        header = {"descr": "<f4", "fortran_order": False, "shape": (args.rows, args.d)}
        rng = np.random.default_rng(0)
        with open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for start in range(0, args.rows, 8192):
                stop = min(start + 8192, args.rows)
                rng.standard_normal((stop - start, args.d), dtype=np.float32).tofile(fh)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        results = {}
        for method in ("import", "fit_chunks", "fit_covariance_source", "estimator_fit",
                       "estimator_partial_fit"):
            proc = subprocess.run([sys.executable, __file__, "--child", method, "--path",
                                   str(path), "--k", str(args.k), "--steps", str(args.steps)],
                                  capture_output=True, text=True, check=False, env=env)
            if proc.returncode:
                raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
            results[method] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = results["fit_chunks"]
    print(json.dumps({"rows": args.rows, "d": args.d, "k": args.k,
                      "file_mb": args.rows * args.d * 4 / 2**20, "peak_rss_mb": results,
                      "estimator_fit_vs_fit_chunks": results["estimator_fit"] / base - 1,
                      "estimator_partial_fit_vs_fit_chunks":
                          results["estimator_partial_fit"] / base - 1}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
