"""PCA of rows on disk, full pass against full pass: tiedae vs scikit-learn and IncrementalPCA.

The data: n float32 rows of d=784 features x = mu + g + Q_k (sqrt(lambda - 1) * h), g ~ N(0, I_d),
h ~ N(0, I_k), written once to a `.npy` file chunk by chunk (never whole in memory) and read
back through `np.load(mmap_mode="r")`. The population covariance I + Q_k diag(lambda - 1) Q_k^T
has the spiked spectrum of `tiedae.data.spiked_covariance(k=64, gap=--gap)`: k eigenvalues in
[1 + gap, 1 + 2 gap] over a bulk of ones, so the top-k subspace is well separated.

The reference ("exact") is the top-k subspace of the rows' own covariance with float64 products
(`tiedae.pca.moments(dtype=np.float64)`, then a float64 `scipy.linalg.eigh`, driver "evd"). Its
distance to the population subspace is reported too.

For each n in (N/4, N/2, N), each method runs in a fresh subprocess (so `ru_maxrss` is its own
peak resident memory) on the first n rows, to its own end:

* tiedae: `tiedae.pca.fit_chunks` = one pass `tiedae.pca.moments` (float32 products of shifted
  chunks of `--chunk-rows` rows, float64 accumulation, the next chunk read on a thread) + eigh.
  In the same process: the floor = reading the rows (explicit reads into one buffer) + the
  float32 products of the same chunk sizes by the fastest of numpy's `c.T @ c`, scipy's `ssyrk`
  and a general `sgemm` (all three timed); the pass without the read-ahead thread; the float64
  pass (at n = N); the covariance's relative error against the float64 pass. An extra:
  `tiedae.fit` of a tied `LinearAE` (SGD, step 0.5 / lambda_1) on `Covariance.from_moments`
  until `StopWhen("subspace_distance", 1e-3)` (pass + power iteration + fit, compilation
  included).
* scikit-learn: `PCA(k, svd_solver="covariance_eigh").fit` on the same rows held in memory
  (loading them is not timed).
* `sklearn.decomposition.IncrementalPCA(k, batch_size=chunk)`: `partial_fit` on each chunk, its
  full pass. It truncates to k components after every batch, so it is approximate: its final
  distance is reported. A labelled extra: when its estimate first came within 1e-3 of the
  reference (an oracle's stopping time: a user does not have the reference).

Headline figures (JSON keys, at n = N, goals in brackets): `pass_vs_floor` = tiedae's pass / the
floor [<= 1.25]; `speedup_vs_sklearn_pca` [>= 1.5] and `speedup_vs_incremental_pca` [>= 20] =
their full pass / `pca.fit_chunks`; `rss_growth` = tiedae's peak RSS at N / at N/4 - 1
[<= 0.10]. The JSON also records the BLAS (threadpoolctl), OPENBLAS_* variables and the load
average. With --out, a log-log plot of time and memory against n is written next to the JSON
(same name, .png). The `.npy` file is deleted at the end (unless --keep).

    python benchmarks/streaming.py [--rows 1000000] [--incremental-pca largest] [--workdir DIR]
                                   [--out F]
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

TARGET = 1e-3
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the checkout's tiedae, not another installed one
    sys.path.insert(0, str(REPO))


def spiked_basis(d: int, k: int, gap: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues (d,), Q_k (d, k)) of `tiedae.data.spiked_covariance`'s population."""
    from tiedae.data import spiked_covariance

    pop = spiked_covariance(1, d, k=k, gap=gap, seed=seed)
    return pop.eigenvalues, pop.eigenvectors[:, :k]


def generate(path: Path, n: int, d: int, k: int, gap: float, seed: int, rows: int) -> None:
    """Writes the (n, d) float32 rows to a `.npy` file, `rows` at a time."""
    lam, Qk = spiked_basis(d, k, gap, seed)
    rng = np.random.default_rng(seed + 1)
    mu = rng.uniform(-2.0, 2.0, d).astype(np.float32)
    scale = np.sqrt(lam[:k] - 1.0).astype(np.float32)
    basis = np.ascontiguousarray(Qk.T, dtype=np.float32)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": (n, d)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, n, rows):
            r = min(rows, n - start)
            x = rng.standard_normal((r, d), dtype=np.float32)
            x += (rng.standard_normal((r, k), dtype=np.float32) * scale) @ basis
            x += mu
            x.tofile(fh)


