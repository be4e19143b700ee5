r"""Suite `symmetry`: should a deep autoencoder's decoder mirror its encoder? (posts 000, 001)

The encoder is fixed (post 000's shape: d -> 100 -> 25 -> k, ReLU, linear code) and the decoder
varies: mirrored (25, 100) with its own weights, tied (with N = 2L weight layers, encoder
1..L and decoder L+1..N, layer N-l+1 uses W_l^T: decoder layer j from the code uses
W_{L+1-j}^T; half the weights),
linear (one matrix from the code, the "simple decoder FW"), mirrored at 0.5x and 2x width, one
layer fewer (100) and one more (25, 100, 100). A second comparison keeps the mirrored decoder
and tests the claim that an encoder with "half as many but twice as wide" layers (d -> 200 -> k)
converges faster than d -> 100 -> 25 -> k.

Per run: test reconstruction error (1/n) sum ||x - x_hat||^2 on a held-out split, the same
normalised by the test data's total variance, steps until the training loss first reaches the
PCA reconstruction error with k components (the best any linear autoencoder can do), and
parameter counts. Data: scikit-learn's digits (1437 train / 360 test), or MNIST via --data.
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from tiedae import MLPAE, pca
from tiedae.bench.datasets import image_config, load_images
from tiedae.bench.suite import (
    Options,
    Suite,
    Summary,
    first_step_at_or_below,
    fmt,
    group_by,
    mean_std,
    train_minibatches,
)
from tiedae.bench.suite import seeds as seed_list
from tiedae.nonlinear.layers import count_params

ENCODER = (100, 25)
DECODERS = {
    "mirror": "mirror",
    "tied": "tied",
    "linear": "linear",
    "mirror x0.5": "mirror",
    "mirror x2": "mirror",
    "one fewer layer": [100],
    "one more layer": [25, 100, 100],
}
MULTIPLIER = {"mirror x0.5": 0.5, "mirror x2": 2.0}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**image_config(options), "code_dim": 8, "activation": "relu",
            "steps": 800 if options.quick else 6000, "batch_size": 64, "learning_rate": 2e-3,
            "eval_every": 50}
    out = []
    for seed in seed_list(options, quick=3, full=5):
        for name in DECODERS:
            out.append({**base, "run_id": f"{tag}-decoder-{name}-s{seed}", "kind": "decoder",
                        "variant": name, "encoder": ENCODER, "seed": seed})
        out.append({**base, "run_id": f"{tag}-encoder-wide-s{seed}", "kind": "encoder",
                    "variant": "half as many, 2x wide: 200", "encoder": [200], "seed": seed})
    return out


def run(config: dict) -> dict:
    X, _, X_test, _, _ = load_images(config)
    k = config["code_dim"]
    variant = config["variant"]
    if config["kind"] == "decoder":
        decoder, mult = DECODERS[variant], MULTIPLIER.get(variant, 1.0)
    else:
        decoder, mult = list(ENCODER[::-1]), 1.0  # the baseline's mirrored decoder widths
    decoder = tuple(decoder) if isinstance(decoder, list) else decoder
    model = MLPAE(X.shape[1], (*config["encoder"], k), activation=config["activation"],
                  decoder=decoder, decoder_width_multiplier=mult,
                  rngs=nnx.Rngs(config["seed"]))
    n_enc = sum(int(W[...].size + b[...].size)
                for W, b in zip(model.encoder_weights, model.encoder_biases, strict=True))
    model, hist = train_minibatches(model, X, X_test, config)
    ref = pca.fit(X.astype(np.float64), k)
    test_var = float(np.sum(np.var(X_test.astype(np.float64), axis=0)))
    Xt = X_test.astype(np.float64) - ref.mean[None, :]
    pca_test = float(np.mean(np.sum((Xt - Xt @ ref.components.T @ ref.components) ** 2, 1)))
    test_err = float(hist["test_loss"][-1])
    return {
        "final": {
            "test_error": test_err,
            "test_error_relative": test_err / test_var,
            "train_loss": float(hist["train_loss"][-1]),
            "pca_loss": float(ref.optimal_loss),
            "pca_test_error": pca_test,
            "steps_to_pca_loss": first_step_at_or_below(hist["step"], hist["train_loss"],
                                                        float(ref.optimal_loss)),
            "params_total": count_params(model),
            "params_encoder": n_enc,
            "params_decoder": count_params(model) - n_enc,
        },
        "trajectory": {"step": hist["step"], "loss": hist["train_loss"],
                       "eval_loss": hist["test_loss"]},
        "extra": {"decoder_widths": list(model.decoder_widths)},
    }


def _steps(values) -> str:
    vals = [v for v in values if v is not None and np.isfinite(v)]  # records store inf as None
    miss = len(values) - len(vals)
    text = mean_std(vals) if vals else "never"
    return text + (f" ({miss} never)" if miss and vals else "")


def _linear_vs_pca(finals: list[dict], rtol: float = 1e-4) -> str:
    """The linear decoder's training loss against PCA's (Eckart-Young: its outputs span a k-dim
    affine subspace, so on the training set it cannot beat PCA, up to float32 rounding `rtol`);
    worded from the numbers."""
    train = [x["train_loss"] for x in finals]
    ref = [x["pca_loss"] for x in finals]
    below = sum(t < p * (1 - rtol) for t, p in zip(train, ref, strict=True))
    text = (f"On the training set the linear decoder's loss is {fmt(float(np.mean(train)))} vs "
            f"PCA's {fmt(float(np.mean(ref)))}: ")
    if below:
        return text + (f"below it in {below} of {len(finals)} seeds, which the Eckart-Young "
                       "bound (a linear decoder's outputs span a k-dim affine subspace) rules "
                       "out; check the PCA reference.")
    return text + (f"at or above it in all {len(finals)} seeds, as the Eckart-Young bound "
                   "requires (a linear decoder's outputs span a k-dim affine subspace).")


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    stats = {}
    for (kind, variant), recs in group_by(records, "kind", "variant").items():
        f = [r["final"] for r in recs]
        label = variant if kind == "decoder" else f"encoder {variant}"
        stats[label] = f
        rows.append([label, f[0]["params_encoder"], f[0]["params_decoder"],
                     mean_std([x["test_error"] for x in f]),
                     mean_std([x["test_error_relative"] for x in f]),
                     _steps([x["steps_to_pca_loss"] for x in f])])
    if not stats:
        return Summary("symmetry", [], [], [])

    def m(label, key):
        return float(np.mean([x[key] for x in stats[label]])) if label in stats else np.nan

    def params(label):
        return stats[label][0]["params_decoder"]

    dec = [lab for lab in stats if not lab.startswith("encoder")]
    if dec:
        best = min(dec, key=lambda lab: m(lab, "test_error"))
        findings.append(
            f"lowest test error: {best} ({fmt(m(best, 'test_error'))}, {params(best)} decoder "
            f"parameters); PCA with the same k: {fmt(stats[best][0]['pca_test_error'])} (test)."
        )
    if {"mirror", "tied", "linear"} <= set(stats):
        findings.append(
            f"tied decoder (W^T, {params('tied')} decoder parameters: biases only) reaches test "
            f"error {fmt(m('tied', 'test_error'))} vs mirror {fmt(m('mirror', 'test_error'))} "
            f"({params('mirror')} params); linear decoder {fmt(m('linear', 'test_error'))} "
            f"({params('linear')} params) vs PCA's {fmt(m('linear', 'pca_test_error'))} (test). "
            + _linear_vs_pca(stats["linear"])
        )
    if {"mirror", "mirror x0.5", "mirror x2", "one fewer layer", "one more layer"} <= set(stats):
        findings.append(
            f"decoder width 0.5x / 1x / 2x: test error {fmt(m('mirror x0.5', 'test_error'))} / "
            f"{fmt(m('mirror', 'test_error'))} / {fmt(m('mirror x2', 'test_error'))}; one layer "
            f"fewer / more: {fmt(m('one fewer layer', 'test_error'))} / "
            f"{fmt(m('one more layer', 'test_error'))}."
        )
    wide = "encoder half as many, 2x wide: 200"
    if wide in stats and "mirror" in stats:
        findings.append(
            "post 000's claim (encoder with half as many, twice as wide layers converges faster):"
            f" steps to reach the PCA loss {_steps([x['steps_to_pca_loss'] for x in stats[wide]])}"
            f" vs {_steps([x['steps_to_pca_loss'] for x in stats['mirror']])} for 100-25, "
            f"test error {fmt(m(wide, 'test_error'))} vs {fmt(m('mirror', 'test_error'))}."
        )
    return Summary(
        title="symmetry: decoder shape vs reconstruction (digits or --data; mean ± std over seeds)",
        columns=["decoder / encoder", "enc params", "dec params", "test error",
                 "test error / variance", "steps to PCA loss"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="symmetry",
    description="MLP autoencoder: mirror vs tied vs linear vs wider/narrower/deeper decoders; "
                "'half as many, twice as wide' encoder (posts 000, 001)",
    configs=configs, run=run, summarize=summarize,
)
