r"""Suite `exact-pcs`: recovering the ordered eigenvectors, not just their span.

A plain linear autoencoder only finds the principal subspace: any invertible mixing of the
code leaves the loss unchanged. Bao et al. (2020) break the symmetry with a non-uniform L2
penalty sum_i r_i^2 (||W_i||^2 + ||V_:,i||^2) (r_i increasing), which makes the ordered,
axis-aligned solution the unique optimum but converges slowly, and with the
rotation-augmented gradient (RAG), which adds a skew-symmetric rotation of the code towards a
diagonal code covariance. Setup as in their synthetic experiment: x = Q diag(sqrt(e)) g with e
linearly spaced from d/10 down to 1, full-batch SGD with Nesterov momentum 0.9, entries
initialised N(0, 1e-4^2), their step sizes (1e-3 for plain and non-uniform L2, 1e-4 for RAG,
at e_1 = 100; scaled by 100/e_1 for smaller d). The full run adds Adam at k=2 with their Adam
step sizes (3e-3, 3e-3, 3e-4).

Metrics (their definitions, from their released code): distance to axis alignment
(1/k) sum_i (1 - max_j cos^2(u_i, v_j)) over eigenvectors u_i and decoder columns v_j (0 =
aligned), and subspace distance 1 - ||U_k^T Q_V||_F^2 / k. Also `tiedae.metrics.axis_alignment`
(mean |cos| of matched pairs, 1 = aligned). Reported: iterations until the axis distance
falls below 0.3, their Figure 4's criterion.
"""

from __future__ import annotations

import numpy as np
import optax

import tiedae
from tiedae import pca
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, mean_of, mean_std, seeds
from tiedae.linear.algorithms import (
    BaoMetrics,
    bao_model,
    bao_penalty_weights,
    rotation_augmented_gradient,
)

METHODS = ("plain", "nonuniform_l2", "rag")
LR_AT_E1_100 = {"plain": 1e-3, "nonuniform_l2": 1e-3, "rag": 1e-4}  # their SGD step sizes
LR_ADAM = {"plain": 3e-3, "nonuniform_l2": 3e-3, "rag": 3e-4}  # their Adam step sizes
BAO_RAG_K2_ITERATIONS = 850  # Bao et al. 2020, iterations for RAG to reach 0.3 at k=2


def configs(options: Options) -> list[dict]:
    if options.quick:
        d, n, ks, steps, seed_list = 100, 500, (2,), 1500, seeds(options)
    else:
        d, n, ks, steps, seed_list = 1000, 5000, (2, 10, 50), 6000, seeds(options, full=1)
    # a k=50 step costs far more than a k=2 one: a shorter budget keeps the full suite short
    budget = {2: 4000, 50: 2000} if not options.quick else {}
    tag = "quick" if options.quick else "full"
    runs = [(k, "sgd_nesterov_0.9") for k in ks]
    if not options.quick:
        runs.append((2, "adam"))  # their k=2 comparison point, with their Adam step sizes
    return [{"run_id": f"{tag}-d{d}-k{k}-{m}-{opt}-s{seed}", "d": d, "n": n, "k": k,
             "method": m, "seed": seed, "data_seed": options.seed,
             "steps": budget.get(k, steps),
             "every": 25 if options.quick else 20, "init_scale": 1e-4, "optimizer": opt}
            for k, opt in runs for m in METHODS for seed in seed_list]


def train_untied(source, ref, *, method: str, optimizer, steps: int, every: int,
                 init_scale: float, seed: int, callback=None):
    """Bao et al.'s untied training on the covariance: plain, non-uniform L2 or RAG.

    Returns fit's (model, history); the history logs `BaoMetrics` every `every` steps."""
    d, k = ref.components.shape[1], ref.k
    regularizer = None
    if method == "nonuniform_l2":
        regularizer = tiedae.training.NonuniformL2(bao_penalty_weights(k, d))
    elif method == "rag":
        optimizer = optax.chain(rotation_augmented_gradient(source.mean_and_covariance()[1]),
                                optimizer)
    elif method != "plain":
        raise ValueError(f"unknown method {method!r}")
    return tiedae.fit(bao_model(d, k, init_scale, seed), source, optimizer=optimizer,
                      steps=steps, regularizer=regularizer, metrics=BaoMetrics(ref.components),
                      log_every=every, callback=callback)


