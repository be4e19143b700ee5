r"""Suite `optimal-decoder`: is the right inverse the best decoder for a given encoder?

For a fixed encoder W (k, d) and data covariance C, the least-squares decoder is
V* = C W^T (W C W^T)^{-1} (`tiedae.pca.optimal_decoder`). The popular answer "the best decoder
is the right inverse W^T (W W^T)^{-1}, which is W^T when W has orthonormal rows" is right only
when W's row space is invariant under C (spanned by eigenvectors, e.g. at the PCA optimum):
then V* = W^+. W^T needs, in addition, W W^T = I.

Encoders: random Gaussian; random with orthonormal rows; the PCA optimum U_k; a skewed basis
A U_k of the optimal subspace (A random, so W W^T != I); and encoders partly trained with the
pinv or the transpose decoder. For each: loss gap to the optimum of V*, W^+ and W^T, and the
invariance residual ||(I - P) C P||_F / ||C||_F (P the projector on W's row space; 0 iff
V* = W^+).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import tiedae
from tiedae import decoders, metrics, pca
from tiedae.bench import datasets
from tiedae.bench.suite import Options, Suite, Summary, fmt, group_by, seeds
from tiedae.report import stats

DECODER_FNS = {
    "least_squares": lambda W, C: pca.optimal_decoder(W, C),
    "pinv": lambda W, C: decoders.pinv(W),
    "transpose": lambda W, C: decoders.transpose(W),
}
CHECKPOINTS = (10, 30, 100)


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    sets = [("spiked", 2000, 64, 4, 4.0), ("digits", 1797, 64, 4, 0.0)]
    if not options.quick:
        sets += [("spiked", 4000, 256, 16, 2.0), ("digits", 1797, 64, 16, 0.0)]
    if options.mnist:
        sets.append(("user", 0, 0, 16, 0.0))
    return [{"run_id": f"{tag}-{name}-d{d}-k{k}-s{seed}", "dataset": name, "n": n, "d": d,
             "k": k, "gap": gap, "seed": seed, "data_seed": options.seed, "data": options.mnist,
             "lr_times_lambda1": 0.1, "init_scale": 1.0}
            for name, n, d, k, gap in sets for seed in seeds(options, quick=5, full=10)]


def _encoders(X, C, ref, config):
    k, d = config["k"], X.shape[1]
    rng = np.random.default_rng(config["seed"])
    U = ref.components
    A = rng.standard_normal((k, k)) + 2.0 * np.eye(k)
    out = {
        "random": rng.standard_normal((k, d)) / np.sqrt(d),
        "random_orthonormal": np.linalg.qr(rng.standard_normal((d, k)))[0].T,
        "pca_optimum": U,
        "pca_subspace_skewed": A @ U,
    }
    lr = config["lr_times_lambda1"] / float(ref.eigenvalues[0])
    for dec in ("pinv", "transpose"):
        model = tiedae.LinearAE(d, k, decoder=dec, init_scale=config["init_scale"],
                                param_dtype=np.float64, rngs=nnx.Rngs(config["seed"]))
        encoders = tiedae.training.Observe(lambda m: np.asarray(m.encoder_matrix()))
        tiedae.fit(model, tiedae.training.Covariance(X), optimizer=optax.sgd(lr),
                   steps=max(CHECKPOINTS), log_every=10, callback=encoders)
        for t, W in zip(encoders.steps, encoders.values, strict=True):
            if t in CHECKPOINTS:
                out[f"{dec}_trained_{t}"] = W
    return out


def run(config: dict) -> dict:
    X = datasets.load(config["dataset"], n=config["n"], d=config["d"], k=config["k"],
                      gap=config["gap"], seed=config["data_seed"], path=config["data"])
    ref = pca.fit(X, config["k"])
    _, C = pca.covariance(X)
    final, extra = {}, {}
    normC = np.linalg.norm(C)
    for enc, W in _encoders(X, C, ref, config).items():
        for dec, fn in DECODER_FNS.items():
            V = np.asarray(fn(W, C))
            final[f"{enc}.{dec}_gap"] = float(pca.reconstruction_loss(W, V, C)) - ref.optimal_loss
        Q = np.linalg.qr(W.T)[0]
        P = Q @ Q.T
        final[f"{enc}.invariance"] = np.linalg.norm(C @ P - P @ C @ P) / normC
        final[f"{enc}.orthonormality"] = float(metrics.orthonormality_error(jnp.asarray(W)))
    extra["optimal_loss"] = ref.optimal_loss
    extra["n"], extra["d"] = X.shape  # a user's data set (--data) has n = d = 0 in its config
    return {"final": final, "trajectory": {}, "extra": extra}


def ci(values, digits: int = 3) -> str:
    """'mean ± half-width of the 95% t interval' (the value alone for one seed)."""
    iv = stats.interval(values)
    if iv.n < 2:
        return fmt(iv.mean, digits)
    return f"{fmt(iv.mean, digits)} ± {fmt(iv.hi - iv.mean, 2)}"


def compare(a, b) -> str:
    """'a - b = mean [lo, hi]: verdict' of a paired comparison over the same seeds."""
    r = stats.paired(a, b)
    return f"{r.verdict} (paired difference {fmt(r.mean, 2)}, 95% CI [{fmt(r.lo, 2)}, " \
           f"{fmt(r.hi, 2)}], {r.n} seeds)"


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    for (name, d, k), recs in group_by(records, "dataset", "d", "k").items():
        recs = sorted(recs, key=lambda r: r["config"]["seed"])
        d = d or recs[0].get("extra", {}).get("d", d)
        encs = [key[: -len(".invariance")] for key in recs[0]["final"] if
                key.endswith(".invariance")]

        def vals(key, recs=recs):
            return [r["final"][key] for r in recs]

        for enc in encs:
            rows.append([f"{name} d={d} k={k}", enc, len(recs),
                         *[ci(vals(f"{enc}.{key}"), 2) for key in
                           ("least_squares_gap", "pinv_gap", "transpose_gap", "invariance",
                            "orthonormality")]])
        findings.append(
            f"{name} d={d} k={k}: random encoder - loss gap of the least-squares decoder "
            f"C W^T(WCW^T)^-1 {ci(vals('random.least_squares_gap'))}, right inverse / pinv "
            f"{ci(vals('random.pinv_gap'))}, W^T {ci(vals('random.transpose_gap'))} (mean ± 95% "
            "CI); least squares vs right inverse: "
            + compare(vals("random.least_squares_gap"), vals("random.pinv_gap"))
            + ": for a general encoder the right inverse is "
            + ("NOT the optimal decoder." if stats.paired(
                vals("random.least_squares_gap"), vals("random.pinv_gap")).verdict == "lower"
               else "not measurably worse here.")
        )
        opt_spread = max(abs(v) for dec in DECODER_FNS for v in vals(f"pca_optimum.{dec}_gap"))
        skew_pinv = max(abs(v) for v in vals("pca_subspace_skewed.pinv_gap"))
        findings.append(
            f"{name} d={d} k={k}: at the PCA optimum all three decoders agree (largest |gap| "
            f"over seeds {fmt(opt_spread, 2)}); with a skewed basis of the optimal subspace "
            f"(WW^T != I) pinv is still optimal (largest |gap| {fmt(skew_pinv, 2)}) but W^T is "
            f"not ({ci(vals('pca_subspace_skewed.transpose_gap'))}): the right inverse is "
            "optimal exactly when W's row space is spanned by eigenvectors of C."
        )
        last = max(CHECKPOINTS)
        enc = f"pinv_trained_{last}"
        findings.append(
            f"{name} d={d} k={k}: after {last} steps of pinv-tied training the pinv decoder's "
            f"gap is {ci(vals(f'{enc}.pinv_gap'), 2)} vs least squares "
            f"{ci(vals(f'{enc}.least_squares_gap'), 2)} (pinv - least squares: "
            + compare(vals(f"{enc}.pinv_gap"), vals(f"{enc}.least_squares_gap"))
            + f"); the two meet as the row space becomes invariant (residual "
            f"||(I-P)CP||/||C|| {ci(vals(f'{enc}.invariance'), 2)}), while W^T on the same "
            f"encoder loses {ci(vals(f'{enc}.transpose_gap'))} (WW^T != I)."
        )
    return Summary(
        title="optimal-decoder: loss gap to the PCA optimum for a fixed encoder "
              "(mean ± 95% CI half-width over seeds)",
        columns=["data", "encoder", "seeds", "least squares", "pinv (right inv.)", "W^T",
                 "||(I-P)CP||/||C||", "||WW^T-I||"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="optimal-decoder",
    description="least-squares decoder C W^T(WCW^T)^-1 vs pinv vs W^T for random, skewed and "
                "partly trained encoders",
    configs=configs, run=run, summarize=summarize,
)
