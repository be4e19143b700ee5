"""Streaming PCA of rows on disk: tiedae's one-pass covariance + fit vs IncrementalPCA.

The data: n float32 rows of d=784 features x = mu + g + Q_k (sqrt(lambda - 1) * h), g ~ N(0, I_d),
h ~ N(0, I_k), written once to a `.npy` file chunk by chunk (never whole in memory) and read
back through `np.load(mmap_mode="r")`. The population covariance I + Q_k diag(lambda - 1) Q_k^T
has the spiked spectrum of `tiedae.data.spiked_covariance(k=64, gap=--gap)`: k eigenvalues in
[1 + gap, 1 + 2 gap] over a bulk of ones, so the top-k subspace is well separated.

The target ("exact") is the top-k subspace of the rows' own covariance: a float64
`scipy.linalg.eigh` (driver "evd") of the float64 covariance accumulated exactly from the
file (`tiedae.pca.fit_covariance`). Its distance to the population subspace is reported too.

For each n in (N/4, N/2, N), each method runs in a fresh subprocess (so `ru_maxrss` is its own
peak resident memory), on the first n rows, chunk by chunk (`--chunk-rows`, the same chunks
for both, read by `tiedae.data.chunks`):

* tiedae: one pass `tiedae.pca.moments` (float64 covariance, exact), a power iteration for the
  step size 0.5 / lambda_1, then `tiedae.fit` of a tied `LinearAE` (float32, SGD) on
  `training.Covariance.from_moments` until `StopWhen("subspace_distance", 1e-3)`. Its time to
  the target is pass + power iteration + fit (compilation included). The eigh that gives the
  reference is timed apart (pass + eigh is `tiedae.pca.fit_chunks`, the exact answer).
* `sklearn.decomposition.IncrementalPCA(k, batch_size=chunk)`: `partial_fit` on each chunk.
  It truncates to k components after every batch, so it is approximate: its final distance is
  reported. Its time to the target is when its distance (measured after every chunk, the
  measuring excluded) first reaches 1e-3, or its whole pass if it never does (flagged).

Headline figures (JSON keys): `speedup_vs_incremental_pca` = IncrementalPCA's time / tiedae's
time to the target at n = N, and `rss_growth` = tiedae's peak RSS at N / at N/4 - 1 (goals:
>= 10 and <= 0.10). With --out, a log-log plot of time and memory against n is written next to
the JSON (same name, .png). The `.npy` file is deleted at the end (unless --keep).

    python benchmarks/streaming.py [--rows 1000000] [--workdir DIR] [--out F]
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


def child_tiedae(args) -> dict:
    import optax
    from flax import nnx

    import tiedae
    from tiedae import pca
    from tiedae.training import Covariance, StopWhen

    X = np.load(args.path, mmap_mode="r")[: args.n]
    d = X.shape[1]
    start = time.perf_counter()
    moments = pca.moments(X, chunk_size=args.chunk_rows)
    pass_s = time.perf_counter() - start

    t = time.perf_counter()
    v = np.ones(d) / np.sqrt(d)
    for _ in range(30):  # the step size: 0.5 / lambda_1, lambda_1 by a power iteration
        v = moments.covariance @ v
        v /= np.linalg.norm(v)
    lam1 = float(v @ moments.covariance @ v)
    power_s = time.perf_counter() - t

    t = time.perf_counter()
    ref = pca.fit_covariance(*moments, args.k)  # the exact reference (not part of the fit)
    eigh_s = time.perf_counter() - t
    np.save(args.ref_out, ref.components)

    stop = StopWhen("subspace_distance", TARGET)
    model = tiedae.LinearAE(d, args.k, rngs=nnx.Rngs(0))
    t = time.perf_counter()
    _, hist = tiedae.fit(model, Covariance.from_moments(*moments), optimizer=optax.sgd(0.5 / lam1),
                         steps=args.max_steps, log_every=5, reference=ref, callback=stop)
    fit_s = time.perf_counter() - t
    return {"method": "tiedae", "n": int(args.n), "pass_s": pass_s, "power_s": power_s,
            "eigh_s": eigh_s, "fit_s": fit_s, "fit_steps": stop.step,
            "train_s": stop.wall_time,
            "time_to_target_s": pass_s + power_s + fit_s if stop.step is not None else None,
            "fit_chunks_s": pass_s + eigh_s,
            "final_distance": float(hist["subspace_distance"][-1]),
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
    return {"method": "incremental_pca", "n": int(args.n), "pass_s": total,
            "reached_target": reached is not None,
            "time_to_target_s": reached if reached is not None else total,
            "final_distance": dist, "peak_rss_mb": _peak_rss_mb()}


def run_child(method: str, args, n: int, ref_out: Path) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--path",
           str(args.path), "--n", str(n), "--k", str(args.k), "--gap", str(args.gap),
           "--seed", str(args.seed), "--chunk-rows", str(args.chunk_rows), "--ref-out",
           str(ref_out), "--max-steps", str(args.max_steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"the {method} run at n={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(x, spec=".3g") -> str:
    return "-" if x is None else format(x, spec)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for method, label, color in (("tiedae", "tiedae: covariance pass + fit", "C0"),
                                 ("incremental_pca", "IncrementalPCA", "C1")):
        sel = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n"])
        ns = [r["n"] for r in sel]
        reached = [(r["n"], r["time_to_target_s"]) for r in sel if r["time_to_target_s"]]
        if reached:
            ax_t.loglog(*zip(*reached, strict=True), "o-", color=color,
                        label=f"{label}: to {TARGET:g}")
        ax_t.loglog(ns, [r["pass_s"] for r in sel], "s--", color=color, alpha=0.6,
                    label=f"{label}: the pass alone" if method == "tiedae" else
                    f"{label}: its whole pass")
        ax_m.loglog(ns, [r["peak_rss_mb"] for r in sel], "o-", color=color, label=label)
    ax_t.set(xlabel="rows n", ylabel="seconds", title="time")
    ax_m.set(xlabel="rows n", ylabel="peak RSS (MiB)", title="memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
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
    parser.add_argument("--child", choices=("tiedae", "incremental_pca"), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ref-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = (child_tiedae if args.child == "tiedae" else child_ipca)(args)
        print(json.dumps(result))
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
    try:
        t = time.perf_counter()
        generate(args.path, args.rows, args.d, args.k, args.gap, args.seed, args.chunk_rows)
        generate_s = time.perf_counter() - t
        print(f"wrote {args.path} in {generate_s:.1f} s")
        rows = []
        for n in (args.rows // 4, args.rows // 2, args.rows):
            ref_out = workdir / f"reference-{n}.npy"
            for method in ("tiedae", "incremental_pca"):
                rows.append(run_child(method, args, n, ref_out))
                r = rows[-1]
                print(f"n={n:>9} {method:>16}: {_fmt(r['time_to_target_s'], '8.2f')} s to "
                      f"{TARGET:g} (pass {r['pass_s']:.2f} s), final distance "
                      f"{r['final_distance']:.2e}, peak RSS {r['peak_rss_mb']:.0f} MiB",
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
    ours, theirs = by["tiedae", n1], by["incremental_pca", n1]
    speedup = (theirs["time_to_target_s"] / ours["time_to_target_s"]
               if ours["time_to_target_s"] else None)
    rss_growth = ours["peak_rss_mb"] / by["tiedae", n4]["peak_rss_mb"] - 1.0
    ipca_growth = theirs["peak_rss_mb"] / by["incremental_pca", n4]["peak_rss_mb"] - 1.0

    print()
    print("| n | method | s to 1e-3 | pass s | final distance | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['n']} | {r['method']} | {_fmt(r['time_to_target_s'])} | "
              f"{r['pass_s']:.3g} | {r['final_distance']:.2e} | {r['peak_rss_mb']:.0f} |")
    print(f"\nat n={n1}: tiedae reaches {TARGET:g} {_fmt(speedup)}x faster than "
          f"IncrementalPCA (goal >= 10; IncrementalPCA "
          f"{'reached it' if theirs['reached_target'] else 'never reached it: its whole pass'}"
          f", final distance {theirs['final_distance']:.2e}); tiedae's peak RSS grows "
          f"{100 * rss_growth:+.1f}% from n={n4} to n={n1} (goal <= +10%; IncrementalPCA "
          f"{100 * ipca_growth:+.1f}%)")
    print(f"the exact reference is {reference_vs_population:.2e} from the population subspace")
    if args.out:
        import jax

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        result = {"rows_on_disk": args.rows, "d": args.d, "k": args.k, "gap": args.gap,
                  "chunk_rows": args.chunk_rows, "target": TARGET,
                  "reference": "float64 eigh (scipy evd) of the exact float64 covariance of "
                               "the rows on disk",
                  "reference_vs_population": reference_vs_population,
                  "generate_s": generate_s, "rows": rows,
                  "speedup_vs_incremental_pca": speedup, "rss_growth": rss_growth,
                  "rss_growth_incremental_pca": ipca_growth,
                  "device": str(jax.devices()[0]), "cpu_count": os.cpu_count()}
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        plot(rows, out.with_suffix(".png"))
        print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
