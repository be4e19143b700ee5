r"""Suite `peers`: tiedae's training next to the usual ways of computing the same subspace.

One process, one data set: `scipy.linalg.eigh` of the covariance, scikit-learn's PCA (full
and randomized SVD) and IncrementalPCA, minibatch Oja's subspace rule, tiedae's tied
(transpose) autoencoder trained by full-batch gradient descent on X,
and - when torch is installed (optional) - a PyTorch eager version of the tied step. The full
run adds training through the covariance (`batch_size="covariance"`) and Bao et al.'s untied +
RAG update, in JAX and in PyTorch.
Reported: seconds until the subspace distance to the exact top-k subspace is <= 1e-3
(compilation excluded and reported separately; the one-off covariance included for the methods
that need it), and the final loss gap of the orthogonal projector on the found subspace (the
PyTorch runs stop once they reach the target, so their final figures are at the target).
Each seed draws a new data set and new initial weights (5 seeds); methods are compared by
paired differences over the seeds (`tiedae.report.stats.paired`), and a method is called the
fastest only when it is measurably faster than the runner-up.

`analyze(records)` groups the runs once by (n, d, k) (`settings`: seed-ordered, with each
method's times and the order of those that always reached the target). The table `peers`
shows the largest setting (mean ± 95% t half-width over seeds); the findings cover every
setting; the paper's numbers quote the largest.

Example:
  >>> recs = [{"final": {"a.time_to_target": 0.5}}, {"final": {"a.time_to_target": None}}]
  >>> method_times(recs, "a")
  [0.5, inf]
"""

from __future__ import annotations

import functools
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae import metrics, pca
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, mean_of, seeds
from tiedae.blas import limit_blas_threads
from tiedae.linear.algorithms import (
    BaoMetrics,
    bao_model,
    oja_direction,
    rotation_augmented_gradient,
)
from tiedae.report import format as F
from tiedae.report import query, stats
from tiedae.report.analysis import Analysis, Cell, Table, cell, ci_cell
from tiedae.report.format import fmt

TARGET = 1e-3
# one optimizer object, the step size injected per run: the seeds share one compiled program
GD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)


def configs(options: Options) -> list[dict]:
    seed_list = seeds(options, quick=5, full=5)
    if options.quick:
        size = {"n": 2000, "d": 100, "k": 8, "gap": 2.0}
        steps = 300
    else:
        size = {"n": 10000, "d": 784, "k": 32, "gap": 2.0}
        steps = 150
    tag = "quick" if options.quick else "full"
    return [{"run_id": f"{tag}-spiked-n{size['n']}-d{size['d']}-k{size['k']}-s{seed}",
             "dataset": "spiked", **size, "seed": seed, "data_seed": seed,
             "steps": steps, "lr_times_lambda1": 0.2, "full_extras": not options.quick}
            for seed in seed_list]


def _distance(rows, U) -> float:
    """`tiedae.metrics.subspace_distance` of the rows (k, d) to the components U (k, d)."""
    return float(metrics.subspace_distance(jnp.asarray(rows, jnp.float64),
                                           jnp.asarray(U, jnp.float64)))


def _subspace_and_gap(components, ref, C):
    Q = np.linalg.qr(np.asarray(components, np.float64).T)[0]
    gap = float(np.trace(C) - np.trace(Q.T @ C @ Q)) - ref.optimal_loss
    return float(metrics.subspace_distance(jnp.asarray(Q.T), jnp.asarray(ref.components))), gap


def _small(X, k) -> bool:
    return X.shape[0] * X.shape[1] * k < 10**7