def distance(components: np.ndarray, reference: np.ndarray) -> float:
    """Subspace distance sum(sin^2 theta) / k between two (k, d) row spaces, in float64."""
    q, _ = np.linalg.qr(np.asarray(components, np.float64).T)
    cos = np.linalg.svd(reference @ q, compute_uv=False)
    return float(np.sum(1.0 - np.clip(cos, 0.0, 1.0) ** 2) / reference.shape[0])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _blas_info() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [{key: info.get(key) for key in ("internal_api", "version", "num_threads",
                                             "architecture")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def _best(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def floors(path, n: int, d: int, chunk: int) -> dict:
    """The pass's floor, timed in this process: reading the rows (explicit reads into one
    buffer, no checks) and the float32 products of chunks of the pass's sizes, by each BLAS
    call (numpy's `c.T @ c`, scipy's `ssyrk`, a general `sgemm`); the floor is the read plus
    the fastest product."""
    import scipy.linalg.blas as blas

    from tiedae.data import chunks

    def read():
        with chunks.RowReader(path) as reader:
            buf = np.empty((chunk, d), np.float32)
            for start in range(0, n, chunk):
                reader.read(start, min(start + chunk, n), buf)

    sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
    block = np.random.default_rng(0).standard_normal((chunk, d), dtype=np.float32)
    products = {
        "numpy c.T @ c": lambda c: c.T @ c,
        "scipy ssyrk": lambda c: blas.ssyrk(1.0, c, trans=1),
        "scipy sgemm": lambda c: blas.sgemm(1.0, c, c, trans_a=1),
    }
    out = {"read_s": _best(read), "products_s": {}}
    for name, product in products.items():
        product(block[:8])
        out["products_s"][name] = _best(lambda p=product: [p(block[:r]) for r in sizes], 2)
    out["fastest_product"] = min(out["products_s"], key=out["products_s"].get)
    out["product_s"] = out["products_s"][out["fastest_product"]]
    out["floor_s"] = out["read_s"] + out["product_s"]
    out["product_gflops"] = 2.0 * n * d * d / out["product_s"] / 1e9
    return out


def child_tiedae(args) -> dict:
    import optax
    from flax import nnx

    import tiedae
    from tiedae import pca
    from tiedae.data import chunks
    from tiedae.data.moments import CovarianceAccumulator
    from tiedae.training import Covariance, StopWhen

    X = np.load(args.path, mmap_mode="r")[: args.n]
    d = X.shape[1]
    floor = floors(args.path, args.n, d, args.chunk_rows)

    def pass_without_read_ahead():
        acc = CovarianceAccumulator()
        for i, block in enumerate(chunks.iter_chunks(X, args.chunk_rows, reuse_buffer=True,
                                                     finite=False, read_ahead=False)):
            acc.add_checked(block, name=f"chunk {i}")
        return acc.result()

    no_read_ahead_s = _best(pass_without_read_ahead, 2)
    timed = []

    def one_pass():
        t = time.perf_counter()
        timed.append(pca.moments(X, chunk_size=args.chunk_rows))
        return time.perf_counter() - t

    pass_s = min(one_pass() for _ in range(2))
    moments = timed[-1]
    exact64 = pca.moments(X, chunk_size=args.chunk_rows, dtype=np.float64)
    pass64_s = None
    if args.n == args.rows:  # the float64 pass, timed once at the largest n
        pass64_s = _best(lambda: pca.moments(X, chunk_size=args.chunk_rows, dtype=np.float64), 1)
    covariance_error = float(np.linalg.norm(moments.covariance - exact64.covariance, 2)
                             / np.linalg.norm(exact64.covariance, 2))

    t = time.perf_counter()
    ours = pca.fit_covariance(*moments, args.k)
    eigh_s = time.perf_counter() - t
    ref = pca.fit_covariance(*exact64, args.k)  # the reference: float64 products
    np.save(args.ref_out, ref.components)

    # an extra: tiedae.fit of a tied LinearAE on the covariance, to subspace distance 1e-3
    t = time.perf_counter()
    v = np.ones(d) / np.sqrt(d)
    for _ in range(30):  # the step size: 0.5 / lambda_1, lambda_1 by a power iteration
        v = moments.covariance @ v
        v /= np.linalg.norm(v)
    lam1 = float(v @ moments.covariance @ v)
    stop = StopWhen("subspace_distance", TARGET)
    model = tiedae.LinearAE(d, args.k, rngs=nnx.Rngs(0))
    _, hist = tiedae.fit(model, Covariance.from_moments(*moments), optimizer=optax.sgd(0.5 / lam1),
                         steps=args.max_steps, log_every=5, reference=ref, callback=stop)
    train_s = time.perf_counter() - t
    return {"method": "tiedae", "n": int(args.n), **floor, "pass_s": pass_s,
            "pass_without_read_ahead_s": no_read_ahead_s, "pass_float64_s": pass64_s,
            "pass_vs_floor": pass_s / floor["floor_s"], "eigh_s": eigh_s,
            "full_pass_s": pass_s + eigh_s, "covariance_error_vs_float64": covariance_error,
            "final_distance": distance(ours.components, ref.components),
            "fit_steps": stop.step, "fit_to_target_s": pass_s + train_s
            if stop.step is not None else None,
            "fit_final_distance": float(hist["subspace_distance"][-1]),
            "blas": _blas_info(), "peak_rss_mb": _peak_rss_mb()}


def child_sklearn(args) -> dict:
    """scikit-learn's PCA(svd_solver="covariance_eigh") on the same rows, held in memory (the
    load is not timed)."""
    from sklearn.decomposition import PCA

    X = np.load(args.path)[: args.n]  # in memory
    reference = np.load(args.ref_out)
    t = time.perf_counter()
    model = PCA(args.k, svd_solver="covariance_eigh").fit(X)
    full = time.perf_counter() - t
    return {"method": "sklearn_pca", "n": int(args.n), "full_pass_s": full,
            "final_distance": distance(model.components_, reference),
            "peak_rss_mb": _peak_rss_mb()}


def _batches(stream, k: int):
    """The chunks, a last one with fewer than k rows merged into the one before (IncrementalPCA
    needs at least k rows per batch)."""
    held = None
    for chunk in stream:
        if held is not None and len(chunk) < k:
            held = np.concatenate([held, chunk])
            continue
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held


def child_ipca(args) -> dict:
    """IncrementalPCA's full pass (its own end); as a labelled extra, when its estimate first
    came within 1e-3 of the exact answer (an oracle: a user cannot stop there)."""
    from sklearn.decomposition import IncrementalPCA

    from tiedae.data import chunks

    X = np.load(args.path, mmap_mode="r")[: args.n]
    reference = np.load(args.ref_out)
    model = IncrementalPCA(n_components=args.k, batch_size=args.chunk_rows)
    measuring, reached, dist = 0.0, None, 1.0
    start = time.perf_counter()
    for batch in _batches(chunks.iter_chunks(X, args.chunk_rows), args.k):
        model.partial_fit(batch)
        t = time.perf_counter()
        dist = distance(model.components_, reference)
        if reached is None and dist <= TARGET:
            reached = t - start - measuring
        measuring += time.perf_counter() - t
    total = time.perf_counter() - start - measuring
    return {"method": "incremental_pca", "n": int(args.n), "full_pass_s": total,
            "oracle_time_to_target_s": reached, "final_distance": dist,
            "peak_rss_mb": _peak_rss_mb()}


def run_child(method: str, args, n: int, ref_out: Path) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--path",
           str(args.path), "--n", str(n), "--rows", str(args.rows), "--k", str(args.k),
           "--gap", str(args.gap), "--seed", str(args.seed), "--chunk-rows",
           str(args.chunk_rows), "--ref-out", str(ref_out), "--max-steps", str(args.max_steps)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))  # the code under test
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode:
        raise SystemExit(f"the {method} run at n={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(x, spec=".3g") -> str:
    return "-" if x is None else format(x, spec)


METHODS = (("tiedae", "tiedae: pca.fit_chunks (pass + eigh)", "C0"),
           ("sklearn_pca", "scikit-learn PCA covariance_eigh (rows in memory)", "C2"),
           ("incremental_pca", "IncrementalPCA", "C1"))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for method, label, color in METHODS:
        sel = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n"])
        ns = [r["n"] for r in sel]
        ax_t.loglog(ns, [r["full_pass_s"] for r in sel], "o-", color=color, label=label)
        ax_m.loglog(ns, [r["peak_rss_mb"] for r in sel], "o-", color=color, label=label)
        if method == "tiedae":
            ax_t.loglog(ns, [r["floor_s"] for r in sel], "k:", label="read + float32 product "
                        "floor")
    ax_t.set(xlabel="rows n", ylabel="seconds", title="full pass (each method's own end)")
    ax_m.set(xlabel="rows n", ylabel="peak RSS (MiB)", title="memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="N, rows on disk")
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--gap", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-rows", type=int, default=8192)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--workdir", help="folder for the .npy file (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the .npy file")
    parser.add_argument("--out", help="write the results as JSON (and a .png plot beside it)")
    parser.add_argument("--incremental-pca", choices=("all", "largest"), default="all",
                        help="run IncrementalPCA (the slowest) at every n or only at N")
    parser.add_argument("--child", choices=[m for m, _, _ in METHODS], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ref-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child = {"tiedae": child_tiedae, "sklearn_pca": child_sklearn,
                 "incremental_pca": child_ipca}[args.child]
        print(json.dumps(child(args)))
        return 0
    if args.rows < 4 * args.k or args.d < args.k:
        parser.error(f"--rows must be >= 4 k = {4 * args.k} and --d >= k")

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tiedae-streaming-"))
    workdir.mkdir(parents=True, exist_ok=True)
    size = args.rows * args.d * 4
    free = shutil.disk_usage(workdir).free
    print(f"{workdir}: {free / 2**30:.1f} GiB free; the rows take {size / 2**30:.2f} GiB")
    if free < 1.2 * size:
        print(f"not enough disk space in {workdir}; pass --workdir or fewer --rows",
              file=sys.stderr)
        return 1
    args.path = workdir / f"rows-{args.rows}x{args.d}.npy"
    load_before = os.getloadavg()
    try:
        t = time.perf_counter()
        generate(args.path, args.rows, args.d, args.k, args.gap, args.seed, args.chunk_rows)
        generate_s = time.perf_counter() - t
        print(f"wrote {args.path} in {generate_s:.1f} s")
        rows = []
        for n in (args.rows // 4, args.rows // 2, args.rows):
            ref_out = workdir / f"reference-{n}.npy"
            for method, _, _ in METHODS:
                if method == "incremental_pca" and args.incremental_pca == "largest" \
                        and n != args.rows:
                    continue
                rows.append(run_child(method, args, n, ref_out))
                r = rows[-1]
                extra = (f" (pass {r['pass_s']:.2f} s = {r['pass_vs_floor']:.2f}x the floor "
                         f"{r['floor_s']:.2f} s)" if method == "tiedae" else "")
                print(f"n={n:>9} {method:>16}: full pass {r['full_pass_s']:8.2f} s{extra}, "
                      f"distance {r['final_distance']:.2e}, peak RSS {r['peak_rss_mb']:.0f} MiB",
                      flush=True)
            if n == args.rows:  # measured here, not in the children (it would add to their RSS)
                _, Qk = spiked_basis(args.d, args.k, args.gap, args.seed)
                reference_vs_population = distance(Qk.T, np.load(ref_out))
            ref_out.unlink(missing_ok=True)
    finally:
        if not args.keep:
            args.path.unlink(missing_ok=True)
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    by = {(r["method"], r["n"]): r for r in rows}
    n4, n1 = args.rows // 4, args.rows
    ours = by["tiedae", n1]
    result = {
        "pass_vs_floor": ours["pass_vs_floor"],
        "speedup_vs_sklearn_pca": by["sklearn_pca", n1]["full_pass_s"] / ours["full_pass_s"],
        "speedup_vs_incremental_pca": (by["incremental_pca", n1]["full_pass_s"]
                                       / ours["full_pass_s"]),
        "rss_growth": ours["peak_rss_mb"] / by["tiedae", n4]["peak_rss_mb"] - 1.0,
        "rss_growth_incremental_pca": (by["incremental_pca", n1]["peak_rss_mb"]
                                       / by["incremental_pca", n4]["peak_rss_mb"] - 1.0
                                       if ("incremental_pca", n4) in by else None),
    }
    oracle = by["incremental_pca", n1]["oracle_time_to_target_s"]
    result["oracle_speedup_vs_incremental_pca"] = (oracle / ours["fit_to_target_s"]
                                                   if oracle and ours["fit_to_target_s"]
                                                   else None)

    print()
    print("| n | method | full pass s | final distance | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['n']} | {r['method']} | {r['full_pass_s']:.3g} | "
              f"{r['final_distance']:.2e} | {r['peak_rss_mb']:.0f} |")
    print(f"\nat n={n1}: the pass takes {result['pass_vs_floor']:.2f}x the read + float32 "
          f"product floor (goal <= 1.25); pca.fit_chunks is "
          f"{result['speedup_vs_sklearn_pca']:.2f}x faster than scikit-learn's covariance_eigh "
          f"on the rows in memory (goal >= 1.5) and {result['speedup_vs_incremental_pca']:.1f}x "
          f"faster than IncrementalPCA's full pass (goal >= 20); tiedae's peak RSS grows "
          f"{100 * result['rss_growth']:+.1f}% from n={n4} to n={n1} (goal <= +10%)")
    print(f"the exact reference is {reference_vs_population:.2e} from the population subspace")
    if args.out:
        import jax

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        result = {"rows_on_disk": args.rows, "d": args.d, "k": args.k, "gap": args.gap,
                  "chunk_rows": args.chunk_rows, "target": TARGET,
                  "reference": "float64 eigh (scipy evd) of the covariance of the rows on disk "
                               "with float64 products",
                  "reference_vs_population": reference_vs_population,
                  "generate_s": generate_s, "rows": rows, **result,
                  "load_average": {"before": load_before, "after": os.getloadavg()},
                  "openblas_env": {k: v for k, v in os.environ.items()
                                   if k.startswith("OPENBLAS")},
                  "device": str(jax.devices()[0]), "cpu_count": os.cpu_count()}
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        plot(rows, out.with_suffix(".png"))
        print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
