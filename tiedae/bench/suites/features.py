r"""Suite `features`: does a weaker decoder give better features? (posts 000 and 002)

The encoder d -> 100 -> 25 -> k (ReLU, linear code) is trained with a mirrored, tied, linear or
(full runs) 2x-wide decoder; its frozen codes are then scored by a linear probe (logistic
regression) and 5-NN accuracy on a held-out split (`tiedae.features`), next to the test
reconstruction error. References: the PCA codes of the same dimension k and (for the probe)
the raw pixels. Codes have k = 2 (quick) or k = 2 and 8 (full); k = 2 is post 000's
visualisation code: its test codes and labels are saved in
the record's "extra" (`codes_2d`, `labels`) for scatter plots coloured by class.
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
    fmt,
    group_by,
    mean_std,
    train_minibatches,
)
from tiedae.bench.suite import seeds as seed_list
from tiedae.features import knn_accuracy, linear_probe_accuracy
from tiedae.nonlinear.layers import count_params

_encode = nnx.jit(lambda model, x: model.encode(x))
TRAINED = {"mirror": ("mirror", 1.0), "tied": ("tied", 1.0), "linear": ("linear", 1.0),
           "mirror x2": ("mirror", 2.0)}


def configs(options: Options) -> list[dict]:
    tag = "quick" if options.quick else "full"
    base = {**image_config(options), "encoder": [100, 25], "activation": "relu",
            "batch_size": 64, "learning_rate": 2e-3, "eval_every": 50,
            "steps": 800 if options.quick else 6000}
    decoders = ["mirror", "tied", "linear"] + ([] if options.quick else ["mirror x2"])
    out = []
    for k in (2,) if options.quick else (2, 8):
        for seed in seed_list(options, quick=3, full=5):
            for dec in decoders:
                out.append({**base, "run_id": f"{tag}-k{k}-{dec}-s{seed}", "code_dim": k,
                            "decoder": dec, "seed": seed})
        out.append({**base, "run_id": f"{tag}-k{k}-pca", "code_dim": k, "decoder": "pca",
                    "seed": options.seed})
    out.append({**base, "run_id": f"{tag}-pixels", "code_dim": 0, "decoder": "pixels",
                "seed": options.seed})
    return out


def run(config: dict) -> dict:
    X, y, X_test, y_test, _ = load_images(config)
    k, dec = config["code_dim"], config["decoder"]
    final, trajectory = {}, {}
    if dec == "pixels":
        z, z_test = X, X_test
    elif dec == "pca":
        ref = pca.fit(X.astype(np.float64), k)
        z = (X - ref.mean[None, :]) @ ref.components.T
        z_test = (X_test - ref.mean[None, :]) @ ref.components.T
        recon = z_test @ ref.components + ref.mean[None, :]
        final["test_error"] = float(np.mean(np.sum((recon - X_test) ** 2, axis=1)))
    else:
        kind, mult = TRAINED[dec]
        model = MLPAE(X.shape[1], (*config["encoder"], k), activation=config["activation"],
                      decoder=kind,
                      decoder_width_multiplier=mult, rngs=nnx.Rngs(config["seed"]))
        model, hist = train_minibatches(model, X, X_test, config)
        codes = np.asarray(_encode(model, np.concatenate([X, X_test])))  # one compiled shape
        z, z_test = codes[: len(X)], codes[len(X):]
        final["test_error"] = float(hist["test_loss"][-1])
        final["params"] = count_params(model)
        trajectory = {"step": hist["step"], "loss": hist["train_loss"]}
    final["probe_accuracy"] = linear_probe_accuracy(z, y, z_test, y_test)
    if dec != "pixels":
        final["knn_accuracy"] = knn_accuracy(z, y, z_test, y_test)
    extra = {}
    if k == 2:
        extra = {"codes_2d": np.round(np.asarray(z_test, np.float64), 4).tolist(),
                 "labels": np.asarray(y_test).tolist()}
    return {"final": final, "trajectory": trajectory, "extra": extra}


def summarize(records: list[dict]) -> Summary:
    rows, findings = [], []
    means = {}
    for (k, dec), recs in group_by(records, "code_dim", "decoder").items():
        f = [r["final"] for r in recs]
        rows.append([f"k={k}" if k else "-", dec, mean_std([x.get("test_error") for x in f]),
                     mean_std([x["probe_accuracy"] for x in f]),
                     mean_std([x.get("knn_accuracy") for x in f])])
        means[(k, dec)] = {key: float(np.mean([x[key] for x in f]))
                           for key in ("test_error", "probe_accuracy", "knn_accuracy")
                           if key in f[0]}
    for k in (2, 8):
        trained = [d for d in ("mirror", "mirror x2", "tied", "linear") if (k, d) in means]
        if not trained:
            continue
        parts = ", ".join(
            f"{d} {fmt(means[(k, d)]['test_error'])} / {fmt(means[(k, d)]['probe_accuracy'])} / "
            f"{fmt(means[(k, d)]['knn_accuracy'])}" for d in trained)
        findings.append(f"k={k} (test error / probe acc / 5-NN acc): {parts}.")
        best = max(trained, key=lambda d: means[(k, d)]["probe_accuracy"])
        lowest = min(trained, key=lambda d: means[(k, d)]["test_error"])
        findings.append(
            f"k={k}: best probe accuracy from the {best} decoder, lowest reconstruction error "
            f"from the {lowest} decoder"
            + (f"; PCA codes reach probe {fmt(means[(k, 'pca')]['probe_accuracy'])}."
               if (k, "pca") in means else ".")
        )
    if (0, "pixels") in means:
        findings.append(f"raw pixels: probe accuracy "
                        f"{fmt(means[(0, 'pixels')]['probe_accuracy'])} (upper reference).")
    return Summary(
        title="features: frozen-code quality per decoder (digits or --data; mean ± std)",
        columns=["code", "decoder", "test error", "linear probe acc", "5-NN acc"],
        rows=rows, findings=findings,
    )


SUITE = Suite(
    name="features",
    description="linear-probe / k-NN accuracy of frozen codes vs reconstruction error per "
                "decoder (mirror, tied, linear); 2-D codes saved (posts 000, 002)",
    configs=configs, run=run, summarize=summarize,
)