def _one_shot(fn, X, ref, C, k):
    """Small problems: best of two calls with one BLAS thread (the first call also pays one-off
    set-up costs, and OpenBLAS's spinning threads slow small calls down on a busy machine). Large
    ones: one call with the default pool and one with one thread, the faster
    counts. blas_threads in the result: 0 = default pool, 1 = one thread."""
    total, best_threads = float("inf"), None
    for limit in (1,) if _small(X, k) else (None, 1):
        for _ in range(2 if _small(X, k) else 1):
            t0 = time.perf_counter()
            with limit_blas_threads(limit):
                comps = fn(X)
            elapsed = time.perf_counter() - t0
            if elapsed < total:
                total, best_threads = elapsed, 0 if limit is None else limit
    dist, gap = _subspace_and_gap(comps, ref, C)
    return {"time_to_target": total if dist <= TARGET else None, "total_time": total,
            "subspace_distance": dist, "loss_gap": gap, "blas_threads": best_threads}


def _first_time(times, dists):
    hit = np.flatnonzero(np.asarray(dists) <= TARGET)
    return float(np.asarray(times)[hit[0]]) if hit.size else None


def _fit_tied(X, ref, C, lr, steps, batch_size, seed):
    model = tiedae.LinearAE(X.shape[1], ref.k, init_scale=1.0, rngs=nnx.Rngs(seed))
    t0 = time.perf_counter()
    model, hist = tiedae.fit(model, X.astype(np.float32), optimizer=GD, steps=steps,
                             hyperparams={"learning_rate": lr}, batch_size=batch_size,
                             reference=ref, log_every=10)
    total = time.perf_counter() - t0
    dist, gap = _subspace_and_gap(model.encoder_matrix(), ref, C)
    to_target = _first_time(hist["wall_time"], hist["subspace_distance"])
    setup = 0.0
    if batch_size == "covariance":  # the one-off covariance counts, as it does for eigh
        t0 = time.perf_counter()
        pca.covariance(X)
        setup = time.perf_counter() - t0
    return {"time_to_target": None if to_target is None else to_target + setup,
            "covariance_time": setup, "total_time": total,
            "compile_and_setup_time": total - hist["wall_time"][-1],
            "subspace_distance": dist, "loss_gap": gap}


@functools.partial(jax.jit, static_argnames=("batch",))
def _oja_epoch(W, perm, Xc, lr, *, batch):
    """One epoch of minibatch Oja's subspace rule over the rows of Xc in the order perm."""
    nb = Xc.shape[0] // batch

    def body(W, idx):
        xb = Xc[idx]
        return W + lr * oja_direction(W, xb.T @ xb / batch), None

    W, _ = jax.lax.scan(body, W, perm[: nb * batch].reshape(nb, batch))
    return W


def _oja(X, ref, C, lr, epochs, seed, batch=200):
    lr = float(lr)
    Xc = jnp.asarray((X - X.mean(0)).astype(np.float32))
    n, d = Xc.shape
    rng = np.random.default_rng(seed)
    W = jnp.asarray((rng.standard_normal((ref.k, d)) / np.sqrt(d)).astype(np.float32))

    lr_arr = jnp.asarray(lr, jnp.float32)
    compiled = _oja_epoch.lower(W, jnp.asarray(rng.permutation(n)), Xc, lr_arr,
                                batch=batch).compile()
    times, dists, elapsed = [], [], 0.0
    for _ in range(epochs):
        perm = jnp.asarray(rng.permutation(n))
        t0 = time.perf_counter()
        W = jax.block_until_ready(compiled(W, perm, Xc, lr_arr))
        elapsed += time.perf_counter() - t0
        times.append(elapsed)
        dists.append(_distance(W, ref.components))
    dist, gap = _subspace_and_gap(W, ref, C)
    return {"time_to_target": _first_time(times, dists), "total_time": elapsed,
            "subspace_distance": dist, "loss_gap": gap}


def _rag_jax(X, C, ref, steps, seed):
    lr = 1e-2 / float(ref.eigenvalues[0])
    d, k = C.shape[0], ref.k
    tx = optax.chain(rotation_augmented_gradient(C),
                     optax.sgd(lr, momentum=0.9, nesterov=True))
    model, hist = tiedae.fit(bao_model(d, k, 1e-2, seed), tiedae.training.Covariance(X),
                             optimizer=tx, steps=steps, metrics=BaoMetrics(ref.components),
                             log_every=10)
    dist, gap = _subspace_and_gap(np.asarray(model.decoder_matrix()).T, ref, C)
    return {"time_to_target": _first_time(hist["wall_time"], hist["subspace_distance"]),
            "total_time": hist["wall_time"][-1], "subspace_distance": dist, "loss_gap": gap}