def run(config: dict) -> dict:
    X = datasets.load("linear", n=config["n"], d=config["d"], seed=config["data_seed"])
    k = config["k"]
    ref = pca.fit(X, k)
    e1 = float(ref.eigenvalues[0])
    if config["optimizer"] == "adam":
        lr = LR_ADAM[config["method"]]
        opt = optax.adam(lr)
    else:
        lr = LR_AT_E1_100[config["method"]] * 100.0 / e1
        opt = optax.sgd(lr, momentum=0.9, nesterov=True)
    _, hist = train_untied(tiedae.training.Covariance(X), ref, method=config["method"],
                           optimizer=opt, steps=config["steps"], every=config["every"],
                           init_scale=config["init_scale"], seed=config["seed"])
    below = np.flatnonzero(hist["axis_distance"] <= 0.3)
    sub = np.flatnonzero(hist["subspace_distance"] <= 1e-3)
    return {
        "final": {
            "iterations_to_axis_0.3": hist["step"][below[0]] if below.size else None,
            "iterations_to_subspace_1e-3": hist["step"][sub[0]] if sub.size else None,
            "axis_distance": hist["axis_distance"][-1],
            "axis_alignment": hist["axis_alignment"][-1],
            "subspace_distance": hist["subspace_distance"][-1],
            "loss_gap": hist["loss"][-1] - ref.optimal_loss,
            "lr": lr,
        },
        "trajectory": {key: hist[key] for key in ("step", "wall_time", "loss", "axis_distance",
                                                  "axis_alignment", "subspace_distance")},
        "extra": {"top_eigenvalues": ref.eigenvalues[:k]},
    }


def _iters(values):
    got = [v for v in values if v is not None]
    if not got:
        return "not reached"
    s = mean_std(got, 3)
    return s if len(got) == len(values) else f"{s} ({len(got)}/{len(values)} reached)"


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    for (d, k, opt, method), recs in group_by(records, "d", "k", "optimizer", "method").items():
        f = [r["final"] for r in recs]
        steps = recs[0]["config"]["steps"]
        rows.append([d, k, opt, method, _iters([x["iterations_to_axis_0.3"] for x in f]),
                     mean_std([x["axis_distance"] for x in f], 2),
                     mean_std([x["axis_alignment"] for x in f], 2),
                     mean_std([x["subspace_distance"] for x in f], 2),
                     _iters([x["iterations_to_subspace_1e-3"] for x in f]), steps])
    for (d, k, opt), recs in group_by(records, "d", "k", "optimizer").items():
        by = {m: [r["final"] for r in rs] for (m,), rs in group_by(recs, "method").items()}
        if set(METHODS) - set(by):
            continue
        steps = recs[0]["config"]["steps"]

        def it(m, by=by):
            vals = [x["iterations_to_axis_0.3"] for x in by[m]]
            got = [v for v in vals if v is not None]
            if len(got) == len(vals):
                return fmt(mean_of(got))
            return f"{fmt(mean_of(got))} in {len(got)} of {len(vals)} seeds" if got else "never"

        def every_seed(m, by=by):
            return all(x["iterations_to_axis_0.3"] is not None for x in by[m])

        def dist(m, by=by):
            return mean_of([x["axis_distance"] for x in by[m]])

        # aligned: every seed crossed 0.3 and the mean final distance is below it
        aligned = [m for m in METHODS if every_seed(m) and dist(m) <= 0.3]
        verdict = (
            "plain training finds the subspace (see subspace dist) but not the eigenvectors"
            if "plain" not in aligned else
            "plain training also ended close to axis-aligned in this setting, although nothing "
            "in its loss favours it (compare larger k)")
        fixes = [m for m in ("rag", "nonuniform_l2") if m in aligned]
        verdict += ("; " + " and ".join(fixes) + " recovered them" if fixes else
                    "; neither fix reached 0.3 within the budget")
        if "nonuniform_l2" not in aligned:
            verdict += " (non-uniform L2 converges 'eventually': too slowly for this budget)"
        findings.append(
            f"d={d}, k={k}, {opt}: iterations to axis distance 0.3 - RAG {it('rag')}, "
            f"non-uniform L2 {it('nonuniform_l2')}, plain {it('plain')} (of {steps}); final "
            f"axis distance {fmt(dist('rag'), 2)} / {fmt(dist('nonuniform_l2'), 2)} / "
            f"{fmt(dist('plain'), 2)}: {verdict}."
            + (f" Bao et al. report ~{BAO_RAG_K2_ITERATIONS} iterations for RAG at k=2, d=1000 "
               "(which optimizer produced that figure is not verified here)."
               if k == 2 and d == 1000 else "")
        )
    return Summary(
        title="exact-pcs: ordered eigenvectors, Bao et al. 2020 setup (mean ± std over seeds)",
        columns=["d", "k", "optimizer", "method", "iters to axis dist 0.3", "axis dist (Bao)",
                 "axis alignment (tiedae)", "subspace dist", "iters to subspace 1e-3", "steps"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="exact-pcs",
    description="plain vs non-uniform L2 vs rotation-augmented gradient (Bao et al. 2020): "
                "axis alignment and subspace distance against iterations",
    configs=configs, run=run, summarize=summarize,
)
