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

Modules: `peers_methods` (the methods timed), this one (the configurations and one run) and
`peers_analysis` (the grouping, the paired comparisons, the table, findings and sentence).

Example:
  >>> recs = [{"final": {"a.time_to_target": 0.5}}, {"final": {"a.time_to_target": None}}]
  >>> method_times(recs, "a")
  [0.5, inf]
  >>> from tiedae.bench.suite import Options
  >>> [c["run_id"] for c in configs(Options())][:2]
  ['quick-spiked-n2000-d100-k8-s0', 'quick-spiked-n2000-d100-k8-s1']
"""

from __future__ import annotations

import time

from tiedae import pca
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, seeds
from tiedae.bench.suites.peers_analysis import (
    COMPARED,
    PAIRS,
    PEER_LABELS,
    SPOKEN,
    WHY_MISSED,
    Setting,
    analyze,
    compare_times,
    method_times,
    settings,
)
from tiedae.bench.suites.peers_methods import (
    GD,
    TARGET,
    fit_tied,
    oja,
    one_shot,
    rag_jax,
    torch_runs,
)

__all__ = ["COMPARED", "GD", "PAIRS", "PEER_LABELS", "SPOKEN", "SUITE", "TARGET", "WHY_MISSED",
           "Setting", "analyze", "compare_times", "configs", "method_times", "run", "settings"]


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
        "scipy_eigh": one_shot(eigh, X, ref, C, k),
        "sklearn_pca_full": one_shot(
            lambda X: PCA(k, svd_solver="full").fit(X).components_, X, ref, C, k),
        "sklearn_pca_randomized": one_shot(
            lambda X: PCA(k, svd_solver="randomized", random_state=seed)
            .fit(X).components_, X, ref, C, k),
        "sklearn_incremental_pca": one_shot(
            lambda X: IncrementalPCA(k, batch_size=max(10 * k, 500))
            .fit(X).components_, X, ref, C, k),
        "oja_minibatch": oja(X, ref, C, lr, epochs=max(5, steps // 30), seed=seed),
        "tiedae_tied_gd": fit_tied(X, ref, C, lr, steps, None, seed),
    }
    if config["full_extras"]:
        methods["tiedae_tied_gd_covariance"] = fit_tied(X, ref, C, lr, steps, "covariance", seed)
        methods["tiedae_untied_rag"] = rag_jax(X, C, ref, 2 * steps, seed)
    torch_results = torch_runs(X, ref, C, lr, steps, seed, config["full_extras"])
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


SUITE = Suite(
    name="peers",
    description="tiedae training vs eigh, sklearn PCA (full/randomized/incremental), Oja, and "
                "PyTorch (optional): time to subspace distance 1e-3, loss gap",
    configs=configs, run=run, analyze=analyze,
)