def _torch_runs(X, ref, C, lr, steps, seed, with_rag: bool) -> dict:
    try:
        import torch
    except ImportError:
        return {}
    torch.manual_seed(seed)
    # Small problems run faster on one intra-op thread (thread start-up and spinning cost more
    # than the work, badly so on a busy machine); large ones use every core.
    threads = 1 if _small(X, ref.k) else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    Xt = torch.as_tensor((X - X.mean(0)).astype(np.float32))
    Ct = torch.as_tensor(np.asarray(C, np.float32))
    d, k = X.shape[1], ref.k
    out = {"torch_threads": {"threads": threads}}

    def trace(step, get_rows, n_steps):  # stops once the target is reached
        times, dists, elapsed = [], [], 0.0
        for t in range(1, n_steps + 1):
            t0 = time.perf_counter()
            step()
            elapsed += time.perf_counter() - t0
            if t % 10 == 0:
                times.append(elapsed)
                dists.append(_distance(get_rows().detach().numpy(), ref.components))
                if dists[-1] <= TARGET:
                    break
        return times, dists

    W = (torch.randn(k, d) / d**0.5).requires_grad_()
    sgd = torch.optim.SGD([W], lr=lr)

    def tied_step():
        sgd.zero_grad()
        loss = ((Xt - (Xt @ W.T) @ W) ** 2).sum(1).mean()
        loss.backward()
        sgd.step()

    times, dists = trace(tied_step, lambda: W, steps)
    dist, gap = _subspace_and_gap(W.detach().numpy(), ref, C)
    out["torch_tied_gd"] = {"time_to_target": _first_time(times, dists), "total_time": times[-1],
                            "subspace_distance": dist, "loss_gap": gap}

    if not with_rag:
        return out
    W1 = (1e-2 * torch.randn(k, d)).requires_grad_()
    W2 = (1e-2 * torch.randn(d, k)).requires_grad_()
    opt = torch.optim.SGD([W1, W2], lr=1e-2 / float(ref.eigenvalues[0]), momentum=0.9,
                          nesterov=True)

    def rag_step():  # Bao et al.'s released update, on the covariance like the JAX version
        opt.zero_grad()
        loss = torch.trace(Ct) - 2 * torch.sum(W2.T * (W1 @ Ct)) + torch.sum(
            (W2.T @ W2) * (W1 @ Ct @ W1.T))
        loss.backward()
        with torch.no_grad():
            A = W1 @ Ct @ W1.T
            upper = torch.triu(A, 1)
            gamma = 0.5 * (upper - upper.T)
            W1.grad -= gamma @ W1
            W2.grad -= W2 @ gamma.T
        opt.step()

    times, dists = trace(rag_step, lambda: W2.T, steps)
    dist, gap = _subspace_and_gap(W2.detach().numpy().T, ref, C)
    out["torch_untied_rag"] = {"time_to_target": _first_time(times, dists),
                               "total_time": times[-1], "subspace_distance": dist,
                               "loss_gap": gap}
    return out


