"""Past the d x d wall: top-k PCA of rows on disk whose d x d covariance does not fit.

The data: n float32 rows of d features x = mu + g + B^T (sqrt(lambda - 1) * h), g ~ N(0, I_d),
h ~ N(0, I_k), B (k, d) orthonormal rows (QR of a seeded Gaussian), lambda_1..lambda_k
linearly spaced in [1 + gap, 1 + 2 gap]: a spiked population covariance over a bulk of ones.
They are written with `np.lib.format.open_memmap` block by block (after checking the free
space) and deleted at the end, also on an error or Ctrl-C (unless --keep). Defaults: n = d =
50 000, k = 32 (a 10 GB file; the float64 d x d covariance alone would take 20 GB).

Each method runs in a fresh child process (its VmHWM is its own peak resident memory;
every child imports numpy, scikit-learn and tiedae, and a `baseline` child that only imports
them gives the memory of the imports):

* tiedae: `tiedae.linear.subspace.fit_subspace_iteration` on the `.npy` path (block subspace
  iteration with its default Chebyshev filter and oversampling, float32 products, float64
  sums; stops at relative residual --tol or after --max-passes). It reports the time at the
  end of every pass and its own certificate per pass, so its time to a residual r is the time
  of its first pass certifying <= r: what `tol=r` stops at (same seed, same iterates). Also
  run on the first n/4 rows: memory flat in n.
* `sklearn.decomposition.IncrementalPCA(k, batch_size=--ipca-batch)`: `partial_fit` on the
  chunks of the same file (read by `tiedae.data.chunks`, so its RSS does not hold the file),
  one pass; with --ipca-seconds it stops after that long, its time is extrapolated to the
  whole pass (rows read / n; every batch costs the same) and its residual is that of the
  answer from the rows it read (flagged `extrapolated` in the JSON).
* scikit-learn's randomized SVD on the memory map, centred implicitly: the mean by one numpy
  pass over the map, then `sklearn.utils.extmath._randomized_svd` (the body of
  `randomized_svd`, which scikit-learn's own PCA calls with this implicitly centred operator
  for sparse input; the public wrapper refuses an operator) of the `LinearOperator`
  X - 1 mean^T, with its defaults (10 oversamples, n_iter "auto", LU normalisation), in
  float32 like the map. Its RSS includes the map's pages it touched (the whole file).

The same residual for every answer, from one common extra pass (float64 products,
`covariance_times` on the stacked orthonormal bases): the eigen-residual ||C W^T - W^T (W C
W^T)||_F of W = the answer's orthonormalised rows, relative to W's top Ritz value (see
`tiedae.linear.subspace`), and the variance captured, sum of the Ritz values.

Passes to an accuracy (`passes` in the JSON, at --compare-n x --compare-d, where the exact
covariance fits): subspace iteration (plain power steps with oversample 0 and the default, and
the default Chebyshev filter) against the tied linear
autoencoder trained on the streamed chunks (`tiedae.fit` on `training.RowChunks`, Adam, a few
step sizes; one epoch = one pass, plus the pass for the mean): the relative residual after each
pass, the autoencoder's measured with the exact float64 C, subspace iteration's by its own
certificate (float32 products; the main run compares it with the common float64 pass). What
that comparison found is written in the JSON, not here.

    python benchmarks/large_d.py [--n 50000] [--d 50000] [--k 32] [--workdir DIR] [--out F]
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
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _output import write_json  # noqa: E402

TARGETS = (1e-2, 1e-3, 1e-4)


def spikes(k: int, gap: float) -> np.ndarray:
    return np.linspace(1.0 + 2.0 * gap, 1.0 + gap, k)


def generate(path: Path, n: int, d: int, k: int, gap: float, seed: int,
             block_rows: int = 1024) -> None:
    """Writes the (n, d) float32 rows to a `.npy` file with open_memmap, block by block."""
    rng = np.random.default_rng([seed, 2026])  # not the seed of any method's start block
    basis = np.linalg.qr(rng.standard_normal((d, k)))[0].T.astype(np.float32)
    scale = np.sqrt(spikes(k, gap) - 1.0).astype(np.float32)
    mu = rng.uniform(-2.0, 2.0, d).astype(np.float32)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    try:
        for start in range(0, n, block_rows):
            r = min(block_rows, n - start)
            x = rng.standard_normal((r, d), dtype=np.float32)
            x += (rng.standard_normal((r, k), dtype=np.float32) * scale) @ basis
            x += mu
            X[start:start + r] = x
        X.flush()
    finally:
        del X


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: VmHWM, the high-water mark of its own
    address space. `ru_maxrss` would do, except that Linux carries it over fork and exec, so a
    child would report at least its parent's peak (the writer of the file maps all of it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _imports():
    import sklearn.decomposition  # noqa: F401

    import tiedae.linear.subspace  # noqa: F401


def child_generate(args) -> dict:
    start = time.perf_counter()
    generate(Path(args.path), args.n, args.d, args.k, args.gap, args.seed)
    return {"seconds": time.perf_counter() - start}


def child_baseline(args) -> dict:
    _imports()
    return {"method": "baseline", "peak_rss_mb": _peak_rss_mb()}


def child_tiedae(args) -> dict:
    _imports()
    import warnings

    from tiedae.linear import subspace

    X = np.load(args.path, mmap_mode="r")[: args.rows_used]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # not reaching tol is reported below
        res = subspace.fit_subspace_iteration(X, args.k, tol=args.tol,
                                              max_passes=args.max_passes, seed=args.seed)
    total = time.perf_counter() - start
    np.save(args.answer, res.components)
    c = res.certificate
    return {"method": "tiedae", "n": int(args.rows_used), "seconds": total,
            "passes": res.passes, "converged": res.converged,
            "pass_seconds": res.seconds.tolist(), "certified_relative_residual":
            res.history.tolist(), "sin_theta_bound": c.sin_theta_bound, "gap": c.gap,
            "proven_sin_theta_bound": c.proven_sin_theta_bound,
            "peak_rss_mb": _peak_rss_mb()}


def child_ipca(args) -> dict:
    _imports()
    from sklearn.decomposition import IncrementalPCA

    from tiedae.data import chunks

    X = np.load(args.path, mmap_mode="r")
    model = IncrementalPCA(n_components=args.k, batch_size=args.ipca_batch)
    rows, start = 0, time.perf_counter()
    for batch in chunks.iter_chunks(X, args.ipca_batch):
        if len(batch) >= args.k:  # partial_fit needs >= k rows; the last may be short
            model.partial_fit(batch)
            rows += len(batch)
        if args.ipca_seconds and time.perf_counter() - start > args.ipca_seconds:
            break
    total = time.perf_counter() - start
    np.save(args.answer, model.components_)
    n = int(X.shape[0])
    return {"method": "incremental_pca", "n": n, "rows_read": rows, "seconds_read": total,
            # each batch costs the same, so its full pass takes about this long:
            "seconds": total * n / rows, "extrapolated": rows < n - args.k, "passes": 1,
            "batch_size": args.ipca_batch, "peak_rss_mb": _peak_rss_mb()}


def child_rsvd(args) -> dict:
    _imports()
    from scipy.sparse.linalg import LinearOperator
    from sklearn.utils.extmath import _randomized_svd

    X = np.load(args.path, mmap_mode="r")
    start = time.perf_counter()
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)[None, :]
    op = LinearOperator(shape=X.shape, dtype=X.dtype,
                        matvec=lambda v: X @ v - mean @ v, matmat=lambda v: X @ v - mean @ v,
                        rmatvec=lambda v: X.T @ v - mean * v.sum(),
                        rmatmat=lambda v: X.T @ v - mean.T @ v.sum(axis=0)[None, :])
    _, _, vt = _randomized_svd(op, n_components=args.k, random_state=args.seed)
    total = time.perf_counter() - start
    np.save(args.answer, vt)
    n_iter = 7 if args.k < 0.1 * min(X.shape) else 4
    return {"method": "randomized_svd", "n": int(X.shape[0]), "seconds": total,
            "passes": 1 + 2 * (n_iter + 1) + 1, "n_iter": n_iter,
            "peak_rss_mb": _peak_rss_mb()}


def child_passes(args) -> dict:
    """Passes to an accuracy: subspace iteration vs the tied autoencoder on streamed chunks."""
    import warnings

    import optax
    from flax import nnx

    import tiedae
    from tiedae import pca
    from tiedae.linear import subspace
    from tiedae.training import RowChunks

    X = np.load(args.path, mmap_mode="r")
    n, d = X.shape
    m = pca.moments(X)
    C = m.covariance

    def rel_residual(W) -> float:
        q = np.linalg.qr(np.asarray(W, np.float64).T)[0]
        _, cert = subspace.certify(q, C @ q, args.k, float(np.trace(C)))
        return cert.relative_residual

    out = {"n": n, "d": d, "k": args.k, "passes_run": args.compare_passes, "methods": {}}
    for method, p in (("power", 0), ("power", None), ("chebyshev", None)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = subspace.fit_subspace_iteration(X, args.k, oversample=p, tol=0.0,
                                                  max_passes=args.compare_passes, seed=args.seed,
                                                  filter=method)
        label = (f"subspace iteration ({method}), oversample "
                 f"{res.certificate.ritz_values.size - args.k}")
        # the answer certified by pass j is checked by pass j: residual after j passes
        out["methods"][label] = [None, *res.history.tolist()]
    steps_per_pass = n // args.compare_batch
    for lr in args.compare_lrs:
        curve = [None] * args.compare_passes

        def record(step, metrics, model, curve=curve):  # epoch e ends pass e + 1
            curve[step // steps_per_pass] = rel_residual(model.W[...])

        model = tiedae.LinearAE(d, args.k, rngs=nnx.Rngs(args.seed))
        try:
            tiedae.fit(model, RowChunks(X, args.compare_batch, seed=args.seed),
                       optimizer=optax.adam(lr),
                       steps=(args.compare_passes - 1) * steps_per_pass,
                       log_every=steps_per_pass, callback=record)
        except tiedae.TrainingDiverged:
            pass  # the passes it made are kept; the rest stay None (not reached)
        curve[0] = None  # pass 1 computes the mean (RowChunks.mean); no training yet
        out["methods"][f"tied AE, Adam lr={lr:g}, batch {args.compare_batch}"] = curve
    out["passes_to"] = {}
    for label, curve in out["methods"].items():
        out["passes_to"][label] = {
            f"{t:g}": next((j + 1 for j, r in enumerate(curve) if r is not None and r <= t),
                           None) for t in TARGETS}
    return out


CHILDREN = {"generate": child_generate, "baseline": child_baseline, "tiedae": child_tiedae,
            "incremental_pca": child_ipca, "randomized_svd": child_rsvd, "passes": child_passes}


def run_child(method: str, args, path: Path, answer: Path | None = None,
              rows_used: int | None = None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--path", str(path),
           "--k", str(args.k), "--seed", str(args.seed), "--tol", str(args.tol),
           "--n", str(args.n), "--d", str(args.d), "--gap", str(args.gap),
           "--max-passes", str(args.max_passes), "--ipca-batch", str(args.ipca_batch),
           "--ipca-seconds", str(args.ipca_seconds),
           "--compare-passes", str(args.compare_passes), "--compare-batch",
           str(args.compare_batch), "--compare-lrs", *map(str, args.compare_lrs)]
    if answer is not None:
        cmd += ["--answer", str(answer)]
    if rows_used is not None:
        cmd += ["--rows-used", str(rows_used)]
    env = dict(os.environ)
    if args.blas_threads:
        env.update(OPENBLAS_NUM_THREADS=str(args.blas_threads),
                   OMP_NUM_THREADS=str(args.blas_threads), MKL_NUM_THREADS=str(args.blas_threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode:
        raise RuntimeError(f"the {method} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def common_residuals(path: Path, answers: dict[str, Path], k: int) -> tuple[dict, float]:
    """One float64 pass for all the answers: each one's certificate, and the pass's time."""
    from tiedae.linear import subspace

    bases = {name: np.linalg.qr(np.load(p).astype(np.float64).T)[0]
             for name, p in answers.items()}
    start = time.perf_counter()
    prod = subspace.covariance_times(path, np.hstack(list(bases.values())), dtype=np.float64)
    seconds = time.perf_counter() - start
    out, col = {}, 0
    for name, q in bases.items():
        _, cert = subspace.certify(q, prod.CB[:, col:col + k], k, prod.total_variance)
        col += k
        out[name] = {"residual": cert.residual, "relative_residual": cert.relative_residual,
                     "captured_variance": float(np.sum(cert.ritz_values)),
                     "top_ritz_value": float(cert.ritz_values[0])}
    return out, seconds


def time_to(res: dict, target: float) -> float | None:
    """tiedae's seconds at the end of its first pass certifying <= target."""
    for j, r in enumerate(res["certified_relative_residual"]):
        if r <= target:
            return res["pass_seconds"][j + 1]
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=50_000)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--gap", type=float, default=9.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-5)
    parser.add_argument("--max-passes", type=int, default=12)
    parser.add_argument("--ipca-batch", type=int, default=64)
    parser.add_argument("--ipca-seconds", type=float, default=0.0,
                        help="stop IncrementalPCA after this long and extrapolate its full "
                             "pass from the rows it read (0: read them all)")
    parser.add_argument("--compare-n", type=int, default=16384)
    parser.add_argument("--compare-d", type=int, default=2048)
    parser.add_argument("--compare-passes", type=int, default=20)
    parser.add_argument("--compare-batch", type=int, default=256)
    parser.add_argument("--compare-lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2])
    parser.add_argument("--blas-threads", type=int, default=0,
                        help="BLAS threads of every child (0: the library's default)")
    parser.add_argument("--skip-passes", action="store_true", help="skip the passes comparison")
    parser.add_argument("--label", default="", help="a note on the machine or the run")
    parser.add_argument("--workdir", help="folder for the .npy files (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the .npy files")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--answer", help=argparse.SUPPRESS)
    parser.add_argument("--rows-used", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return 0
    if args.n < 4 * args.k or args.d < 2 * args.k or args.compare_d < 2 * args.k:
        parser.error("need --n >= 4 k, --d >= 2 k and --compare-d >= 2 k")

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tiedae-large-d-"))
    workdir.mkdir(parents=True, exist_ok=True)
    size = args.n * args.d * 4 + (0 if args.skip_passes else args.compare_n * args.compare_d * 4)
    free = shutil.disk_usage(workdir).free
    print(f"{workdir}: {free / 2**30:.1f} GiB free; the rows take {size / 2**30:.2f} GiB")
    if free < 1.2 * size + 2**30:
        print(f"not enough disk space in {workdir}; pass --workdir or smaller --n/--d",
              file=sys.stderr)
        return 1
    path = workdir / f"rows-{args.n}x{args.d}.npy"
    small = workdir / f"rows-{args.compare_n}x{args.compare_d}.npy"
    answers = {m: workdir / f"answer-{m}.npy"
               for m in ("tiedae", "incremental_pca", "randomized_svd")}
    try:
        # written by a child: the writer maps the whole file, and its memory is its own
        generate_s = run_child("generate", args, path)["seconds"]
        print(f"wrote {path} in {generate_s:.1f} s", flush=True)
        runs = {"baseline": run_child("baseline", args, path)}
        for method in answers:
            runs[method] = r = run_child(method, args, path, answers[method], args.n)
            print(f"{method:>16}: {r['seconds']:.1f} s, {r['passes']} passes, peak RSS "
                  f"{r['peak_rss_mb']:.0f} MiB", flush=True)
        runs["tiedae_quarter"] = run_child("tiedae", args, path, workdir / "answer-quarter.npy",
                                           args.n // 4)
        print(f"tiedae on n/4 rows: peak RSS {runs['tiedae_quarter']['peak_rss_mb']:.0f} MiB",
              flush=True)
        check, check_s = common_residuals(path, answers, args.k)
        print(f"common residual pass: {check_s:.1f} s", flush=True)
        passes = None
        if not args.skip_passes:
            run_child("generate", argparse.Namespace(**{**vars(args), "n": args.compare_n,
                                                           "d": args.compare_d}), small)
            try:
                passes = run_child("passes", args, small)
                print(json.dumps(passes["passes_to"], indent=1), flush=True)
            except RuntimeError as err:  # keep the main figures; say what failed
                passes = {"error": str(err)[-2000:]}
                print(err, file=sys.stderr)
    finally:
        if not args.keep:
            for p in (path, small, *answers.values(), workdir / "answer-quarter.npy"):
                p.unlink(missing_ok=True)
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    ours = runs["tiedae"]
    peers = {}
    for m in ("incremental_pca", "randomized_svd"):
        target = check[m]["relative_residual"]
        t = time_to(ours, target)
        if runs[m].get("extrapolated"):  # a partial answer's residual is no fair target:
            t = ours["seconds"]  # tiedae's whole run (its final residual) vs the whole pass
        peers[m] = {"seconds": runs[m]["seconds"], "relative_residual": target,
                    "tiedae_seconds_to_it": t, "tiedae_whole_run": bool(
                        runs[m].get("extrapolated")),
                    "speedup": None if t is None else runs[m]["seconds"] / t}
    b = args.k + min(args.k, 16)
    chunk_rows = max(1, (2**26) // (args.d * 4))
    # six (d, b) float64 blocks (Q, C Q, Y, Y_prev, C Y, the Ritz vectors), two float32 ones
    # and two float32 chunks (the read buffer and the shifted copy of the first pass)
    model_mb = (6 * args.d * b * 8 + 2 * args.d * b * 4 + 2 * chunk_rows * args.d * 4) / 2**20
    result = {
        "n": args.n, "d": args.d, "k": args.k, "gap": args.gap, "dtype": "float32",
        "spikes": [float(spikes(args.k, args.gap)[0]), float(spikes(args.k, args.gap)[-1])],
        "tol": args.tol, "max_passes": args.max_passes, "ipca_batch": args.ipca_batch,
        "ipca_seconds": args.ipca_seconds,
        "generate_s": generate_s, "runs": runs, "common_check": check,
        "common_check_s": check_s, "peers": peers,
        "rss_growth_quarter_to_full": ours["peak_rss_mb"] / runs["tiedae_quarter"][
            "peak_rss_mb"] - 1.0,
        "tiedae_rss_above_imports_mb": ours["peak_rss_mb"] - runs["baseline"]["peak_rss_mb"],
        "tiedae_memory_model_mb": model_mb, "chunk_rows": chunk_rows, "block": b,
        "passes": passes, "label": args.label, "cpu_count": os.cpu_count(),
        "blas_threads": args.blas_threads or "default", "device": "cpu (numpy/OpenBLAS)",
        "load_average_at_end": os.getloadavg()[0],
    }
    print()
    print("| method | s | passes | relative residual | captured variance | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for m in answers:
        print(f"| {m} | {runs[m]['seconds']:.3g} | {runs[m]['passes']} | "
              f"{check[m]['relative_residual']:.2e} | {check[m]['captured_variance']:.6g} | "
              f"{runs[m]['peak_rss_mb']:.0f} |")
    for m, p in peers.items():
        print(f"tiedae to {m}'s residual {p['relative_residual']:.2e}: "
              f"{p['tiedae_seconds_to_it']} s vs {p['seconds']:.3g} s")
    print(f"tiedae peak RSS: {ours['peak_rss_mb']:.0f} MiB "
          f"({result['tiedae_rss_above_imports_mb']:.0f} above the imports; model "
          f"{model_mb:.0f}); n/4 -> n: "
          f"{100 * result['rss_growth_quarter_to_full']:+.1f}%")
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the finally clause above has deleted the files
        print("interrupted", file=sys.stderr)
        sys.exit(130)