def run(config: dict) -> dict:
    import scipy.linalg
    from sklearn.decomposition import PCA, IncrementalPCA

    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"])
    k, seed, steps = config["k"], config["seed"], config["steps"]
    ref = pca.fit(X, k)
    _, C = pca.covariance(X)
    lr = config["lr_times_lambda1"] / float(ref.eigenvalues[0])

    def eigh(X):
        Xc = X - X.mean(0)
        _, vecs = scipy.linalg.eigh(Xc.T @ Xc / len(X), driver="evd")
        return vecs[:, ::-1][:, :k].T

    methods = {
        "scipy_eigh": _one_shot(eigh, X, ref, C, k),
        "sklearn_pca_full": _one_shot(
            lambda X: PCA(k, svd_solver="full").fit(X).components_, X, ref, C, k),
        "sklearn_pca_randomized": _one_shot(
            lambda X: PCA(k, svd_solver="randomized", random_state=seed)
            .fit(X).components_, X, ref, C, k),
        "sklearn_incremental_pca": _one_shot(
            lambda X: IncrementalPCA(k, batch_size=max(10 * k, 500))
            .fit(X).components_, X, ref, C, k),
        "oja_minibatch": _oja(X, ref, C, lr, epochs=max(5, steps // 30), seed=seed),
        "tiedae_tied_gd": _fit_tied(X, ref, C, lr, steps, None, seed),
    }
    if config["full_extras"]:
        methods["tiedae_tied_gd_covariance"] = _fit_tied(X, ref, C, lr, steps, "covariance", seed)
        methods["tiedae_untied_rag"] = _rag_jax(X, C, ref, 2 * steps, seed)
    torch_results = _torch_runs(X, ref, C, lr, steps, seed, config["full_extras"])
    threads = torch_results.pop("torch_threads", {}).get("threads")
    methods.update(torch_results)
    t0 = time.perf_counter()
    pca.covariance(X)
    cov_time = time.perf_counter() - t0
    for name in ("tiedae_untied_rag", "torch_untied_rag"):  # these train on C: count it
        if name in methods:
            methods[name]["total_time"] += cov_time
            methods[name]["covariance_time"] = cov_time
            if methods[name]["time_to_target"] is not None:
                methods[name]["time_to_target"] += cov_time
    final = {f"{m}.{key}": val for m, res in methods.items() for key, val in res.items()}
    return {"final": final, "trajectory": {},
            "extra": {"methods": list(methods), "torch_threads": threads}}


PEER_LABELS = {
    "scipy_eigh": Cell("scipy.linalg.eigh of C", r"\texttt{scipy.linalg.eigh} of $C$"),
    "sklearn_pca_full": Cell("scikit-learn PCA (full SVD)", "scikit-learn PCA (full SVD)"),
    "sklearn_pca_randomized": Cell("scikit-learn PCA (randomized)",
                                   "scikit-learn PCA (randomized)"),
    "sklearn_incremental_pca": Cell("scikit-learn IncrementalPCA",
                                    "scikit-learn IncrementalPCA"),
    "oja_minibatch": Cell("Oja's subspace rule (minibatch)", "Oja's subspace rule (minibatch)"),
    "tiedae_tied_gd": Cell("tied W^T, gradient descent on X",
                           "tied $W^\\top$, gradient descent on $X$"),
    "tiedae_tied_gd_covariance": Cell("tied W^T, gradient descent on C",
                                      "tied $W^\\top$, gradient descent on $C$"),
    "tiedae_untied_rag": Cell("untied + RAG (JAX)", "untied + RAG (JAX)"),
    "torch_tied_gd": Cell("tied W^T, PyTorch eager", "tied $W^\\top$, PyTorch eager"),
    "torch_untied_rag": Cell("untied + RAG, PyTorch eager", "untied + RAG, PyTorch eager"),
}
SPOKEN = {"scipy_eigh": "an eigensolver", "tiedae_tied_gd": "tied gradient descent on the data",
          "tiedae_tied_gd_covariance": "tied gradient descent on the covariance",
          "sklearn_pca_randomized": "randomized PCA", "oja_minibatch": "minibatch Oja",
          "torch_tied_gd": "the same tied step in PyTorch"}
# (a, b, what): the paper's paired comparisons
COMPARED = (("tiedae_tied_gd", "torch_tied_gd", "the same tied step in JAX and in PyTorch"),
            ("tiedae_tied_gd_covariance", "scipy_eigh",
             "tied gradient descent on the covariance and the eigensolver"))
# (a, b, what): the findings' paired comparisons
PAIRS = (("tiedae_tied_gd", "torch_tied_gd", "same tied gradient-descent step on X, JAX (jit) "
          "vs PyTorch eager"),
         ("tiedae_untied_rag", "torch_untied_rag", "same untied + RAG step on the covariance, "
          "JAX (jit) vs PyTorch eager"),
         ("tiedae_tied_gd_covariance", "scipy_eigh", "tied gradient descent on the covariance "
          "vs an eigensolver"))
WHY_MISSED = {"oja_minibatch": "a constant step leaves a noise floor",
              "sklearn_incremental_pca": "it keeps only k directions between batches"}


def method_times(recs: list[dict], m: str) -> list[float]:
    """Seconds to the target per seed (inf: not reached)."""
    return [np.inf if r["final"].get(f"{m}.time_to_target") is None else
            float(r["final"][f"{m}.time_to_target"]) for r in recs]


class Setting(NamedTuple):
    """The runs of one (n, d, k), ordered by seed, and each method's seconds to the target."""

    records: list[dict]
    times: dict[str, list[float]]  # per method (as `extra.methods` lists them), inf: missed
    reached: dict[str, float]  # mean seconds of the methods that reached it in every seed
    order: list[str]  # those methods, fastest first


def settings(records: list[dict]) -> dict[tuple, Setting]:
    """The records grouped by (n, d, k) in first-seen order, with their times."""
    out = {}
    for key, recs in query.group(records, "n", "d", "k").items():
        recs = query.by_seed(recs)
        times = {m: method_times(recs, m) for m in recs[0]["extra"]["methods"]}
        reached = {m: float(np.mean(t)) for m, t in times.items() if np.all(np.isfinite(t))}
        out[key] = Setting(recs, times, reached, sorted(reached, key=reached.get))
    return out


def compare_times(a: list[float], b: list[float]) -> stats.Paired | None:
    """Paired comparison of two methods' seconds over the seeds (None unless both always
    reached the target)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None
    return stats.paired(a, b)


def _versus(name_a, name_b, a, b) -> str:
    r = compare_times(a, b)
    if r is None:
        return f"{name_a} vs {name_b}: not both reached the target in every seed"
    words = {"lower": "faster", "higher": "slower"}.get(r.verdict, r.verdict)
    return (f"{name_a} {fmt(np.mean(a))} s vs {name_b} {fmt(np.mean(b))} s: {words} (paired "
            f"difference {fmt(r.mean, 2)} s, 95% CI [{fmt(r.lo, 2)}, {fmt(r.hi, 2)}], {r.n} "
            "seeds)")


def _label(m: str) -> Cell:
    return PEER_LABELS.get(m) or Cell(m, F.tex_escape(m))


def _time_cell(times: list[float]) -> Cell:
    """Seconds to the target, or how many seeds reached it."""
    reached = np.isfinite(times)
    if reached.all():
        return ci_cell(times, 2)
    return cell(f"{int(reached.sum())}/{len(times)} reached" if reached.any() else "not reached")


def _table(key: tuple, s: Setting) -> Table:
    recs = s.records
    rows = [[_label(m), _time_cell(t), ci_cell(query.final(recs, f"{m}.total_time"), 2),
             ci_cell(query.final(recs, f"{m}.subspace_distance"), 2),
             ci_cell(query.final(recs, f"{m}.loss_gap"), 2)] for m, t in s.times.items()]
    n, d, k = key
    return Table(title=f"peers: same data, one process, n={n} d={d} k={k} (seconds; mean ± 95% "
                       f"CI half-width over {len(recs)} seeds)",
                 columns=["method", "time to target (s)", "total time (s)", "subspace distance",
                          "loss gap"], rows=rows, name="peers", align="lrrrr")


def _findings(groups: dict[tuple, Setting]) -> list[str]:
    findings = []
    for (n, d, k), s in groups.items():
        recs, times, reached, order = s
        names = list(times)
        if reached:
            text = (f"n={n} d={d} k={k} ({len(recs)} seeds): mean time to subspace distance "
                    f"{TARGET:g} - " + ", ".join(f"{m} {fmt(reached[m])} s" for m in order))
            missed = [m for m in names if m not in reached]
            if missed:
                text += f"; not reached in every seed: {', '.join(missed)}"
            if len(order) > 1:
                r = compare_times(times[order[0]], times[order[1]])
                text += (f". Fastest: {order[0]} (measurably faster than {order[1]}: paired "
                         f"difference {fmt(r.mean, 2)} s, 95% CI [{fmt(r.lo, 2)}, "
                         f"{fmt(r.hi, 2)}])" if r is not None and r.verdict == "lower" else
                         f". {order[0]} and {order[1]} lead with no measurable difference")
            findings.append(text + ".")
        missed = [m for m in names if m not in reached]
        if missed:
            findings.append(
                "not reached: " + "; ".join(
                    f"{m} (final distance "
                    f"{fmt(mean_of(r['final'][f'{m}.subspace_distance'] for r in recs), 2)}"
                    + (f": {WHY_MISSED[m]})" if m in WHY_MISSED else ")") for m in missed)
                + ". Every training method that reached 1e-3 has the same subspace as eigh.")
        for a, b, what in PAIRS:
            if a in times and b in times:
                findings.append(f"{what}: " + _versus(a, b, times[a], times[b]) + ".")
    return findings


def _numbers(key: tuple, s: Setting) -> dict[str, str]:
    """The largest setting's sizes and the section's sentence."""
    times, n_seeds = s.times, len(s.records)
    macros = {"RPeersTarget": F.num(TARGET), "RPeersN": F.num(key[0]), "RPeersD": F.num(key[1]),
              "RPeersK": F.num(key[2]), "RPeersSeeds": F.num(n_seeds)}
    parts = []
    for name, words in SPOKEN.items():
        if name not in times:
            continue
        ok = np.isfinite(times[name])
        parts.append(f"{words} in {ci_cell(times[name], 2).tex}~s" if ok.all() else
                     f"{words} in {int(ok.sum())} of {n_seeds} seeds" if ok.any() else
                     f"{words} not at all")
    listing = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    compared = [f"{what}: the first is " + F.verdict(times[a], times[b], lower="faster",
                                                     higher="slower")
                for a, b, what in COMPARED if a in s.reached and b in s.reached]
    lead = ""
    if len(s.order) > 1:
        first, second = (_label(m).tex for m in s.order[:2])
        r = compare_times(times[s.order[0]], times[s.order[1]])
        lead = (rf" The fastest was {first}, measurably faster than the runner-up ({second})."
                if r.verdict == "lower" else
                rf" {first} and {second} lead with no measurable difference between them.")
    macros["RFindPeers"] = (
        rf"At $n={macros['RPeersN']}$, $d={macros['RPeersD']}$, $k={macros['RPeersK']}$ "
        rf"({macros['RPeersSeeds']} data sets; mean $\pm$ 95\,\% confidence half-width) the "
        rf"subspace distance falls below {macros['RPeersTarget']} for {listing}."
        + ("" if not compared else " Paired over the data sets, " + "; ".join(compared) + ".")
        + lead
    )
    return macros


def analyze(records: list[dict]) -> Analysis:
    """Time to the target subspace distance and final loss gap of each method (table `peers`,
    of the largest setting), paired comparisons (findings, every setting) and the paper's
    sentence."""
    groups = settings(records)
    largest = max(groups, key=lambda key: key[0] * key[1])
    return Analysis(tables=[_table(largest, groups[largest])], findings=_findings(groups),
                    numbers=_numbers(largest, groups[largest]))


SUITE = Suite(
    name="peers",
    description="tiedae training vs eigh, sklearn PCA (full/randomized/incremental), Oja, and "
                "PyTorch (optional): time to subspace distance 1e-3, loss gap",
    configs=configs, run=run, analyze=analyze,
)
